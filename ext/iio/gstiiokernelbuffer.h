/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel's IIO buffer as seen by the DMABUF path: owns the chardev fd
 * and the per-buffer fd and makes every IIO DMABUF ioctl and the sysfs
 * enable write. Knows nothing about GStreamer elements or pools.
 * Rules (KERNEL-NOTES): attach the first DMABUF before enabling; never
 * read()/write() this buffer once DMABUFs are attached. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_IIO_KERNEL_BUFFER (gst_iio_kernel_buffer_get_type ())
G_DECLARE_FINAL_TYPE (GstIioKernelBuffer, gst_iio_kernel_buffer, GST,
    IIO_KERNEL_BUFFER, GstObject)

/* Gets buffer @index's fd (IIO_BUFFER_GET_FD_IOCTL) from @claim_fd, the
 * element's open /dev/iio:deviceN (gst_iio_device_claim: opening it again
 * would fail with EBUSY), duplicated so that the chardev stays open as
 * long as the buffer fd; with @claim_fd -1, opens @dev_path itself.
 * @sysfs_path is the device's sysfs directory. A kernel without the
 * ioctl gives GST_IIO_ERROR_UNSUPPORTED. */
GstIioKernelBuffer *gst_iio_kernel_buffer_open (gint claim_fd,
    const gchar * dev_path, const gchar * sysfs_path, guint index,
    GError ** error);

/* IIO_BUFFER_DMABUF_ATTACH_IOCTL. ENOTTY (no DMABUF API), EPERM (not a
 * DMA-type buffer), ENODEV and EBUSY (buffer enabled in fileio mode) are
 * GST_IIO_ERROR_UNSUPPORTED with the reason in the message. */
gboolean gst_iio_kernel_buffer_attach (GstIioKernelBuffer * self,
    gint dmabuf_fd, GError ** error);
gboolean gst_iio_kernel_buffer_detach (GstIioKernelBuffer * self,
    gint dmabuf_fd, GError ** error);

/* IIO_BUFFER_DMABUF_ENQUEUE_IOCTL of @bytes_used bytes of @dmabuf_fd. */
gboolean gst_iio_kernel_buffer_enqueue (GstIioKernelBuffer * self,
    gint dmabuf_fd, gsize bytes_used, gboolean cyclic, GError ** error);

/* Writes bufferN/enable. Disabling aborts transfers in flight (their
 * fences signal with -EINTR). */
gboolean gst_iio_kernel_buffer_set_enabled (GstIioKernelBuffer * self,
    gboolean enabled, GError ** error);
gboolean gst_iio_kernel_buffer_is_enabled (GstIioKernelBuffer * self);

G_END_DECLS
