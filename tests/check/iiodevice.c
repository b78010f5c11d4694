/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstIioDevice on libiio xml: contexts: lookup, channels, attributes, caps
 * and the exact error texts users read. */
#include <gst/check/gstcheck.h>
#include "gstiiodevice.h"
#include "gstiioattributes.h"

#define SIM_URI "xml:" TEST_DATA_DIR "/sim.xml"
#define AD9361_URI "xml:" TEST_DATA_DIR "/ad9361.xml"
#define MIXED_URI "xml:" TEST_DATA_DIR "/mixed.xml"
#define SENSOR_URI "xml:" TEST_DATA_DIR "/sensor-only.xml"

#define IN GST_IIO_DIRECTION_INPUT
#define OUT GST_IIO_DIRECTION_OUTPUT

static GstIioDevice *
open_ok (const gchar * uri, const gchar * device, GstIioDirection direction)
{
  GError *err = NULL;
  GstIioDevice *dev = gst_iio_device_open (uri, device, direction, &err);

  fail_unless (dev != NULL, "open %s %s: %s", uri, device,
      err ? err->message : "?");
  return dev;
}

static GstIioDevice *
open_channels (const gchar * uri, const gchar * device,
    GstIioDirection direction, const gchar * channels)
{
  GstIioDevice *dev = open_ok (uri, device, direction);
  GError *err = NULL;

  fail_unless (gst_iio_device_select_channels (dev, channels, &err),
      "channels %s: %s", channels, err ? err->message : "?");
  return dev;
}

static void
assert_open_error (const gchar * uri, const gchar * device,
    GstIioDirection direction, gint code, const gchar * message)
{
  GError *err = NULL;
  GstIioDevice *dev = gst_iio_device_open (uri, device, direction, &err);

  fail_unless (dev == NULL, "opened %s on %s", device, uri);
  fail_unless (err != NULL);
  fail_unless_equals_string (err->message, message);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, code),
      "code %d, wanted %d", err->code, code);
  g_error_free (err);
}

