/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiocaps.h"

#include <stdio.h>
#include <string.h>

gchar *
gst_iio_caps_format_to_string (const struct iio_data_format *format)
{
  gchar sign = format->is_signed ? 's' : 'u';
  gchar endian = format->is_be ? 'b' : 'l';

  /* iio_info's spelling: upper case when the unused bits are defined
   * (sign-extended or zero), which is always so when bits == length. */
  if (format->is_fully_defined || format->bits == format->length)
    sign = g_ascii_toupper (sign);

  if (format->repeat > 1)
    return g_strdup_printf ("%ce:%c%u/%uX%u>>%u", endian, sign, format->bits,
        format->length, format->repeat, format->shift);
  return g_strdup_printf ("%ce:%c%u/%u>>%u", endian, sign, format->bits,
      format->length, format->shift);
}

gboolean
gst_iio_caps_format_from_string (const gchar * str,
    struct iio_data_format *format)
{
  gchar endian, sign, tail;
  guint bits, length, repeat = 1, shift;
  gboolean parsed;

  g_return_val_if_fail (str != NULL, FALSE);

  /* The trailing %c catches garbage after the shift. */
  if (strchr (str, 'X'))
    parsed = sscanf (str, "%ce:%c%u/%uX%u>>%u%c", &endian, &sign, &bits,
        &length, &repeat, &shift, &tail) == 6;
  else
    parsed = sscanf (str, "%ce:%c%u/%u>>%u%c", &endian, &sign, &bits, &length,
        &shift, &tail) == 5;
  if (!parsed)
    return FALSE;
  if ((endian != 'l' && endian != 'b') || sign == 0 || !strchr ("sSuU", sign))
    return FALSE;
  if (bits == 0 || length == 0 || (guint64) bits + shift > length
      || repeat == 0)
    return FALSE;

  memset (format, 0, sizeof (*format));
  format->is_be = endian == 'b';
  format->is_signed = sign == 's' || sign == 'S';
  format->is_fully_defined = sign == 'S' || sign == 'U' || bits == length;
  format->bits = bits;
  format->length = length;
  format->shift = shift;
  format->repeat = repeat;
  return TRUE;
}

GstAudioFormat
gst_iio_caps_format_to_audio (const struct iio_data_format *format)
{
  gint endianness = format->is_be ? G_BIG_ENDIAN : G_LITTLE_ENDIAN;

  if (format->shift != 0 || format->repeat > 1)
    return GST_AUDIO_FORMAT_UNKNOWN;
  /* Every storage bit is a sample bit; or 24 low bits in 32 (S24_32),
   * where GStreamer ignores the top byte just as IIO leaves it undefined.
   * Other depths (S20, S18 in 24 bits) GStreamer packs differently. */
  if (format->bits != format->length &&
      !(format->bits == 24 && format->length == 32))
    return GST_AUDIO_FORMAT_UNKNOWN;

  return gst_audio_format_build_integer (format->is_signed, endianness,
      format->length, format->bits);
}

GstAudioFormat
gst_iio_caps_channels_to_audio (const GstIioCapsChannel * channels,
    guint n_channels)
{
  GstAudioFormat audio_format;
  guint i;

  if (n_channels == 0)
    return GST_AUDIO_FORMAT_UNKNOWN;

  audio_format = gst_iio_caps_format_to_audio (&channels[0].format);
  for (i = 1; i < n_channels; i++)
    if (gst_iio_caps_format_to_audio (&channels[i].format) != audio_format)
      return GST_AUDIO_FORMAT_UNKNOWN;

  return audio_format;
}

static void
set_rate (GstStructure * s, guint rate)
{
  if (rate)
    gst_structure_set (s, "rate", G_TYPE_INT, (gint) rate, NULL);
  else
    gst_structure_set (s, "rate", GST_TYPE_INT_RANGE, 1, G_MAXINT, NULL);
}

static GstStructure *
build_audio_structure (GstAudioFormat audio_format, guint n_channels,
    guint rate)
{
  GstStructure *s;

  s = gst_structure_new ("audio/x-raw",
      "format", G_TYPE_STRING, gst_audio_format_to_string (audio_format),
      "layout", G_TYPE_STRING, "interleaved", NULL);
  set_rate (s, rate);
  /* channel-mask 0: IIO channels have no speaker positions. */
  gst_structure_set (s, "channels", G_TYPE_INT, (gint) n_channels,
      "channel-mask", GST_TYPE_BITMASK, (guint64) 0, NULL);

  return s;
}

static void
array_append_string (GValue * array, const gchar * str)
{
  GValue v = G_VALUE_INIT;

  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, str);
  gst_value_array_append_and_take_value (array, &v);
}

