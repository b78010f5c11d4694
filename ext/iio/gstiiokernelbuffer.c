/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiokernelbuffer.h"
#include "gstiioerror.h"
#include "gstiiouapi.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_kernel_buffer_debug);
#define GST_CAT_DEFAULT gst_iio_kernel_buffer_debug

struct _GstIioKernelBuffer
{
  GstObject parent;

  /* Immutable after open(). The chardev stays open as long as the buffer
   * fd: closing only the buffer fd of a removed driver crashes 6.12. */
  gint dev_fd;
  gint buf_fd;
  guint index;
  gchar *dev_path;
  gchar *enable_path;
  /* Whether we enabled it, so finalize can leave the device disabled. */
  gboolean enabled;
};

G_DEFINE_TYPE_WITH_CODE (GstIioKernelBuffer, gst_iio_kernel_buffer,
    GST_TYPE_OBJECT,
    GST_DEBUG_CATEGORY_INIT (gst_iio_kernel_buffer_debug, "iiokernelbuffer", 0,
        "IIO kernel buffer (DMABUF ioctls)"));

static void
gst_iio_kernel_buffer_finalize (GObject * object)
{
  GstIioKernelBuffer *self = GST_IIO_KERNEL_BUFFER (object);

  if (self->enabled)
    gst_iio_kernel_buffer_set_enabled (self, FALSE, NULL);
  /* Closing the buffer fd detaches every DMABUF still attached. */
  if (self->buf_fd >= 0)
    close (self->buf_fd);
  if (self->dev_fd >= 0)
    close (self->dev_fd);
  g_free (self->dev_path);
  g_free (self->enable_path);

  G_OBJECT_CLASS (gst_iio_kernel_buffer_parent_class)->finalize (object);
}

static void
gst_iio_kernel_buffer_class_init (GstIioKernelBufferClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_iio_kernel_buffer_finalize;
}

static void
gst_iio_kernel_buffer_init (GstIioKernelBuffer * self)
{
  self->dev_fd = -1;
  self->buf_fd = -1;
}

static gint
ioctl_retry (gint fd, gulong request, gpointer arg)
{
  gint ret;

  do
    ret = ioctl (fd, request, arg);
  while (ret < 0 && errno == EINTR);

  return ret;
}

/* bufferN/enable (Linux 5.11+), else the legacy buffer/enable of buffer 0. */
static gchar *
find_enable_path (const gchar * sysfs_path, guint index)
{
  gchar *dir = g_strdup_printf ("buffer%u", index);
  gchar *path = g_build_filename (sysfs_path, dir, "enable", NULL);

  g_free (dir);
  if (index == 0 && !g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_free (path);
    path = g_build_filename (sysfs_path, "buffer", "enable", NULL);
  }

  return path;
}

static gboolean
open_chardev (GstIioKernelBuffer * self, gint claim_fd, GError ** error)
{
  gint err;

  if (claim_fd >= 0)
    self->dev_fd = fcntl (claim_fd, F_DUPFD_CLOEXEC, 0);
  else
    self->dev_fd = open (self->dev_path, O_RDWR | O_CLOEXEC);
  if (self->dev_fd >= 0)
    return TRUE;

  err = errno;
  g_set_error (error, GST_IIO_ERROR,
      err == ENOENT || err == ENODEV ? GST_IIO_ERROR_DEVICE_LOST :
      GST_IIO_ERROR_FAILED, "Cannot open %s: %s%s", self->dev_path,
      g_strerror (err), err == EBUSY ?
      " (another program or element is using the device)" : "");
  return FALSE;
}

static gboolean
get_buffer_fd (GstIioKernelBuffer * self, GError ** error)
{
  gint arg = self->index;
  gint err;

  if (ioctl_retry (self->dev_fd, IIO_BUFFER_GET_FD_IOCTL, &arg) < 0) {
    err = errno;
    if (err == EINVAL || err == ENOTTY || err == ENODEV)
      g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
          "%s has no buffer %u with its own fd (IIO_BUFFER_GET_FD_IOCTL: %s; "
          "Linux 5.11 or newer and a buffered device are needed)",
          self->dev_path, self->index, g_strerror (err));
    else
      g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
          "IIO_BUFFER_GET_FD_IOCTL for buffer %u of %s failed: %s%s",
          self->index, self->dev_path, g_strerror (err), err == EBUSY ?
          " (the buffer is already in use, perhaps by a buffer still held "
          "from a previous run)" : "");
    return FALSE;
  }
  self->buf_fd = arg;
  /* Never block in ENQUEUE: a DMABUF still in flight is a bug on our
   * side, better an EBUSY than a 5 s stall in the kernel. */
  fcntl (self->buf_fd, F_SETFL, fcntl (self->buf_fd, F_GETFL) | O_NONBLOCK);

  return TRUE;
}

