/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DMABUF path of an output (DAC) IIO buffer. Three ways in:
 * - a buffer of our own blocks (attached at start, offered upstream by
 *   propose_allocation through gstiiosinkallocator.h) is enqueued as it is;
 * - a buffer of one foreign DMABUF memory (offset 0) is imported: attached
 *   once per DMABUF and sink, enqueued with its size, and kept referenced
 *   until its fence signals ("dmabuf-imports");
 * - anything else is copied into our blocks ("bytes-copied"), which are
 *   filled whole and enqueued when full, or partly filled at drain.
 * At most `blocks` transfers are in flight; a DMABUF is never queued twice
 * at once; a buffer stays referenced until its fence signals. Buffers
 * need not be block-sized, only whole samples.
 * drain(): the partial block goes out (bytes_used < block), then every
 * fence is waited for; FALSE without an error when set_flushing
 * interrupted it. A flush (set_flushing TRUE) drops the partial block;
 * transfers already queued still play (only disabling the buffer, at
 * stop, recalls them). stop() without a drain logs what it drops.
 * cyclic: the first buffer is queued with IIO_BUFFER_DMABUF_CYCLIC and
 * repeats until stop; later buffers are dropped (logged once); drain()
 * returns at once.
 * Stats: "buffers" counts the upstream buffers taken, "bytes" the bytes
 * handed to the device, "dmabuf-imports" the buffers of foreign DMABUFs
 * (our pool's buffers are zero-copy too but not imports),
 * "bytes-copied" the bytes copied into our blocks, "underruns" the times
 * the device had played everything queued when the next buffer came (an
 * estimate from the fences; a driver may count lost samples itself, as
 * sim-dac's underruns attribute does). */
#pragma once

#include "gstiioqueue.h"

G_BEGIN_DECLS

#define GST_TYPE_IIO_DMABUF_OUTPUT (gst_iio_dmabuf_output_get_type ())
G_DECLARE_FINAL_TYPE (GstIioDmabufOutput, gst_iio_dmabuf_output, GST,
    IIO_DMABUF_OUTPUT, GstIioQueue)

/* NULL with GST_IIO_ERROR_UNSUPPORTED for a remote context or an
 * input device. start() allocates and attaches the blocks, then enables
 * the buffer; it too may fail with UNSUPPORTED (no DMABUF API, not a
 * DMA-type buffer, no DMA heap). */
GstIioQueue *gst_iio_dmabuf_output_new (GstIioDevice * device,
    const GstIioQueueConfig * config, GError ** error);

/* For upstream's allocations (gstiiosinkallocator.h), in upstream's
 * thread: a block of @size bytes, OUTSTANDING, or NULL when @size does not
 * fit a block, the queue is not started, flushing for a flush or stop, or
 * the device failed (the error is kept for the streaming thread, which
 * posts it: upstream then writes to system memory). Waits for the device
 * as long as the queue's timeout, for a block held elsewhere without
 * limit (like a pool), and across a pause. */
GstMemory *gst_iio_dmabuf_output_alloc_block (GstIioDmabufOutput * self,
    gsize size);

G_END_DECLS
