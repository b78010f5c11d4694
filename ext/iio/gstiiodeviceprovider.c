/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiodeviceprovider.h"
#include "gstiiocommon.h"
#include "gstiioprovideddevice.h"

#include <errno.h>
#include <iio.h>

#ifdef HAVE_GUDEV
#include <gudev/gudev.h>
#endif

GST_DEBUG_CATEGORY_STATIC (gst_iio_device_provider_debug);
#define GST_CAT_DEFAULT gst_iio_device_provider_debug

#define LOCAL_URI "local:"
/* A remote context that does not answer within this is left out. */
#define REMOTE_TIMEOUT_MS 3000

enum
{
  PROP_0,
  PROP_SCAN_REMOTE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

struct _GstIioDeviceProvider
{
  GstDeviceProvider parent;

  gboolean scan_remote;         /* object lock */

#ifdef HAVE_GUDEV
  /* start() and stop() only (GstDeviceMonitor serialises them): the
   * thread runs @loop, whose @context delivers @client's uevents. */
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  GUdevClient *client;
#endif
};

G_DEFINE_TYPE_WITH_CODE (GstIioDeviceProvider, gst_iio_device_provider,
    GST_TYPE_DEVICE_PROVIDER,
    GST_DEBUG_CATEGORY_INIT (gst_iio_device_provider_debug,
        "iiodeviceprovider", 0, "IIO device provider"));
GST_DEVICE_PROVIDER_REGISTER_DEFINE (iiodeviceprovider, "iiodeviceprovider",
    GST_RANK_PRIMARY, GST_TYPE_IIO_DEVICE_PROVIDER);

/* The entries of one device, input then output (prepended to @list). */
static GList *
describe_device (GList * list, const gchar * uri, const struct iio_device *dev)
{
  static const GstIioDirection directions[] = {
    GST_IIO_DIRECTION_INPUT, GST_IIO_DIRECTION_OUTPUT
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (directions); i++) {
    GstDevice *entry = gst_iio_provided_device_new (uri, dev, directions[i]);

    if (entry)
      list = g_list_prepend (list, gst_object_ref_sink (entry));
  }
  return list;
}

/* Every device of @ctx, or only the one whose id is @id. */
static GList *
describe_context (GList * list, const gchar * uri, struct iio_context *ctx,
    const gchar * id)
{
  guint i;

  for (i = 0; i < iio_context_get_devices_count (ctx); i++) {
    const struct iio_device *dev = iio_context_get_device (ctx, i);

    if (!id || !g_strcmp0 (iio_device_get_id (dev), id))
      list = describe_device (list, uri, dev);
  }
  return list;
}

static GList *
probe_local (const gchar * id)
{
  struct iio_context *ctx = iio_create_local_context ();
  GList *list;

  if (!ctx) {
    /* No /sys/bus/iio: not an error, just nothing to list. */
    GST_INFO ("no local IIO context: %s", g_strerror (errno));
    return NULL;
  }
  list = describe_context (NULL, LOCAL_URI, ctx, id);
  iio_context_destroy (ctx);

  return g_list_reverse (list);
}

/* libiio's ip scan browses DNS-SD through avahi-daemon; without the
 * daemon it fails the whole scan (and prints an error), so it is asked
 * for only when the daemon's socket is there. */
#define AVAHI_SOCKET "/run/avahi-daemon/socket"

/* "usb,ip" with the backends this libiio has. */
static gchar *
scan_backends (gboolean with_ip)
{
  GString *str = g_string_new (NULL);

  if (iio_has_backend ("usb"))
    g_string_append (str, "usb");
  if (with_ip && iio_has_backend ("ip") &&
      g_file_test (AVAHI_SOCKET, G_FILE_TEST_EXISTS))
    g_string_append_printf (str, "%sip", str->len ? "," : "");
  return g_string_free (str, FALSE);
}

static struct iio_scan_context *
try_scan (gboolean with_ip)
{
  gchar *backends = scan_backends (with_ip);
  struct iio_scan_context *scan = NULL;

  if (*backends)
    scan = iio_create_scan_context (backends, 0);
  if (!scan)
    GST_INFO ("no scan of \"%s\": %s", backends, g_strerror (errno));
  g_free (backends);

  return scan;
}

static struct iio_scan_context *
create_scan_context (void)
{
  struct iio_scan_context *scan = try_scan (TRUE);

  /* A libiio built without DNS-SD support fails an ip scan as a whole
   * too: then usb alone. */
  if (!scan && g_file_test (AVAHI_SOCKET, G_FILE_TEST_EXISTS))
    scan = try_scan (FALSE);
  return scan;
}

static GList *
describe_remote (GList * list, const gchar * uri)
{
  struct iio_context *ctx;

  if (g_str_has_prefix (uri, LOCAL_URI))
    return list;
  ctx = iio_create_context_from_uri (uri);
  if (!ctx) {
    GST_INFO ("remote context %s: %s", uri, g_strerror (errno));
    return list;
  }
  iio_context_set_timeout (ctx, REMOTE_TIMEOUT_MS);
  list = describe_context (list, uri, ctx, NULL);
  iio_context_destroy (ctx);

  return list;
}

static GList *
probe_remote (void)
{
  struct iio_scan_context *scan = create_scan_context ();
  struct iio_context_info **info = NULL;
  GList *list = NULL;
  ssize_t n, i;

  if (!scan)
    return NULL;
  n = iio_scan_context_get_info_list (scan, &info);
  if (n < 0)
    GST_INFO ("libiio scan failed: %s", g_strerror ((gint) - n));
  for (i = 0; i < n; i++)
    list = describe_remote (list, iio_context_info_get_uri (info[i]));
  if (n >= 0)
    iio_context_info_list_free (info);
  iio_scan_context_destroy (scan);

  return g_list_reverse (list);
}

static gboolean
scan_remote_enabled (GstIioDeviceProvider * self)
{
  gboolean scan;

  GST_OBJECT_LOCK (self);
  scan = self->scan_remote;
  GST_OBJECT_UNLOCK (self);
  return scan;
}

static GList *
gst_iio_device_provider_probe (GstDeviceProvider * provider)
{
  GstIioDeviceProvider *self = GST_IIO_DEVICE_PROVIDER (provider);
  GList *list = probe_local (NULL);

  if (scan_remote_enabled (self))
    list = g_list_concat (list, probe_remote ());
  GST_DEBUG_OBJECT (self, "%u entries", g_list_length (list));

  return list;
}

#ifdef HAVE_GUDEV
/* The listed entry for device @id of @uri in @direction, or NULL. Reads
 * provider->devices under the object lock, as gst_device_provider_device_add
 * and _remove change it: gst_device_provider_get_devices() would take the
 * start lock, which stop() holds while it joins the uevent thread. */
static GstDevice *
find_listed (GstDeviceProvider * provider, const gchar * uri,
    const gchar * id, GstIioDirection direction)
{
  GstDevice *found = NULL;
  GList *l;

  GST_OBJECT_LOCK (provider);
  for (l = provider->devices; l && !found; l = l->next) {
    GstIioProvidedDevice *entry = GST_IIO_PROVIDED_DEVICE (l->data);

    if (!g_strcmp0 (gst_iio_provided_device_get_id (entry), id) &&
        !g_strcmp0 (gst_iio_provided_device_get_uri (entry), uri) &&
        gst_iio_provided_device_get_direction (entry) == direction)
      found = gst_object_ref (GST_DEVICE (entry));
  }
  GST_OBJECT_UNLOCK (provider);

  return found;
}

/* Adds what is not listed yet: the first probe and the uevents queued
 * while it ran may both report a device. */
static void
add_entries (GstDeviceProvider * provider, GList * entries)
{
  GList *l;

  for (l = entries; l; l = l->next) {
    GstIioProvidedDevice *entry = GST_IIO_PROVIDED_DEVICE (l->data);
    GstDevice *listed = find_listed (provider,
        gst_iio_provided_device_get_uri (entry),
        gst_iio_provided_device_get_id (entry),
        gst_iio_provided_device_get_direction (entry));

    if (listed)
      gst_object_unref (listed);
    else
      gst_device_provider_device_add (provider, GST_DEVICE (entry));
  }
  g_list_free_full (entries, gst_object_unref);
}

static void
remove_entries (GstDeviceProvider * provider, const gchar * id)
{
  static const GstIioDirection directions[] = {
    GST_IIO_DIRECTION_INPUT, GST_IIO_DIRECTION_OUTPUT
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (directions); i++) {
    GstDevice *listed = find_listed (provider, LOCAL_URI, id, directions[i]);

    if (!listed)
      continue;
    gst_device_provider_device_remove (provider, listed);
    gst_object_unref (listed);
  }
}

static void
on_uevent (GUdevClient * client, const gchar * action, GUdevDevice * device,
    gpointer user_data)
{
  GstDeviceProvider *provider = GST_DEVICE_PROVIDER (user_data);
  const gchar *id = g_udev_device_get_name (device);

  /* The subsystem also has triggers ("trigger0"): not devices. */
  if (!id || !g_str_has_prefix (id, "iio:device"))
    return;
  GST_DEBUG_OBJECT (provider, "uevent %s %s", action, id);

  if (!g_strcmp0 (action, "add"))
    add_entries (provider, probe_local (id));
  else if (!g_strcmp0 (action, "remove"))
    remove_entries (provider, id);
}

static gpointer
run_loop (gpointer data)
{
  GstIioDeviceProvider *self = data;

  g_main_context_push_thread_default (self->context);
  g_main_loop_run (self->loop);
  g_main_context_pop_thread_default (self->context);

  return NULL;
}

static gboolean
gst_iio_device_provider_start (GstDeviceProvider * provider)
{
  GstIioDeviceProvider *self = GST_IIO_DEVICE_PROVIDER (provider);
  static const gchar *subsystems[] = { "iio", NULL };
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);