GST_START_TEST (test_open_by_id_name_label)
{
  static const struct
  {
    const gchar *uri, *device;
    GstIioDirection direction;
    const gchar *display;
  } cases[] = {
    {SIM_URI, "iio:device0", IN, "sim-adc (iio:device0)"},
    {SIM_URI, "sim-adc", IN, "sim-adc (iio:device0)"},
    {SIM_URI, "sim-dac", OUT, "sim-dac (iio:device1)"},
    {SIM_URI, "iio:device2", IN, "sim-kfifo (iio:device2)"},
    {AD9361_URI, "rx", IN, "cf-ad9361-lpc (iio:device3)"},
    {AD9361_URI, "tx", OUT, "cf-ad9361-dds-core-lpc (iio:device2)"},
    {AD9361_URI, "cf-ad9361-lpc", IN, "cf-ad9361-lpc (iio:device3)"},
    {MIXED_URI, "iio:device3", IN, "twin (iio:device3)"},
    /* device NULL or "": the only device of that direction */
    {SIM_URI, NULL, OUT, "sim-dac (iio:device1)"},
    {AD9361_URI, "", IN, "cf-ad9361-lpc (iio:device3)"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstIioDevice *dev = open_ok (cases[i].uri, cases[i].device,
        cases[i].direction);

    fail_unless_equals_string (gst_iio_device_get_display_name (dev),
        cases[i].display);
    fail_unless_equals_string (gst_iio_device_get_uri (dev), cases[i].uri);
    fail_unless (gst_iio_device_get_direction (dev) == cases[i].direction);
    fail_if (gst_iio_device_is_local (dev));
    fail_unless (gst_iio_device_get_sysfs_path (dev) == NULL);
    fail_unless (gst_iio_device_get_dev_path (dev) == NULL);
    fail_unless (gst_iio_device_get_iio (dev) != NULL);
    gst_object_unref (dev);
  }
}

GST_END_TEST;

GST_START_TEST (test_open_errors)
{
  assert_open_error (SIM_URI, "nope", IN, GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO device \"nope\" not found at " SIM_URI "; devices with input "
      "channels: sim-adc (iio:device0), sim-kfifo (iio:device2)");
  assert_open_error (SIM_URI, "nope", OUT, GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO device \"nope\" not found at " SIM_URI "; devices with output "
      "channels: sim-dac (iio:device1)");
  assert_open_error (SIM_URI, "sim-dac", IN, GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO device sim-dac (iio:device1) at " SIM_URI " has no input "
      "channels; devices with input channels: sim-adc (iio:device0), "
      "sim-kfifo (iio:device2)");
  /* A sensor without a buffer, found by its label. */
  assert_open_error (SIM_URI, "board-temperature", IN,
      GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO device sim-temp (iio:device3) at " SIM_URI " has no input "
      "channels; devices with input channels: sim-adc (iio:device0), "
      "sim-kfifo (iio:device2)");
  assert_open_error (SIM_URI, NULL, IN, GST_RESOURCE_ERROR_SETTINGS,
      "Several IIO devices at " SIM_URI ": choose one with the device "
      "property; devices with input channels: sim-adc (iio:device0), "
      "sim-kfifo (iio:device2)");
  assert_open_error (AD9361_URI, "ad9361-phy", OUT,
      GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO device ad9361-phy (iio:device0) at " AD9361_URI " has no output "
      "channels; devices with output channels: cf-ad9361-dds-core-lpc "
      "(iio:device2)");
  assert_open_error (MIXED_URI, "twin", IN, GST_RESOURCE_ERROR_SETTINGS,
      "IIO device name \"twin\" is ambiguous at " MIXED_URI ": it matches "
      "twin (iio:device2), twin (iio:device3); use the device id");
}

GST_END_TEST;

GST_START_TEST (test_open_no_device_of_direction)
{
  assert_open_error (SENSOR_URI, NULL, IN, GST_RESOURCE_ERROR_NOT_FOUND,
      "No IIO device with input channels at " SENSOR_URI ": no device has "
      "input channels (devices: temp (iio:device0))");
  assert_open_error (SENSOR_URI, "x", OUT, GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO device \"x\" not found at " SENSOR_URI "; no device has output "
      "channels (devices: temp (iio:device0))");
}

GST_END_TEST;

GST_START_TEST (test_open_bad_uri)
{
  assert_open_error ("bogus:", NULL, IN, GST_RESOURCE_ERROR_SETTINGS,
      "Unknown IIO context URI \"bogus:\": use local:, ip:HOST, "
      "usb:[BUS.DEV.INTF], serial:PORT[,BAUD,...] or xml:FILE");
  assert_open_error ("/dev/iio:device0", "sim-adc", IN,
      GST_RESOURCE_ERROR_SETTINGS,
      "Unknown IIO context URI \"/dev/iio:device0\": use local:, ip:HOST, "
      "usb:[BUS.DEV.INTF], serial:PORT[,BAUD,...] or xml:FILE");
  assert_open_error ("xml:/nonexistent/ctx.xml", NULL, IN,
      GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO context file \"/nonexistent/ctx.xml\" not found");
  assert_open_error ("xml:" TEST_DATA_DIR, NULL, IN,
      GST_RESOURCE_ERROR_NOT_FOUND,
      "IIO context file \"" TEST_DATA_DIR "\" not found");
}

GST_END_TEST;

/* NULL or "" is local:. On this host without IIO the error says why;
 * where the kernel has IIO, the context opens or fails for another
 * reason, never with the missing-module text. */
GST_START_TEST (test_open_local_default)
{
  GError *err = NULL;
  GstIioDevice *dev = gst_iio_device_open (NULL, "sim-adc", IN, &err);

  if (!g_file_test ("/sys/bus/iio/devices", G_FILE_TEST_IS_DIR)) {
    fail_unless (dev == NULL);
    fail_unless_equals_string (err->message, "Could not open IIO context "
        "\"local:\": No such file or directory (no /sys/bus/iio/devices: is "
        "the industrialio module loaded?)");
    g_clear_error (&err);
    dev = gst_iio_device_open ("", "sim-adc", IN, &err);
    fail_unless (dev == NULL);
    fail_unless (g_str_has_prefix (err->message,
            "Could not open IIO context \"local:\""));
  } else if (dev) {
    fail_unless_equals_string (gst_iio_device_get_uri (dev), "local:");
    fail_unless (gst_iio_device_is_local (dev));
  } else {
    fail_if (strstr (err->message, "industrialio module") != NULL);
  }
  g_clear_error (&err);
  gst_clear_object (&dev);
}

GST_END_TEST;

static void
assert_channels (GstIioDevice * dev, const gchar * channels,
    const gchar * message)
{
  GError *err = NULL;

  fail_if (gst_iio_device_select_channels (dev, channels, &err),
      "accepted channels %s", channels);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS));
  fail_unless_equals_string (err->message, message);
  g_error_free (err);
}

