/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A fixed set of DMABUF blocks that one owner (an IIO buffer, a USB
 * endpoint) attaches to its device and cycles through its transfers: the
 * v4l2codecs/libcamera allocator shape, over GstDmaBufAllocator so that
 * every block is ordinary DMABUF memory downstream.
 *
 * Ownership: the allocator owns each block's fd from add_block() on; the
 * block's GstMemory closes it when it is finally freed. A block memory is
 * mapped once, read-write, for its lifetime (KEEP_MAPPED): a map is then
 * only the DMA_BUF_IOCTL_SYNC GstDmaBufAllocator makes.
 *
 * State, explicit in both directions:
 * - FREE: on the free list, the allocator holds the memory;
 * - QUEUED: in one of the owner's transfers (mark_queued);
 * - OUTSTANDING: handed out (acquire, or mark_outstanding by the owner),
 *   held by a GstBuffer somewhere.
 * When a block's last reference goes (its dispose hook, in any thread) it
 * comes back: the released hook, if set, decides the next step (a capture
 * re-enqueues it, which marks it QUEUED, or gives it back with
 * put_free()); without a hook it goes to the free list. After close() a
 * block coming back is freed instead.
 *
 * Attach and detach go through the owner's attacher, so that the
 * allocator knows no device: blocks are attached as they are added and
 * detached by close() (every one, the outstanding ones included: the
 * owner has ended its transfers by then).
 *
 * Locking: one leaf lock per allocator; neither the released hook nor the
 * attacher is called under it. */
#pragma once

#include <gst/gst.h>
#include <gst/allocators/allocators.h>

G_BEGIN_DECLS

typedef enum
{
  GST_DMABUF_BLOCK_FREE,
  GST_DMABUF_BLOCK_QUEUED,
  GST_DMABUF_BLOCK_OUTSTANDING,
} GstDmabufBlockState;

/* How the owner attaches a DMABUF to its device and detaches it (IIO:
 * IIO_BUFFER_DMABUF_ATTACH_IOCTL; FunctionFS: FUNCTIONFS_DMABUF_ATTACH).
 * Shared with the import cache (gstdmabufimportcache.h). */
typedef struct
{
  gboolean (*attach) (gpointer target, gint dmabuf_fd, GError ** error);
  void (*detach) (gpointer target, gint dmabuf_fd);
} GstDmabufAttacher;

#define GST_TYPE_DMABUF_BLOCK_ALLOCATOR (gst_dmabuf_block_allocator_get_type ())
G_DECLARE_FINAL_TYPE (GstDmabufBlockAllocator, gst_dmabuf_block_allocator,
    GST, DMABUF_BLOCK_ALLOCATOR, GstDmaBufAllocator)

/* @block came back with one reference, now the hook's, in state FREE but
 * not on the free list: the hook enqueues it again or calls put_free().
 * Called in whatever thread dropped the block, with no lock held. */
typedef void (*GstDmabufBlockReleasedFunc) (GstDmabufBlockAllocator * self,
    GstMemory * block, gpointer user_data);

/* @attacher may be NULL (blocks nobody attaches: tests, CPU producers);
 * @target is not referenced: close() must come before it goes. Not an
 * allocator to offer upstream (gst_allocator_alloc() on it gives NULL):
 * the owner hands blocks out, or wraps it in an allocator that knows how
 * to wait for its transfers (gstiiooutputallocator.h). */
GstDmabufBlockAllocator *gst_dmabuf_block_allocator_new (gsize block_bytes,
    const GstDmabufAttacher * attacher, gpointer target);

void gst_dmabuf_block_allocator_set_released_func (GstDmabufBlockAllocator *
    self, GstDmabufBlockReleasedFunc func, gpointer user_data);

/* Takes @dmabuf_fd (closed with the block, or now on failure), of at
 * least block_bytes, and attaches it. The block starts FREE. */
gboolean gst_dmabuf_block_allocator_add_block (GstDmabufBlockAllocator * self,
    gint dmabuf_fd, GError ** error);

guint gst_dmabuf_block_allocator_get_n_blocks (GstDmabufBlockAllocator *
    self);
gsize gst_dmabuf_block_allocator_get_block_bytes (GstDmabufBlockAllocator *
    self);
/* Blocks in @state right now (FREE includes a block in the released
 * hook, not yet re-enqueued or put back). */
guint gst_dmabuf_block_allocator_count (GstDmabufBlockAllocator * self,
    GstDmabufBlockState state);

/* TRUE when @mem is (a share of) one of this allocator's blocks. */
gboolean gst_dmabuf_block_allocator_owns (GstDmabufBlockAllocator * self,
    GstMemory * mem);
/* The block's index (0 .. n_blocks - 1), for logs. */
guint gst_dmabuf_block_get_index (GstMemory * block);
/* The inode number that identifies the DMABUF @fd refers to; 0 when fstat
 * fails. */
guint64 gst_dmabuf_get_ino (gint fd);

/* The inode number of @block's DMABUF (gst_dmabuf_get_ino), read once;
 * 0 for a memory not of a block allocator. */
guint64 gst_dmabuf_block_get_ino (GstMemory * block);

/* A FREE block, resized to @size bytes from its start, now OUTSTANDING;
 * NULL when none is free, @size does not fit a block, or the allocator
 * is flushing or closed. */
GstMemory *gst_dmabuf_block_allocator_try_acquire (GstDmabufBlockAllocator *
    self, gsize size);

/* Waits until a block is FREE, or QUEUED (the owner may then end a
 * transfer to free one), or the allocator flushes or closes, or
 * @deadline (g_get_monotonic_time(); -1: none) passes. GST_FLOW_OK,
 * GST_FLOW_FLUSHING, or GST_FLOW_CUSTOM_ERROR at the deadline. */
GstFlowReturn gst_dmabuf_block_allocator_wait (GstDmabufBlockAllocator *
    self, gint64 deadline);

/* Interrupts wait() and makes try_acquire() fail until FALSE again. */
void gst_dmabuf_block_allocator_set_flushing (GstDmabufBlockAllocator * self,
    gboolean flushing);

/* The owner's bookkeeping of @block (one of ours, any share). */
void gst_dmabuf_block_allocator_mark_queued (GstDmabufBlockAllocator * self,
    GstMemory * block);
void gst_dmabuf_block_allocator_mark_outstanding (GstDmabufBlockAllocator *
    self, GstMemory * block);
GstDmabufBlockState gst_dmabuf_block_allocator_get_state
    (GstDmabufBlockAllocator * self, GstMemory * block);

/* Takes the reference the released hook was given (also after a failed
 * re-enqueue that followed mark_queued()): the block is FREE on the list
 * (freed instead after close()). */
void gst_dmabuf_block_allocator_put_free (GstDmabufBlockAllocator * self,
    GstMemory * block);

/* The owner stops: detaches every block, frees the free ones now and the
 * others when they come back; waits for a released hook running in
 * another thread, and calls none after it returns. Never call it from
 * the hook. Idempotent. Required before the owner's last unref: free
 * blocks hold references to the allocator, so it is never finalized
 * while it holds any. */
void gst_dmabuf_block_allocator_close (GstDmabufBlockAllocator * self);

G_END_DECLS
