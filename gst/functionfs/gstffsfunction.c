/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstFfsFunction: a FunctionFS function owned through its ep0.
 *
 * ep0 is read by a thread of the function's own (poll on ep0 and a stop
 * eventfd), so events are answered whatever the streaming thread is doing:
 * a SETUP must be answered or stalled at once (the host's control
 * transfer waits for it, and f_fs takes the next read of ep0 as the
 * request's data phase until then). The state is kept under a mutex;
 * every change is also written to an eventfd, so a waiter polls it beside
 * its own cancel eventfd (unlock) with a bound. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstffsfunction.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#include <gst/gst.h>

GST_DEBUG_CATEGORY_STATIC (gst_ffs_function_debug);
#define GST_CAT_DEFAULT gst_ffs_function_debug

/* wMaxPacketSize of a bulk endpoint: USB 2.0 full and high speed, USB 3 */
static const guint max_packet[3] = { 64, 512, 1024 };

struct _GstFfsFunction
{
  GObject parent;

  gchar *mount;
  gchar *endpoint;
  gint ep0;
  gint stop;                    /* eventfd: the thread ends */
  gint changed;                 /* eventfd: written on every state change */
  GThread *thread;

  GMutex lock;
  GstFfsFunctionState state;
  guint enables;
  gboolean suspended;
  guint setups_stalled;
};

G_DEFINE_TYPE (GstFfsFunction, gst_ffs_function, G_TYPE_OBJECT);

/* ---- descriptors ---- */

typedef struct
{
  struct usb_interface_descriptor intf;
  struct usb_endpoint_descriptor_no_audio ep;
} __attribute__((packed)) FsHsSet;

typedef struct
{
  struct usb_interface_descriptor intf;
  struct usb_endpoint_descriptor_no_audio ep;
  struct usb_ss_ep_comp_descriptor comp;
} __attribute__((packed)) SsSet;

typedef struct
{
  struct usb_functionfs_descs_head_v2 head;
  __le32 fs_count;
  __le32 hs_count;
  __le32 ss_count;
  FsHsSet fs;
  FsHsSet hs;
  SsSet ss;
} __attribute__((packed)) Descriptors;

static void
fill_set (struct usb_interface_descriptor *intf,
    struct usb_endpoint_descriptor_no_audio *ep, guint8 addr, guint maxpacket)
{
  intf->bLength = USB_DT_INTERFACE_SIZE;
  intf->bDescriptorType = USB_DT_INTERFACE;
  intf->bInterfaceNumber = 0;
  intf->bNumEndpoints = 1;
  intf->bInterfaceClass = USB_CLASS_VENDOR_SPEC;
  intf->iInterface = 1;
  ep->bLength = USB_DT_ENDPOINT_SIZE;
  ep->bDescriptorType = USB_DT_ENDPOINT;
  ep->bEndpointAddress = addr;
  ep->bmAttributes = USB_ENDPOINT_XFER_BULK;
  ep->wMaxPacketSize = htole16 (maxpacket);
}

static gboolean
write_all (gint fd, const void *data, gsize size, const gchar * what,
    const gchar * path, GError ** error)
{
  gssize n;

  do
    n = write (fd, data, size);
  while (n < 0 && errno == EINTR);
  if (n != (gssize) size) {
    gint e = n < 0 ? errno : EIO;

    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
        "Cannot write the %s to %s: %s%s", what, path, g_strerror (e),
        e == EBUSY ? " (another program owns the function: set endpoint= "
        "instead of function=, or stop that program)" : "");
    return FALSE;
  }
  return TRUE;
}

