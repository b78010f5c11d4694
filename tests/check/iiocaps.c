/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IIO data formats <-> type strings, GstAudioFormat and caps. */
#include <gst/check/gstcheck.h>
#include "gstiiocaps.h"

typedef struct
{
  const gchar *type;
  guint length, bits, shift, repeat;
  gboolean is_signed, is_be, fully_defined;
  const gchar *audio;           /* NULL: not exactly an audio format */
} FormatCase;

static const FormatCase format_cases[] = {
  {"le:S8/8>>0", 8, 8, 0, 1, TRUE, FALSE, TRUE, "S8"},
  {"le:U8/8>>0", 8, 8, 0, 1, FALSE, FALSE, TRUE, "U8"},
  {"be:U8/8>>0", 8, 8, 0, 1, FALSE, TRUE, TRUE, "U8"},
  {"le:S16/16>>0", 16, 16, 0, 1, TRUE, FALSE, TRUE, "S16LE"},
  {"be:S16/16>>0", 16, 16, 0, 1, TRUE, TRUE, TRUE, "S16BE"},
  {"le:U16/16>>0", 16, 16, 0, 1, FALSE, FALSE, TRUE, "U16LE"},
  {"be:U16/16>>0", 16, 16, 0, 1, FALSE, TRUE, TRUE, "U16BE"},
  {"le:S24/24>>0", 24, 24, 0, 1, TRUE, FALSE, TRUE, "S24LE"},
  {"be:U24/24>>0", 24, 24, 0, 1, FALSE, TRUE, TRUE, "U24BE"},
  {"le:S24/32>>0", 32, 24, 0, 1, TRUE, FALSE, TRUE, "S24_32LE"},
  {"le:s24/32>>0", 32, 24, 0, 1, TRUE, FALSE, FALSE, "S24_32LE"},
  {"be:U24/32>>0", 32, 24, 0, 1, FALSE, TRUE, TRUE, "U24_32BE"},
  {"le:S32/32>>0", 32, 32, 0, 1, TRUE, FALSE, TRUE, "S32LE"},
  {"be:S32/32>>0", 32, 32, 0, 1, TRUE, TRUE, TRUE, "S32BE"},
  {"le:U32/32>>0", 32, 32, 0, 1, FALSE, FALSE, TRUE, "U32LE"},
  /* Not audio: a shift, padding bits, a repeat, 64 bits, odd depths. */
  {"le:S12/16>>4", 16, 12, 4, 1, TRUE, FALSE, TRUE, NULL},
  {"le:s12/16>>4", 16, 12, 4, 1, TRUE, FALSE, FALSE, NULL},
  {"le:S12/16>>0", 16, 12, 0, 1, TRUE, FALSE, TRUE, NULL},
  {"be:u14/16>>2", 16, 14, 2, 1, FALSE, TRUE, FALSE, NULL},
  {"le:S16/16X2>>0", 16, 16, 0, 2, TRUE, FALSE, TRUE, NULL},
  {"le:S12/16X4>>4", 16, 12, 4, 4, TRUE, FALSE, TRUE, NULL},
  {"le:S64/64>>0", 64, 64, 0, 1, TRUE, FALSE, TRUE, NULL},
  {"le:u20/24>>0", 24, 20, 0, 1, FALSE, FALSE, FALSE, NULL},
  {"le:s18/32>>0", 32, 18, 0, 1, TRUE, FALSE, FALSE, NULL},
  {"le:S24/32>>8", 32, 24, 8, 1, TRUE, FALSE, TRUE, NULL},
};

static struct iio_data_format
case_format (const FormatCase * c)
{
  struct iio_data_format f = { 0, };

  f.length = c->length;
  f.bits = c->bits;
  f.shift = c->shift;
  f.repeat = c->repeat;
  f.is_signed = c->is_signed;
  f.is_be = c->is_be;
  f.is_fully_defined = c->fully_defined;
  return f;
}

GST_START_TEST (test_format_to_string)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (format_cases); i++) {
    struct iio_data_format f = case_format (&format_cases[i]);
    gchar *str = gst_iio_caps_format_to_string (&f);

    fail_unless_equals_string (str, format_cases[i].type);
    g_free (str);
  }
}

