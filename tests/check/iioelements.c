/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iiosrc and iiosink without a kernel: what gst-inspect-1.0 shows, the
 * error messages on the bus for bad properties, and the caps of devices
 * described by libiio xml: contexts. The elements are registered from the
 * linked code rather than loaded from the plugin, so that a sanitizer
 * build checks them (the registry's plugin scanner is not instrumented). */
#include <gst/check/gstcheck.h>
#include <gst/base/base.h>
#include "gstiiosrc.h"
#include "gstiiosink.h"
#include "gstiioqueue.h"

#define SIM_URI "xml:" TEST_DATA_DIR "/sim.xml"
#define AD9361_URI "xml:" TEST_DATA_DIR "/ad9361.xml"

static const gchar *ready_props[] = {
  "uri", "device", "channels", "buffer-size", "blocks", "io-mode",
  "dma-heap", "attributes", "timeout", "rate",
};

static void
assert_string_default (GstElement * e, const gchar * name, const gchar * def)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (e),
      name);
  gchar *value = NULL;

  fail_unless (G_IS_PARAM_SPEC_STRING (pspec), "%s", name);
  fail_unless_equals_string (G_PARAM_SPEC_STRING (pspec)->default_value, def);
  g_object_get (e, name, &value, NULL);
  fail_unless_equals_string (value, def);
  g_free (value);
}

static void
assert_uint_default (GstElement * e, const gchar * name, guint min,
    guint max, guint def)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (e),
      name);
  guint value = G_MAXUINT;

  fail_unless (G_IS_PARAM_SPEC_UINT (pspec), "%s", name);
  fail_unless_equals_int (G_PARAM_SPEC_UINT (pspec)->minimum, min);
  fail_unless_equals_int (G_PARAM_SPEC_UINT (pspec)->maximum, max);
  fail_unless_equals_int (G_PARAM_SPEC_UINT (pspec)->default_value, def);
  g_object_get (e, name, &value, NULL);
  fail_unless_equals_int (value, def);
}

static void
assert_common_properties (GstElement * e, guint default_blocks)
{
  GObjectClass *klass = G_OBJECT_GET_CLASS (e);
  GParamSpec *pspec;
  GEnumValue *nick;
  gint mode = -1;

  assert_string_default (e, "uri", "local:");
  assert_string_default (e, "device", NULL);
  assert_string_default (e, "channels", NULL);
  assert_string_default (e, "attributes", NULL);
  assert_string_default (e, "dma-heap", "system");
  assert_uint_default (e, "buffer-size", 1, G_MAXINT, 4096);
  assert_uint_default (e, "blocks", 1, 64, default_blocks);
  assert_uint_default (e, "timeout", 0, G_MAXINT, 0);
  assert_uint_default (e, "rate", 0, G_MAXINT, 0);

  pspec = g_object_class_find_property (klass, "io-mode");
  fail_unless (G_IS_PARAM_SPEC_ENUM (pspec));
  fail_unless_equals_string (g_type_name (pspec->value_type), "GstIioIoMode");
  g_object_get (e, "io-mode", &mode, NULL);
  nick = g_enum_get_value (G_PARAM_SPEC_ENUM (pspec)->enum_class, mode);
  fail_unless_equals_string (nick->value_nick, "auto");
  fail_unless (g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM
          (pspec)->enum_class, "dmabuf") != NULL);
  fail_unless (g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM
          (pspec)->enum_class, "copy") != NULL);
  fail_unless_equals_int (G_PARAM_SPEC_ENUM (pspec)->enum_class->n_values, 3);

  for (guint i = 0; i < G_N_ELEMENTS (ready_props); i++) {
    pspec = g_object_class_find_property (klass, ready_props[i]);
    fail_unless (pspec->flags & (GST_PARAM_MUTABLE_READY |
            GST_PARAM_MUTABLE_PLAYING), "%s", ready_props[i]);
    fail_unless ((pspec->flags & G_PARAM_READWRITE) == G_PARAM_READWRITE);
    fail_unless (strlen (g_param_spec_get_blurb (pspec)) > 20, "%s blurb",
        ready_props[i]);
  }
  /* attributes may change while streaming too (a retune) */
  pspec = g_object_class_find_property (klass, "attributes");
  fail_unless (pspec->flags & GST_PARAM_MUTABLE_PLAYING);
  pspec = g_object_class_find_property (klass, "stats");
  fail_unless (pspec->value_type == GST_TYPE_STRUCTURE);
  fail_unless ((pspec->flags & G_PARAM_READWRITE) == G_PARAM_READABLE);
  pspec = g_object_class_find_property (klass, "applied-attributes");
  fail_unless (pspec->value_type == GST_TYPE_STRUCTURE);
  fail_unless ((pspec->flags & G_PARAM_READWRITE) == G_PARAM_READABLE);
}

