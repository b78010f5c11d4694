/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiodevice.h"
#include "gstiioattributes.h"
#include "gstiiocaps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_device_debug);
#define GST_CAT_DEFAULT gst_iio_device_debug

struct _GstIioDevice
{
  GstObject parent;

  gchar *uri;
  GstIioDirection direction;
  struct iio_context *ctx;
  struct iio_device *dev;       /* owned by ctx */
  gchar *display_name;
  gchar *sysfs_path;            /* local contexts only */
  gchar *dev_path;              /* local contexts only */
  gint claim_fd;                /* dev_path held open: see claim() */
  /* The enabled channels (struct iio_channel *, owned by ctx) in scan
   * index order, which is their order in a sample. */
  GPtrArray *channels;
  guint rate;                   /* from the last get_caps, for check_caps */
};

G_DEFINE_TYPE_WITH_CODE (GstIioDevice, gst_iio_device, GST_TYPE_OBJECT,
    GST_DEBUG_CATEGORY_INIT (gst_iio_device_debug, "iiodevice", 0,
        "IIO device (libiio side)"));

/* The URI schemes of libiio 0.24 and the backend each needs. */
static const struct
{
  const gchar *prefix;
  const gchar *backend;
} uri_schemes[] = {
  {"local:", "local"}, {"ip:", "ip"}, {"usb:", "usb"}, {"xml:", "xml"},
  {"serial:", "serial"},
};

#define URI_FORMS "local:, ip:HOST, usb:[BUS.DEV.INTF], " \
    "serial:PORT[,BAUD,...] or xml:FILE"

static void
gst_iio_device_finalize (GObject * object)
{
  GstIioDevice *self = GST_IIO_DEVICE (object);

  gst_iio_device_release (self);
  g_ptr_array_unref (self->channels);
  if (self->ctx)
    iio_context_destroy (self->ctx);
  g_free (self->uri);
  g_free (self->display_name);
  g_free (self->sysfs_path);
  g_free (self->dev_path);

  G_OBJECT_CLASS (gst_iio_device_parent_class)->finalize (object);
}

static void
gst_iio_device_class_init (GstIioDeviceClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_iio_device_finalize;
}

static void
gst_iio_device_init (GstIioDevice * self)
{
  self->channels = g_ptr_array_new ();
  self->claim_fd = -1;
}

static const gchar *
direction_word (GstIioDirection direction)
{
  return direction == GST_IIO_DIRECTION_OUTPUT ? "output" : "input";
}

static gboolean
channel_is_timestamp (const struct iio_channel *chn)
{
  return iio_channel_get_type (chn) == IIO_TIMESTAMP ||
      !g_strcmp0 (iio_channel_get_id (chn), "timestamp");
}

static gboolean
channel_streams (const struct iio_channel *chn, GstIioDirection direction)
{
  return iio_channel_is_scan_element (chn) &&
      iio_channel_is_output (chn) == (direction == GST_IIO_DIRECTION_OUTPUT);
}

static gboolean
device_has_scan_channels (const struct iio_device *dev,
    GstIioDirection direction)
{
  guint i;

  for (i = 0; i < iio_device_get_channels_count (dev); i++) {
    const struct iio_channel *chn = iio_device_get_channel (dev, i);

    if (channel_streams (chn, direction) && !channel_is_timestamp (chn))
      return TRUE;
  }
  return FALSE;
}

static gchar *
device_display_name (const struct iio_device *dev)
{
  const gchar *id = iio_device_get_id (dev);
  const gchar *name = iio_device_get_name (dev);
  const gchar *label = iio_device_get_label (dev);

  if (name)
    return g_strdup_printf ("%s (%s)", name, id);
  if (label)
    return g_strdup_printf ("%s (%s)", label, id);
  return g_strdup (id);
}

/* "sim-adc (iio:device0), sim-kfifo (iio:device2)" for the devices of
 * @ctx with scan channels of @direction (all devices when @any). */
static gchar *
list_devices (struct iio_context *ctx, GstIioDirection direction,
    gboolean any, guint * n_listed)
{
  GString *str = g_string_new (NULL);
  guint i;

  *n_listed = 0;
  for (i = 0; i < iio_context_get_devices_count (ctx); i++) {
    const struct iio_device *dev = iio_context_get_device (ctx, i);
    gchar *name;

    if (!any && !device_has_scan_channels (dev, direction))
      continue;
    name = device_display_name (dev);
    g_string_append_printf (str, "%s%s", str->len ? ", " : "", name);
    g_free (name);
    (*n_listed)++;
  }

  return g_string_free (str, FALSE);
}