GST_END_TEST;

GST_START_TEST (test_format_from_string)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (format_cases); i++) {
    const FormatCase *c = &format_cases[i];
    struct iio_data_format f;

    fail_unless (gst_iio_caps_format_from_string (c->type, &f), "%s",
        c->type);
    fail_unless_equals_int (f.length, c->length);
    fail_unless_equals_int (f.bits, c->bits);
    fail_unless_equals_int (f.shift, c->shift);
    fail_unless_equals_int (f.repeat, c->repeat);
    fail_unless_equals_int (f.is_signed, c->is_signed);
    fail_unless_equals_int (f.is_be, c->is_be);
    fail_unless_equals_int (f.is_fully_defined, c->fully_defined);
  }
}

GST_END_TEST;

GST_START_TEST (test_format_from_bad_string)
{
  static const gchar *bad[] = {
    "", "S16LE", "le:S16/16", "le:S16/16>>", "xe:S16/16>>0", "le:Q16/16>>0",
    "le:S16/16>>0junk", "le:S0/16>>0", "le:S16/0>>0", "le:S12/16>>8",
    "le:S16/16X0>>0", "le:S16/16X>>0", "le S16/16>>0",
  };
  struct iio_data_format f;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    fail_if (gst_iio_caps_format_from_string (bad[i], &f), "accepted \"%s\"",
        bad[i]);
}

GST_END_TEST;

GST_START_TEST (test_format_to_audio)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (format_cases); i++) {
    struct iio_data_format f = case_format (&format_cases[i]);
    GstAudioFormat af = gst_iio_caps_format_to_audio (&f);

    if (format_cases[i].audio) {
      fail_unless_equals_string (gst_audio_format_to_string (af),
          format_cases[i].audio);
    } else {
      fail_unless (af == GST_AUDIO_FORMAT_UNKNOWN, "%s gave %s",
          format_cases[i].type, gst_audio_format_to_string (af));
    }
  }
}

GST_END_TEST;

/* Channels from type strings, ids voltage0.. */
static GstIioCapsChannel *
make_channels (const gchar * const *types, guint n)
{
  static const gchar *ids[] = { "voltage0", "voltage1", "voltage2",
    "voltage3", "timestamp"
  };
  GstIioCapsChannel *chans = g_new0 (GstIioCapsChannel, n);
  guint i;

  for (i = 0; i < n; i++) {
    chans[i].id = ids[i];
    fail_unless (gst_iio_caps_format_from_string (types[i], &chans[i].format));
  }
  return chans;
}

static void
assert_caps (const gchar * const *types, guint n, guint rate,
    const gchar * expected)
{
  GstIioCapsChannel *chans = make_channels (types, n);
  GstCaps *caps = gst_iio_caps_build (chans, n, rate);
  GstCaps *want = gst_caps_from_string (expected);

  fail_unless (want != NULL, "bad expectation %s", expected);
  fail_unless (gst_caps_is_strictly_equal (caps, want),
      "got %" GST_PTR_FORMAT "\nwanted %" GST_PTR_FORMAT, caps, want);
  gst_caps_unref (caps);
  gst_caps_unref (want);
  g_free (chans);
}

GST_START_TEST (test_caps_build)
{
  static const gchar *s16x4[] = { "le:S16/16>>0", "le:S16/16>>0",
    "le:S16/16>>0", "le:S16/16>>0"
  };
  static const gchar *iq[] = { "le:S12/16>>4", "le:S12/16>>4" };
  static const gchar *mixed[] = { "le:S16/16>>0", "le:U8/8>>0",
    "be:S32/32>>0"
  };
  static const gchar *s24[] = { "le:S24/32>>0" };

  assert_caps (s16x4, 4, 1000000,
      "audio/x-raw, format=S16LE, layout=interleaved, rate=1000000, "
      "channels=4, channel-mask=(bitmask)0; application/x-iio, rate=1000000, "
      "channels=4, formats=<\"le:S16/16>>0\", \"le:S16/16>>0\", "
      "\"le:S16/16>>0\", \"le:S16/16>>0\">, channel-names=<\"voltage0\", "
      "\"voltage1\", \"voltage2\", \"voltage3\">");
  assert_caps (iq, 2, 30720000,
      "application/x-iio, rate=30720000, channels=2, "
      "formats=<\"le:S12/16>>4\", \"le:S12/16>>4\">, "
      "channel-names=<\"voltage0\", \"voltage1\">");
  assert_caps (mixed, 3, 8000,
      "application/x-iio, rate=8000, channels=3, formats=<\"le:S16/16>>0\", "
      "\"le:U8/8>>0\", \"be:S32/32>>0\">, channel-names=<\"voltage0\", "
      "\"voltage1\", \"voltage2\">");
  /* rate 0: the device has none and the element has not set one. */
  assert_caps (s24, 1, 0,
      "audio/x-raw, format=S24_32LE, layout=interleaved, "
      "rate=[1, 2147483647], channels=1, channel-mask=(bitmask)0; "
      "application/x-iio, rate=[1, 2147483647], channels=1, "
      "formats=<\"le:S24/32>>0\">, channel-names=<\"voltage0\">");
}