static gboolean
write_descriptors (GstFfsFunction * self, GstFfsDirection dir,
    const gchar * interface_name, const gchar * path, GError ** error)
{
  guint8 addr = 1 | (dir == GST_FFS_DIRECTION_IN ? USB_DIR_IN : USB_DIR_OUT);
  Descriptors d;
  struct usb_functionfs_strings_head sh;
  gsize len = strlen (interface_name) + 1;
  guint8 *s;
  gsize ssize = sizeof (sh) + 2 + len;
  gboolean ok;

  memset (&d, 0, sizeof (d));
  d.head.magic = htole32 (FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
  d.head.length = htole32 (sizeof (d));
  d.head.flags = htole32 (FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC |
      FUNCTIONFS_HAS_SS_DESC);
  d.fs_count = htole32 (2);
  d.hs_count = htole32 (2);
  d.ss_count = htole32 (3);
  fill_set (&d.fs.intf, &d.fs.ep, addr, max_packet[0]);
  fill_set (&d.hs.intf, &d.hs.ep, addr, max_packet[1]);
  fill_set (&d.ss.intf, &d.ss.ep, addr, max_packet[2]);
  d.ss.comp.bLength = USB_DT_SS_EP_COMP_SIZE;
  d.ss.comp.bDescriptorType = USB_DT_SS_ENDPOINT_COMP;
  if (!write_all (self->ep0, &d, sizeof (d), "descriptors", path, error))
    return FALSE;

  /* one language (en-US), one string: the interface's */
  sh.magic = htole32 (FUNCTIONFS_STRINGS_MAGIC);
  sh.length = htole32 (ssize);
  sh.str_count = htole32 (1);
  sh.lang_count = htole32 (1);
  s = g_malloc (ssize);
  memcpy (s, &sh, sizeof (sh));
  s[sizeof (sh)] = 0x09;
  s[sizeof (sh) + 1] = 0x04;
  memcpy (s + sizeof (sh) + 2, interface_name, len);
  ok = write_all (self->ep0, s, ssize, "strings", path, error);
  g_free (s);
  return ok;
}

/* ---- state ---- */

/* @state: the new state, or -1 to keep it; @suspended: the new flag, or
 * -1 to keep it */
static void
set_state (GstFfsFunction * self, gint state, gboolean enable, gint suspended)
{
  guint64 one = 1;

  g_mutex_lock (&self->lock);
  /* a removed function stays removed */
  if (state >= 0 && self->state != GST_FFS_FUNCTION_GONE)
    self->state = (GstFfsFunctionState) state;
  if (enable)
    self->enables++;
  if (suspended >= 0)
    self->suspended = suspended;
  g_mutex_unlock (&self->lock);
  if (write (self->changed, &one, sizeof (one)) < 0)
    GST_WARNING ("eventfd write: %s", g_strerror (errno));
}

/* A control request to the interface or the endpoint: the function defines
 * none, so every one is stalled. f_fs stalls when ep0 is used against the
 * request's direction: read for an IN request, written for an OUT one. */
static void
stall (GstFfsFunction * self, const struct usb_ctrlrequest *setup)
{
  gssize r;
  guint8 dummy;

  GST_DEBUG ("stalling SETUP bRequestType 0x%02x bRequest 0x%02x wValue "
      "0x%04x wIndex 0x%04x wLength %u", setup->bRequestType,
      setup->bRequest, le16toh (setup->wValue), le16toh (setup->wIndex),
      le16toh (setup->wLength));
  if (setup->bRequestType & USB_DIR_IN)
    r = read (self->ep0, &dummy, 0);
  else
    r = write (self->ep0, &dummy, 0);
  /* f_fs answers a stall with EL2HLT */
  if (r >= 0 || errno != EL2HLT)
    GST_DEBUG ("stall: %zd (%s)", r, r < 0 ? g_strerror (errno) : "");
  g_mutex_lock (&self->lock);
  self->setups_stalled++;
  g_mutex_unlock (&self->lock);
}

static void
handle_event (GstFfsFunction * self, const struct usb_functionfs_event *ev)
{
  GST_DEBUG ("%s: event %u", self->mount, ev->type);
  switch (ev->type) {
    case FUNCTIONFS_BIND:
      set_state (self, GST_FFS_FUNCTION_BOUND, FALSE, -1);
      break;
    case FUNCTIONFS_UNBIND:
      set_state (self, GST_FFS_FUNCTION_UNBOUND, FALSE, FALSE);
      break;
    case FUNCTIONFS_ENABLE:
      set_state (self, GST_FFS_FUNCTION_ENABLED, TRUE, -1);
      break;
    case FUNCTIONFS_DISABLE:
      set_state (self, GST_FFS_FUNCTION_BOUND, FALSE, -1);
      break;
    case FUNCTIONFS_SUSPEND:
      set_state (self, -1, FALSE, TRUE);
      break;
    case FUNCTIONFS_RESUME:
      set_state (self, -1, FALSE, FALSE);
      break;
    case FUNCTIONFS_SETUP:
      stall (self, &ev->u.setup);
      break;
    default:
      GST_DEBUG ("unknown ep0 event %u", ev->type);
      break;
  }
}

static gpointer
event_thread (gpointer data)
{
  GstFfsFunction *self = data;

  for (;;) {
    struct pollfd p[2] = {
      {.fd = self->stop,.events = POLLIN},
      {.fd = self->ep0,.events = POLLIN},
    };
    struct usb_functionfs_event ev[8];
    gssize n;
    gint i;

    if (poll (p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      GST_ERROR ("poll: %s", g_strerror (errno));
      break;
    }
    if (p[0].revents)
      break;
    if (!(p[1].revents & (POLLIN | POLLERR | POLLHUP)))
      continue;
    /* a read after a SETUP would be its data phase: f_fs returns events
     * up to and including the first SETUP, which is answered before the
     * next read */
    n = read (self->ep0, ev, sizeof (ev));
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EIDRM))
      continue;
    if (n <= 0) {
      /* EBADFD: f_fs left the active state (the function was removed
       * from the gadget, or its instance went); ep0 stays useless */
      GST_DEBUG ("%s: ep0 read: %s", self->mount, n < 0 ?
          g_strerror (errno) : "end of file");
      set_state (self, GST_FFS_FUNCTION_GONE, FALSE, -1);
      /* nothing more to read: wait for the stop only */
      while (poll (p, 1, -1) < 0 && errno == EINTR);
      break;
    }
    for (i = 0; i < n / (gssize) sizeof (ev[0]); i++)
      handle_event (self, &ev[i]);
  }
  return NULL;
}

