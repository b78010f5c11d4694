/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiioprovideddevice.h"
#include "gstiiocaps.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <sys/utsname.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_provided_device_debug);
#define GST_CAT_DEFAULT gst_iio_provided_device_debug

#define IIO_SYSFS "/sys/bus/iio/devices"

struct _GstIioProvidedDevice
{
  GstDevice parent;

  /* Immutable after new(). */
  gchar *uri;
  gchar *id;
  /* What the element's device property gets: the name, else the label,
   * else the id, whichever is first unique in the context (the element
   * refuses an ambiguous name). Names survive a rebind; ids may not. */
  gchar *selector;
  GstIioDirection direction;
};

G_DEFINE_TYPE_WITH_CODE (GstIioProvidedDevice, gst_iio_provided_device,
    GST_TYPE_DEVICE,
    GST_DEBUG_CATEGORY_INIT (gst_iio_provided_device_debug,
        "iioprovideddevice", 0, "IIO device provider entry"));

static const gchar *
factory_of (GstIioDirection direction)
{
  return direction == GST_IIO_DIRECTION_OUTPUT ? "iiosink" : "iiosrc";
}

static void
configure (GstIioProvidedDevice * self, GstElement * element)
{
  g_object_set (element, "device", self->selector, NULL);
  if (g_strcmp0 (self->uri, "local:"))
    g_object_set (element, "uri", self->uri, NULL);
}

static GstElement *
gst_iio_provided_device_create_element (GstDevice * device, const gchar * name)
{
  GstIioProvidedDevice *self = GST_IIO_PROVIDED_DEVICE (device);
  GstElement *element;

  element = gst_element_factory_make (factory_of (self->direction), name);
  if (element)
    configure (self, element);
  else
    GST_WARNING_OBJECT (self, "no %s element: is the iio plugin installed?",
        factory_of (self->direction));

  return element;
}

static gboolean
gst_iio_provided_device_reconfigure_element (GstDevice * device,
    GstElement * element)
{
  GstIioProvidedDevice *self = GST_IIO_PROVIDED_DEVICE (device);
  GstElementFactory *factory = gst_element_get_factory (element);

  if (!factory || g_strcmp0 (GST_OBJECT_NAME (factory),
          factory_of (self->direction)))
    return FALSE;
  configure (self, element);

  return TRUE;
}

static void
gst_iio_provided_device_finalize (GObject * object)
{
  GstIioProvidedDevice *self = GST_IIO_PROVIDED_DEVICE (object);

  g_free (self->uri);
  g_free (self->id);
  g_free (self->selector);

  G_OBJECT_CLASS (gst_iio_provided_device_parent_class)->finalize (object);
}

static void
gst_iio_provided_device_class_init (GstIioProvidedDeviceClass * klass)
{
  GstDeviceClass *device_class = GST_DEVICE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = gst_iio_provided_device_finalize;
  device_class->create_element = gst_iio_provided_device_create_element;
  device_class->reconfigure_element =
      gst_iio_provided_device_reconfigure_element;
}

static void
gst_iio_provided_device_init (GstIioProvidedDevice * self)
{
}

/* The channels the element streams by default (every scan channel of the
 * direction but the timestamp), in scan index order: gstiiodevice.c's
 * default selection. */
static gint
compare_scan_index (gconstpointer a, gconstpointer b)
{
  const struct iio_channel *ca = *(const struct iio_channel **) a;
  const struct iio_channel *cb = *(const struct iio_channel **) b;

  return iio_channel_get_index (ca) - iio_channel_get_index (cb);
}

static GPtrArray *
list_channels (const struct iio_device *dev, GstIioDirection direction)
{
  GPtrArray *channels = g_ptr_array_new ();
  gboolean output = direction == GST_IIO_DIRECTION_OUTPUT;
  guint i;

  for (i = 0; i < iio_device_get_channels_count (dev); i++) {
    struct iio_channel *chn = iio_device_get_channel (dev, i);

    if (!iio_channel_is_scan_element (chn) ||
        iio_channel_is_output (chn) != output ||
        iio_channel_get_type (chn) == IIO_TIMESTAMP ||
        !g_strcmp0 (iio_channel_get_id (chn), "timestamp"))
      continue;
    g_ptr_array_add (channels, chn);
  }
  g_ptr_array_sort (channels, compare_scan_index);

  return channels;
}

