/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiodmabufpool.h"

#include <gst/allocators/allocators.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_dmabuf_pool_debug);
#define GST_CAT_DEFAULT gst_iio_dmabuf_pool_debug

/* qdata on our own block memories: the pool (a strong reference, so a
 * block held past close keeps its pool until it is freed). */
static GQuark block_quark;

struct _GstIioDmabufPool
{
  GstObject parent;

  /* Immutable after new() and the add_block() calls that follow it. */
  GstAllocator *allocator;
  gsize block_bytes;
  GPtrArray *blocks;            /* GstMemory *, not referenced: identity */
  GstIioDmabufPoolReclaimFunc reclaim;

  /* Leaf lock, guards everything below; never held while calling the
   * owner, unreffing a memory or a buffer. */
  GMutex lock;
  GCond cond;                   /* a block came back, or flushing */
  GQueue free;                  /* GstMemory *, one reference each */
  GstObject *owner;             /* NULL once closed */
  gboolean closed;
  gboolean owner_flushing;
  guint64 queued_seq;           /* bumped when the owner queues a transfer */
};

G_DEFINE_TYPE_WITH_CODE (GstIioDmabufPool, gst_iio_dmabuf_pool,
    GST_TYPE_OBJECT,
    GST_DEBUG_CATEGORY_INIT (gst_iio_dmabuf_pool_debug, "iiodmabufpool", 0,
        "IIO output DMABUF pool");
    block_quark = g_quark_from_static_string ("GstIioDmabufPoolBlock"));

/* The last reference to a block memory went: it is free again, unless the
 * pool is closed (then it is really freed). Runs in any thread. */
static gboolean
block_dispose (GstMiniObject * obj)
{
  GstIioDmabufPool *self = gst_mini_object_get_qdata (obj, block_quark);
  gboolean recycled = FALSE;

  g_mutex_lock (&self->lock);
  if (!self->closed) {
    gst_memory_ref (GST_MEMORY_CAST (obj));
    g_queue_push_tail (&self->free, obj);
    g_cond_broadcast (&self->cond);
    recycled = TRUE;
  }
  g_mutex_unlock (&self->lock);

  return !recycled;
}

void
gst_iio_dmabuf_pool_add_block (GstIioDmabufPool * self, gint dmabuf_fd)
{
  GstMemory *mem;
  GstMapInfo map;

  /* Mapped once for the memory's lifetime: a map is then only the
   * DMA_BUF_IOCTL_SYNC that GstDmaBufAllocator does. The first map fixes
   * the protection for good, so make it read-write: a producer's
   * write-only map must not stop a later reader. */
  mem = gst_dmabuf_allocator_alloc_with_flags (self->allocator, dmabuf_fd,
      self->block_bytes, GST_FD_MEMORY_FLAG_KEEP_MAPPED);
  if (gst_memory_map (mem, &map, GST_MAP_READWRITE))
    gst_memory_unmap (mem, &map);
  else
    GST_WARNING_OBJECT (self, "cannot mmap DMABUF fd %d", dmabuf_fd);
  gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (mem), block_quark,
      gst_object_ref (self), gst_object_unref);
  GST_MINI_OBJECT_CAST (mem)->dispose = block_dispose;
  g_ptr_array_add (self->blocks, mem);

  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->free, mem);
  g_mutex_unlock (&self->lock);
}

guint
gst_iio_dmabuf_pool_get_n_blocks (GstIioDmabufPool * self)
{
  return self->blocks->len;
}

gint
gst_iio_dmabuf_pool_get_block_fd (GstIioDmabufPool * self, guint index)
{
  g_return_val_if_fail (index < self->blocks->len, -1);

  return gst_dmabuf_memory_get_fd (g_ptr_array_index (self->blocks, index));
}

gsize
gst_iio_dmabuf_pool_get_block_bytes (GstIioDmabufPool * self)
{
  return self->block_bytes;
}

gboolean
gst_iio_dmabuf_pool_owns_memory (GstIioDmabufPool * self, GstMemory * mem)
{
  while (mem->parent)
    mem = mem->parent;

  return gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (mem),
      block_quark) == self;
}

guint
gst_iio_dmabuf_pool_get_n_free (GstIioDmabufPool * self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->free.length;
  g_mutex_unlock (&self->lock);

  return n;
}

/* Under the lock. The previous user may have resized or trimmed it. */
static GstMemory *
pop_free_block (GstIioDmabufPool * self, gsize size)
{
  GstMemory *mem = g_queue_pop_head (&self->free);

  if (mem)
    gst_memory_resize (mem, -(gssize) mem->offset, size);

  return mem;
}

/* Under the lock. Upstream's allocations have no flushing state of their
 * own: their waits end with the owner's (its unlock, a flush, stop). */
static gboolean
is_flushing (GstIioDmabufPool * self)
{
  return self->closed || self->owner_flushing;
}

/* Nothing was in flight and nothing is free: every block is held by
 * someone else (upstream, a queue). Wait for one to come back, or for the
 * owner to queue a transfer (since @seq), which can then be retired. */