/* Before any start: io-mode none and zero counters. */
static GstStructure *
assert_idle_stats (GstElement * e)
{
  GstStructure *stats = NULL;

  g_object_get (e, "stats", &stats, NULL);
  fail_unless (stats != NULL);
  fail_unless_equals_string (gst_structure_get_string (stats,
          gst_iio_queue_stat_name (GST_IIO_QUEUE_STAT_IO_MODE)), "none");
  for (GstIioQueueStat i = 0; i < GST_IIO_QUEUE_N_COUNTERS; i++) {
    const gchar *name = gst_iio_queue_stat_name (i);
    guint64 v = G_MAXUINT64;

    fail_unless (gst_structure_get_uint64 (stats, name, &v), "%s", name);
    fail_unless_equals_int (v, 0);
  }

  return stats;
}

GST_START_TEST (test_src_properties)
{
  GstElement *src = gst_element_factory_make ("iiosrc", NULL);

  fail_unless (src != NULL, "no iiosrc");
  fail_unless (GST_IS_PUSH_SRC (src));
  assert_common_properties (src, 8);
  fail_if (g_object_class_find_property (G_OBJECT_GET_CLASS (src), "cyclic"));
  gst_structure_free (assert_idle_stats (src));
  gst_object_unref (src);
}

GST_END_TEST;

GST_START_TEST (test_sink_properties)
{
  GstElement *sink = gst_element_factory_make ("iiosink", NULL);
  GParamSpec *pspec;
  gboolean cyclic = TRUE;
  GstStructure *stats;
  guint64 n = G_MAXUINT64;
  gdouble rate = -1;

  fail_unless (sink != NULL, "no iiosink");
  fail_unless (GST_IS_BASE_SINK (sink));
  assert_common_properties (sink, 4);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (sink), "cyclic");
  fail_unless (G_IS_PARAM_SPEC_BOOLEAN (pspec));
  fail_if (G_PARAM_SPEC_BOOLEAN (pspec)->default_value);
  g_object_get (sink, "cyclic", &cyclic, NULL);
  fail_if (cyclic);
  /* Our stats hide GstBaseSink's property of that name: its fields are
   * part of ours. */
  stats = assert_idle_stats (sink);
  fail_unless (gst_structure_get_uint64 (stats, "rendered", &n));
  fail_unless_equals_int (n, 0);
  n = G_MAXUINT64;
  fail_unless (gst_structure_get_uint64 (stats, "dropped", &n));
  fail_unless_equals_int (n, 0);
  fail_unless (gst_structure_get_double (stats, "average-rate", &rate));
  fail_unless (rate == 0.0);
  gst_structure_free (stats);
  gst_object_unref (sink);
}

GST_END_TEST;

/* Sets @state, expects a failure and returns the one error message. */
static GstMessage *
fail_to (GstElement * e, GstState state)
{
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;

  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, state),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message");
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  return msg;
}

static void
assert_error (const gchar * factory, GstState state, const gchar * props,
    GQuark domain, gint code, const gchar * text)
{
  gchar *desc = g_strdup_printf ("%s %s", factory, props);
  GError *err = NULL;
  GstElement *e = gst_parse_launch (desc, &err);
  GstMessage *msg;
  gchar *debug = NULL;

  fail_unless (e != NULL, "%s: %s", desc, err ? err->message : "");
  msg = fail_to (e, state);
  gst_message_parse_error (msg, &err, &debug);
  fail_unless_equals_string (err->message, text);
  fail_unless (g_error_matches (err, domain, code), "%s: %s %d",
      desc, g_quark_to_string (err->domain), err->code);
  fail_unless (debug != NULL && *debug != '\0');
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (e));
  g_clear_error (&err);
  g_free (debug);
  gst_message_unref (msg);
  gst_object_unref (e);
  g_free (desc);
}

