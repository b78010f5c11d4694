/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstffsendpoint.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "gstffsuapi.h"

GST_DEBUG_CATEGORY_STATIC (gst_ffs_endpoint_debug);
#define GST_CAT_DEFAULT gst_ffs_endpoint_debug

#define IS_IN(self) ((self)->dir == GST_FFS_DIRECTION_IN)

void
gst_ffs_endpoint_init (GstFfsEndpoint * self, GstElement * element,
    GstFfsDirection dir)
{
  static gsize cat = 0;

  if (g_once_init_enter (&cat)) {
    GST_DEBUG_CATEGORY_INIT (gst_ffs_endpoint_debug, "ffsendpoint", 0,
        "FunctionFS data endpoint");
    g_once_init_leave (&cat, 1);
  }
  memset (self, 0, sizeof (*self));
  self->element = element;
  self->dir = dir;
  self->fd = -1;
  self->cancel = -1;
}

void
gst_ffs_endpoint_clear (GstFfsEndpoint * self)
{
  g_clear_pointer (&self->path, g_free);
}

/* ---- the function of ours ---- */

static gboolean
own_function (GstFfsEndpoint * self, gchar ** function,
    const gchar * interface_name)
{
  GError *error = NULL;
  gchar *mount;

  GST_OBJECT_LOCK (self->element);
  mount = g_strdup (*function);
  GST_OBJECT_UNLOCK (self->element);
  if (mount && mount[0]) {
    self->fn = gst_ffs_function_new (mount, self->dir, interface_name, &error);
    if (self->fn == NULL) {
      GST_ELEMENT_ERROR (self->element, RESOURCE, OPEN_READ_WRITE,
          ("Cannot set up the FunctionFS function %s: %s", mount,
              error->message), ("function: the mount point of a FunctionFS "
              "instance whose ep0 no other program holds"));
      g_clear_error (&error);
      g_free (mount);
      return FALSE;
    }
  }
  g_free (mount);
  return TRUE;
}

GstStateChangeReturn
gst_ffs_endpoint_change_state (GstFfsEndpoint * self,
    GstStateChange transition, gchar ** function,
    const gchar * interface_name, GstElementClass * parent_class)
{
  GstStateChangeReturn ret;

  /* owned from READY on: the host can enumerate the function (the gadget
   * bound to its UDC) before the stream starts, and PAUSED-READY cycles
   * keep it enumerated */
  if (transition == GST_STATE_CHANGE_NULL_TO_READY
      && !own_function (self, function, interface_name))
    return GST_STATE_CHANGE_FAILURE;
  ret = parent_class->change_state (self->element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL
      || (transition == GST_STATE_CHANGE_NULL_TO_READY
          && ret == GST_STATE_CHANGE_FAILURE)) {
    /* the endpoint file is closed (stop): ep0 may go */
    g_clear_object (&self->fn);
  }
  return ret;
}

/* ---- the endpoint file ---- */

void
gst_ffs_endpoint_set_path (GstFfsEndpoint * self, const gchar * endpoint)
{
  g_free (self->path);
  /* function= wins over endpoint= */
  self->path = self->fn ? g_strdup (gst_ffs_function_get_endpoint (self->fn))
      : g_strdup (endpoint);
}

gboolean
gst_ffs_endpoint_check_path (GstFfsEndpoint * self)
{
  if (self->path && self->path[0])
    return TRUE;
  GST_ELEMENT_ERROR (self->element, RESOURCE, NOT_FOUND, ("No endpoint "
          "given"), ("set function to the mount point of a FunctionFS "
          "function (e.g. /dev/ffs-NAME), or endpoint to the %s endpoint "
          "file of one whose ep0 another program set up (e.g. "
          "/dev/ffs-NAME/%s)", IS_IN (self) ? "IN" : "OUT",
          IS_IN (self) ? "ep1" : "ep2"));
  return FALSE;
}

gboolean
gst_ffs_endpoint_open (GstFfsEndpoint * self)
{
  self->desc_checked = FALSE;
  self->fd = open (self->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (self->fd < 0) {
    gint e = errno;
    const gchar *why = e == ENODEV ? "the function's ep0 is not set up (no "
        "descriptors written, or closed)" : "open() failed";

    /* the code says what the element would have done with the file */
    if (IS_IN (self))
      GST_ELEMENT_ERROR (self->element, RESOURCE, OPEN_WRITE, ("Cannot open "
              "the FunctionFS endpoint %s: %s", self->path, g_strerror (e)),
          ("%s", why));
    else
      GST_ELEMENT_ERROR (self->element, RESOURCE, OPEN_READ, ("Cannot open "
              "the FunctionFS endpoint %s: %s", self->path, g_strerror (e)),
          ("%s", why));
    return FALSE;
  }
  self->cancel = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->cancel < 0) {
    GST_ELEMENT_ERROR (self->element, RESOURCE, FAILED, ("eventfd: %s",
            g_strerror (errno)), (NULL));
    gst_ffs_endpoint_close (self);
    return FALSE;
  }
  GST_DEBUG_OBJECT (self->element, "opened %s", self->path);
  return TRUE;
}

void
gst_ffs_endpoint_close (GstFfsEndpoint * self)
{
  if (self->cancel >= 0)
    close (self->cancel);
  self->cancel = -1;
  if (self->fd >= 0)
    close (self->fd);
  self->fd = -1;
}