/* The tail of device errors: what the user may choose instead. */
static gchar *
describe_choices (struct iio_context *ctx, GstIioDirection direction)
{
  gchar *listed, *all, *desc;
  guint n, n_all;

  listed = list_devices (ctx, direction, FALSE, &n);
  if (n > 0) {
    desc = g_strdup_printf ("devices with %s channels: %s",
        direction_word (direction), listed);
    g_free (listed);
    return desc;
  }
  g_free (listed);

  all = list_devices (ctx, direction, TRUE, &n_all);
  if (n_all > 0)
    desc = g_strdup_printf ("no device has %s channels (devices: %s)",
        direction_word (direction), all);
  else
    desc = g_strdup ("the context has no devices");
  g_free (all);

  return desc;
}

static gboolean
check_uri_scheme (const gchar * uri, GError ** error)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (uri_schemes); i++) {
    if (!g_str_has_prefix (uri, uri_schemes[i].prefix))
      continue;
    if (iio_has_backend (uri_schemes[i].backend))
      return TRUE;
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "IIO context URI \"%s\" needs libiio's %s backend, which this libiio "
        "was built without", uri, uri_schemes[i].backend);
    return FALSE;
  }

  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "Unknown IIO context URI \"%s\": use " URI_FORMS, uri);
  return FALSE;
}

/* libiio 0.24 and 0.26 refuse "usb:" without an address (EINVAL), where
 * their tools (iio_info -u usb:) scan for the only IIO USB device: the
 * elements do as the tools do. */
static gchar *
scan_only_usb_uri (GError ** error)
{
  struct iio_scan_context *scan;
  struct iio_context_info **info = NULL;
  GString *found;
  gchar *uri = NULL;
  ssize_t n, i;

  errno = 0;
  scan = iio_create_scan_context ("usb", 0);
  if (scan)
    n = iio_scan_context_get_info_list (scan, &info);
  else
    n = errno ? -errno : -EIO;
  if (n < 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
        "Could not scan for IIO USB devices (uri=usb:): %s",
        g_strerror ((gint) - n));
  } else if (n == 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "No IIO USB device found (uri=usb:): is the board plugged in and "
        "its iiod serving USB?");
  } else if (n == 1) {
    uri = g_strdup (iio_context_info_get_uri (info[0]));
  } else {
    found = g_string_new (NULL);
    for (i = 0; i < n; i++)
      g_string_append_printf (found, "%s%s (%s)", i ? ", " : "",
          iio_context_info_get_uri (info[i]),
          iio_context_info_get_description (info[i]));
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%" G_GSSIZE_FORMAT " IIO USB devices found (uri=usb:): give one "
        "of them: %s", n, found->str);
    g_string_free (found, TRUE);
  }
  if (info)
    iio_context_info_list_free (info);
  if (scan)
    iio_scan_context_destroy (scan);
  return uri;
}

static struct iio_context *
create_context (const gchar * uri, GError ** error)
{
  struct iio_context *ctx;
  const gchar *hint = "";
  gchar *scanned = NULL;
  gint err;

  if (!check_uri_scheme (uri, error))
    return NULL;

  if (g_strcmp0 (uri, "usb:") == 0) {
    if (!(scanned = scan_only_usb_uri (error)))
      return NULL;
    GST_INFO ("uri=usb: is %s, the only IIO USB device", scanned);
    uri = scanned;
  }

  /* libiio says EINVAL for a missing file; say what is wrong. */
  if (g_str_has_prefix (uri, "xml:") &&
      !g_file_test (uri + strlen ("xml:"), G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "IIO context file \"%s\" not found", uri + strlen ("xml:"));
    return NULL;
  }

  errno = 0;
  ctx = iio_create_context_from_uri (uri);
  if (ctx) {
    g_free (scanned);
    return ctx;
  }

  err = errno ? errno : EIO;
  if (g_str_has_prefix (uri, "local:") && err == ENOENT)
    hint = " (no /sys/bus/iio/devices: is the industrialio module loaded?)";
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
      "Could not open IIO context \"%s\"%s: %s%s", uri,
      scanned ? " (found for uri=usb:)" : "", g_strerror (err), hint);
  g_free (scanned);

  return NULL;
}

