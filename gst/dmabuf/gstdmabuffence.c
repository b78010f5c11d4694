/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstdmabuffence.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/dma-buf.h>
#include <linux/sync_file.h>

GST_DEBUG_CATEGORY_STATIC (gst_dmabuf_fence_debug);
#define GST_CAT_DEFAULT gst_dmabuf_fence_debug

static void
ensure_debug_category (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_dmabuf_fence_debug, "dmabuffence", 0,
        "DMABUF fences and CPU access");
    g_once_init_leave (&done, 1);
  }
}

static gint
ioctl_retry (gint fd, gulong request, gpointer arg)
{
  gint ret;

  do
    ret = ioctl (fd, request, arg);
  while (ret < 0 && (errno == EINTR || errno == EAGAIN));

  return ret;
}

gint
gst_dmabuf_fence_export (gint dmabuf_fd, gboolean for_write, GError ** error)
{
  struct dma_buf_export_sync_file req = {
    .flags = for_write ? DMA_BUF_SYNC_WRITE : DMA_BUF_SYNC_READ,
    .fd = -1,
  };

  ensure_debug_category ();
  if (ioctl_retry (dmabuf_fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &req) < 0) {
    gint err = errno;

    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "DMA_BUF_IOCTL_EXPORT_SYNC_FILE on DMABUF fd %d failed: %s%s",
        dmabuf_fd, g_strerror (err),
        err == ENOTTY ? " (the kernel needs Linux 6.0 or newer)" : "");
    return -1;
  }
  GST_LOG ("DMABUF fd %d: sync_file fd %d", dmabuf_fd, req.fd);

  return req.fd;
}

/* Milliseconds left until @deadline (monotonic us), for poll(). */
static gint
remaining_ms (gint64 deadline)
{
  gint64 left = deadline - g_get_monotonic_time ();

  if (left <= 0)
    return 0;
  return (gint) MIN ((left + 999) / 1000, G_MAXINT);
}

static GstDmabufFenceWait
poll_result (struct pollfd *pfd, guint n, GError ** error)
{
  /* A pending cancel wins: the caller asked to stop waiting. */
  if (n > 1 && (pfd[1].revents & (POLLIN | POLLERR | POLLHUP)))
    return GST_DMABUF_FENCE_CANCELLED;
  if (pfd[0].revents & POLLNVAL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "poll on fence fd %d: not an open file", pfd[0].fd);
    return GST_DMABUF_FENCE_FAILED;
  }
  /* A fence signals once, with or without an error: POLLIN either way. */
  return GST_DMABUF_FENCE_SIGNALED;
}

GstDmabufFenceWait
gst_dmabuf_fence_wait (gint fence_fd, gint cancel_fd, gint timeout_ms,
    GError ** error)
{
  struct pollfd pfd[2] = {
    {.fd = fence_fd,.events = POLLIN},
    {.fd = cancel_fd,.events = POLLIN},
  };
  guint n = cancel_fd >= 0 ? 2 : 1;
  gint64 deadline = timeout_ms < 0 ? -1 :
      g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gint ret;

  ensure_debug_category ();
  for (;;) {
    ret = poll (pfd, n, deadline < 0 ? -1 : remaining_ms (deadline));
    if (ret > 0)
      return poll_result (pfd, n, error);
    if (ret == 0)
      return GST_DMABUF_FENCE_TIMEOUT;
    if (errno != EINTR) {
      gint err = errno;

      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
          "poll on fence fd %d failed: %s", fence_fd, g_strerror (err));
      return GST_DMABUF_FENCE_FAILED;
    }
  }
}

gint
gst_dmabuf_fence_get_status (gint sync_file_fd)
{
  struct sync_file_info info;

  memset (&info, 0, sizeof (info));
  if (ioctl_retry (sync_file_fd, SYNC_IOC_FILE_INFO, &info) < 0)
    return -errno;

  return info.status;
}

/* A sync_file of one DMABUF holds one fence per writer; a few is plenty. */
#define MAX_INFO_FENCES 4

gint
gst_dmabuf_fence_get_info (gint sync_file_fd, gint64 * signal_ns)
{
  struct sync_fence_info fences[MAX_INFO_FENCES];
  struct sync_file_info info;
  guint64 latest = 0;
  guint i;

  *signal_ns = -1;
  memset (&info, 0, sizeof (info));
  memset (fences, 0, sizeof (fences));
  info.num_fences = MAX_INFO_FENCES;
  info.sync_fence_info = (guint64) (guintptr) fences;
  if (ioctl_retry (sync_file_fd, SYNC_IOC_FILE_INFO, &info) < 0)
    return -errno;
  if (info.status == 0)
    return 0;

  for (i = 0; i < MIN (info.num_fences, MAX_INFO_FENCES); i++)
    latest = MAX (latest, fences[i].timestamp_ns);
  if (latest > 0 && latest <= (guint64) G_MAXINT64)
    *signal_ns = (gint64) latest;

  return info.status;
}

gboolean
gst_dmabuf_fence_get_signal_time (gint sync_file_fd, gint64 * time_ns)
{
  gint64 t;

  if (gst_dmabuf_fence_get_info (sync_file_fd, &t) == 0 || t < 0)
    return FALSE;
  *time_ns = t;

  return TRUE;
}

static gboolean
cpu_sync (gint dmabuf_fd, guint64 flags, GError ** error)
{
  struct dma_buf_sync sync = {.flags = flags };

  if (ioctl_retry (dmabuf_fd, DMA_BUF_IOCTL_SYNC, &sync) < 0) {
    gint err = errno;

    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "DMA_BUF_IOCTL_SYNC (%s) on DMABUF fd %d failed: %s",
        (flags & DMA_BUF_SYNC_END) ? "end" : "start", dmabuf_fd,
        g_strerror (err));
    return FALSE;
  }

  return TRUE;
}

static guint64
sync_direction (gboolean read, gboolean write)
{
  return (read ? DMA_BUF_SYNC_READ : 0) | (write ? DMA_BUF_SYNC_WRITE : 0);
}

gboolean
gst_dmabuf_cpu_access_begin (gint dmabuf_fd, gboolean read, gboolean write,
    GError ** error)
{
  g_return_val_if_fail (read || write, FALSE);

  return cpu_sync (dmabuf_fd, DMA_BUF_SYNC_START | sync_direction (read,
          write), error);
}

gboolean
gst_dmabuf_cpu_access_end (gint dmabuf_fd, gboolean read, gboolean write,
    GError ** error)
{
  g_return_val_if_fail (read || write, FALSE);

  return cpu_sync (dmabuf_fd, DMA_BUF_SYNC_END | sync_direction (read, write),
      error);
}