GST_END_TEST;

/* The audio caps are usable by GStreamer's audio library as they are. */
GST_START_TEST (test_caps_audio_info)
{
  static const gchar *u8x3[] = { "le:U8/8>>0", "le:U8/8>>0", "le:U8/8>>0" };
  GstIioCapsChannel *chans = make_channels (u8x3, 3);
  GstCaps *caps = gst_iio_caps_build (chans, 3, 48000);
  GstCaps *audio = gst_caps_copy_nth (caps, 0);
  GstAudioInfo info;

  fail_unless (gst_audio_info_from_caps (&info, audio));
  fail_unless_equals_int (GST_AUDIO_INFO_FORMAT (&info), GST_AUDIO_FORMAT_U8);
  fail_unless_equals_int (GST_AUDIO_INFO_CHANNELS (&info), 3);
  fail_unless_equals_int (GST_AUDIO_INFO_RATE (&info), 48000);
  fail_unless_equals_int (GST_AUDIO_INFO_BPF (&info), 3);
  fail_unless (GST_AUDIO_INFO_IS_UNPOSITIONED (&info));
  gst_caps_unref (audio);
  gst_caps_unref (caps);
  g_free (chans);
}

GST_END_TEST;

static void
assert_check (const gchar * const *types, guint n, guint rate,
    const gchar * caps_str, const gchar * message)
{
  GstIioCapsChannel *chans = make_channels (types, n);
  GstCaps *caps = gst_caps_from_string (caps_str);
  GError *err = NULL;
  gboolean ok;

  fail_unless (caps != NULL, "bad caps %s", caps_str);
  ok = gst_iio_caps_check (chans, n, rate, "sim-dac (iio:device1)", caps,
      &err);
  if (message) {
    fail_if (ok, "accepted %s", caps_str);
    fail_unless (g_error_matches (err, GST_CORE_ERROR,
            GST_CORE_ERROR_NEGOTIATION));
    fail_unless_equals_string (err->message, message);
    g_error_free (err);
  } else {
    fail_unless (ok, "rejected %s: %s", caps_str, err ? err->message : "");
  }
  gst_caps_unref (caps);
  g_free (chans);
}