static gchar *
join_channel_ids (GPtrArray * channels)
{
  GString *str = g_string_new (NULL);
  guint i;

  for (i = 0; i < channels->len; i++)
    g_string_append_printf (str, "%s%s", i ? "," : "",
        iio_channel_get_id (g_ptr_array_index (channels, i)));

  return g_string_free (str, FALSE);
}

static GstCaps *
build_caps (GPtrArray * channels, guint rate)
{
  GstIioCapsChannel *chans = g_new0 (GstIioCapsChannel, channels->len);
  GstCaps *caps;
  guint i;

  for (i = 0; i < channels->len; i++) {
    const struct iio_channel *chn = g_ptr_array_index (channels, i);

    chans[i].id = iio_channel_get_id (chn);
    chans[i].format = *iio_channel_get_data_format (chn);
  }
  caps = gst_iio_caps_build (chans, channels->len, rate);
  g_free (chans);

  return caps;
}

static gboolean
parse_rate (const gchar * str, guint * rate)
{
  gchar *end;
  gdouble value = g_ascii_strtod (str, &end);

  if (end == str || !isfinite (value) || value < 0 || value > G_MAXUINT)
    return FALSE;
  *rate = (guint) (value + 0.5);
  return TRUE;
}

/* The element's rate=0 rule: the device's sampling_frequency, else the
 * first channel's. */
static gboolean
read_rate (const struct iio_device *dev, GPtrArray * channels, guint * rate)
{
  gchar buf[64];

  if (iio_device_find_attr (dev, "sampling_frequency") &&
      iio_device_attr_read (dev, "sampling_frequency", buf, sizeof (buf)) > 0)
    return parse_rate (buf, rate);
  if (channels->len > 0) {
    const struct iio_channel *chn = g_ptr_array_index (channels, 0);

    if (iio_channel_find_attr (chn, "sampling_frequency") &&
        iio_channel_attr_read (chn, "sampling_frequency", buf,
            sizeof (buf)) > 0)
      return parse_rate (buf, rate);
  }
  return FALSE;
}

/* A DMA-type buffer (industrialio-buffer-dma, through dmaengine) has
 * length_align_bytes; kfifo buffers (and triggered buffers, which are
 * kfifos) have not. Kernels before 5.11 call the directory "buffer". */
static const gchar *
buffer_kind (const gchar * id)
{
  static const gchar *dirs[] = { "buffer0", "buffer" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (dirs); i++) {
    gchar *dir = g_build_filename (IIO_SYSFS, id, dirs[i], NULL);
    gchar *align = g_build_filename (dir, "length_align_bytes", NULL);
    gboolean is_dir = g_file_test (dir, G_FILE_TEST_IS_DIR);
    gboolean is_dma = g_file_test (align, G_FILE_TEST_EXISTS);

    g_free (dir);
    g_free (align);
    if (is_dir)
      return is_dma ? "dma" : "kfifo";
  }
  return "unknown";
}

/* The IIO DMABUF API came with Linux 6.11. */
static gboolean
kernel_has_dmabuf_api (void)
{
  struct utsname uts;
  guint major = 0, minor = 0;

  if (uname (&uts) < 0 || sscanf (uts.release, "%u.%u", &major, &minor) != 2)
    return FALSE;
  return major > 6 || (major == 6 && minor >= 11);
}

/* What io-mode=auto needs for the zero-copy path besides the element's
 * own checks: a local DMA-type buffer, the kernel API and an exporter. */
static gboolean
dmabuf_capable (const gchar * kind)
{
  return !g_strcmp0 (kind, "dma") && kernel_has_dmabuf_api () &&
      (g_file_test ("/dev/dma_heap/system", G_FILE_TEST_EXISTS) ||
      g_file_test ("/dev/udmabuf", G_FILE_TEST_EXISTS));
}

static guint
count_matches (const struct iio_context *ctx, const gchar * word)
{
  guint i, n = 0;

  for (i = 0; i < iio_context_get_devices_count (ctx); i++) {
    const struct iio_device *dev = iio_context_get_device (ctx, i);

    if (!g_strcmp0 (iio_device_get_name (dev), word) ||
        !g_strcmp0 (iio_device_get_label (dev), word))
      n++;
  }
  return n;
}

