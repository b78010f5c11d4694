/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The copy path: libiio's iio_buffer (read()/write() on a local chardev,
 * or iiod over ip:/usb:) with one CPU copy between it and GstBuffers.
 * Works with every libiio backend that streams and every kernel buffer
 * type (DMA fileio, kfifo). Both directions. */
#pragma once

#include "gstiioqueue.h"

G_BEGIN_DECLS

#define GST_TYPE_IIO_COPY_QUEUE (gst_iio_copy_queue_get_type ())
G_DECLARE_FINAL_TYPE (GstIioCopyQueue, gst_iio_copy_queue, GST,
    IIO_COPY_QUEUE, GstIioQueue)

/* No I/O here: start() configures the context, the libiio buffer is
 * created at the first capture/render (so that the kernel starts
 * capturing only when the element wants data). Fails on an xml: context,
 * which cannot stream. Stats io-mode "copy"; "bytes-copied" counts the
 * memcpy between libiio's buffer and GstBuffers; "overruns" and
 * "underruns" stay 0 (libiio does not report them). */
GstIioQueue *gst_iio_copy_queue_new (GstIioDevice * device,
    const GstIioQueueConfig * config, GError ** error);

G_END_DECLS