void
gst_ffs_endpoint_unlock (GstFfsEndpoint * self)
{
  guint64 one = 1;

  if (self->cancel >= 0 && write (self->cancel, &one, sizeof (one)) < 0)
    GST_WARNING_OBJECT (self->element, "eventfd write: %s", g_strerror (errno));
}

void
gst_ffs_endpoint_unlock_stop (GstFfsEndpoint * self)
{
  guint64 v;

  /* non-blocking: EAGAIN when nothing was written */
  if (self->cancel >= 0 && read (self->cancel, &v, sizeof (v)) < 0
      && errno != EAGAIN)
    GST_WARNING_OBJECT (self->element, "eventfd read: %s", g_strerror (errno));
}

gboolean
gst_ffs_endpoint_check_desc (GstFfsEndpoint * self, guint * max_packet,
    gint * err)
{
  static const gchar *types[] = { "control", "isochronous", "bulk",
    "interrupt"
  };
  struct usb_endpoint_descriptor d;
  guint dir = IS_IN (self) ? USB_DIR_IN : USB_DIR_OUT;

  *err = 0;
  memset (&d, 0, sizeof (d));
  if (ioctl (self->fd, FUNCTIONFS_ENDPOINT_DESC, &d) != 0) {
    *err = errno;
    return FALSE;
  }
  if ((d.bmAttributes & USB_ENDPOINT_XFERTYPE_MASK) != USB_ENDPOINT_XFER_BULK
      || (d.bEndpointAddress & USB_ENDPOINT_DIR_MASK) != dir) {
    GST_ELEMENT_ERROR (self->element, RESOURCE, SETTINGS, ("%s is not a "
            "bulk %s endpoint: it is %s %s (address 0x%02x)", self->path,
            IS_IN (self) ? "IN" : "OUT",
            types[d.bmAttributes & USB_ENDPOINT_XFERTYPE_MASK],
            (d.bEndpointAddress & USB_DIR_IN) ? "IN" : "OUT",
            d.bEndpointAddress), ("ffssrc reads a bulk OUT endpoint; "
            "ffssink writes a bulk IN one"));
    return FALSE;
  }
  *max_packet = le16toh (d.wMaxPacketSize) & 0x7ff;
  if (*max_packet == 0)
    *max_packet = 512;
  self->desc_checked = TRUE;
  return TRUE;
}

/* ---- the DMABUF ioctls ---- */

gboolean
gst_ffs_endpoint_unbound (GstFfsEndpoint * self)
{
  GstFfsFunctionState st;

  /* f_fs's DETACH and TRANSFER dereference the gadget, NULL while
   * unbound, and oops the kernel. With endpoint= there is no knowing. */
  if (self->fn == NULL)
    return FALSE;
  st = gst_ffs_function_get_state (self->fn, NULL, NULL);
  return st == GST_FFS_FUNCTION_UNBOUND || st == GST_FFS_FUNCTION_GONE;
}

gboolean
gst_ffs_endpoint_attach (GstFfsEndpoint * self, gint dmabuf, GError ** error)
{
  if (ioctl (self->fd, FUNCTIONFS_DMABUF_ATTACH, &dmabuf) != 0) {
    gint e = errno;

    /* f_fs refuses a UDC without scatter-gather with EPERM, and a file
     * that is no data endpoint: unless its descriptor was checked, that
     * too may be why. No write() path: it could not be unlocked. */
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "FUNCTIONFS_DMABUF_ATTACH: %s%s%s", g_strerror (e), e != EPERM ? "" :
        " (the USB device controller has no scatter-gather support",
        e != EPERM ? "" : self->desc_checked ? ")" : ", or the endpoint is "
        "not a data endpoint)");
    return FALSE;
  }
  return TRUE;
}

void
gst_ffs_endpoint_detach (GstFfsEndpoint * self, gint dmabuf)
{
  if (gst_ffs_endpoint_unbound (self)) {
    GST_DEBUG_OBJECT (self->element, "no DETACH of fd %d while unbound: the "
        "close of the endpoint file detaches it", dmabuf);
    return;
  }
  if (ioctl (self->fd, FUNCTIONFS_DMABUF_DETACH, &dmabuf) != 0)
    GST_DEBUG_OBJECT (self->element, "DETACH of fd %d: %s", dmabuf,
        g_strerror (errno));
}

gint
gst_ffs_endpoint_transfer (GstFfsEndpoint * self, gint dmabuf, gsize length)
{
  struct usb_ffs_dmabuf_transfer_req req = {.fd = dmabuf,.flags = 0,
    .length = length
  };

  if (gst_ffs_endpoint_unbound (self))
    return ENODEV;
  while (ioctl (self->fd, FUNCTIONFS_DMABUF_TRANSFER, &req) != 0)
    if (errno != EINTR)
      return errno;
  return 0;
}

void
gst_ffs_endpoint_wait_cancelled (GstFfsEndpoint * self, gint dmabuf)
{
  struct pollfd p = {.fd = dmabuf,.events = POLLOUT };

  if (poll (&p, 1, 1000) != 1)
    GST_WARNING_OBJECT (self->element,
        "a cancelled transfer did not end in 1 s");
}