/* device NULL: the only device with scan channels of the direction. */
static struct iio_device *
find_only_device (struct iio_context *ctx, const gchar * uri,
    GstIioDirection direction, GError ** error)
{
  struct iio_device *found = NULL;
  gchar *choices;
  guint i, n = 0;

  for (i = 0; i < iio_context_get_devices_count (ctx); i++) {
    struct iio_device *dev = iio_context_get_device (ctx, i);

    if (device_has_scan_channels (dev, direction)) {
      found = dev;
      n++;
    }
  }
  if (n == 1)
    return found;

  choices = describe_choices (ctx, direction);
  if (n == 0)
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "No IIO device with %s channels at %s: %s",
        direction_word (direction), uri, choices);
  else
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Several IIO devices at %s: choose one with the device property; %s",
        uri, choices);
  g_free (choices);

  return NULL;
}

/* Ids are unique; names and labels may repeat. */
static struct iio_device *
find_named_device (struct iio_context *ctx, const gchar * uri,
    const gchar * device, GError ** error)
{
  struct iio_device *found = NULL;
  GString *matches = g_string_new (NULL);
  guint i, n = 0;

  for (i = 0; i < iio_context_get_devices_count (ctx); i++) {
    struct iio_device *dev = iio_context_get_device (ctx, i);
    gchar *name;

    if (!g_strcmp0 (iio_device_get_id (dev), device)) {
      g_string_free (matches, TRUE);
      return dev;
    }
    if (g_strcmp0 (iio_device_get_name (dev), device) &&
        g_strcmp0 (iio_device_get_label (dev), device))
      continue;
    found = dev;
    name = device_display_name (dev);
    g_string_append_printf (matches, "%s%s", n++ ? ", " : "", name);
    g_free (name);
  }

  if (n > 1) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "IIO device name \"%s\" is ambiguous at %s: it matches %s; use the "
        "device id", device, uri, matches->str);
    found = NULL;
  }
  g_string_free (matches, TRUE);

  return found;
}

static struct iio_device *
find_device (struct iio_context *ctx, const gchar * uri, const gchar * device,
    GstIioDirection direction, GError ** error)
{
  struct iio_device *dev;
  GError *err = NULL;
  gchar *choices, *name;

  if (device == NULL || *device == '\0')
    return find_only_device (ctx, uri, direction, error);

  dev = find_named_device (ctx, uri, device, &err);
  if (err) {
    g_propagate_error (error, err);
    return NULL;
  }
  if (dev && device_has_scan_channels (dev, direction))
    return dev;

  choices = describe_choices (ctx, direction);
  if (dev) {
    name = device_display_name (dev);
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "IIO device %s at %s has no %s channels; %s", name, uri,
        direction_word (direction), choices);
    g_free (name);
  } else {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "IIO device \"%s\" not found at %s; %s", device, uri, choices);
  }
  g_free (choices);

  return NULL;
}

GstIioDevice *
gst_iio_device_open (const gchar * uri, const gchar * device,
    GstIioDirection direction, GError ** error)
{
  struct iio_context *ctx;
  struct iio_device *dev;
  GstIioDevice *self;

  if (uri == NULL || *uri == '\0')
    uri = "local:";

  ctx = create_context (uri, error);
  if (!ctx)
    return NULL;
  dev = find_device (ctx, uri, device, direction, error);
  if (!dev) {
    iio_context_destroy (ctx);
    return NULL;
  }

  self = g_object_new (GST_TYPE_IIO_DEVICE, NULL);
  gst_object_ref_sink (self);
  self->uri = g_strdup (uri);
  self->direction = direction;
  self->ctx = ctx;
  self->dev = dev;
  self->display_name = device_display_name (dev);
  if (gst_iio_device_is_local (self)) {
    self->sysfs_path = g_strdup_printf ("/sys/bus/iio/devices/%s",
        iio_device_get_id (dev));
    self->dev_path = g_strdup_printf ("/dev/%s", iio_device_get_id (dev));
  }
  GST_DEBUG_OBJECT (self, "opened %s at %s (context %s)", self->display_name,
      uri, iio_context_get_name (ctx));

  return self;
}