/* "voltage0,voltage2" from the application/x-iio caps. */
static gchar *
caps_channel_names (GstIioDevice * dev)
{
  GstCaps *caps = gst_iio_device_get_caps (dev, 1000);
  GstStructure *s = gst_caps_get_structure (caps,
      gst_caps_get_size (caps) - 1);
  const GValue *names = gst_structure_get_value (s, "channel-names");
  GString *str = g_string_new (NULL);

  for (guint i = 0; i < gst_value_array_get_size (names); i++)
    g_string_append_printf (str, "%s%s", i ? "," : "",
        g_value_get_string (gst_value_array_get_value (names, i)));
  gst_caps_unref (caps);
  return g_string_free (str, FALSE);
}

GST_START_TEST (test_channels_select)
{
  static const struct
  {
    const gchar *uri, *device;
    GstIioDirection direction;
    const gchar *channels;
    guint n;
    gsize sample_size;
    const gchar *names;
  } cases[] = {
    /* default: every scan channel but the timestamp */
    {SIM_URI, "sim-adc", IN, NULL, 4, 8,
        "voltage0,voltage1,voltage2,voltage3"},
    {SIM_URI, "sim-adc", IN, "", 4, 8,
        "voltage0,voltage1,voltage2,voltage3"},
    /* scan order whatever the list order; spaces are trimmed */
    {SIM_URI, "sim-adc", IN, " voltage2 ,voltage0", 2, 4,
        "voltage0,voltage2"},
    /* the timestamp when asked for: aligned to 8 bytes */
    {SIM_URI, "sim-adc", IN, "timestamp,voltage0", 2, 16,
        "voltage0,timestamp"},
    {SIM_URI, "sim-dac", OUT, NULL, 2, 4, "voltage0,voltage1"},
    {AD9361_URI, "rx", IN, NULL, 4, 8,
        "voltage0,voltage1,voltage2,voltage3"},
    {AD9361_URI, "rx", IN, "voltage0,voltage1,timestamp", 3, 16,
        "voltage0,voltage1,timestamp"},
    /* S16, U8, S32, S12/16: 2 + 1 + pad 1 + 4 + 2 + pad 2 (kernel rule) */
    {MIXED_URI, "mixed-adc", IN, NULL, 4, 12,
        "voltage0,voltage1,voltage2,accel_x"},
    {MIXED_URI, "mixed-adc", IN, "voltage1,voltage0", 2, 4,
        "voltage0,voltage1"},
    {MIXED_URI, "iio:device3", IN, NULL, 1, 4, "voltage0"},
    {MIXED_URI, "u8-dac", OUT, "voltage2", 1, 1, "voltage2"},
    /* by channel name (the kernel's extend_name) */
    {MIXED_URI, "xcvr", IN, "Q", 1, 2, "voltage1"},
    {MIXED_URI, "xcvr", OUT, NULL, 1, 2, "voltage0"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstIioDevice *dev = open_channels (cases[i].uri, cases[i].device,
        cases[i].direction, cases[i].channels);
    gchar *names = caps_channel_names (dev);

    fail_unless_equals_int (gst_iio_device_get_n_channels (dev), cases[i].n);
    fail_unless_equals_int (gst_iio_device_get_sample_size (dev),
        cases[i].sample_size);
    fail_unless_equals_string (names, cases[i].names);
    g_free (names);
    gst_object_unref (dev);
  }
}

GST_END_TEST;

GST_START_TEST (test_channels_errors)
{
  GstIioDevice *adc = open_ok (SIM_URI, "sim-adc", IN);
  GstIioDevice *in = open_ok (MIXED_URI, "xcvr", IN);
  GstIioDevice *out = open_ok (MIXED_URI, "xcvr", OUT);

  assert_channels (adc, "voltage9", "sim-adc (iio:device0) has no input "
      "channel \"voltage9\"; input channels: voltage0, voltage1, voltage2, "
      "voltage3, timestamp");
  assert_channels (adc, "voltage0,voltage0", "Channel \"voltage0\" appears "
      "twice in channels \"voltage0,voltage0\"");
  assert_channels (adc, "voltage0,,voltage1", "Empty channel name in "
      "channels \"voltage0,,voltage1\"");
  assert_channels (adc, "voltage0,", "Empty channel name in channels "
      "\"voltage0,\"");
  assert_channels (out, "voltage1", "Channel \"voltage1\" of xcvr "
      "(iio:device5) is an input channel, not output; output channels: "
      "voltage0");
  assert_channels (in, "temp0", "Channel \"temp0\" of xcvr (iio:device5) is "
      "not a scan element and cannot be streamed; input channels: voltage0, "
      "voltage1");
  assert_channels (in, "altvoltage0", "xcvr (iio:device5) has no input "
      "channel \"altvoltage0\"; input channels: voltage0, voltage1");

  /* A failed selection keeps the previous one. */
  fail_unless (gst_iio_device_select_channels (adc, "voltage3", NULL));
  assert_channels (adc, "voltage3,nope", "sim-adc (iio:device0) has no input "
      "channel \"nope\"; input channels: voltage0, voltage1, voltage2, "
      "voltage3, timestamp");
  fail_unless_equals_int (gst_iio_device_get_n_channels (adc), 1);

  gst_object_unref (adc);
  gst_object_unref (in);
  gst_object_unref (out);
}

GST_END_TEST;

/* The syntax every malformed-item error ends with. */
#define SYNTAX "name=value or channel.name=value (own device), " \
  "DEVICE:name=value, [DEVICE:]in:CHANNEL:name=value, " \
  "[DEVICE:]out:CHANNEL:name=value, [DEVICE:]buffer:name=value or " \
  "[DEVICE:]debug:name=value"

static void
assert_attributes (GstIioDevice * dev, const gchar * attributes,
    const gchar * message)
{
  GError *err = NULL;

  fail_if (gst_iio_device_write_attributes (dev, attributes, &err),
      "accepted attributes %s", attributes);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS));
  fail_unless_equals_string (err->message, message);
  g_error_free (err);
}