  /* The client's uevent source attaches to the thread-default context
   * at construction: ours, so that the thread below delivers them. It
   * listens before the first probe, so nothing added in between is
   * missed (add_entries drops what both report). */
  g_main_context_push_thread_default (self->context);
  self->client = g_udev_client_new (subsystems);
  g_main_context_pop_thread_default (self->context);
  g_signal_connect (self->client, "uevent", G_CALLBACK (on_uevent), self);

  add_entries (provider, gst_iio_device_provider_probe (provider));

  self->thread = g_thread_new ("iio-devices", run_loop, self);

  return TRUE;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
gst_iio_device_provider_stop (GstDeviceProvider * provider)
{
  GstIioDeviceProvider *self = GST_IIO_DEVICE_PROVIDER (provider);

  if (!self->thread)
    return;

  /* Through the context, not g_main_loop_quit() here: a quit before the
   * thread entered g_main_loop_run() would be lost. */
  g_main_context_invoke (self->context, quit_loop, self->loop);
  g_thread_join (self->thread);
  self->thread = NULL;

  g_signal_handlers_disconnect_by_func (self->client, on_uevent, self);
  g_clear_object (&self->client);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
}
#endif /* HAVE_GUDEV */

static void
gst_iio_device_provider_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstIioDeviceProvider *self = GST_IIO_DEVICE_PROVIDER (object);