/* "voltage0, voltage1, timestamp": the scan channels of the direction. */
static gchar *
list_channels (GstIioDevice * self, GstIioDirection direction)
{
  GString *str = g_string_new (NULL);
  guint i;

  for (i = 0; i < iio_device_get_channels_count (self->dev); i++) {
    const struct iio_channel *chn = iio_device_get_channel (self->dev, i);

    if (channel_streams (chn, direction))
      g_string_append_printf (str, "%s%s", str->len ? ", " : "",
          iio_channel_get_id (chn));
  }
  if (!str->len)
    g_string_assign (str, "none");

  return g_string_free (str, FALSE);
}

static gint
compare_scan_index (gconstpointer a, gconstpointer b)
{
  long ia = iio_channel_get_index (*(struct iio_channel **) a);
  long ib = iio_channel_get_index (*(struct iio_channel **) b);

  return ia < ib ? -1 : ia > ib;
}

static void
set_channel_error (GstIioDevice * self, const gchar * name, GError ** error)
{
  gboolean out = self->direction == GST_IIO_DIRECTION_OUTPUT;
  struct iio_channel *chn;
  gchar *valid = list_channels (self, self->direction);
  const gchar *dir = direction_word (self->direction);

  chn = iio_device_find_channel (self->dev, name, !out);
  if (chn && iio_channel_is_scan_element (chn))
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Channel \"%s\" of %s is an %s channel, not %s; %s channels: %s",
        name, self->display_name,
        direction_word (out ? GST_IIO_DIRECTION_INPUT :
            GST_IIO_DIRECTION_OUTPUT), dir, dir, valid);
  else if ((chn = iio_device_find_channel (self->dev, name, out)))
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Channel \"%s\" of %s is not a scan element and cannot be streamed; "
        "%s channels: %s", name, self->display_name, dir, valid);
  else
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%s has no %s channel \"%s\"; %s channels: %s", self->display_name,
        dir, name, dir, valid);
  g_free (valid);
}

/* Resolves one comma list item to a streamable channel not yet chosen. */
static struct iio_channel *
lookup_channel (GstIioDevice * self, const gchar * name, GPtrArray * chosen,
    const gchar * list, GError ** error)
{
  gboolean out = self->direction == GST_IIO_DIRECTION_OUTPUT;
  struct iio_channel *chn;

  if (*name == '\0') {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Empty channel name in channels \"%s\"", list);
    return NULL;
  }
  chn = iio_device_find_channel (self->dev, name, out);
  if (!chn || !channel_streams (chn, self->direction)) {
    set_channel_error (self, name, error);
    return NULL;
  }
  if (g_ptr_array_find (chosen, chn, NULL)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Channel \"%s\" appears twice in channels \"%s\"", name, list);
    return NULL;
  }

  return chn;
}

static gboolean
parse_channel_list (GstIioDevice * self, const gchar * channels,
    GPtrArray * chosen, GError ** error)
{
  gchar **items = g_strsplit (channels, ",", -1);
  gboolean ok = TRUE;
  guint i;

  for (i = 0; ok && items[i]; i++) {
    struct iio_channel *chn;

    chn = lookup_channel (self, g_strstrip (items[i]), chosen, channels, error);
    if (chn)
      g_ptr_array_add (chosen, chn);
    ok = chn != NULL;
  }
  g_strfreev (items);

  return ok;
}

static void
default_channels (GstIioDevice * self, GPtrArray * chosen)
{
  guint i;

  for (i = 0; i < iio_device_get_channels_count (self->dev); i++) {
    struct iio_channel *chn = iio_device_get_channel (self->dev, i);

    if (channel_streams (chn, self->direction) && !channel_is_timestamp (chn))
      g_ptr_array_add (chosen, chn);
  }
}

gboolean
gst_iio_device_select_channels (GstIioDevice * self, const gchar * channels,
    GError ** error)
{
  GPtrArray *chosen = g_ptr_array_new ();
  guint i;

  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), FALSE);

  if (channels == NULL || *channels == '\0')
    default_channels (self, chosen);
  else if (!parse_channel_list (self, channels, chosen, error)) {
    g_ptr_array_unref (chosen);
    return FALSE;
  }
  /* open() made sure there is one, but a device may list only the
   * timestamp. */
  if (chosen->len == 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%s has no %s channels to stream", self->display_name,
        direction_word (self->direction));
    g_ptr_array_unref (chosen);
    return FALSE;
  }

  g_ptr_array_sort (chosen, compare_scan_index);
  for (i = 0; i < iio_device_get_channels_count (self->dev); i++)
    iio_channel_disable (iio_device_get_channel (self->dev, i));
  for (i = 0; i < chosen->len; i++)
    iio_channel_enable (g_ptr_array_index (chosen, i));
  g_ptr_array_unref (self->channels);
  self->channels = chosen;
  GST_DEBUG_OBJECT (self, "%u channels of %s, %" G_GSIZE_FORMAT
      " bytes per sample", chosen->len, self->display_name,
      gst_iio_device_get_sample_size (self));

  return TRUE;
}

