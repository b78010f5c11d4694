/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device provider's entries on libiio xml: contexts: which devices are
 * listed in which direction, display names, classes, properties, caps equal
 * to the element's, and the element each creates. No kernel needed (the
 * listing of a running system is tested in the VM: test_device_provider). */
#include <gst/check/gstcheck.h>
#include "gstiioprovideddevice.h"
#include "gstiiosrc.h"
#include "gstiiosink.h"

#define AD9361_URI "xml:" TEST_DATA_DIR "/ad9361.xml"
#define MIXED_URI "xml:" TEST_DATA_DIR "/mixed.xml"

#define IN GST_IIO_DIRECTION_INPUT
#define OUT GST_IIO_DIRECTION_OUTPUT

static struct iio_context *
context_of (const gchar * uri)
{
  struct iio_context *ctx = iio_create_context_from_uri (uri);

  fail_unless (ctx != NULL, "cannot open %s", uri);
  return ctx;
}

/* The entry of device @id in @direction (NULL: not listed). */
static GstDevice *
entry_of (const gchar * uri, struct iio_context *ctx, const gchar * id,
    GstIioDirection direction)
{
  const struct iio_device *dev = iio_context_find_device (ctx, id);
  GstDevice *entry;

  fail_unless (dev != NULL, "no %s in %s", id, uri);
  entry = gst_iio_provided_device_new (uri, dev, direction);
  if (entry)
    gst_object_ref_sink (entry);
  return entry;
}

static void
assert_string_prop (GstDevice * entry, const gchar * field, const gchar * want)
{
  GstStructure *props = gst_device_get_properties (entry);

  fail_unless_equals_string (gst_structure_get_string (props, field), want);
  gst_structure_free (props);
}

/* The caps the element reports with its defaults (every channel, the
 * device's rate; none in these xml contexts, so a rate range). */
static void
assert_caps_as_element (GstDevice * entry, const gchar * uri,
    const gchar * id, GstIioDirection direction)
{
  GstIioDevice *dev = gst_iio_device_open (uri, id, direction, NULL);
  GstCaps *want, *got = gst_device_get_caps (entry);
  guint rate = 0;

  fail_unless (dev != NULL);
  fail_unless (gst_iio_device_select_channels (dev, NULL, NULL));
  gst_iio_device_read_rate (dev, &rate);
  want = gst_iio_device_get_caps (dev, rate);
  fail_unless (gst_caps_is_equal (got, want), "%s caps %" GST_PTR_FORMAT
      ", the element's %" GST_PTR_FORMAT, id, got, want);
  gst_caps_unref (got);
  gst_caps_unref (want);
  gst_object_unref (dev);
}

static void
assert_element (GstDevice * entry, const gchar * factory,
    const gchar * device, const gchar * uri)
{
  GstElement *element = gst_device_create_element (entry, "made");
  gchar *got_device = NULL, *got_uri = NULL;

  fail_unless (element != NULL);
  fail_unless_equals_string (GST_OBJECT_NAME (gst_element_get_factory
          (element)), factory);
  g_object_get (element, "device", &got_device, "uri", &got_uri, NULL);
  fail_unless_equals_string (got_device, device);
  fail_unless_equals_string (got_uri, uri);
  g_free (got_device);
  g_free (got_uri);
  gst_object_unref (element);
}

