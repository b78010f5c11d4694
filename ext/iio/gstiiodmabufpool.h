/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A fixed set of DMABUF blocks already attached to an output IIO buffer,
 * offered upstream through an allocator (propose_allocation) so that a CPU
 * producer writes straight into DMA memory, and used by the owner itself
 * as copy targets. A block is free when its GstMemory's last reference
 * goes (the memory is recycled by its dispose hook), so a block is never
 * handed out while anyone, the device included, still uses it. Knows
 * nothing about IIO: the owner attaches the blocks and retires them. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_IIO_DMABUF_POOL (gst_iio_dmabuf_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstIioDmabufPool, gst_iio_dmabuf_pool, GST,
    IIO_DMABUF_POOL, GstObject)

/* Called (without any pool lock) when no block is free: waits for the
 * owner's oldest transfer and releases it. GST_FLOW_OK: one transfer was
 * retired (a block may be free now); GST_FLOW_CUSTOM_SUCCESS: nothing is
 * in flight; GST_FLOW_FLUSHING or GST_FLOW_ERROR (@error set). */
typedef GstFlowReturn (*GstIioDmabufPoolReclaimFunc) (GstObject * owner,
    GError ** error);

/* @owner is not referenced: gst_iio_dmabuf_pool_close() must be called
 * before it goes. */
GstIioDmabufPool *gst_iio_dmabuf_pool_new (GstObject * owner,
    GstIioDmabufPoolReclaimFunc reclaim, gsize block_bytes);

/* Takes ownership of @dmabuf_fd (closed with the memory). The memory is a
 * GstDmaBufAllocator memory mapped once for its lifetime. */
void gst_iio_dmabuf_pool_add_block (GstIioDmabufPool * self,
    gint dmabuf_fd);
guint gst_iio_dmabuf_pool_get_n_blocks (GstIioDmabufPool * self);
/* The DMABUF fd of block @index, for the owner's ATTACH. */
gint gst_iio_dmabuf_pool_get_block_fd (GstIioDmabufPool * self,
    guint index);
gsize gst_iio_dmabuf_pool_get_block_bytes (GstIioDmabufPool * self);

/* TRUE when @mem is (a share of) one of this pool's blocks. */
gboolean gst_iio_dmabuf_pool_owns_memory (GstIioDmabufPool * self,
    GstMemory * mem);
/* Blocks free right now. */
guint gst_iio_dmabuf_pool_get_n_free (GstIioDmabufPool * self);

/* The owner's own use (copies): a free block, reclaiming transfers and
 * then waiting up to @timeout_ms (-1: no limit) for one to come back.
 * Interrupted by gst_iio_dmabuf_pool_set_owner_flushing(). The memory
 * returns to the pool when its last reference goes. */
GstFlowReturn gst_iio_dmabuf_pool_acquire_block (GstIioDmabufPool * self,
    GstMemory ** mem, gint timeout_ms, GError ** error);
void gst_iio_dmabuf_pool_set_owner_flushing (GstIioDmabufPool * self,
    gboolean flushing);
/* The owner queued a transfer: a thread waiting for a block while nothing
 * was in flight goes back to reclaiming. */
void gst_iio_dmabuf_pool_notify_queued (GstIioDmabufPool * self);

/* What to offer upstream (propose_allocation), a new reference: an
 * allocator that hands out a free block, resized to the size asked, when
 * it fits one (reclaiming and waiting like the pool, interrupted by the
 * owner's flushing), and system memory otherwise, or once flushing or
 * closed. */
GstAllocator *gst_iio_dmabuf_pool_get_allocator (GstIioDmabufPool * self);

/* The owner stops: no more acquisitions, the free blocks are released now
 * and the others when their last user drops them. */
void gst_iio_dmabuf_pool_close (GstIioDmabufPool * self);

G_END_DECLS