gboolean
gst_iio_device_write_attributes (GstIioDevice * self,
    const gchar * attributes, GError ** error)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), FALSE);

  return gst_iio_attributes_write (self, attributes, NULL, error);
}

static gboolean
parse_rate (const gchar * what, const gchar * str, guint * rate)
{
  gchar *end;
  gdouble value = g_ascii_strtod (str, &end);

  /* "0" (as fast as possible, sim-adc) or junk is no rate to stamp. */
  if (end == str || !(value >= 0.5 && value <= G_MAXINT)) {
    GST_DEBUG ("%s is \"%s\": no usable rate", what, str);
    return FALSE;
  }
  *rate = (guint) floor (value + 0.5);

  return TRUE;
}

static gboolean
read_channel_rate (const struct iio_channel *chn, guint * rate)
{
  gchar buf[64];

  if (!iio_channel_find_attr (chn, "sampling_frequency") ||
      iio_channel_attr_read (chn, "sampling_frequency", buf, sizeof (buf)) <= 0)
    return FALSE;

  return parse_rate (iio_channel_get_id (chn), buf, rate);
}

gboolean
gst_iio_device_read_rate (GstIioDevice * self, guint * rate)
{
  gchar buf[64];
  guint i;

  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), FALSE);

  if (iio_device_find_attr (self->dev, "sampling_frequency") &&
      iio_device_attr_read (self->dev, "sampling_frequency", buf,
          sizeof (buf)) > 0)
    return parse_rate ("sampling_frequency", buf, rate);

  for (i = 0; i < self->channels->len; i++)
    if (read_channel_rate (g_ptr_array_index (self->channels, i), rate))
      return TRUE;

  return FALSE;
}

guint
gst_iio_device_get_n_channels (GstIioDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), 0);

  return self->channels->len;
}

/* The kernel's layout (iio_compute_scan_bytes): each channel aligned to
 * its own size, the whole sample to the largest. libiio 0.24 skips the
 * final alignment (it says 10 bytes for S16+U8+S32+S16, the kernel 12). */
gsize
gst_iio_device_get_sample_size (GstIioDevice * self)
{
  gsize bytes = 0, largest = 1;
  guint i;

  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), 0);

  for (i = 0; i < self->channels->len; i++) {
    const struct iio_data_format *f =
        iio_channel_get_data_format (g_ptr_array_index (self->channels, i));
    gsize length = f->length / 8 * MAX (f->repeat, 1);

    if (length == 0)
      continue;
    bytes = (bytes + length - 1) / length * length + length;
    largest = MAX (largest, length);
  }

  return (bytes + largest - 1) / largest * largest;
}

static GstIioCapsChannel *
get_caps_channels (GstIioDevice * self)
{
  GstIioCapsChannel *chans = g_new0 (GstIioCapsChannel,
      MAX (self->channels->len, 1));
  guint i;

  for (i = 0; i < self->channels->len; i++) {
    const struct iio_channel *chn = g_ptr_array_index (self->channels, i);

    chans[i].id = iio_channel_get_id (chn);
    chans[i].format = *iio_channel_get_data_format (chn);
  }

  return chans;
}

GstCaps *
gst_iio_device_get_caps (GstIioDevice * self, guint rate)
{
  GstIioCapsChannel *chans;
  GstCaps *caps;

  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), NULL);
  g_return_val_if_fail (self->channels->len > 0, gst_caps_new_empty ());

  self->rate = rate;
  chans = get_caps_channels (self);
  caps = gst_iio_caps_build (chans, self->channels->len, rate);
  g_free (chans);

  return caps;
}

gboolean
gst_iio_device_check_caps (GstIioDevice * self, const GstCaps * caps,
    GError ** error)
{
  GstIioCapsChannel *chans;
  gboolean ok;

  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), FALSE);

  if (self->channels->len == 0) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "%s has no channels selected", self->display_name);
    return FALSE;
  }
  chans = get_caps_channels (self);
  ok = gst_iio_caps_check (chans, self->channels->len, self->rate,
      self->display_name, caps, error);
  g_free (chans);

  return ok;
}