GST_START_TEST (test_attributes)
{
  GstIioDevice *adc = open_channels (SIM_URI, "sim-adc", IN, NULL);
  GstIioDevice *rx = open_channels (AD9361_URI, "rx", IN, NULL);
  GstIioDevice *tx = open_channels (AD9361_URI, "tx", OUT, NULL);

  fail_unless (gst_iio_device_write_attributes (adc, NULL, NULL));
  fail_unless (gst_iio_device_write_attributes (adc, "", NULL));

  assert_attributes (adc, "sampling_frequency", "Bad item "
      "\"sampling_frequency\" in attributes \"sampling_frequency\": expected "
      SYNTAX);
  assert_attributes (adc, "waveform=sine, =5", "Bad item \"=5\" in "
      "attributes \"waveform=sine, =5\": expected " SYNTAX);
  assert_attributes (adc, "nope=1", "sim-adc (iio:device0) has no attribute "
      "\"nope\"; device attributes: sampling_frequency, waveform, overruns, "
      "fault (channel attributes are written as channel.name=value)");
  assert_attributes (adc, "voltage0.nope=1", "Channel voltage0 of sim-adc "
      "(iio:device0) has no attribute \"nope\"; its attributes: raw");
  assert_attributes (adc, "voltage7.raw=1", "sim-adc (iio:device0) has no "
      "channel \"voltage7\" (attribute \"voltage7.raw\"); input channels: "
      "voltage0, voltage1, voltage2, voltage3, timestamp");
  /* Every item is checked before anything is written. */
  assert_attributes (adc, "sampling_frequency=1000,nope=2", "sim-adc "
      "(iio:device0) has no attribute \"nope\"; device attributes: "
      "sampling_frequency, waveform, overruns, fault (channel attributes "
      "are written as channel.name=value)");
  /* Valid names reach libiio, which cannot write an xml: context. */
  assert_attributes (adc, " sampling_frequency = 1000 ,", "Could not write "
      "\"1000\" to attribute sampling_frequency of sim-adc (iio:device0): "
      "Function not implemented (an xml: context only describes devices; it "
      "cannot write attributes)");
  assert_attributes (rx, "voltage0.calibbias=3", "Could not write \"3\" to "
      "attribute calibbias of channel voltage0 of cf-ad9361-lpc "
      "(iio:device3): Function not implemented (an xml: context only "
      "describes devices; it cannot write attributes)");
  assert_attributes (tx, "voltage3.sampling_frequency=30720000", "Could not "
      "write \"30720000\" to attribute sampling_frequency of channel "
      "voltage3 of cf-ad9361-dds-core-lpc (iio:device2): Function not "
      "implemented (an xml: context only describes devices; it cannot write "
      "attributes)");
  assert_attributes (tx, "altvoltage0.frequency=1000", "Could not write "
      "\"1000\" to attribute frequency of channel altvoltage0 of "
      "cf-ad9361-dds-core-lpc (iio:device2): Function not implemented (an "
      "xml: context only describes devices; it cannot write attributes)");

  gst_object_unref (adc);
  gst_object_unref (rx);
  gst_object_unref (tx);
}

