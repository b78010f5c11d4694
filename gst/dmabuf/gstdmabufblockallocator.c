/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstdmabufblockallocator.h"

#include <sys/stat.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_dmabuf_block_allocator_debug);
#define GST_CAT_DEFAULT gst_dmabuf_block_allocator_debug

/* One block: its memory (not referenced: identity) and state. Lives in
 * the allocator's array, found from the memory through qdata. */
typedef struct
{
  GstMemory *mem;
  guint index;
  guint64 ino;                  /* the DMABUF's identity, read once */
  GstDmabufBlockState state;
  gboolean attached;
} Block;

struct _GstDmabufBlockAllocator
{
  GstDmaBufAllocator parent;

  /* Immutable after new(). */
  gsize block_bytes;
  GstDmabufAttacher attacher;
  gpointer target;

  /* Leaf lock: guards everything below. */
  GMutex lock;
  GCond cond;                   /* a block FREE or QUEUED, flushing, close,
                                 * a hook returned */
  GPtrArray *blocks;            /* Block *, add_block() order */
  GQueue free;                  /* GstMemory *, one reference each */
  guint counts[GST_DMABUF_BLOCK_OUTSTANDING + 1];
  GstDmabufBlockReleasedFunc released;
  gpointer released_data;
  guint hooks_running;
  guint n_waiters;              /* threads in a cond wait */
  gboolean flushing;
  /* close() in two steps: closing (no hook, no acquisition; a block
   * coming back still goes to the free list, so that none is freed while
   * close() detaches them all), then closed (a block coming back is
   * freed). */
  gboolean closing;
  gboolean closed;
};

/* qdata on a block's memory: its Block. */
static GQuark block_quark;

G_DEFINE_TYPE_WITH_CODE (GstDmabufBlockAllocator, gst_dmabuf_block_allocator,
    GST_TYPE_DMABUF_ALLOCATOR,
    GST_DEBUG_CATEGORY_INIT (gst_dmabuf_block_allocator_debug,
        "dmabufblockallocator", 0, "DMABUF blocks of one owner");
    block_quark = g_quark_from_static_string ("GstDmabufBlock"));


/* The root memory of a share. */
static GstMemory *
root_of (GstMemory * mem)
{
  while (mem->parent)
    mem = mem->parent;
  return mem;
}

static Block *
block_of (GstMemory * mem)
{
  return gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (root_of (mem)),
      block_quark);
}

/* Under the lock. GLib's GCond makes a futex call on every broadcast,
 * waiters or not: a block's round trip must not pay for one. */
static void
wake_locked (GstDmabufBlockAllocator * self)
{
  if (self->n_waiters > 0)
    g_cond_broadcast (&self->cond);
}

/* Under the lock. */
static void
set_state (GstDmabufBlockAllocator * self, Block * block,
    GstDmabufBlockState state)
{
  self->counts[block->state]--;
  block->state = state;
  self->counts[state]++;
  if (state != GST_DMABUF_BLOCK_OUTSTANDING)
    wake_locked (self);
}

/* ---- a block comes back ---- */

/* The memory's last reference went, in any thread: like v4l2codecs,
 * take the reference back instead of freeing, unless closed. */
static gboolean
block_dispose (GstMiniObject * obj)
{
  GstMemory *mem = GST_MEMORY_CAST (obj);
  GstDmabufBlockAllocator *self = GST_DMABUF_BLOCK_ALLOCATOR (mem->allocator);
  Block *block = block_of (mem);
  GstDmabufBlockReleasedFunc released;
  gpointer data;

  g_mutex_lock (&self->lock);
  if (self->closed) {
    g_mutex_unlock (&self->lock);
    GST_LOG_OBJECT (self, "block %u freed after close", block->index);
    return TRUE;
  }
  gst_memory_ref (mem);
  /* A user may have trimmed it: it comes back whole. */
  if (mem->offset != 0 || mem->size != self->block_bytes)
    gst_memory_resize (mem, -(gssize) mem->offset, self->block_bytes);
  set_state (self, block, GST_DMABUF_BLOCK_FREE);
  released = self->released;
  data = self->released_data;
  if (released)
    self->hooks_running++;
  else
    g_queue_push_tail (&self->free, mem);
  g_mutex_unlock (&self->lock);

  if (released) {
    /* Not on the free list: the hook owns the reference. */
    released (self, mem, data);
    g_mutex_lock (&self->lock);
    self->hooks_running--;
    wake_locked (self);
    g_mutex_unlock (&self->lock);
  }

  return FALSE;
}