const gchar *
gst_iio_device_get_display_name (GstIioDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), NULL);

  return self->display_name;
}

gboolean
gst_iio_device_is_local (GstIioDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), FALSE);

  return !g_strcmp0 (iio_context_get_name (self->ctx), "local");
}

struct iio_device *
gst_iio_device_get_iio (GstIioDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), NULL);

  return self->dev;
}

struct iio_context *
gst_iio_device_get_context (GstIioDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), NULL);

  return self->ctx;
}

const gchar *
gst_iio_device_get_uri (GstIioDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), NULL);

  return self->uri;
}

GstIioDirection
gst_iio_device_get_direction (GstIioDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), GST_IIO_DIRECTION_INPUT);

  return self->direction;
}

const gchar *
gst_iio_device_get_sysfs_path (GstIioDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), NULL);

  return self->sysfs_path;
}

const gchar *
gst_iio_device_get_dev_path (GstIioDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), NULL);

  return self->dev_path;
}

/* The kernel names the file <in|out>_<id>[_<extend_name>]_en; libiio's
 * channel name is the extend_name when there is one. */
static gchar *
find_enable_file (GstIioDevice * self, const struct iio_channel *chn)
{
  const gchar *prefix = iio_channel_is_output (chn) ? "out" : "in";
  const gchar *name = iio_channel_get_name (chn);
  gchar *path;

  if (name) {
    path = g_strdup_printf ("%s/scan_elements/%s_%s_%s_en", self->sysfs_path,
        prefix, iio_channel_get_id (chn), name);
    if (g_file_test (path, G_FILE_TEST_EXISTS))
      return path;
    g_free (path);
  }
  path = g_strdup_printf ("%s/scan_elements/%s_%s_en", self->sysfs_path,
      prefix, iio_channel_get_id (chn));
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return path;
  g_free (path);

  return NULL;
}

/* sysfs files take one write(); g_file_set_contents would rename. */
static gboolean
write_sysfs (const gchar * path, const gchar * value, GError ** error)
{
  FILE *f = fopen (path, "we");
  gint err = 0;

  if (!f)
    err = errno;
  else if (fputs (value, f) < 0 || fflush (f) != 0)
    err = errno ? errno : EIO;
  if (f && fclose (f) != 0 && err == 0)
    err = errno;
  if (err == 0)
    return TRUE;

  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "Could not write \"%s\" to %s: %s", value, path, g_strerror (err));
  return FALSE;
}

gboolean
gst_iio_device_write_scan_elements (GstIioDevice * self, GError ** error)
{
  guint i;

  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), FALSE);

  if (!self->sysfs_path) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%s is not on a local context: no scan_elements to write",
        self->display_name);
    return FALSE;
  }

  for (i = 0; i < iio_device_get_channels_count (self->dev); i++) {
    const struct iio_channel *chn = iio_device_get_channel (self->dev, i);
    gboolean on = g_ptr_array_find (self->channels, chn, NULL);
    gchar *path;
    gboolean ok;

    if (!channel_streams (chn, self->direction))
      continue;
    path = find_enable_file (self, chn);
    if (!path) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "No scan_elements enable file for channel %s of %s in %s",
          iio_channel_get_id (chn), self->display_name, self->sysfs_path);
      return FALSE;
    }
    ok = write_sysfs (path, on ? "1" : "0", error);
    g_free (path);
    if (!ok)
      return FALSE;
  }

  return TRUE;
}

/* ---- exclusive use ---- */