GST_START_TEST (test_device_not_found)
{
  assert_error ("iiosrc", GST_STATE_READY, "uri=" SIM_URI " device=nope",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO device \"nope\" not found at " SIM_URI "; devices with input "
      "channels: sim-adc (iio:device0), sim-kfifo (iio:device2)");
  assert_error ("iiosink", GST_STATE_READY, "uri=" SIM_URI " device=nope",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO device \"nope\" not found at " SIM_URI "; devices with output "
      "channels: sim-dac (iio:device1)");
  assert_error ("iiosrc", GST_STATE_READY, "uri=" SIM_URI " device=sim-dac",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO device sim-dac (iio:device1) at " SIM_URI " has no input "
      "channels; devices with input channels: sim-adc (iio:device0), "
      "sim-kfifo (iio:device2)");
  assert_error ("iiosrc", GST_STATE_READY, "uri=" SIM_URI,
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "Several IIO devices at " SIM_URI ": choose one with the device "
      "property; devices with input channels: sim-adc (iio:device0), "
      "sim-kfifo (iio:device2)");
}

GST_END_TEST;

GST_START_TEST (test_bad_uri)
{
  assert_error ("iiosrc", GST_STATE_READY, "uri=bogus:",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "Unknown IIO context URI \"bogus:\": use local:, ip:HOST, "
      "usb:[BUS.DEV.INTF], serial:PORT[,BAUD,...] or xml:FILE");
  assert_error ("iiosink", GST_STATE_READY, "uri=xml:/nonexistent.xml",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO context file \"/nonexistent.xml\" not found");
}

GST_END_TEST;

GST_START_TEST (test_channels_and_attributes)
{
  assert_error ("iiosrc", GST_STATE_READY, "uri=" SIM_URI " device=sim-adc "
      "channels=voltage0,voltage9", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, "sim-adc (iio:device0) has no input "
      "channel \"voltage9\"; input channels: voltage0, voltage1, voltage2, "
      "voltage3, timestamp");
  assert_error ("iiosink", GST_STATE_READY, "uri=" SIM_URI " device=sim-dac "
      "channels=voltage2", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "sim-dac (iio:device1) has no output channel \"voltage2\"; output "
      "channels: voltage0, voltage1");
  assert_error ("iiosrc", GST_STATE_READY, "uri=" SIM_URI " device=sim-adc "
      "attributes=nope=1", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "sim-adc (iio:device0) has no attribute \"nope\"; device attributes: "
      "sampling_frequency, waveform, overruns, fault (channel attributes are "
      "written as channel.name=value)");
  assert_error ("iiosrc", GST_STATE_READY, "uri=" SIM_URI " device=sim-adc "
      "attributes=sampling_frequency=1000", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, "Could not write \"1000\" to attribute "
      "sampling_frequency of sim-adc (iio:device0): Function not "
      "implemented (an xml: context only describes devices; it cannot write "
      "attributes)");
  /* Other devices of the context, from both elements. */
  assert_error ("iiosink", GST_STATE_READY, "uri=" SIM_URI " device=sim-dac "
      "attributes=sim-phy:fault=none", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, "No IIO device \"sim-phy\" at " SIM_URI
      " (item \"sim-phy:fault=none\"); devices: sim-adc (iio:device0), "
      "sim-dac (iio:device1), sim-kfifo (iio:device2), sim-temp "
      "(iio:device3)");
  assert_error ("iiosrc", GST_STATE_READY, "uri=" SIM_URI " device=sim-adc "
      "attributes=sim-dac:out:voltage0:nope=1", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, "Channel voltage0 (output) of sim-dac "
      "(iio:device1) has no attribute \"nope\" (item "
      "\"sim-dac:out:voltage0:nope=1\"); its attributes: raw");
  assert_error ("iiosink", GST_STATE_READY, "uri=" SIM_URI " device=sim-dac "
      "attributes=sim-adc:fault", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, "Bad item \"sim-adc:fault\" in "
      "attributes \"sim-adc:fault\": expected name=value or "
      "channel.name=value (own device), DEVICE:name=value, "
      "[DEVICE:]in:CHANNEL:name=value, [DEVICE:]out:CHANNEL:name=value, "
      "[DEVICE:]buffer:name=value or [DEVICE:]debug:name=value");
}

GST_END_TEST;

/* An xml: context cannot read sampling_frequency: rate must be set. */
GST_START_TEST (test_rate_needed)
{
  assert_error ("iiosrc", GST_STATE_READY, "uri=" SIM_URI " device=sim-adc",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "IIO device sim-adc (iio:device0) has no sampling_frequency "
      "attribute: set the rate property to its sample rate in Hz");
}

GST_END_TEST;