  switch (prop_id) {
    case PROP_SCAN_REMOTE:
      GST_OBJECT_LOCK (self);
      self->scan_remote = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_iio_device_provider_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstIioDeviceProvider *self = GST_IIO_DEVICE_PROVIDER (object);

  switch (prop_id) {
    case PROP_SCAN_REMOTE:
      g_value_set_boolean (value, scan_remote_enabled (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_iio_device_provider_class_init (GstIioDeviceProviderClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstDeviceProviderClass *provider_class = GST_DEVICE_PROVIDER_CLASS (klass);

  gobject_class->set_property = gst_iio_device_provider_set_property;
  gobject_class->get_property = gst_iio_device_provider_get_property;

  properties[PROP_SCAN_REMOTE] = g_param_spec_boolean ("scan-remote",
      "Scan remote", "Also list the devices of the remote contexts libiio's "
      "scan finds (usb:, and ip: where avahi runs), at probe and start; "
      "they are not followed while monitoring", FALSE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (gobject_class, N_PROPS, properties);

  provider_class->probe = gst_iio_device_provider_probe;
#ifdef HAVE_GUDEV
  provider_class->start = gst_iio_device_provider_start;
  provider_class->stop = gst_iio_device_provider_stop;
#endif

  gst_device_provider_class_set_static_metadata (GST_DEVICE_PROVIDER_CLASS
      (klass), "IIO Device Provider", "Source/Sink/IIO",
      "Lists the Linux IIO devices that have a buffer (iiosrc, iiosink)",
      GST_IIO_AUTHOR);
}

static void
gst_iio_device_provider_init (GstIioDeviceProvider * self)
{
}
