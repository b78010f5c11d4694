/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What iiosink offers upstream in propose_allocation: an allocator (not a
 * pool) that hands out one of the DMABUF output queue's blocks, already
 * attached to the DAC, when the size asked fits one, and system memory
 * otherwise (the queue copies that into its blocks).
 *
 * An allocator rather than a GstBufferPool: a pool's buffers have a fixed
 * size that the pool chooses, and GstBaseSrc configures a proposed pool
 * with the proposed size whatever it will write: audiotestsrc then
 * gst_buffer_set_size()s a block-sized buffer to its own blocksize
 * (gst_buffer_resize_range assertion, writes past the DMABUF). Through an
 * allocator upstream asks for the size it writes (gst_buffer_new_allocate
 * in GstBaseSrc and GstBaseTransform). */
#pragma once

#include "gstiiodmabufoutput.h"

G_BEGIN_DECLS

#define GST_TYPE_IIO_SINK_ALLOCATOR (gst_iio_sink_allocator_get_type ())
G_DECLARE_FINAL_TYPE (GstIioSinkAllocator, gst_iio_sink_allocator, GST,
    IIO_SINK_ALLOCATOR, GstAllocator)

/* References @output: upstream may keep the allocator past the queue's
 * stop, when it only hands out system memory. */
GstAllocator *gst_iio_sink_allocator_new (GstIioDmabufOutput * output);

G_END_DECLS