GST_END_TEST;

/* An xml: context cannot read attributes: no rate, the element must be
 * told one. */
#define NOT_WRITABLE "Function not implemented (an xml: context only " \
  "describes devices; it cannot write attributes)"

/* Any device of the context: every form that an xml: context resolves. */
GST_START_TEST (test_attributes_any_device)
{
  GstIioDevice *rx = open_channels (AD9361_URI, "rx", IN, NULL);
  GstIioDevice *tx = open_channels (AD9361_URI, "tx", OUT, NULL);
  GstStructure *applied = NULL;

  /* Empty lists write nothing and apply nothing. */
  fail_unless (gst_iio_attributes_write (rx, " , ", &applied, NULL));
  fail_unless_equals_int (gst_structure_n_fields (applied), 0);
  gst_structure_free (applied);

  assert_attributes (rx, "nope:calib_mode=1", "No IIO device \"nope\" at "
      AD9361_URI " (item \"nope:calib_mode=1\"); devices: ad9361-phy "
      "(iio:device0), cf-ad9361-dds-core-lpc (iio:device2), cf-ad9361-lpc "
      "(iio:device3)");
  assert_attributes (rx, "ad9361-phy:in:voltage7:hardwaregain=1",
      "ad9361-phy (iio:device0) has no input channel \"voltage7\" (item "
      "\"ad9361-phy:in:voltage7:hardwaregain=1\"); its channels: voltage0 "
      "(input), voltage0 (output), altvoltage0 (output), altvoltage1 "
      "(output), temp0 (input)");
  /* altvoltage0 is an output channel: "in" does not find it. */
  assert_attributes (rx, "ad9361-phy:in:altvoltage0:frequency=1",
      "ad9361-phy (iio:device0) has no input channel \"altvoltage0\" (item "
      "\"ad9361-phy:in:altvoltage0:frequency=1\"); its channels: voltage0 "
      "(input), voltage0 (output), altvoltage0 (output), altvoltage1 "
      "(output), temp0 (input)");
  assert_attributes (rx, "ad9361-phy:out:altvoltage0:nope=1", "Channel "
      "altvoltage0 (output) of ad9361-phy (iio:device0) has no attribute "
      "\"nope\" (item \"ad9361-phy:out:altvoltage0:nope=1\"); its "
      "attributes: frequency, powerdown");
  assert_attributes (rx, "ad9361-phy:nope=1", "ad9361-phy (iio:device0) has "
      "no attribute \"nope\" (item \"ad9361-phy:nope=1\"); device "
      "attributes: calib_mode, ensm_mode, trx_rate_governor (channel "
      "attributes are written as DEVICE:in:CHANNEL:name=value or "
      "DEVICE:out:CHANNEL:name=value)");
  assert_attributes (rx, "ad9361-phy:voltage9.hardwaregain=1", "ad9361-phy "
      "(iio:device0) has no channel \"voltage9\" (item "
      "\"ad9361-phy:voltage9.hardwaregain=1\"); its channels: voltage0 "
      "(input), voltage0 (output), altvoltage0 (output), altvoltage1 "
      "(output), temp0 (input)");
  assert_attributes (rx, "ad9361-phy:debug:nope=1", "ad9361-phy "
      "(iio:device0) has no debug attribute \"nope\" (item "
      "\"ad9361-phy:debug:nope=1\"); its debug attributes: loopback");
  assert_attributes (rx, "buffer:nope=1", "cf-ad9361-lpc (iio:device3) has "
      "no buffer attribute \"nope\" (item \"buffer:nope=1\"); its buffer "
      "attributes: data_available");
  assert_attributes (rx, "iio:device0:buffer:data_available=1", "ad9361-phy "
      "(iio:device0) has no buffer attribute \"data_available\" (item "
      "\"iio:device0:buffer:data_available=1\"); its buffer attributes: "
      "none");

  /* Malformed items show themselves and the syntax. */
  assert_attributes (rx, "ad9361-phy:in:voltage0=1", "Bad item "
      "\"ad9361-phy:in:voltage0=1\" in attributes "
      "\"ad9361-phy:in:voltage0=1\": expected " SYNTAX);
  assert_attributes (rx, "in:voltage0=1", "Bad item \"in:voltage0=1\" in "
      "attributes \"in:voltage0=1\": expected " SYNTAX);
  assert_attributes (rx, "voltage0.calibbias=3,ad9361-phy::x=1", "Bad item "
      "\"ad9361-phy::x=1\" in attributes \"voltage0.calibbias=3,ad9361-phy::x=1\": "
      "expected " SYNTAX);
  assert_attributes (rx, "a:in:b:c:d=1", "Bad item \"a:in:b:c:d=1\" in "
      "attributes \"a:in:b:c:d=1\": expected " SYNTAX);
  assert_attributes (rx, "ad9361-phy:sideways:altvoltage0:frequency=1",
      "Bad item \"ad9361-phy:sideways:altvoltage0:frequency=1\" in "
      "attributes \"ad9361-phy:sideways:altvoltage0:frequency=1\": expected "
      SYNTAX);

  /* Every item is resolved before the first write. */
  assert_attributes (rx, "voltage0.calibbias=3,ad9361-phy:nope=1",
      "ad9361-phy (iio:device0) has no attribute \"nope\" (item "
      "\"ad9361-phy:nope=1\"); device attributes: calib_mode, ensm_mode, "
      "trx_rate_governor (channel attributes are written as "
      "DEVICE:in:CHANNEL:name=value or DEVICE:out:CHANNEL:name=value)");

  /* Valid forms, by name, id and label, reach libiio's write. */
  assert_attributes (rx,
      "ad9361-phy:out_altvoltage0_RX_LO_frequency=2400000000",
      "Could not write \"2400000000\" to attribute frequency of channel "
      "altvoltage0 of ad9361-phy (iio:device0): " NOT_WRITABLE);
  assert_attributes (rx, "iio:device0:in:voltage0:hardwaregain=30",
      "Could not write \"30\" to attribute hardwaregain of channel voltage0 "
      "of ad9361-phy (iio:device0): " NOT_WRITABLE);
  assert_attributes (rx, "ad9361-phy:output:voltage0:hardwaregain=-10",
      "Could not write \"-10\" to attribute hardwaregain of channel voltage0 "
      "of ad9361-phy (iio:device0): " NOT_WRITABLE);
  assert_attributes (rx, "ad9361-phy:debug:loopback=1", "Could not write "
      "\"1\" to debug attribute loopback of ad9361-phy (iio:device0): "
      NOT_WRITABLE);
  assert_attributes (rx, "tx:out:altvoltage0:raw=1", "Could not write \"1\" "
      "to attribute raw of channel altvoltage0 of cf-ad9361-dds-core-lpc "
      "(iio:device2): " NOT_WRITABLE);
  assert_attributes (tx, "buffer:data_available=1", "Could not write \"1\" "
      "to buffer attribute data_available of cf-ad9361-dds-core-lpc "
      "(iio:device2): " NOT_WRITABLE);
  assert_attributes (tx, "debug:loopback=1", "cf-ad9361-dds-core-lpc "
      "(iio:device2) has no debug attribute \"loopback\" (item "
      "\"debug:loopback=1\"); its debug attributes: none");

  gst_object_unref (rx);
  gst_object_unref (tx);
}