void
gst_dmabuf_block_allocator_put_free (GstDmabufBlockAllocator * self,
    GstMemory * block)
{
  Block *b = block_of (block);
  gboolean closed;

  g_mutex_lock (&self->lock);
  closed = self->closed;
  if (!closed) {
    set_state (self, b, GST_DMABUF_BLOCK_FREE);
    g_queue_push_tail (&self->free, block);
  }
  g_mutex_unlock (&self->lock);

  /* Closed: this is the last reference, the dispose hook frees it. */
  if (closed)
    gst_memory_unref (block);
}

/* ---- setting up ---- */

GstDmabufBlockAllocator *
gst_dmabuf_block_allocator_new (gsize block_bytes,
    const GstDmabufAttacher * attacher, gpointer target)
{
  GstDmabufBlockAllocator *self;

  g_return_val_if_fail (block_bytes > 0, NULL);

  self = g_object_new (GST_TYPE_DMABUF_BLOCK_ALLOCATOR, NULL);
  gst_object_ref_sink (self);
  self->block_bytes = block_bytes;
  if (attacher)
    self->attacher = *attacher;
  self->target = target;

  return self;
}

void
gst_dmabuf_block_allocator_set_released_func (GstDmabufBlockAllocator * self,
    GstDmabufBlockReleasedFunc func, gpointer user_data)
{
  g_mutex_lock (&self->lock);
  self->released = func;
  self->released_data = user_data;
  g_mutex_unlock (&self->lock);
}

gboolean
gst_dmabuf_block_allocator_add_block (GstDmabufBlockAllocator * self,
    gint dmabuf_fd, GError ** error)
{
  GstMapInfo map;
  GstMemory *mem;
  Block *block;

  /* From here on the memory owns the fd (closed when it is freed). */
  mem = gst_dmabuf_allocator_alloc_with_flags (GST_ALLOCATOR_CAST (self),
      dmabuf_fd, self->block_bytes, GST_FD_MEMORY_FLAG_KEEP_MAPPED);
  if (mem == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "Cannot wrap DMABUF fd %d in a memory", dmabuf_fd);
    close (dmabuf_fd);
    return FALSE;
  }
  /* The first map fixes the protection for good: read-write, so that a
   * producer's write-only map does not stop a later reader. */
  if (gst_memory_map (mem, &map, GST_MAP_READWRITE))
    gst_memory_unmap (mem, &map);
  else
    GST_WARNING_OBJECT (self, "cannot mmap DMABUF fd %d", dmabuf_fd);

  block = g_new0 (Block, 1);
  block->mem = mem;
  block->ino = gst_dmabuf_get_ino (dmabuf_fd);
  block->state = GST_DMABUF_BLOCK_FREE;
  gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (mem), block_quark,
      block, g_free);

  if (self->attacher.attach &&
      !self->attacher.attach (self->target, dmabuf_fd, error)) {
    gst_memory_unref (mem);     /* no dispose hook yet: really freed */
    return FALSE;
  }
  block->attached = self->attacher.attach != NULL;
  GST_MINI_OBJECT_CAST (mem)->dispose = block_dispose;

  g_mutex_lock (&self->lock);
  block->index = self->blocks->len;
  g_ptr_array_add (self->blocks, block);
  self->counts[GST_DMABUF_BLOCK_FREE]++;
  g_queue_push_tail (&self->free, mem);
  wake_locked (self);
  g_mutex_unlock (&self->lock);

  return TRUE;
}