gboolean
gst_iio_device_claim (GstIioDevice * self, GError ** error)
{
  gint err;

  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), FALSE);

  if (self->claim_fd >= 0 || self->dev_path == NULL)
    return TRUE;

  /* The kernel's busy bit (iio_chrdev_open) makes a second open() fail
   * with EBUSY: nobody else streams while we hold it. */
  self->claim_fd = open (self->dev_path, O_RDWR | O_CLOEXEC);
  if (self->claim_fd >= 0) {
    GST_DEBUG_OBJECT (self, "claimed %s (fd %d)", self->dev_path,
        self->claim_fd);
    return TRUE;
  }

  err = errno;
  if (err == ENOENT || err == ENXIO || err == ENODEV) {
    /* No chardev: a device without buffers, nothing to stream or guard. */
    GST_INFO_OBJECT (self, "%s: %s; not claimed", self->dev_path,
        g_strerror (err));
    return TRUE;
  }
  if (err == EBUSY)
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_BUSY,
        "%s is busy: another program or pipeline is using it (%s: %s); "
        "nothing was changed on the device", self->display_name,
        self->dev_path, g_strerror (err));
  else
    g_set_error (error, GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_OPEN_READ_WRITE, "Cannot open %s of %s: %s",
        self->dev_path, self->display_name, g_strerror (err));

  return FALSE;
}

void
gst_iio_device_set_busy_error (GstIioDevice * self, GError ** error)
{
  g_return_if_fail (GST_IS_IIO_DEVICE (self));

  /* Remote: iiod's open found it busy (and our attributes did reach the
   * device: nothing can claim it from here). */
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_BUSY,
      "%s is busy: another program or pipeline is using it (%s: %s)",
      self->display_name, self->dev_path ? self->dev_path : self->uri,
      g_strerror (EBUSY));
}

void
gst_iio_device_release (GstIioDevice * self)
{
  g_return_if_fail (GST_IS_IIO_DEVICE (self));

  if (self->claim_fd < 0)
    return;
  close (self->claim_fd);
  self->claim_fd = -1;
  GST_DEBUG_OBJECT (self, "released %s", self->dev_path);
}

gint
gst_iio_device_get_claim_fd (GstIioDevice * self)
{
  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), -1);

  return self->claim_fd;
}

gboolean
gst_iio_device_buffer_is_enabled (GstIioDevice * self)
{
  gchar *path, *contents = NULL;
  gboolean enabled = FALSE;

  g_return_val_if_fail (GST_IS_IIO_DEVICE (self), FALSE);

  if (self->sysfs_path == NULL)
    return FALSE;
  /* bufferN/ since Linux 5.11; buffer/ is buffer 0 on every kernel. */
  path = g_build_filename (self->sysfs_path, "buffer0", "enable", NULL);
  if (!g_file_get_contents (path, &contents, NULL, NULL)) {
    g_free (path);
    path = g_build_filename (self->sysfs_path, "buffer", "enable", NULL);
    g_file_get_contents (path, &contents, NULL, NULL);
  }
  if (contents)
    enabled = g_ascii_strtoll (contents, NULL, 10) != 0;
  g_free (contents);
  g_free (path);

  return enabled;
}

/* How long a buffer may still read enabled after its transfers were
 * aborted by a disable: the kernel aborts them first and leaves the
 * active list after (__iio_update_buffers), and a woken waiter can look
 * in between. */
#define DISABLE_SETTLE_US (100 * G_TIME_SPAN_MILLISECOND)
#define DISABLE_POLL_US (5 * G_TIME_SPAN_MILLISECOND)

/* An error path only: waits (bounded) for a disable in progress. */
static gboolean
still_enabled (GstIioDevice * device)
{
  gint64 deadline = g_get_monotonic_time () + DISABLE_SETTLE_US;

  while (gst_iio_device_buffer_is_enabled (device)) {
    if (g_get_monotonic_time () >= deadline)
      return TRUE;
    g_usleep (DISABLE_POLL_US);
  }

  return FALSE;
}

gboolean
gst_iio_device_explain_disabled (GstIioDevice * self, GError ** error)
{
  const gchar *sysfs = self->sysfs_path;

  if (sysfs == NULL || !g_file_test (sysfs, G_FILE_TEST_EXISTS) ||
      still_enabled (self))
    return FALSE;

  GST_INFO_OBJECT (self, "%s/buffer0/enable is 0 while we stream%s%s",
      sysfs, error && *error ? ": " : "",
      error && *error ? (*error)->message : "");
  g_clear_error (error);
  g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
      "The buffer of %s was disabled by another program while streaming "
      "(buffer/enable went to 0; libiio clients such as iio_readdev, "
      "iio_writedev or iiod disable a running buffer before they find the "
      "device busy)", gst_iio_device_get_display_name (self));

  return TRUE;
}

gboolean
gst_iio_device_is_gone (GstIioDevice * self)
{
  return self->sysfs_path != NULL &&
      !g_file_test (self->sysfs_path, G_FILE_TEST_EXISTS);
}