GST_END_TEST;

GST_START_TEST (test_rate_unreadable)
{
  GstIioDevice *adc = open_channels (SIM_URI, "sim-adc", IN, NULL);
  GstIioDevice *rx = open_channels (AD9361_URI, "rx", IN, NULL);
  guint rate = 12345;

  fail_if (gst_iio_device_read_rate (adc, &rate));
  fail_if (gst_iio_device_read_rate (rx, &rate));
  fail_unless_equals_int (rate, 12345);
  gst_object_unref (adc);
  gst_object_unref (rx);
}

GST_END_TEST;

static void
assert_device_caps (const gchar * uri, const gchar * device,
    GstIioDirection direction, const gchar * channels, guint rate,
    const gchar * expected)
{
  GstIioDevice *dev = open_channels (uri, device, direction, channels);
  GstCaps *caps = gst_iio_device_get_caps (dev, rate);
  GstCaps *want = gst_caps_from_string (expected);

  fail_unless (want != NULL, "bad expectation %s", expected);
  fail_unless (gst_caps_is_strictly_equal (caps, want),
      "%s: got %" GST_PTR_FORMAT "\nwanted %" GST_PTR_FORMAT, device, caps,
      want);
  /* Each structure of fixed caps passes the device's own check. */
  for (guint i = 0; rate && i < gst_caps_get_size (caps); i++) {
    GstCaps *one = gst_caps_copy_nth (caps, i);
    GError *err = NULL;

    fail_unless (gst_iio_device_check_caps (dev, one, &err), "%s",
        err ? err->message : "");
    gst_caps_unref (one);
  }
  gst_caps_unref (want);
  gst_caps_unref (caps);
  gst_object_unref (dev);
}