static const gchar *
unique_selector (const struct iio_device *dev)
{
  const struct iio_context *ctx = iio_device_get_context (dev);
  const gchar *name = iio_device_get_name (dev);
  const gchar *label = iio_device_get_label (dev);

  if (name && count_matches (ctx, name) == 1)
    return name;
  if (label && count_matches (ctx, label) == 1)
    return label;
  return iio_device_get_id (dev);
}

static GstStructure *
build_properties (const gchar * uri, const struct iio_device *dev,
    GPtrArray * channels, gboolean have_rate, guint rate)
{
  const gchar *id = iio_device_get_id (dev);
  gboolean local = !g_strcmp0 (uri, "local:");
  const gchar *kind = local ? buffer_kind (id) : "unknown";
  gchar *ids = join_channel_ids (channels);
  GstStructure *props;

  props = gst_structure_new ("iio-device-properties",
      "device.api", G_TYPE_STRING, "iio",
      "iio.context.uri", G_TYPE_STRING, uri,
      "iio.device.id", G_TYPE_STRING, id,
      "iio.device.channels", G_TYPE_STRING, ids,
      "iio.buffer.kind", G_TYPE_STRING, kind,
      "iio.buffer.dmabuf", G_TYPE_BOOLEAN, local && dmabuf_capable (kind),
      NULL);
  g_free (ids);

  if (iio_device_get_name (dev))
    gst_structure_set (props, "iio.device.name", G_TYPE_STRING,
        iio_device_get_name (dev), NULL);
  if (iio_device_get_label (dev))
    gst_structure_set (props, "iio.device.label", G_TYPE_STRING,
        iio_device_get_label (dev), NULL);
  if (have_rate)
    gst_structure_set (props, "iio.sampling-frequency", G_TYPE_UINT, rate,
        NULL);
  if (local) {
    gchar *dev_path = g_strdup_printf ("/dev/%s", id);
    gchar *sysfs_path = g_build_filename (IIO_SYSFS, id, NULL);

    gst_structure_set (props, "device.path", G_TYPE_STRING, dev_path,
        "sysfs.path", G_TYPE_STRING, sysfs_path, NULL);
    g_free (dev_path);
    g_free (sysfs_path);
  }

  return props;
}

static const gchar *
display_name (const struct iio_device *dev)
{
  if (iio_device_get_label (dev))
    return iio_device_get_label (dev);
  if (iio_device_get_name (dev))
    return iio_device_get_name (dev);
  return iio_device_get_id (dev);
}

GstDevice *
gst_iio_provided_device_new (const gchar * uri, const struct iio_device *dev,
    GstIioDirection direction)
{
  GstIioProvidedDevice *self;
  GPtrArray *channels = list_channels (dev, direction);
  GstStructure *props;
  GstCaps *caps;
  guint rate = 0;
  gboolean have_rate;

  if (channels->len == 0) {
    g_ptr_array_unref (channels);
    return NULL;
  }

  have_rate = read_rate (dev, channels, &rate);
  caps = build_caps (channels, rate);
  props = build_properties (uri, dev, channels, have_rate, rate);
  g_ptr_array_unref (channels);

  self = g_object_new (GST_TYPE_IIO_PROVIDED_DEVICE,
      "display-name", display_name (dev),
      "device-class", direction == GST_IIO_DIRECTION_OUTPUT ?
      "IIO/Sink" : "IIO/Source", "caps", caps, "properties", props, NULL);
  gst_caps_unref (caps);
  gst_structure_free (props);

  self->uri = g_strdup (uri);
  self->id = g_strdup (iio_device_get_id (dev));
  self->selector = g_strdup (unique_selector (dev));
  self->direction = direction;
  GST_DEBUG_OBJECT (self, "%s %s at %s as %s", self->id,
      factory_of (direction), uri, self->selector);

  return GST_DEVICE (self);
}

const gchar *
gst_iio_provided_device_get_id (GstIioProvidedDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_PROVIDED_DEVICE (self), NULL);
  return self->id;
}

const gchar *
gst_iio_provided_device_get_uri (GstIioProvidedDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_PROVIDED_DEVICE (self), NULL);
  return self->uri;
}

GstIioDirection
gst_iio_provided_device_get_direction (GstIioProvidedDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_PROVIDED_DEVICE (self),
      GST_IIO_DIRECTION_INPUT);
  return self->direction;
}
