/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiioxflow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_xflow_debug);
#define GST_CAT_DEFAULT gst_iio_xflow_debug

#define REG_ACCESS_ATTR "direct_reg_access"
/* Where libiio's local backend finds debug attributes, too */
#define DEBUGFS_IIO "/sys/kernel/debug/iio"
#define SELECT_REG "0x80000088"

struct _GstIioXflow
{
  GstIioDevice *device;
  struct iio_device *dev;       /* owned by the device's context */
  guint32 bit;
  gboolean was_set;             /* the last read found the bit */
  gboolean failed;              /* a read failed: off for the stream */
  /* Local contexts: the debugfs file, held open. libiio opens, writes,
   * closes, opens, reads and closes it for every read (about 10 syscalls
   * with its stats); with the file open a read is a pwrite selecting the
   * register and a pread (a read at offset 0 reads the register anew),
   * the same two steps, as racy against another user selecting another
   * register in between as libiio's. -1 on remote contexts. */
  gint fd;
};

static void
init_debug (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_iio_xflow_debug, "iioxflow", 0,
        "IIO AXI xflow status register");
    g_once_init_leave (&done, 1);
  }
}

/* libiio returns a negative errno */
static const gchar *
error_text (int ret)
{
  return g_strerror (ret < 0 ? -ret : ret);
}

/* The held-open debugfs file: select, then read "0x%X\n". A negative
 * errno on failure, like libiio. */
static int
fd_read (GstIioXflow * self, uint32_t * value)
{
  gchar buf[32];
  gchar *end;
  ssize_t n;

  if (pwrite (self->fd, SELECT_REG, strlen (SELECT_REG), 0) < 0)
    return -errno;
  n = pread (self->fd, buf, sizeof (buf) - 1, 0);
  if (n < 0)
    return -errno;
  buf[n] = '\0';
  *value = (uint32_t) strtoul (buf, &end, 0);
  return end == buf ? -EIO : 0;
}

static int
fd_write (GstIioXflow * self, uint32_t value)
{
  gchar buf[32];
  gint len = g_snprintf (buf, sizeof (buf), SELECT_REG " 0x%x", value);

  return pwrite (self->fd, buf, len, 0) < 0 ? -errno : 0;
}

static int
reg_read (GstIioXflow * self, uint32_t * value)
{
  if (self->fd >= 0)
    return fd_read (self, value);
  return iio_device_reg_read (self->dev, GST_IIO_XFLOW_REG, value);
}

static int
reg_write (GstIioXflow * self, uint32_t value)
{
  if (self->fd >= 0)
    return fd_write (self, value);
  return iio_device_reg_write (self->dev, GST_IIO_XFLOW_REG, value);
}

GstIioXflow *
gst_iio_xflow_probe (GstIioDevice * device)
{
  struct iio_device *dev = gst_iio_device_get_iio (device);
  const gchar *name = gst_iio_device_get_display_name (device);
  GstIioXflow *self;
  uint32_t value = 0;
  int ret;

  init_debug ();
  if (!iio_device_find_debug_attr (dev, REG_ACCESS_ATTR)) {
    GST_INFO ("%s: no debug attribute " REG_ACCESS_ATTR " (no AXI status "
        "register, or debugfs not mounted where libiio runs)", name);
    return NULL;
  }
  ret = iio_device_reg_read (dev, GST_IIO_XFLOW_REG, &value);
  if (ret < 0) {
    GST_INFO ("%s: reading register 0x%08x failed (%s): no AXI status "
        "register", name, GST_IIO_XFLOW_REG, error_text (ret));
    return NULL;
  }

  self = g_new0 (GstIioXflow, 1);
  self->device = gst_object_ref (device);
  self->dev = dev;
  self->fd = -1;
  if (gst_iio_device_is_local (device)) {
    gchar *base = g_path_get_basename (gst_iio_device_get_sysfs_path (device));
    gchar *path = g_build_filename (DEBUGFS_IIO, base, REG_ACCESS_ATTR, NULL);

    self->fd = open (path, O_RDWR | O_CLOEXEC);
    if (self->fd < 0)
      GST_INFO ("%s: %s: %s: reading through libiio", name, path,
          g_strerror (errno));
    g_free (path);
    g_free (base);
  }
  self->bit = gst_iio_device_get_direction (device) ==
      GST_IIO_DIRECTION_INPUT ? GST_IIO_XFLOW_ADC_OVERFLOW :
      GST_IIO_XFLOW_DAC_UNDERFLOW;
  if ((value & self->bit) && reg_write (self, self->bit) < 0)
    GST_WARNING ("%s: clearing the stale bit failed", name);
  GST_INFO ("%s: AXI status register 0x%08x reads 0x%08x: watching bit %u%s"
      " (%s)", name, GST_IIO_XFLOW_REG, value, g_bit_nth_lsf (self->bit, -1),
      value & self->bit ? ", stale, cleared" : "", self->fd >= 0 ?
      "debugfs file held open" : "through libiio");

  return self;
}

GstIioXflowState
gst_iio_xflow_poll (GstIioXflow * self)
{
  gboolean was_set = self->was_set;
  uint32_t value = 0;
  int ret;

  if (self->failed)
    return GST_IIO_XFLOW_CLEAR;
  ret = reg_read (self, &value);
  if (ret < 0) {
    GST_WARNING ("%s: reading register 0x%08x failed (%s): hardware loss "
        "counts are off for this stream",
        gst_iio_device_get_display_name (self->device), GST_IIO_XFLOW_REG,
        error_text (ret));
    self->failed = TRUE;
    return GST_IIO_XFLOW_CLEAR;
  }
  self->was_set = (value & self->bit) != 0;
  if (!self->was_set)
    return GST_IIO_XFLOW_CLEAR;

  /* Write 1 to clear: only our bit, the other direction's is not ours. */
  ret = reg_write (self, self->bit);
  if (ret < 0)
    GST_WARNING ("%s: clearing bit %u of register 0x%08x failed (%s)",
        gst_iio_device_get_display_name (self->device),
        g_bit_nth_lsf (self->bit, -1), GST_IIO_XFLOW_REG, error_text (ret));
  GST_LOG ("%s: register 0x%08x = 0x%08x",
      gst_iio_device_get_display_name (self->device), GST_IIO_XFLOW_REG, value);

  return was_set ? GST_IIO_XFLOW_SET : GST_IIO_XFLOW_BURST;
}

guint32
gst_iio_xflow_get_bit (GstIioXflow * self)
{
  return self->bit;
}

void
gst_iio_xflow_free (GstIioXflow * self)
{
  if (!self)
    return;
  if (self->fd >= 0)
    close (self->fd);
  gst_object_unref (self->device);
  g_free (self);
}