/* ---- API ---- */

GstFfsFunction *
gst_ffs_function_new (const gchar * mount, GstFfsDirection dir,
    const gchar * interface_name, GError ** error)
{
  GstFfsFunction *self;
  gchar *path;

  g_return_val_if_fail (mount != NULL, NULL);
  self = g_object_new (GST_TYPE_FFS_FUNCTION, NULL);
  self->mount = g_strdup (mount);
  self->endpoint = g_build_filename (mount, "ep1", NULL);
  path = g_build_filename (mount, "ep0", NULL);
  self->ep0 = open (path, O_RDWR | O_CLOEXEC);
  if (self->ep0 < 0) {
    gint e = errno;

    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
        "Cannot open %s: %s%s", path, g_strerror (e), e == ENOENT ?
        " (function= is the mount point of a FunctionFS function: mount -t "
        "functionfs NAME DIR)" : e == EBUSY ? " (another program has ep0 "
        "open: set endpoint= instead of function=)" : "");
    g_free (path);
    g_object_unref (self);
    return NULL;
  }
  if (!write_descriptors (self, dir, interface_name, path, error)) {
    g_free (path);
    g_object_unref (self);
    return NULL;
  }
  g_free (path);
  self->stop = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  self->changed = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->stop < 0 || self->changed < 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "eventfd: %s", g_strerror (errno));
    g_object_unref (self);
    return NULL;
  }
  self->thread = g_thread_new ("ffs-ep0", event_thread, self);
  GST_DEBUG ("%s: descriptors written, bulk %s endpoint %s", mount,
      dir == GST_FFS_DIRECTION_IN ? "IN" : "OUT", self->endpoint);
  return self;
}

const gchar *
gst_ffs_function_get_endpoint (GstFfsFunction * self)
{
  return self->endpoint;
}

guint
gst_ffs_function_get_max_packet (GstFfsFunction * self, guint speed_index)
{
  return max_packet[MIN (speed_index, 2)];
}

GstFfsFunctionState
gst_ffs_function_get_state (GstFfsFunction * self, guint * enables,
    gboolean * suspended)
{
  GstFfsFunctionState s;

  g_mutex_lock (&self->lock);
  s = self->state;
  if (enables)
    *enables = self->enables;
  if (suspended)
    *suspended = self->suspended;
  g_mutex_unlock (&self->lock);
  return s;
}