GST_START_TEST (test_caps_check)
{
  static const gchar *s16x2[] = { "le:S16/16>>0", "le:S16/16>>0" };
  static const gchar *iq[] = { "le:S12/16>>4", "le:S12/16>>4" };
  static const gchar *mixed[] = { "le:S16/16>>0", "le:U8/8>>0" };

  assert_check (s16x2, 2, 1000000, "audio/x-raw, format=S16LE, "
      "layout=interleaved, rate=1000000, channels=2", NULL);
  assert_check (s16x2, 2, 1000000, "application/x-iio, rate=1000000, "
      "channels=2, formats=<\"le:S16/16>>0\", \"le:S16/16>>0\">, "
      "channel-names=<\"a\", \"b\">", NULL);
  assert_check (s16x2, 2, 0, "audio/x-raw, format=S16LE, "
      "layout=interleaved, rate=44100, channels=2", NULL);
  assert_check (s16x2, 2, 1000000, "audio/x-raw, format=S16LE, "
      "layout=interleaved, rate=1000000, channels=3",
      "sim-dac (iio:device1) expects 2 channels of S16LE (le:S16/16>>0) at "
      "1000000 Hz, got 3 channels of S16LE at 1000000 Hz");
  assert_check (s16x2, 2, 1000000, "audio/x-raw, format=F32LE, "
      "layout=interleaved, rate=1000000, channels=2",
      "sim-dac (iio:device1) expects 2 channels of S16LE (le:S16/16>>0) at "
      "1000000 Hz, got 2 channels of F32LE at 1000000 Hz");
  assert_check (s16x2, 2, 1000000, "audio/x-raw, format=S16LE, "
      "layout=interleaved, rate=48000, channels=2",
      "sim-dac (iio:device1) expects 2 channels of S16LE (le:S16/16>>0) at "
      "1000000 Hz, got 2 channels of S16LE at 48000 Hz");
  assert_check (s16x2, 2, 1000000, "audio/x-raw, format=S16LE, "
      "layout=non-interleaved, rate=1000000, channels=2",
      "sim-dac (iio:device1) expects 2 channels of S16LE (le:S16/16>>0) at "
      "1000000 Hz, got 2 channels of S16LE (non-interleaved) at 1000000 Hz");
  assert_check (iq, 2, 0, "audio/x-raw, format=S16LE, layout=interleaved, "
      "rate=1000, channels=2",
      "sim-dac (iio:device1) expects 2 channels of le:S12/16>>4, "
      "got 2 channels of S16LE at 1000 Hz");
  assert_check (iq, 2, 0, "application/x-iio, rate=1000, channels=2, "
      "formats=<\"le:S16/16>>0\", \"le:S16/16>>0\">",
      "sim-dac (iio:device1) expects 2 channels of le:S12/16>>4, "
      "got 2 channels of S16LE (le:S16/16>>0) at 1000 Hz");
  assert_check (mixed, 2, 10, "application/x-iio, rate=10, channels=2, "
      "formats=<\"le:S16/16>>0\", \"le:U8/8>>0\">", NULL);
  assert_check (mixed, 2, 10, "application/x-iio, rate=10, channels=2, "
      "formats=<\"le:U8/8>>0\", \"le:S16/16>>0\">",
      "sim-dac (iio:device1) expects 2 channels of le:S16/16>>0, le:U8/8>>0 "
      "at 10 Hz, got 2 channels of le:U8/8>>0, le:S16/16>>0 at 10 Hz");
  assert_check (mixed, 2, 10, "application/x-iio, rate=10, channels=2, "
      "formats=<\"junk\", \"le:S16/16>>0\">",
      "sim-dac (iio:device1) expects 2 channels of le:S16/16>>0, le:U8/8>>0 "
      "at 10 Hz, got 2 channels of junk, le:S16/16>>0 at 10 Hz");
  assert_check (mixed, 2, 10, "application/x-iio, rate=10, channels=2",
      "sim-dac (iio:device1) expects 2 channels of le:S16/16>>0, le:U8/8>>0 "
      "at 10 Hz, got 2 channels of no formats at 10 Hz");
  assert_check (s16x2, 2, 1000000, "video/x-raw, format=I420",
      "sim-dac (iio:device1) expects 2 channels of S16LE (le:S16/16>>0) at "
      "1000000 Hz, got video/x-raw");
  assert_check (s16x2, 2, 1000000, "audio/x-raw, format=S16LE, "
      "layout=interleaved, rate=[1, 5], channels=2",
      "sim-dac (iio:device1) expects 2 channels of S16LE (le:S16/16>>0) at "
      "1000000 Hz, got audio/x-raw, format=(string)S16LE, "
      "layout=(string)interleaved, rate=(int)[ 1, 5 ], channels=(int)2");
}

GST_END_TEST;

static Suite *
iiocaps_suite (void)
{
  Suite *s = suite_create ("iiocaps");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_format_to_string);
  tcase_add_test (tc, test_format_from_string);
  tcase_add_test (tc, test_format_from_bad_string);
  tcase_add_test (tc, test_format_to_audio);
  tcase_add_test (tc, test_caps_build);
  tcase_add_test (tc, test_caps_audio_info);
  tcase_add_test (tc, test_caps_check);

  return s;
}

GST_CHECK_MAIN (iiocaps);