GST_START_TEST (test_dmabuf_needs_local)
{
  assert_error ("iiosrc", GST_STATE_PAUSED, "uri=" SIM_URI " device=sim-adc "
      "rate=1000 io-mode=dmabuf", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, "io-mode=dmabuf is not possible with "
      "sim-adc (iio:device0): the context is not local: DMABUFs work only on "
      "the machine that has the device (uri=local:)");
  assert_error ("iiosink", GST_STATE_PAUSED, "uri=" SIM_URI " device=sim-dac "
      "rate=1000 io-mode=dmabuf", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, "io-mode=dmabuf is not possible with "
      "sim-dac (iio:device1): the context is not local: DMABUFs work only on "
      "the machine that has the device (uri=local:)");
}

GST_END_TEST;

/* auto falls back to copy, which an xml: context cannot do either. */
GST_START_TEST (test_xml_cannot_stream)
{
  assert_error ("iiosrc", GST_STATE_PAUSED, "uri=" SIM_URI " device=sim-adc "
      "rate=1000", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
      "sim-adc (iio:device0) is described by an xml: context, which cannot "
      "stream samples; use local:, ip:HOST or usb:");
  assert_error ("iiosink", GST_STATE_PAUSED, "uri=" SIM_URI " device=sim-dac "
      "rate=1000 io-mode=copy", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
      "sim-dac (iio:device1) is described by an xml: context, which cannot "
      "stream samples; use local:, ip:HOST or usb:");
}

GST_END_TEST;

/* In READY the pads offer the device's caps. */
static void
assert_ready_caps (const gchar * desc, const gchar * pad_name,
    const gchar * expected)
{
  GstElement *e = gst_parse_launch (desc, NULL);
  GstPad *pad = gst_element_get_static_pad (e, pad_name);
  GstCaps *caps, *want = gst_caps_from_string (expected);

  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  caps = gst_pad_query_caps (pad, NULL);
  fail_unless (gst_caps_is_equal (caps, want), "%s: got %" GST_PTR_FORMAT
      "\nwanted %" GST_PTR_FORMAT, desc, caps, want);
  gst_caps_unref (caps);
  gst_caps_unref (want);
  gst_object_unref (pad);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}

GST_START_TEST (test_ready_caps)
{
  assert_ready_caps ("iiosrc uri=" SIM_URI " device=sim-adc rate=1000000",
      "src", "audio/x-raw, format=S16LE, layout=interleaved, rate=1000000, "
      "channels=4, channel-mask=(bitmask)0; application/x-iio, "
      "rate=1000000, channels=4, formats=<\"le:S16/16>>0\", "
      "\"le:S16/16>>0\", \"le:S16/16>>0\", \"le:S16/16>>0\">, "
      "channel-names=<\"voltage0\", \"voltage1\", \"voltage2\", "
      "\"voltage3\">");
  assert_ready_caps ("iiosrc uri=" AD9361_URI " device=rx rate=30720000 "
      "channels=voltage0,voltage1", "src", "application/x-iio, "
      "rate=30720000, channels=2, formats=<\"le:S12/16>>4\", "
      "\"le:S12/16>>4\">, channel-names=<\"voltage0\", \"voltage1\">");
  assert_ready_caps ("iiosink uri=" SIM_URI " rate=48000", "sink",
      "audio/x-raw, format=S16LE, layout=interleaved, rate=48000, "
      "channels=2, channel-mask=(bitmask)0; application/x-iio, rate=48000, "
      "channels=2, formats=<\"le:S16/16>>0\", \"le:S16/16>>0\">, "
      "channel-names=<\"voltage0\", \"voltage1\">");
}

GST_END_TEST;

static Suite *
iioelements_suite (void)
{
  Suite *s = suite_create ("iioelements");
  TCase *tc = tcase_create ("general");

  /* Outside a test: check's asserts are not available yet. */
  if (!GST_ELEMENT_REGISTER (iiosrc, NULL) ||
      !GST_ELEMENT_REGISTER (iiosink, NULL))
    g_error ("could not register iiosrc and iiosink");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_src_properties);
  tcase_add_test (tc, test_sink_properties);
  tcase_add_test (tc, test_device_not_found);
  tcase_add_test (tc, test_bad_uri);
  tcase_add_test (tc, test_channels_and_attributes);
  tcase_add_test (tc, test_rate_needed);
  tcase_add_test (tc, test_dmabuf_needs_local);
  tcase_add_test (tc, test_xml_cannot_stream);
  tcase_add_test (tc, test_ready_caps);

  return s;
}

GST_CHECK_MAIN (iioelements);