static GstStructure *
build_iio_structure (const GstIioCapsChannel * channels, guint n_channels,
    guint rate)
{
  GValue formats = G_VALUE_INIT, names = G_VALUE_INIT;
  GstStructure *s;
  guint i;

  gst_value_array_init (&formats, n_channels);
  gst_value_array_init (&names, n_channels);
  for (i = 0; i < n_channels; i++) {
    gchar *type = gst_iio_caps_format_to_string (&channels[i].format);

    array_append_string (&formats, type);
    array_append_string (&names, channels[i].id);
    g_free (type);
  }

  s = gst_structure_new_empty (GST_IIO_CAPS_MEDIA_TYPE);
  set_rate (s, rate);
  gst_structure_set (s, "channels", G_TYPE_INT, (gint) n_channels, NULL);
  gst_structure_take_value (s, "formats", &formats);
  gst_structure_take_value (s, "channel-names", &names);

  return s;
}

GstCaps *
gst_iio_caps_build (const GstIioCapsChannel * channels, guint n_channels,
    guint rate)
{
  GstAudioFormat audio_format;
  GstCaps *caps = gst_caps_new_empty ();

  g_return_val_if_fail (n_channels > 0 && n_channels <= G_MAXINT, caps);

  /* GStreamer audio takes unpositioned layouts up to 64 channels. */
  audio_format = gst_iio_caps_channels_to_audio (channels, n_channels);
  if (audio_format != GST_AUDIO_FORMAT_UNKNOWN && n_channels <= 64)
    gst_caps_append_structure (caps,
        build_audio_structure (audio_format, n_channels, rate));
  gst_caps_append_structure (caps,
      build_iio_structure (channels, n_channels, rate));

  return caps;
}

/* "S16LE (le:S16/16>>0)" or "le:S12/16>>4" when every channel is alike,
 * else the list "le:S16/16>>0, le:U8/8>>0". */
static gchar *
describe_formats (const GstIioCapsChannel * channels, guint n_channels)
{
  GstAudioFormat audio_format;
  gchar **types = g_new0 (gchar *, n_channels + 1);
  gboolean same = TRUE;
  gchar *desc;
  guint i;

  for (i = 0; i < n_channels; i++) {
    types[i] = gst_iio_caps_format_to_string (&channels[i].format);
    same &= g_str_equal (types[i], types[0]);
  }

  audio_format = gst_iio_caps_format_to_audio (&channels[0].format);
  if (same && audio_format != GST_AUDIO_FORMAT_UNKNOWN)
    desc = g_strdup_printf ("%s (%s)",
        gst_audio_format_to_string (audio_format), types[0]);
  else if (same)
    desc = g_strdup (types[0]);
  else
    desc = g_strjoinv (", ", types);
  g_strfreev (types);

  return desc;
}

gchar *
gst_iio_caps_describe_channels (const GstIioCapsChannel * channels,
    guint n_channels, guint rate)
{
  gchar *formats = describe_formats (channels, n_channels);
  gchar *desc;

  if (rate)
    desc = g_strdup_printf ("%u channel%s of %s at %u Hz", n_channels,
        n_channels == 1 ? "" : "s", formats, rate);
  else
    desc = g_strdup_printf ("%u channel%s of %s", n_channels,
        n_channels == 1 ? "" : "s", formats);
  g_free (formats);

  return desc;
}

static gchar *
join_strings (const GValue * array)
{
  GString *str = g_string_new (NULL);
  guint i;

  for (i = 0; i < gst_value_array_get_size (array); i++) {
    const GValue *v = gst_value_array_get_value (array, i);

    g_string_append_printf (str, "%s%s", i ? ", " : "",
        G_VALUE_HOLDS_STRING (v) ? g_value_get_string (v) : "?");
  }

  return g_string_free (str, FALSE);
}

/* The formats array of application/x-iio caps, in the words of
 * describe_formats, or its strings as they are when they do not parse. */
static gchar *
describe_caps_formats (const GValue * formats)
{
  GstIioCapsChannel *chans;
  gchar *desc = NULL;
  guint i, n;

  if (!formats || !GST_VALUE_HOLDS_ARRAY (formats) ||
      (n = gst_value_array_get_size (formats)) == 0)
    return g_strdup ("no formats");

  chans = g_new0 (GstIioCapsChannel, n);
  for (i = 0; i < n; i++) {
    const GValue *v = gst_value_array_get_value (formats, i);

    if (!G_VALUE_HOLDS_STRING (v) ||
        !gst_iio_caps_format_from_string (g_value_get_string (v),
            &chans[i].format))
      break;
  }
  desc = i == n ? describe_formats (chans, n) : join_strings (formats);
  g_free (chans);

  return desc;
}