/* ---- queries ---- */

guint
gst_dmabuf_block_allocator_get_n_blocks (GstDmabufBlockAllocator * self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->blocks->len;
  g_mutex_unlock (&self->lock);

  return n;
}

gsize
gst_dmabuf_block_allocator_get_block_bytes (GstDmabufBlockAllocator * self)
{
  return self->block_bytes;
}

guint
gst_dmabuf_block_allocator_count (GstDmabufBlockAllocator * self,
    GstDmabufBlockState state)
{
  guint n;

  g_return_val_if_fail (state <= GST_DMABUF_BLOCK_OUTSTANDING, 0);
  g_mutex_lock (&self->lock);
  n = self->counts[state];
  g_mutex_unlock (&self->lock);

  return n;
}

gboolean
gst_dmabuf_block_allocator_owns (GstDmabufBlockAllocator * self,
    GstMemory * mem)
{
  return mem != NULL && root_of (mem)->allocator == GST_ALLOCATOR_CAST (self)
      && block_of (mem) != NULL;
}

guint64
gst_dmabuf_get_ino (gint fd)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return 0;
  return st.st_ino;
}

guint
gst_dmabuf_block_get_index (GstMemory * block)
{
  Block *b = block_of (block);

  return b ? b->index : G_MAXUINT;
}

guint64
gst_dmabuf_block_get_ino (GstMemory * block)
{
  Block *b = block_of (block);

  return b ? b->ino : 0;
}

GstDmabufBlockState
gst_dmabuf_block_allocator_get_state (GstDmabufBlockAllocator * self,
    GstMemory * block)
{
  GstDmabufBlockState state;

  g_mutex_lock (&self->lock);
  state = block_of (block)->state;
  g_mutex_unlock (&self->lock);

  return state;
}

/* ---- the owner's side ---- */

GstMemory *
gst_dmabuf_block_allocator_try_acquire (GstDmabufBlockAllocator * self,
    gsize size)
{
  GstMemory *mem = NULL;

  if (size > self->block_bytes)
    return NULL;

  g_mutex_lock (&self->lock);
  if (!self->flushing && !self->closing)
    mem = g_queue_pop_head (&self->free);
  if (mem)
    set_state (self, block_of (mem), GST_DMABUF_BLOCK_OUTSTANDING);
  g_mutex_unlock (&self->lock);

  if (mem && size != self->block_bytes)
    gst_memory_resize (mem, 0, size);

  return mem;
}

GstFlowReturn
gst_dmabuf_block_allocator_wait (GstDmabufBlockAllocator * self,
    gint64 deadline)
{
  GstFlowReturn ret = GST_FLOW_OK;

  g_mutex_lock (&self->lock);
  while (self->free.length == 0 && self->counts[GST_DMABUF_BLOCK_QUEUED] == 0) {
    if (self->flushing || self->closing) {
      ret = GST_FLOW_FLUSHING;
      break;
    }
    self->n_waiters++;
    if (deadline < 0) {
      g_cond_wait (&self->cond, &self->lock);
    } else if (!g_cond_wait_until (&self->cond, &self->lock, deadline)) {
      self->n_waiters--;
      if (self->free.length == 0 && self->counts[GST_DMABUF_BLOCK_QUEUED] == 0)
        ret = GST_FLOW_CUSTOM_ERROR;
      break;
    }
    self->n_waiters--;
  }
  if (ret == GST_FLOW_OK && (self->flushing || self->closing))
    ret = GST_FLOW_FLUSHING;
  g_mutex_unlock (&self->lock);

  return ret;
}