GST_START_TEST (test_caps_per_fixture)
{
  assert_device_caps (SIM_URI, "sim-adc", IN, NULL, 1000000,
      "audio/x-raw, format=S16LE, layout=interleaved, rate=1000000, "
      "channels=4, channel-mask=(bitmask)0; application/x-iio, "
      "rate=1000000, channels=4, formats=<\"le:S16/16>>0\", "
      "\"le:S16/16>>0\", \"le:S16/16>>0\", \"le:S16/16>>0\">, "
      "channel-names=<\"voltage0\", \"voltage1\", \"voltage2\", "
      "\"voltage3\">");
  assert_device_caps (SIM_URI, "sim-dac", OUT, NULL, 1000000,
      "audio/x-raw, format=S16LE, layout=interleaved, rate=1000000, "
      "channels=2, channel-mask=(bitmask)0; application/x-iio, "
      "rate=1000000, channels=2, formats=<\"le:S16/16>>0\", "
      "\"le:S16/16>>0\">, channel-names=<\"voltage0\", \"voltage1\">");
  /* The timestamp makes the layout mixed: no audio caps. */
  assert_device_caps (SIM_URI, "sim-adc", IN, "voltage1,timestamp", 8000,
      "application/x-iio, rate=8000, channels=2, formats=<\"le:S16/16>>0\", "
      "\"le:S64/64>>0\">, channel-names=<\"voltage1\", \"timestamp\">");
  assert_device_caps (AD9361_URI, "rx", IN, NULL, 30720000,
      "application/x-iio, rate=30720000, channels=4, "
      "formats=<\"le:S12/16>>4\", \"le:S12/16>>4\", \"le:S12/16>>4\", "
      "\"le:S12/16>>4\">, channel-names=<\"voltage0\", \"voltage1\", "
      "\"voltage2\", \"voltage3\">");
  assert_device_caps (AD9361_URI, "tx", OUT, "voltage0,voltage1", 30720000,
      "audio/x-raw, format=S16LE, layout=interleaved, rate=30720000, "
      "channels=2, channel-mask=(bitmask)0; application/x-iio, "
      "rate=30720000, channels=2, formats=<\"le:S16/16>>0\", "
      "\"le:S16/16>>0\">, channel-names=<\"voltage0\", \"voltage1\">");
  assert_device_caps (MIXED_URI, "mixed-adc", IN, NULL, 100,
      "application/x-iio, rate=100, channels=4, formats=<\"le:S16/16>>0\", "
      "\"le:U8/8>>0\", \"be:S32/32>>0\", \"le:s12/16>>4\">, "
      "channel-names=<\"voltage0\", \"voltage1\", \"voltage2\", "
      "\"accel_x\">");
  assert_device_caps (MIXED_URI, "mixed-adc", IN, "voltage2", 100,
      "audio/x-raw, format=S32BE, layout=interleaved, rate=100, channels=1, "
      "channel-mask=(bitmask)0; application/x-iio, rate=100, channels=1, "
      "formats=<\"be:S32/32>>0\">, channel-names=<\"voltage2\">");
  assert_device_caps (MIXED_URI, "adc24", IN, NULL, 0,
      "audio/x-raw, format=S24_32LE, layout=interleaved, "
      "rate=[1, 2147483647], channels=2, channel-mask=(bitmask)0; "
      "application/x-iio, rate=[1, 2147483647], channels=2, "
      "formats=<\"le:S24/32>>0\", \"le:S24/32>>0\">, "
      "channel-names=<\"voltage0\", \"voltage1\">");
  assert_device_caps (MIXED_URI, "iio:device2", IN, NULL, 5,
      "audio/x-raw, format=U16BE, layout=interleaved, rate=5, channels=1, "
      "channel-mask=(bitmask)0; application/x-iio, rate=5, channels=1, "
      "formats=<\"be:U16/16>>0\">, channel-names=<\"voltage0\">");
  assert_device_caps (MIXED_URI, "iio:device3", IN, NULL, 5,
      "application/x-iio, rate=5, channels=1, formats=<\"le:S16/16X2>>0\">, "
      "channel-names=<\"voltage0\">");
  assert_device_caps (MIXED_URI, "u8-dac", OUT, NULL, 44100,
      "audio/x-raw, format=U8, layout=interleaved, rate=44100, channels=3, "
      "channel-mask=(bitmask)0; application/x-iio, rate=44100, channels=3, "
      "formats=<\"le:U8/8>>0\", \"le:U8/8>>0\", \"le:U8/8>>0\">, "
      "channel-names=<\"voltage0\", \"voltage1\", \"voltage2\">");
}