GstIioKernelBuffer *
gst_iio_kernel_buffer_open (gint claim_fd, const gchar * dev_path,
    const gchar * sysfs_path, guint index, GError ** error)
{
  GstIioKernelBuffer *self;

  g_return_val_if_fail (dev_path != NULL && sysfs_path != NULL, NULL);

  self = g_object_new (GST_TYPE_IIO_KERNEL_BUFFER, NULL);
  gst_object_ref_sink (self);
  self->index = index;
  self->dev_path = g_strdup (dev_path);
  self->enable_path = find_enable_path (sysfs_path, index);

  if (!open_chardev (self, claim_fd, error) || !get_buffer_fd (self, error)) {
    gst_object_unref (self);
    return NULL;
  }
  GST_DEBUG_OBJECT (self, "%s buffer %u: fd %d, enable %s", dev_path, index,
      self->buf_fd, self->enable_path);

  return self;
}

/* The reason a DMABUF cannot be attached, for io-mode=auto and for the
 * io-mode=dmabuf error text. */
static const gchar *
attach_unsupported_reason (gint err)
{
  switch (err) {
    case ENOTTY:
    case EINVAL:
      return "the kernel has no IIO DMABUF API (Linux 6.11 or newer needed)";
    case EPERM:
      return "the device's buffer is not DMA-type (a kfifo buffer cannot "
          "take DMABUFs)";
    case ENODEV:
      return "the device's DMA controller cannot map this DMABUF";
    case EBUSY:
      return "the buffer is in read()/write() mode: enabled by another "
          "program, or left so by a read()/write() session whose enable "
          "failed (docs/kernel-bugs.md, 12)";
    default:
      return NULL;
  }
}

gboolean
gst_iio_kernel_buffer_attach (GstIioKernelBuffer * self, gint dmabuf_fd,
    GError ** error)
{
  const gchar *reason;
  gint arg = dmabuf_fd;
  gint err;

  if (ioctl_retry (self->buf_fd, IIO_BUFFER_DMABUF_ATTACH_IOCTL, &arg) == 0)
    return TRUE;

  err = errno;
  reason = attach_unsupported_reason (err);
  if (reason)
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
        "Cannot attach DMABUFs to %s: %s (IIO_BUFFER_DMABUF_ATTACH_IOCTL: %s)",
        self->dev_path, reason, g_strerror (err));
  else
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "IIO_BUFFER_DMABUF_ATTACH_IOCTL on %s failed: %s", self->dev_path,
        g_strerror (err));
  return FALSE;
}

static void
set_ioctl_error (GstIioKernelBuffer * self, const gchar * call, gint err,
    GError ** error)
{
  g_set_error (error, GST_IIO_ERROR,
      err == ENODEV ? GST_IIO_ERROR_DEVICE_LOST :
      GST_IIO_ERROR_FAILED, "%s on %s failed: %s", call, self->dev_path,
      g_strerror (err));
}

gboolean
gst_iio_kernel_buffer_detach (GstIioKernelBuffer * self, gint dmabuf_fd,
    GError ** error)
{
  gint arg = dmabuf_fd;

  if (ioctl_retry (self->buf_fd, IIO_BUFFER_DMABUF_DETACH_IOCTL, &arg) == 0)
    return TRUE;

  set_ioctl_error (self, "IIO_BUFFER_DMABUF_DETACH_IOCTL", errno, error);
  return FALSE;
}

gboolean
gst_iio_kernel_buffer_enqueue (GstIioKernelBuffer * self, gint dmabuf_fd,
    gsize bytes_used, gboolean cyclic, GError ** error)
{
  struct iio_dmabuf req = {
    .fd = (__u32) dmabuf_fd,
    .flags = cyclic ? IIO_BUFFER_DMABUF_CYCLIC : 0,
    .bytes_used = bytes_used,
  };

  if (ioctl_retry (self->buf_fd, IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &req) == 0)
    return TRUE;

  set_ioctl_error (self, "IIO_BUFFER_DMABUF_ENQUEUE_IOCTL", errno, error);
  return FALSE;
}

static gboolean
write_enable (GstIioKernelBuffer * self, const gchar * value, GError ** error)
{
  gint fd, err;
  gssize n = -1;

  fd = open (self->enable_path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    do
      n = write (fd, value, strlen (value));
    while (n < 0 && errno == EINTR);
  }
  err = errno;
  if (fd >= 0)
    close (fd);
  if (n >= 0)
    return TRUE;

  g_set_error (error, GST_IIO_ERROR,
      err == ENOENT || err == ENODEV ? GST_IIO_ERROR_DEVICE_LOST :
      GST_IIO_ERROR_FAILED, "Writing %s to %s failed: %s", value,
      self->enable_path, g_strerror (err));
  return FALSE;
}

gboolean
gst_iio_kernel_buffer_set_enabled (GstIioKernelBuffer * self,
    gboolean enabled, GError ** error)
{
  if (!write_enable (self, enabled ? "1" : "0", error))
    return FALSE;

  self->enabled = enabled;
  GST_DEBUG_OBJECT (self, "%s buffer %u %s", self->dev_path, self->index,
      enabled ? "enabled" : "disabled");

  return TRUE;
}

gboolean
gst_iio_kernel_buffer_is_enabled (GstIioKernelBuffer * self)
{
  gchar *contents = NULL;
  gboolean enabled = FALSE;

  if (g_file_get_contents (self->enable_path, &contents, NULL, NULL))
    enabled = g_ascii_strtoll (contents, NULL, 10) != 0;
  g_free (contents);

  return enabled;
}
