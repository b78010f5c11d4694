/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Waiting for the dma fences a device attaches to a DMABUF, with a cancel
 * fd and a timeout, and CPU access brackets. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum
{
  GST_DMABUF_FENCE_SIGNALED,    /* completed; check the status for errors */
  GST_DMABUF_FENCE_TIMEOUT,
  GST_DMABUF_FENCE_CANCELLED,   /* the cancel fd became readable */
  GST_DMABUF_FENCE_FAILED,      /* poll() itself failed, @error set */
} GstDmabufFenceWait;

/* Exports the fences currently on @dmabuf_fd as a sync_file
 * (DMA_BUF_IOCTL_EXPORT_SYNC_FILE). @for_write: the caller wants to write
 * the buffer next (waits for readers and writers, as an output device
 * reading the buffer attaches a read fence); FALSE waits for writers only
 * (a capture device). Export right after queueing the buffer: only a
 * sync_file taken before the fence signals carries its error status.
 * Returns the sync_file fd or -1 with @error set. */
gint gst_dmabuf_fence_export (gint dmabuf_fd, gboolean for_write,
    GError ** error);

/* Waits until @fence_fd (a sync_file, or a DMABUF fd) signals, @cancel_fd
 * (an eventfd, -1 for none) becomes readable, or @timeout_ms passes
 * (-1 waits forever). EINTR is retried with the remaining time. */
GstDmabufFenceWait gst_dmabuf_fence_wait (gint fence_fd, gint cancel_fd,
    gint timeout_ms, GError ** error);

/* 1: signalled without error, 0: still pending, < 0: signalled with that
 * error (-errno, e.g. -EINTR for an aborted transfer). */
gint gst_dmabuf_fence_get_status (gint sync_file_fd);

/* When @sync_file_fd signalled: the latest signal time of its fences, in
 * CLOCK_MONOTONIC nanoseconds (the kernel's ktime_get(), the clock of
 * g_get_monotonic_time()). FALSE while it is pending. A sync_file exported
 * after its fence had signalled holds the kernel's stub fence, whose time
 * is when the stub was made: callers compare with what they know. */
gboolean gst_dmabuf_fence_get_signal_time (gint sync_file_fd,
    gint64 * time_ns);

/* gst_dmabuf_fence_get_status() and, once signalled, the signal time
 * (-1 when unknown) in one SYNC_IOC_FILE_INFO: one ioctl per block. */
gint gst_dmabuf_fence_get_info (gint sync_file_fd, gint64 * signal_ns);

/* DMA_BUF_IOCTL_SYNC brackets around CPU access to a DMABUF. */
gboolean gst_dmabuf_cpu_access_begin (gint dmabuf_fd, gboolean read,
    gboolean write, GError ** error);
gboolean gst_dmabuf_cpu_access_end (gint dmabuf_fd, gboolean read,
    gboolean write, GError ** error);

G_END_DECLS