GST_END_TEST;

static void
assert_check_fails (GstIioDevice * dev, const gchar * caps_str,
    const gchar * message)
{
  GstCaps *caps = gst_caps_from_string (caps_str);
  GError *err = NULL;

  fail_if (gst_iio_device_check_caps (dev, caps, &err), "accepted %s",
      caps_str);
  fail_unless (g_error_matches (err, GST_CORE_ERROR,
          GST_CORE_ERROR_NEGOTIATION));
  fail_unless_equals_string (err->message, message);
  g_error_free (err);
  gst_caps_unref (caps);
}

GST_START_TEST (test_check_caps_messages)
{
  GstIioDevice *dac = open_channels (SIM_URI, "sim-dac", OUT, NULL);
  GstIioDevice *rx = open_channels (AD9361_URI, "rx", IN, NULL);

  gst_caps_unref (gst_iio_device_get_caps (dac, 1000000));
  gst_caps_unref (gst_iio_device_get_caps (rx, 0));

  assert_check_fails (dac, "audio/x-raw, format=S16LE, layout=interleaved, "
      "rate=1000000, channels=3, channel-mask=(bitmask)0",
      "sim-dac (iio:device1) expects 2 channels of S16LE (le:S16/16>>0) at "
      "1000000 Hz, got 3 channels of S16LE at 1000000 Hz");
  assert_check_fails (dac, "audio/x-raw, format=S32LE, layout=interleaved, "
      "rate=1000000, channels=2",
      "sim-dac (iio:device1) expects 2 channels of S16LE (le:S16/16>>0) at "
      "1000000 Hz, got 2 channels of S32LE at 1000000 Hz");
  assert_check_fails (dac, "audio/x-raw, format=S16LE, layout=interleaved, "
      "rate=48000, channels=2",
      "sim-dac (iio:device1) expects 2 channels of S16LE (le:S16/16>>0) at "
      "1000000 Hz, got 2 channels of S16LE at 48000 Hz");
  assert_check_fails (rx, "audio/x-raw, format=S16LE, layout=interleaved, "
      "rate=1000, channels=4",
      "cf-ad9361-lpc (iio:device3) expects 4 channels of le:S12/16>>4, got "
      "4 channels of S16LE at 1000 Hz");
  assert_check_fails (rx, "application/x-iio, rate=1000, channels=4, "
      "formats=<\"le:S12/16>>4\", \"le:S12/16>>4\", \"le:S12/16>>4\">",
      "cf-ad9361-lpc (iio:device3) expects 4 channels of le:S12/16>>4, got "
      "4 channels of le:S12/16>>4 at 1000 Hz");
  gst_object_unref (dac);
  gst_object_unref (rx);
}

GST_END_TEST;

GST_START_TEST (test_scan_elements_need_local)
{
  GstIioDevice *adc = open_channels (SIM_URI, "sim-adc", IN, NULL);
  GError *err = NULL;

  fail_if (gst_iio_device_write_scan_elements (adc, &err));
  fail_unless_equals_string (err->message, "sim-adc (iio:device0) is not on "
      "a local context: no scan_elements to write");
  g_error_free (err);
  gst_object_unref (adc);
}

GST_END_TEST;

static Suite *
iiodevice_suite (void)
{
  Suite *s = suite_create ("iiodevice");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_open_by_id_name_label);
  tcase_add_test (tc, test_open_errors);
  tcase_add_test (tc, test_open_no_device_of_direction);
  tcase_add_test (tc, test_open_bad_uri);
  tcase_add_test (tc, test_open_local_default);
  tcase_add_test (tc, test_channels_select);
  tcase_add_test (tc, test_channels_errors);
  tcase_add_test (tc, test_attributes);
  tcase_add_test (tc, test_attributes_any_device);
  tcase_add_test (tc, test_rate_unreadable);
  tcase_add_test (tc, test_caps_per_fixture);
  tcase_add_test (tc, test_check_caps_messages);
  tcase_add_test (tc, test_scan_elements_need_local);

  return s;
}

GST_CHECK_MAIN (iiodevice);