static GstFlowReturn
wait_for_return (GstIioDmabufPool * self, guint64 seq, gint timeout_ms,
    GError ** error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  GstFlowReturn ret = GST_FLOW_OK;

  g_mutex_lock (&self->lock);
  while (self->free.length == 0 && self->queued_seq == seq
      && ret == GST_FLOW_OK) {
    if (is_flushing (self))
      ret = GST_FLOW_FLUSHING;
    else if (timeout_ms < 0)
      g_cond_wait (&self->cond, &self->lock);
    else if (!g_cond_wait_until (&self->cond, &self->lock, deadline)
        && self->free.length == 0 && self->queued_seq == seq) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_BUSY,
          "None of the %u DMA blocks came back within %d ms: all are held "
          "by other elements", self->blocks->len, timeout_ms);
      ret = GST_FLOW_ERROR;
    }
  }
  g_mutex_unlock (&self->lock);

  return ret;
}

void
gst_iio_dmabuf_pool_notify_queued (GstIioDmabufPool * self)
{
  g_mutex_lock (&self->lock);
  self->queued_seq++;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* Asks the owner to retire its oldest transfer. */
static GstFlowReturn
reclaim (GstIioDmabufPool * self, GError ** error)
{
  GstObject *owner;
  GstFlowReturn ret;

  g_mutex_lock (&self->lock);
  owner = self->owner ? gst_object_ref (self->owner) : NULL;
  g_mutex_unlock (&self->lock);
  if (owner == NULL)
    return GST_FLOW_FLUSHING;

  ret = self->reclaim (owner, error);
  gst_object_unref (owner);

  return ret;
}

/* A free block resized to @size bytes. */
static GstFlowReturn
take_block (GstIioDmabufPool * self, gsize size, gint timeout_ms,
    GstMemory ** mem, GError ** error)
{
  GstFlowReturn ret;
  guint64 seq;

  for (;;) {
    g_mutex_lock (&self->lock);
    *mem = is_flushing (self) ? NULL : pop_free_block (self, size);
    ret = *mem ? GST_FLOW_OK : is_flushing (self) ? GST_FLOW_FLUSHING :
        GST_FLOW_CUSTOM_ERROR;
    /* Read before reclaim: a transfer queued after it wakes the wait. */
    seq = self->queued_seq;
    g_mutex_unlock (&self->lock);
    if (ret != GST_FLOW_CUSTOM_ERROR)
      return ret;

    /* Every block is either in flight (retire the oldest) or held
     * elsewhere (wait for it). */
    ret = reclaim (self, error);
    if (ret == GST_FLOW_CUSTOM_SUCCESS)
      ret = wait_for_return (self, seq, timeout_ms, error);
    if (ret != GST_FLOW_OK)
      return ret;
  }
}

GstFlowReturn
gst_iio_dmabuf_pool_acquire_block (GstIioDmabufPool * self, GstMemory ** mem,
    gint timeout_ms, GError ** error)
{
  return take_block (self, self->block_bytes, timeout_ms, mem, error);
}

void
gst_iio_dmabuf_pool_set_owner_flushing (GstIioDmabufPool * self,
    gboolean flushing)
{
  g_mutex_lock (&self->lock);
  self->owner_flushing = flushing;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

void
gst_iio_dmabuf_pool_close (GstIioDmabufPool * self)
{
  GQueue free_blocks = G_QUEUE_INIT;

  g_mutex_lock (&self->lock);
  self->closed = TRUE;
  self->owner = NULL;
  free_blocks = self->free;
  g_queue_init (&self->free);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  GST_DEBUG_OBJECT (self, "closed, %u of %u blocks free", free_blocks.length,
      self->blocks->len);
  /* Really freed now (closed): each drops its reference to the pool. */
  g_queue_clear_full (&free_blocks, (GDestroyNotify) gst_memory_unref);
}

static void
gst_iio_dmabuf_pool_finalize (GObject * object)
{
  GstIioDmabufPool *self = GST_IIO_DMABUF_POOL (object);

  /* Every block memory held a reference: all are gone by now. */
  g_ptr_array_unref (self->blocks);
  gst_object_unref (self->allocator);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (gst_iio_dmabuf_pool_parent_class)->finalize (object);
}

static void
gst_iio_dmabuf_pool_class_init (GstIioDmabufPoolClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_iio_dmabuf_pool_finalize;
}

static void
gst_iio_dmabuf_pool_init (GstIioDmabufPool * self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->free);
  self->blocks = g_ptr_array_new ();
}

GstIioDmabufPool *
gst_iio_dmabuf_pool_new (GstObject * owner,
    GstIioDmabufPoolReclaimFunc reclaim_func, gsize block_bytes)
{
  GstIioDmabufPool *self;

  g_return_val_if_fail (block_bytes > 0 && block_bytes <= G_MAXUINT, NULL);

  self = g_object_new (GST_TYPE_IIO_DMABUF_POOL, NULL);
  gst_object_ref_sink (self);
  self->allocator = gst_dmabuf_allocator_new ();
  self->owner = owner;
  self->reclaim = reclaim_func;
  self->block_bytes = block_bytes;

  return self;
}

/* ---- GstAllocator: upstream's side ----
 *
 * Offered upstream instead of a GstBufferPool: a pool's buffers have a
 * fixed size that the pool chooses, and GstBaseSrc configures a proposed
 * pool with the proposed size whatever it will write: audiotestsrc then
 * gst_buffer_set_size()s a block-sized buffer to its own blocksize
 * (gst_buffer_resize_range assertion, writes past the DMABUF). Through an
 * allocator upstream asks for the size it writes (gst_buffer_new_allocate
 * in GstBaseSrc and GstBaseTransform): what fits a block gets a block, the
 * rest system memory that the owner copies into its blocks. */

#define GST_TYPE_IIO_BLOCK_ALLOCATOR (gst_iio_block_allocator_get_type ())
G_DECLARE_FINAL_TYPE (GstIioBlockAllocator, gst_iio_block_allocator, GST,
    IIO_BLOCK_ALLOCATOR, GstAllocator)

struct _GstIioBlockAllocator
{
  GstAllocator parent;

  /* Strong: upstream may keep the allocator past the owner's stop; a
   * closed pool only hands out system memory. */
  GstIioDmabufPool *pool;
};

G_DEFINE_TYPE (GstIioBlockAllocator, gst_iio_block_allocator,
    GST_TYPE_ALLOCATOR);

/* A block only as the device takes it: from its first byte, no prefix or
 * padding, at most a block; the page alignment of a DMABUF fits any
 * @params->align. */
static gboolean
block_can_hold (GstIioDmabufPool * pool, gsize size,
    GstAllocationParams * params)
{
  return size > 0 && size <= pool->block_bytes && params->prefix == 0
      && params->padding == 0;
}

static GstMemory *
gst_iio_block_allocator_alloc (GstAllocator * allocator, gsize size,
    GstAllocationParams * params)
{
  GstIioBlockAllocator *self = GST_IIO_BLOCK_ALLOCATOR (allocator);
  GstIioDmabufPool *pool = self->pool;
  GError *error = NULL;
  GstMemory *mem = NULL;
  GstFlowReturn ret;

  if (!block_can_hold (pool, size, params)) {
    GST_LOG_OBJECT (pool, "%" G_GSIZE_FORMAT " bytes do not fit a %"
        G_GSIZE_FORMAT "-byte block: system memory", size, pool->block_bytes);
    return gst_allocator_alloc (NULL, size, params);
  }
  /* No limit on the wait for a block held elsewhere, like a pool's; the
   * waits on the device are bounded by the owner's timeout. */
  ret = take_block (pool, size, -1, &mem, &error);
  if (ret == GST_FLOW_OK)
    return mem;

  /* Flushing or stopped (the buffer will be dropped), or the device
   * failed (the owner posted why, and its render fails too): system
   * memory rather than NULL, which upstream would report as an
   * allocation failure of its own. */
  if (error) {
    GST_WARNING_OBJECT (pool, "no block for upstream: %s", error->message);
    g_error_free (error);
  } else {
    GST_DEBUG_OBJECT (pool, "no block for upstream: %s",
        gst_flow_get_name (ret));
  }

  return gst_allocator_alloc (NULL, size, params);
}

/* Never called: the blocks' memories belong to the GstDmaBufAllocator
 * and come back through their dispose hook; the rest is system memory. */
static void
gst_iio_block_allocator_free (GstAllocator * allocator, GstMemory * mem)
{
  g_return_if_reached ();
}

static void
gst_iio_block_allocator_finalize (GObject * object)
{
  GstIioBlockAllocator *self = GST_IIO_BLOCK_ALLOCATOR (object);

  gst_object_unref (self->pool);

  G_OBJECT_CLASS (gst_iio_block_allocator_parent_class)->finalize (object);
}

static void
gst_iio_block_allocator_class_init (GstIioBlockAllocatorClass * klass)
{
  GstAllocatorClass *allocator_class = GST_ALLOCATOR_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = gst_iio_block_allocator_finalize;
  allocator_class->alloc = gst_iio_block_allocator_alloc;
  allocator_class->free = gst_iio_block_allocator_free;
}

/* Not GST_ALLOCATOR_FLAG_CUSTOM_ALLOC: any producer may use it, for any
 * size. The memories it returns have their own allocators' types. */
static void
gst_iio_block_allocator_init (GstIioBlockAllocator * self)
{
  GST_ALLOCATOR_CAST (self)->mem_type = "IioDmabufBlock";
}

GstAllocator *
gst_iio_dmabuf_pool_get_allocator (GstIioDmabufPool * self)
{
  GstIioBlockAllocator *allocator;

  allocator = g_object_new (GST_TYPE_IIO_BLOCK_ALLOCATOR, NULL);
  gst_object_ref_sink (allocator);
  allocator->pool = gst_object_ref (self);

  return GST_ALLOCATOR_CAST (allocator);
}
