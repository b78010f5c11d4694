/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The zero-copy capture path: blocks are DMABUFs attached to the kernel's
 * IIO buffer; each filled block travels downstream as GstDmaBufAllocator
 * memory and goes back to the kernel when downstream releases it. */
#pragma once

#include "gstiioqueue.h"

G_BEGIN_DECLS

#define GST_TYPE_IIO_DMABUF_INPUT (gst_iio_dmabuf_input_get_type ())
G_DECLARE_FINAL_TYPE (GstIioDmabufInput, gst_iio_dmabuf_input, GST,
    IIO_DMABUF_INPUT, GstIioQueue)

/* No kernel calls: GST_IIO_ERROR_UNSUPPORTED for a context that is
 * not local or a device without a chardev. start() allocates, attaches and
 * queues the blocks (UNSUPPORTED when the kernel, the buffer or the
 * allocator cannot); the buffer is enabled by the first capture(), so the
 * first sample is taken when the element starts to stream.
 *
 * Counters: buffers, bytes; overruns = number of blocks pushed with
 * GST_BUFFER_FLAG_DISCONT, i.e. how many times the device found no block
 * to write into and lost samples (the number of samples lost is not known
 * to the DMABUF API). */
GstIioQueue *gst_iio_dmabuf_input_new (GstIioDevice * device,
    const GstIioQueueConfig * config, GError ** error);

G_END_DECLS