static gchar *
describe_iio_structure (const GstStructure * s, gint n_channels,
    const gchar * rate_str)
{
  gchar *formats, *desc;

  formats = describe_caps_formats (gst_structure_get_value (s, "formats"));
  desc = g_strdup_printf ("%d channel%s of %s%s", n_channels,
      n_channels == 1 ? "" : "s", formats, rate_str);
  g_free (formats);

  return desc;
}

static gchar *
describe_structure (const GstStructure * s)
{
  const gchar *layout = gst_structure_get_string (s, "layout");
  const gchar *format = gst_structure_get_string (s, "format");
  gint n_channels = 0, rate = 0;
  gchar *rate_str, *desc;

  gst_structure_get_int (s, "channels", &n_channels);
  rate_str = gst_structure_get_int (s, "rate", &rate) ?
      g_strdup_printf (" at %d Hz", rate) : g_strdup ("");

  if (gst_structure_has_name (s, "audio/x-raw"))
    desc = g_strdup_printf ("%d channel%s of %s%s%s", n_channels,
        n_channels == 1 ? "" : "s", format ? format : "?",
        g_strcmp0 (layout, "interleaved") ? " (non-interleaved)" : "",
        rate_str);
  else if (gst_structure_has_name (s, GST_IIO_CAPS_MEDIA_TYPE))
    desc = describe_iio_structure (s, n_channels, rate_str);
  else
    desc = g_strdup (gst_structure_get_name (s));
  g_free (rate_str);

  return desc;
}

static gboolean
audio_structure_matches (const GstIioCapsChannel * channels,
    guint n_channels, const GstStructure * s)
{
  GstAudioFormat expected = gst_iio_caps_channels_to_audio (channels,
      n_channels);
  const gchar *format = gst_structure_get_string (s, "format");

  return expected != GST_AUDIO_FORMAT_UNKNOWN && format != NULL &&
      gst_audio_format_from_string (format) == expected &&
      !g_strcmp0 (gst_structure_get_string (s, "layout"), "interleaved");
}

static gboolean
iio_structure_matches (const GstIioCapsChannel * channels, guint n_channels,
    const GstStructure * s)
{
  const GValue *formats = gst_structure_get_value (s, "formats");
  gboolean match;
  guint i;

  if (!formats || !GST_VALUE_HOLDS_ARRAY (formats) ||
      gst_value_array_get_size (formats) != n_channels)
    return FALSE;

  for (i = 0, match = TRUE; match && i < n_channels; i++) {
    const GValue *v = gst_value_array_get_value (formats, i);
    gchar *type = gst_iio_caps_format_to_string (&channels[i].format);

    match = G_VALUE_HOLDS_STRING (v) &&
        !g_strcmp0 (g_value_get_string (v), type);
    g_free (type);
  }

  return match;
}

static gboolean
structure_matches (const GstIioCapsChannel * channels, guint n_channels,
    guint rate, const GstStructure * s)
{
  gint caps_channels = 0, caps_rate = 0;

  if (!gst_structure_get_int (s, "channels", &caps_channels) ||
      caps_channels != (gint) n_channels)
    return FALSE;
  if (rate && (!gst_structure_get_int (s, "rate", &caps_rate) ||
          caps_rate != (gint) rate))
    return FALSE;

  if (gst_structure_has_name (s, "audio/x-raw"))
    return audio_structure_matches (channels, n_channels, s);
  if (gst_structure_has_name (s, GST_IIO_CAPS_MEDIA_TYPE))
    return iio_structure_matches (channels, n_channels, s);
  return FALSE;
}

gboolean
gst_iio_caps_check (const GstIioCapsChannel * channels, guint n_channels,
    guint rate, const gchar * device_name, const GstCaps * caps,
    GError ** error)
{
  const GstStructure *s;
  gchar *expected, *got;

  g_return_val_if_fail (GST_IS_CAPS (caps), FALSE);

  if (gst_caps_is_fixed (caps)) {
    s = gst_caps_get_structure (caps, 0);
    if (structure_matches (channels, n_channels, rate, s))
      return TRUE;
    got = describe_structure (s);
  } else {
    got = gst_caps_to_string (caps);
  }

  expected = gst_iio_caps_describe_channels (channels, n_channels, rate);
  g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
      "%s expects %s, got %s", device_name, expected, got);
  g_free (expected);
  g_free (got);

  return FALSE;
}