GST_START_TEST (test_ad9361)
{
  struct iio_context *ctx = context_of (AD9361_URI);
  GstDevice *rx = entry_of (AD9361_URI, ctx, "iio:device3", IN);
  GstDevice *tx = entry_of (AD9361_URI, ctx, "iio:device2", OUT);
  gchar *display, *klass;

  /* the phy has channels but none with a scan element: no buffer */
  fail_unless (entry_of (AD9361_URI, ctx, "iio:device0", IN) == NULL);
  fail_unless (entry_of (AD9361_URI, ctx, "iio:device0", OUT) == NULL);
  /* one direction each */
  fail_unless (entry_of (AD9361_URI, ctx, "iio:device3", OUT) == NULL);
  fail_unless (entry_of (AD9361_URI, ctx, "iio:device2", IN) == NULL);
  fail_unless (rx != NULL && tx != NULL);

  display = gst_device_get_display_name (rx);
  klass = gst_device_get_device_class (rx);
  fail_unless_equals_string (display, "rx");    /* the label first */
  fail_unless_equals_string (klass, "IIO/Source");
  g_free (display);
  g_free (klass);
  klass = gst_device_get_device_class (tx);
  fail_unless_equals_string (klass, "IIO/Sink");
  g_free (klass);

  assert_string_prop (rx, "device.api", "iio");
  assert_string_prop (rx, "iio.context.uri", AD9361_URI);
  assert_string_prop (rx, "iio.device.id", "iio:device3");
  assert_string_prop (rx, "iio.device.name", "cf-ad9361-lpc");
  assert_string_prop (rx, "iio.device.label", "rx");
  /* not local: sysfs cannot tell */
  assert_string_prop (rx, "iio.buffer.kind", "unknown");
  fail_unless (gst_device_has_classes (rx, "IIO/Source"));
  fail_unless (gst_device_has_classes (tx, "Sink"));

  assert_caps_as_element (rx, AD9361_URI, "iio:device3", IN);
  assert_caps_as_element (tx, AD9361_URI, "iio:device2", OUT);
  /* the name is unique: it is what the element gets; uri as not local */
  assert_element (rx, "iiosrc", "cf-ad9361-lpc", AD9361_URI);
  assert_element (tx, "iiosink", "cf-ad9361-dds-core-lpc", AD9361_URI);

  gst_object_unref (rx);
  gst_object_unref (tx);
  iio_context_destroy (ctx);
}

GST_END_TEST;

GST_START_TEST (test_mixed)
{
  struct iio_context *ctx = context_of (MIXED_URI);
  GstDevice *twin = entry_of (MIXED_URI, ctx, "iio:device3", IN);
  GstDevice *adc = entry_of (MIXED_URI, ctx, "iio:device0", IN);
  GstDevice *xcvr_in = entry_of (MIXED_URI, ctx, "iio:device5", IN);
  GstDevice *xcvr_out = entry_of (MIXED_URI, ctx, "iio:device5", OUT);
  GstStructure *props;
  gboolean dmabuf = TRUE;

  fail_unless (twin && adc && xcvr_in && xcvr_out);
  /* two devices are called "twin": the element gets the id */
  assert_element (twin, "iiosrc", "iio:device3", MIXED_URI);
  /* channels in scan order, whatever the order of the description */
  assert_string_prop (adc, "iio.device.channels",
      "voltage0,voltage1,voltage2,accel_x");
  assert_caps_as_element (adc, MIXED_URI, "iio:device0", IN);
  props = gst_device_get_properties (adc);
  fail_unless (gst_structure_get_boolean (props, "iio.buffer.dmabuf", &dmabuf));
  fail_unless (!dmabuf);
  fail_unless (!gst_structure_has_field (props, "iio.device.label"));
  fail_unless (!gst_structure_has_field (props, "device.path"));
  gst_structure_free (props);
  /* both directions: two entries */
  assert_element (xcvr_in, "iiosrc", "xcvr", MIXED_URI);
  assert_element (xcvr_out, "iiosink", "xcvr", MIXED_URI);
  assert_caps_as_element (xcvr_out, MIXED_URI, "iio:device5", OUT);

  gst_object_unref (twin);
  gst_object_unref (adc);
  gst_object_unref (xcvr_in);
  gst_object_unref (xcvr_out);
  iio_context_destroy (ctx);
}

GST_END_TEST;

static Suite *
iioprovideddevice_suite (void)
{
  Suite *s = suite_create ("iioprovideddevice");
  TCase *tc = tcase_create ("general");

  /* Outside a test: check's asserts are not available yet. */
  if (!GST_ELEMENT_REGISTER (iiosrc, NULL) ||
      !GST_ELEMENT_REGISTER (iiosink, NULL))
    g_error ("could not register iiosrc and iiosink");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ad9361);
  tcase_add_test (tc, test_mixed);

  return s;
}

GST_CHECK_MAIN (iioprovideddevice);