void
gst_dmabuf_block_allocator_set_flushing (GstDmabufBlockAllocator * self,
    gboolean flushing)
{
  g_mutex_lock (&self->lock);
  self->flushing = flushing;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

void
gst_dmabuf_block_allocator_mark_queued (GstDmabufBlockAllocator * self,
    GstMemory * block)
{
  g_mutex_lock (&self->lock);
  set_state (self, block_of (block), GST_DMABUF_BLOCK_QUEUED);
  g_mutex_unlock (&self->lock);
}

void
gst_dmabuf_block_allocator_mark_outstanding (GstDmabufBlockAllocator * self,
    GstMemory * block)
{
  g_mutex_lock (&self->lock);
  set_state (self, block_of (block), GST_DMABUF_BLOCK_OUTSTANDING);
  g_mutex_unlock (&self->lock);
}

/* ---- stop ---- */

void
gst_dmabuf_block_allocator_close (GstDmabufBlockAllocator * self)
{
  GQueue free_blocks = G_QUEUE_INIT;
  GPtrArray *detach;
  Block *block;
  guint i;

  g_mutex_lock (&self->lock);
  if (self->closing) {
    g_mutex_unlock (&self->lock);
    return;
  }
  self->closing = TRUE;
  self->released = NULL;
  g_cond_broadcast (&self->cond);
  /* A hook that began before may still use the owner. */
  while (self->hooks_running > 0) {
    self->n_waiters++;
    g_cond_wait (&self->cond, &self->lock);
    self->n_waiters--;
  }
  /* No block is freed before `closed`: every fd is still open. */
  detach = g_ptr_array_new ();
  for (i = 0; i < self->blocks->len; i++) {
    block = g_ptr_array_index (self->blocks, i);
    if (block->attached)
      g_ptr_array_add (detach, GINT_TO_POINTER (gst_dmabuf_memory_get_fd
              (block->mem)));
    block->attached = FALSE;
  }
  g_mutex_unlock (&self->lock);

  for (i = 0; i < detach->len && self->attacher.detach; i++)
    self->attacher.detach (self->target,
        GPOINTER_TO_INT (g_ptr_array_index (detach, i)));
  g_ptr_array_unref (detach);

  g_mutex_lock (&self->lock);
  self->closed = TRUE;
  free_blocks = self->free;
  g_queue_init (&self->free);
  g_mutex_unlock (&self->lock);

  GST_DEBUG_OBJECT (self, "closed: %u of %u blocks free, the others freed "
      "when they come back", free_blocks.length, self->blocks->len);
  /* Closed: really freed, each dropping its reference to us. */
  g_queue_clear_full (&free_blocks, (GDestroyNotify) gst_memory_unref);
}

/* ---- GObject ---- */

static void
gst_dmabuf_block_allocator_finalize (GObject * object)
{
  GstDmabufBlockAllocator *self = GST_DMABUF_BLOCK_ALLOCATOR (object);

  /* Every block held a reference through its memory: all are gone, and
   * their Block structs with their qdata. */
  g_ptr_array_unref (self->blocks);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (gst_dmabuf_block_allocator_parent_class)->finalize (object);
}

static void
gst_dmabuf_block_allocator_dispose (GObject * object)
{
  /* Only reached once no block memory is left: free ones hold a
   * reference until close(). */
  gst_dmabuf_block_allocator_close (GST_DMABUF_BLOCK_ALLOCATOR (object));

  G_OBJECT_CLASS (gst_dmabuf_block_allocator_parent_class)->dispose (object);
}

static void
gst_dmabuf_block_allocator_class_init (GstDmabufBlockAllocatorClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->dispose = gst_dmabuf_block_allocator_dispose;
  gobject_class->finalize = gst_dmabuf_block_allocator_finalize;
}

static void
gst_dmabuf_block_allocator_init (GstDmabufBlockAllocator * self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->free);
  self->blocks = g_ptr_array_new ();
}