const gchar *
gst_ffs_function_describe_state (GstFfsFunctionState state)
{
  switch (state) {
    case GST_FFS_FUNCTION_UNBOUND:
      return "the gadget is not bound to a USB device controller (UNBIND, "
          "or its UDC never written)";
    case GST_FFS_FUNCTION_BOUND:
      return "the USB host has not enabled the interface (DISABLE: "
          "disconnected, deconfigured or reset, or not configured yet)";
    case GST_FFS_FUNCTION_ENABLED:
      return "the interface is enabled";
    case GST_FFS_FUNCTION_GONE:
    default:
      return "the function was removed from the gadget (ep0 no longer "
          "active)";
  }
}

/* @enabled: -1 waits for any state but @from */
static GstFfsFunctionWait
wait_for (GstFfsFunction * self, gint enabled, GstFfsFunctionState from,
    gint cancel_fd, gint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;) {
    struct pollfd p[2] = {
      {.fd = self->changed,.events = POLLIN},
      {.fd = cancel_fd,.events = POLLIN},
    };
    guint64 v;
    gint64 left;
    GstFfsFunctionState st;

    /* drained before the state is read: a change after the read makes
     * the poll return */
    if (read (self->changed, &v, sizeof (v)) < 0 && errno != EAGAIN)
      GST_WARNING ("eventfd read: %s", g_strerror (errno));
    st = gst_ffs_function_get_state (self, NULL, NULL);
    if (enabled < 0 ? st != from : (st == GST_FFS_FUNCTION_ENABLED) == enabled)
      return GST_FFS_FUNCTION_WAIT_DONE;
    left = (end - g_get_monotonic_time ()) / 1000;
    if (left <= 0)
      return GST_FFS_FUNCTION_WAIT_TIMEOUT;
    if (poll (p, cancel_fd >= 0 ? 2 : 1, (gint) left) < 0 && errno != EINTR)
      return GST_FFS_FUNCTION_WAIT_TIMEOUT;
    if (p[1].revents & POLLIN)
      return GST_FFS_FUNCTION_WAIT_CANCELLED;
  }
}

GstFfsFunctionWait
gst_ffs_function_wait (GstFfsFunction * self, gboolean enabled,
    gint cancel_fd, gint timeout_ms)
{
  return wait_for (self, enabled ? 1 : 0, 0, cancel_fd, timeout_ms);
}

GstFfsFunctionWait
gst_ffs_function_wait_change (GstFfsFunction * self,
    GstFfsFunctionState from, gint cancel_fd, gint timeout_ms)
{
  return wait_for (self, -1, from, cancel_fd, timeout_ms);
}

guint
gst_ffs_function_get_setups_stalled (GstFfsFunction * self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->setups_stalled;
  g_mutex_unlock (&self->lock);
  return n;
}

static void
gst_ffs_function_finalize (GObject * object)
{
  GstFfsFunction *self = GST_FFS_FUNCTION (object);
  guint64 one = 1;

  if (self->thread) {
    if (write (self->stop, &one, sizeof (one)) < 0)
      GST_WARNING ("eventfd write: %s", g_strerror (errno));
    g_thread_join (self->thread);
  }
  /* the endpoint files go with ep0 (the caller closed its own first) */
  if (self->ep0 >= 0)
    close (self->ep0);
  if (self->stop >= 0)
    close (self->stop);
  if (self->changed >= 0)
    close (self->changed);
  g_free (self->mount);
  g_free (self->endpoint);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (gst_ffs_function_parent_class)->finalize (object);
}

static void
gst_ffs_function_class_init (GstFfsFunctionClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_ffs_function_finalize;
  GST_DEBUG_CATEGORY_INIT (gst_ffs_function_debug, "ffsfunction", 0,
      "FunctionFS function (ep0)");
}

static void
gst_ffs_function_init (GstFfsFunction * self)
{
  self->ep0 = self->stop = self->changed = -1;
  self->state = GST_FFS_FUNCTION_UNBOUND;
  g_mutex_init (&self->lock);
}
