/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ffssrc: a FunctionFS bulk OUT endpoint into DMABUF buffers.
 *
 * The endpoint: function= (a FunctionFS function owned through its ep0,
 * gstffsfunction.h; the pool is then built at the first create(), after
 * the host's ENABLE: before it the endpoint's descriptor is EAGAIN and an
 * ATTACH of an unbound gadget EPERM), or endpoint= (set up by another
 * program).
 *
 * The element owns a pool of `blocks` DMABUFs (gst/dmabuf's block
 * allocator, from `dma-heap`), each attached to the endpoint once
 * (FUNCTIONFS_DMABUF_ATTACH when it is added, DETACH at stop). Up to
 * `transfers` of them are queued to the USB controller at once
 * (FUNCTIONFS_DMABUF_TRANSFER of `blocksize` bytes); create() waits for
 * the oldest and pushes it as it is, a GstDmaBufAllocator memory. When
 * downstream drops it, the block comes back through the allocator's
 * released hook (any thread), which queues it again at once.
 *
 * Completion is waited on EXPLICITLY: a sync file exported with
 * DMA_BUF_SYNC_WRITE (every fence, wherever the kernel filed it) right
 * after the TRANSFER, polled with the unlock eventfd and the timeout, its
 * status read, and closed, all before the block is pushed (and before any
 * DETACH, docs/kernel-bugs.md 15). Before kernel fix 0145e7acd298 f_fs
 * files an OUT transfer's fence as a reader, so an implicit wait for
 * writers (poll(POLLIN), DMA_BUF_IOCTL_SYNC, an importer's own wait)
 * sees the block ready before the host's data are in it
 * (docs/kernel-bugs.md 13); waiting on every fence is right on both. A
 * block is queued only when it came back (no reader left), since an
 * unfixed TRANSFER on OUT does not wait for readers.
 *
 * The fence carries the request's status only, never its length
 * (f_fs.c: ffs_epfile_dmabuf_io_complete() signals req->status, drops
 * req->actual): a transfer that a short packet ended early cannot say how
 * much arrived. With `short-check` the element writes a random 16-byte
 * marker at each block's end before queueing it; a completed block whose
 * marker is intact was not filled, and is an error naming the cause, never
 * pushed with stale bytes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstffssrc.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>

#include "gstdmabufblockallocator.h"
#include "gstdmabufexporter.h"
#include "gstdmabuffence.h"
#include "gstffsendpoint.h"

GST_DEBUG_CATEGORY_STATIC (gst_ffs_src_debug);
#define GST_CAT_DEFAULT gst_ffs_src_debug

#define DEFAULT_BLOCKSIZE 65536
#define MAX_BLOCKSIZE (64 * 1024 * 1024)
#define DEFAULT_TIMEOUT 10000
#define DEFAULT_TRANSFERS 4
#define DEFAULT_BLOCKS 8
#define MAX_BLOCKS 64
#define DEFAULT_DMA_HEAP "system"
#define DEFAULT_SHORT_CHECK TRUE
#define MARKER_BYTES 16
#define INTERFACE_NAME "gst-iio ffssrc"
/* How long a failed transfer waits for ep0's event that names its cause,
 * and a DISABLE for an UNBIND right behind it */
#define CAUSE_WAIT_MS 1000
#define UNBIND_WAIT_MS 200

enum
{
  PROP_0,
  PROP_ENDPOINT,
  PROP_FUNCTION,
  PROP_CAPS,
  PROP_TIMEOUT,
  PROP_TRANSFERS,
  PROP_BLOCKS,
  PROP_DMA_HEAP,
  PROP_SHORT_CHECK,
  PROP_STATS,
};

/* One queued TRANSFER: the block (our reference) and its sync file. */
typedef struct
{
  GstMemory *block;
  gint fence;
} Transfer;

typedef enum
{
  QUEUE_OK,
  QUEUE_BUSY,                   /* a fence on the DMABUF is still pending */
  QUEUE_FAILED,                 /* errno in *err */
} QueueResult;

struct _GstFfsSrc
{
  GstBaseSrc parent;

  /* properties, under the object lock */
  gchar *endpoint;
  gchar *function;
  GstCaps *caps;
  guint timeout;
  guint transfers;
  guint blocks;
  gchar *dma_heap;
  gboolean short_check;

  /* the function (from READY) and the endpoint file (start to stop) */
  GstFfsEndpoint ffs;

  /* fixed from start() to stop() (the pool, with function=, from the
   * first create() after the host's ENABLE) */
  gchar *heap;
  guint n_blocks;
  GstDmabufBlockAllocator *pool;
  gsize block_bytes;
  guint timeout_ms;
  guint max_queued;
  gboolean check_short;
  guint8 marker[MARKER_BYTES];

  /* the queue: the streaming thread and the released hook */
  GMutex lock;
  GQueue queued;                /* Transfer *, oldest first */
  gboolean flushing;            /* unlocked or stopping: queue nothing */
  gint queue_errno;             /* the hook's last failed TRANSFER, or 0 */

  /* stats, under the object lock */
  guint64 n_transfers;
  guint64 bytes;
  guint64 dmabuf_imports;
  guint64 timeouts;
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define gst_ffs_src_parent_class parent_class
G_DEFINE_TYPE (GstFfsSrc, gst_ffs_src, GST_TYPE_BASE_SRC);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ffssrc, "ffssrc", GST_RANK_NONE,
    GST_TYPE_FFS_SRC,
    GST_DEBUG_CATEGORY_INIT (gst_ffs_src_debug, "ffssrc", 0,
        "FunctionFS source"));

/* ---- the pool's attacher ---- */

static gboolean
ffs_attach (gpointer target, gint fd, GError ** error)
{
  GstFfsSrc *self = target;

  if (!gst_ffs_endpoint_attach (&self->ffs, fd, error))
    return FALSE;
  GST_OBJECT_LOCK (self);
  self->dmabuf_imports++;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static void
ffs_detach (gpointer target, gint fd)
{
  GstFfsSrc *self = target;

  gst_ffs_endpoint_detach (&self->ffs, fd);
}

static const GstDmabufAttacher attacher = {
  ffs_attach,
  ffs_detach,
};

/* ---- queueing ---- */

static gboolean
marker_write (GstFfsSrc * self, GstMemory * block)
{
  GstMapInfo map;

  if (!gst_memory_map (block, &map, GST_MAP_WRITE))
    return FALSE;
  memcpy (map.data + map.size - MARKER_BYTES, self->marker, MARKER_BYTES);
  gst_memory_unmap (block, &map);
  return TRUE;
}

/* TRUE when the marker is still there: the host never wrote the block's
 * last bytes, the transfer ended early. */
static gboolean
marker_intact (GstFfsSrc * self, GstMemory * block)
{
  GstMapInfo map;
  gboolean intact;

  if (!gst_memory_map (block, &map, GST_MAP_READ))
    return FALSE;
  intact = memcmp (map.data + map.size - MARKER_BYTES, self->marker,
      MARKER_BYTES) == 0;
  gst_memory_unmap (block, &map);
  return intact;
}

/* Under self->lock. Queues @block (ours, full size); on QUEUE_OK the
 * block's reference is the new transfer's. The endpoint fd is
 * non-blocking: the ioctl never waits in the kernel. */
static QueueResult
queue_locked (GstFfsSrc * self, GstMemory * block, gint * err)
{
  gint fd = gst_dmabuf_memory_get_fd (block);
  Transfer *t;
  gint fence;

  if (self->check_short && !marker_write (self, block)) {
    *err = EIO;
    return QUEUE_FAILED;
  }
  if (gst_ffs_endpoint_unbound (&self->ffs)) {
    *err = ENODEV;              /* not to the kernel: kernel-bugs 16 */
    return QUEUE_FAILED;
  }
  gst_dmabuf_block_allocator_mark_queued (self->pool, block);
  *err = gst_ffs_endpoint_transfer (&self->ffs, fd, self->block_bytes);
  if (*err)
    return *err == EBUSY ? QUEUE_BUSY : QUEUE_FAILED;
  /* taken while the fence is pending, so that it carries the transfer's
   * status; every fence, so right whichever way the kernel filed it */
  fence = gst_dmabuf_fence_export (fd, TRUE, NULL);
  t = g_new0 (Transfer, 1);
  t->block = block;
  t->fence = fence;
  g_queue_push_tail (&self->queued, t);
  if (fence < 0) {
    /* queued all the same: the streaming thread reports it */
    *err = errno ? errno : EIO;
    return QUEUE_FAILED;
  }
  return QUEUE_OK;
}

/* The allocator's released hook: downstream dropped a block. Queued again
 * at once unless unlocked, stopping, or enough are queued. */
static void
block_released (GstDmabufBlockAllocator * pool, GstMemory * block,
    gpointer user_data)
{
  GstFfsSrc *self = user_data;
  QueueResult r = QUEUE_FAILED;
  gint err = 0;

  g_mutex_lock (&self->lock);
  if (!self->flushing && g_queue_get_length (&self->queued) < self->max_queued) {
    r = queue_locked (self, block, &err);
    if (r == QUEUE_FAILED && err != EBUSY && !g_queue_is_empty (&self->queued)
        && ((Transfer *) g_queue_peek_tail (&self->queued))->block == block)
      r = QUEUE_OK;             /* queued, its sync file failed: reported */
    if (r == QUEUE_FAILED)
      self->queue_errno = err;
  }
  g_mutex_unlock (&self->lock);
  if (r != QUEUE_OK)
    gst_dmabuf_block_allocator_put_free (pool, block);
}

/* ---- errors ---- */

/* With a function of ours: why the host went, from ep0's state (waiting
 * a moment for the event when the fence came first), or NULL while the
 * interface stays enabled. */
static const gchar *
disconnect_cause (GstFfsSrc * self)
{
  GstFfsFunctionState st;

  if (self->ffs.fn == NULL)
    return NULL;
  if (gst_ffs_function_get_state (self->ffs.fn, NULL, NULL) ==
      GST_FFS_FUNCTION_ENABLED)
    gst_ffs_function_wait_change (self->ffs.fn, GST_FFS_FUNCTION_ENABLED,
        self->ffs.cancel, CAUSE_WAIT_MS);
  if (gst_ffs_function_get_state (self->ffs.fn, NULL, NULL) ==
      GST_FFS_FUNCTION_BOUND)
    gst_ffs_function_wait_change (self->ffs.fn, GST_FFS_FUNCTION_BOUND,
        self->ffs.cancel, UNBIND_WAIT_MS);
  st = gst_ffs_function_get_state (self->ffs.fn, NULL, NULL);
  return st == GST_FFS_FUNCTION_ENABLED ? NULL :
      gst_ffs_function_describe_state (st);
}

static void
post_transfer_error (GstFfsSrc * self, const gchar * what, gint err)
{
  const gchar *cause = err == EAGAIN || err == ESHUTDOWN || err == ECONNRESET
      || err == ENODEV ? disconnect_cause (self) : NULL;

  if (cause)
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("The USB host disconnected "
            "from %s: %s", self->ffs.path, cause),
        ("%s: %s", what, g_strerror (err)));
  else if (err == EAGAIN)
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("The USB host has not "
            "enabled the interface of %s (not connected, or not configured)",
            self->ffs.path), ("%s: %s", what, g_strerror (err)));
  else if (err == ESHUTDOWN || err == ECONNRESET || err == ENODEV)
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("The USB host disconnected or "
            "disabled the interface of %s", self->ffs.path),
        ("%s: %s", what, g_strerror (err)));
  else
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("USB transfer on %s failed",
            self->ffs.path), ("%s: %s", what, g_strerror (err)));
}

/* ---- create ---- */

static GstFlowReturn setup_after_enable (GstFfsSrc * self);

/* Queues free blocks up to max_queued. GST_FLOW_OK, or an error posted.
 * *busy: a block whose fences were pending (put back free), to wait on
 * when nothing else is queued (-1: none). */
static GstFlowReturn
refill (GstFfsSrc * self, gint * busy)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GstMemory *block;
  gint err = 0;

  *busy = -1;
  g_mutex_lock (&self->lock);
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    return GST_FLOW_FLUSHING;
  }
  if (self->queue_errno) {
    err = self->queue_errno;
    self->queue_errno = 0;
    g_mutex_unlock (&self->lock);
    post_transfer_error (self, "FUNCTIONFS_DMABUF_TRANSFER", err);
    return GST_FLOW_ERROR;
  }
  while (g_queue_get_length (&self->queued) < self->max_queued
      && (block = gst_dmabuf_block_allocator_try_acquire (self->pool,
              self->block_bytes)) != NULL) {
    QueueResult r = queue_locked (self, block, &err);

    if (r == QUEUE_OK)
      continue;
    if (r == QUEUE_BUSY) {
      *busy = gst_dmabuf_memory_get_fd (block);
      gst_dmabuf_block_allocator_put_free (self->pool, block);
      break;
    }
    /* not queued, unless only its sync file failed */
    if (g_queue_is_empty (&self->queued)
        || ((Transfer *) g_queue_peek_tail (&self->queued))->block != block)
      gst_dmabuf_block_allocator_put_free (self->pool, block);
    ret = GST_FLOW_ERROR;
    break;
  }
  g_mutex_unlock (&self->lock);
  if (ret == GST_FLOW_ERROR)
    post_transfer_error (self, "FUNCTIONFS_DMABUF_TRANSFER", err);
  return ret;
}

static gint
left_ms (GstFfsSrc * self, gint64 deadline)
{
  if (deadline < 0)
    return -1;
  return (gint) MAX (0, (deadline - g_get_monotonic_time ()) / 1000);
}

/* Nothing queued: every block is downstream, or one is busy. Waits for a
 * block, interruptible, bounded by the deadline. */
static GstFlowReturn
wait_for_block (GstFfsSrc * self, gint busy, gint64 deadline)
{
  GstFlowReturn ret;

  if (deadline >= 0 && g_get_monotonic_time () >= deadline) {
    if (busy >= 0)
      GST_ELEMENT_ERROR (self, RESOURCE, READ, ("A DMABUF of %s stayed busy "
              "for longer than the timeout of %u ms", self->ffs.path,
              self->timeout_ms), ("a fence of another device is pending"));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Downstream held all %u "
              "blocks of %s for longer than the timeout of %u ms",
              gst_dmabuf_block_allocator_get_n_blocks (self->pool),
              self->ffs.path, self->timeout_ms), ("raise blocks"));
    return GST_FLOW_ERROR;
  }
  if (busy >= 0) {
    gint fd = gst_dmabuf_fence_export (busy, TRUE, NULL);
    gint ms = left_ms (self, deadline);

    if (fd >= 0) {
      GstDmabufFenceWait w = gst_dmabuf_fence_wait (fd, self->ffs.cancel,
          ms < 0 ? 100 : MIN (ms, 100), NULL);
      close (fd);
      if (w == GST_DMABUF_FENCE_CANCELLED)
        return GST_FLOW_FLUSHING;
    }
    return GST_FLOW_OK;
  }
  ret = gst_dmabuf_block_allocator_wait (self->pool, deadline);
  /* the deadline is checked on the next round */
  return ret == GST_FLOW_CUSTOM_ERROR ? GST_FLOW_OK : ret;
}

static GstFlowReturn
gst_ffs_src_create (GstBaseSrc * bsrc, guint64 offset, guint length,
    GstBuffer ** out)
{
  GstFfsSrc *self = GST_FFS_SRC (bsrc);
  gint64 deadline = self->timeout_ms == 0 ? -1 :
      g_get_monotonic_time () + (gint64) self->timeout_ms * 1000;
  GstFlowReturn ret;
  GError *error = NULL;
  Transfer *t;
  GstBuffer *buf;
  gint status, busy;

  if (self->pool == NULL) {
    ret = setup_after_enable (self);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  for (;;) {
    ret = refill (self, &busy);
    if (ret != GST_FLOW_OK)
      return ret;
    g_mutex_lock (&self->lock);
    t = g_queue_peek_head (&self->queued);
    g_mutex_unlock (&self->lock);
    if (t)
      break;
    ret = wait_for_block (self, busy, deadline);
    if (ret != GST_FLOW_OK)
      return ret;
  }

  /* only this thread pops: t stays the head */
  if (t->fence < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot wait for a USB "
            "transfer on %s", self->ffs.path),
        ("DMA_BUF_IOCTL_EXPORT_SYNC_FILE failed"));
    return GST_FLOW_ERROR;
  }
  switch (gst_dmabuf_fence_wait (t->fence, self->ffs.cancel,
          self->timeout_ms == 0 ? -1 : (gint) self->timeout_ms, &error)) {
    case GST_DMABUF_FENCE_SIGNALED:
      break;
    case GST_DMABUF_FENCE_CANCELLED:
      return GST_FLOW_FLUSHING;
    case GST_DMABUF_FENCE_TIMEOUT:
      GST_OBJECT_LOCK (self);
      self->timeouts++;
      GST_OBJECT_UNLOCK (self);
      GST_ELEMENT_ERROR (self, RESOURCE, READ, ("The USB host sent no data "
              "to %s: a transfer did not complete within the timeout of "
              "%u ms", self->ffs.path, self->timeout_ms),
          ("%u transfers queued", self->max_queued));
      return GST_FLOW_ERROR;
    case GST_DMABUF_FENCE_FAILED:
    default:
      GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Waiting for a USB transfer "
              "on %s failed", self->ffs.path), ("%s", error->message));
      g_clear_error (&error);
      return GST_FLOW_ERROR;
  }

  /* status read and sync file closed while the block is still attached
   * (docs/kernel-bugs.md 15) */
  status = gst_dmabuf_fence_get_status (t->fence);
  g_mutex_lock (&self->lock);
  g_queue_pop_head (&self->queued);
  g_mutex_unlock (&self->lock);
  close (t->fence);
  if (status < 0) {
    gst_dmabuf_block_allocator_put_free (self->pool, t->block);
    g_free (t);
    post_transfer_error (self, "transfer fence", -status);
    return GST_FLOW_ERROR;
  }
  if (self->check_short && marker_intact (self, t->block)) {
    gst_dmabuf_block_allocator_put_free (self->pool, t->block);
    g_free (t);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("The USB host sent a transfer "
            "shorter than blocksize (%" G_GSIZE_FORMAT " bytes) to %s: "
            "FunctionFS's DMABUF interface does not report how many bytes "
            "arrived, so the host must send whole blocks", self->block_bytes,
            self->ffs.path), ("a short packet ended the transfer early; set "
            "blocksize to the host's transfer size"));
    return GST_FLOW_ERROR;
  }

  gst_dmabuf_block_allocator_mark_outstanding (self->pool, t->block);
  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, t->block);
  g_free (t);
  GST_OBJECT_LOCK (self);
  GST_BUFFER_OFFSET (buf) = self->bytes;
  GST_BUFFER_OFFSET_END (buf) = self->bytes + self->block_bytes;
  self->n_transfers++;
  self->bytes += self->block_bytes;
  GST_OBJECT_UNLOCK (self);
  *out = buf;
  return GST_FLOW_OK;
}

/* ---- caps ---- */

static GstCaps *
gst_ffs_src_get_caps (GstBaseSrc * bsrc, GstCaps * filter)
{
  GstFfsSrc *self = GST_FFS_SRC (bsrc);
  GstCaps *caps;

  GST_OBJECT_LOCK (self);
  caps = self->caps ? gst_caps_ref (self->caps) : gst_caps_new_any ();
  GST_OBJECT_UNLOCK (self);
  if (filter) {
    GstCaps *c = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = c;
  }
  return caps;
}

/* ---- unlock ---- */

static gboolean
gst_ffs_src_unlock (GstBaseSrc * bsrc)
{
  GstFfsSrc *self = GST_FFS_SRC (bsrc);

  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  g_mutex_unlock (&self->lock);
  if (self->pool)
    gst_dmabuf_block_allocator_set_flushing (self->pool, TRUE);
  gst_ffs_endpoint_unlock (&self->ffs);
  return TRUE;
}

static gboolean
gst_ffs_src_unlock_stop (GstBaseSrc * bsrc)
{
  GstFfsSrc *self = GST_FFS_SRC (bsrc);

  gst_ffs_endpoint_unlock_stop (&self->ffs);
  if (self->pool)
    gst_dmabuf_block_allocator_set_flushing (self->pool, FALSE);
  g_mutex_lock (&self->lock);
  self->flushing = FALSE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* ---- start, stop ---- */

static void
close_all (GstFfsSrc * self)
{
  Transfer *t;
  GList *l;

  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  /* every sync file before the DETACH that may free the fences' lock
   * (docs/kernel-bugs.md 15) */
  for (l = self->queued.head; l; l = l->next) {
    t = l->data;
    if (t->fence >= 0)
      close (t->fence);
    t->fence = -1;
  }
  g_mutex_unlock (&self->lock);
  if (self->pool) {
    /* no hook after this; the DETACHes cancel what is queued */
    gst_dmabuf_block_allocator_close (self->pool);
    while ((t = g_queue_pop_head (&self->queued)) != NULL) {
      gst_ffs_endpoint_wait_cancelled (&self->ffs,
          gst_dmabuf_memory_get_fd (t->block));
      gst_memory_unref (t->block);
      g_free (t);
    }
    gst_clear_object (&self->pool);
  }
  gst_ffs_endpoint_close (&self->ffs);
}

/* The endpoint's descriptor: a bulk OUT endpoint, and its packet size. */
static gboolean
check_endpoint (GstFfsSrc * self, guint * max_packet)
{
  gint err;

  if (gst_ffs_endpoint_check_desc (&self->ffs, max_packet, &err))
    return TRUE;
  if (err)
    post_transfer_error (self, "FUNCTIONFS_ENDPOINT_DESC", err);
  return FALSE;
}

/* The endpoint's check, the pool (its blocks attached) and the marker. */
static gboolean
setup_pool (GstFfsSrc * self)
{
  GstDmabufExporter *exporter;
  GError *error = NULL;
  guint max_packet, i;

  if (!check_endpoint (self, &max_packet))
    return FALSE;
  /* a request must end on a packet boundary: only a short packet from the
   * host then ends it early */
  if (self->block_bytes < max_packet || self->block_bytes > MAX_BLOCKSIZE
      || self->block_bytes % max_packet != 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("blocksize %"
            G_GSIZE_FORMAT " is not valid for %s: valid are multiples of the "
            "endpoint's max packet size %u, from %u to %u bytes",
            self->block_bytes, self->ffs.path, max_packet, max_packet,
            MAX_BLOCKSIZE), (NULL));
    return FALSE;
  }

  exporter = gst_dmabuf_exporter_new (self->heap, &error);
  if (exporter == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error->message),
        ("dma-heap: a heap name in /dev/dma_heap, a path, or udmabuf"));
    g_clear_error (&error);
    return FALSE;
  }
  self->pool = gst_dmabuf_block_allocator_new (self->block_bytes, &attacher,
      self);
  for (i = 0; i < self->n_blocks; i++) {
    gint fd = gst_dmabuf_exporter_alloc (exporter, self->block_bytes, &error);

    if (fd < 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, ("Cannot allocate a "
              "DMABUF of %" G_GSIZE_FORMAT " bytes from %s",
              self->block_bytes,
              gst_dmabuf_exporter_get_description (exporter)),
          ("%s", error->message));
      break;
    }
    if (!gst_dmabuf_block_allocator_add_block (self->pool, fd, &error)) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot attach a DMABUF to "
              "%s: %s", self->ffs.path, error->message), (NULL));
      break;
    }
  }
  gst_object_unref (exporter);
  if (error) {
    g_clear_error (&error);
    return FALSE;
  }
  for (i = 0; i < MARKER_BYTES; i += 4) {
    guint32 r = g_random_int ();
    memcpy (self->marker + i, &r, 4);
  }
  gst_dmabuf_block_allocator_set_released_func (self->pool, block_released,
      self);
  GST_DEBUG_OBJECT (self, "%s: %u blocks of %" G_GSIZE_FORMAT " bytes, %u "
      "queued, max packet %u", self->ffs.path, self->n_blocks,
      self->block_bytes, self->max_queued, max_packet);
  return TRUE;

}

/* function=: the host's ENABLE (bounded by timeout, unlockable), then the
 * pool. */
static GstFlowReturn
setup_after_enable (GstFfsSrc * self)
{
  gint ms = self->timeout_ms == 0 ? G_MAXINT : (gint) self->timeout_ms;

  switch (gst_ffs_function_wait (self->ffs.fn, TRUE, self->ffs.cancel, ms)) {
    case GST_FFS_FUNCTION_WAIT_DONE:
      break;
    case GST_FFS_FUNCTION_WAIT_CANCELLED:
      return GST_FLOW_FLUSHING;
    case GST_FFS_FUNCTION_WAIT_TIMEOUT:
    default:
      GST_ELEMENT_ERROR (self, RESOURCE, READ, ("The USB host did not "
              "enable the interface of %s within the timeout of %u ms: %s",
              self->ffs.path, self->timeout_ms,
              gst_ffs_function_describe_state (gst_ffs_function_get_state
                  (self->ffs.fn, NULL, NULL))),
          ("bind the gadget to a UDC once "
              "the element is in READY, and connect a host"));
      return GST_FLOW_ERROR;
  }
  return setup_pool (self) ? GST_FLOW_OK : GST_FLOW_ERROR;
}

static gboolean
gst_ffs_src_start (GstBaseSrc * bsrc)
{
  GstFfsSrc *self = GST_FFS_SRC (bsrc);
  guint blocks;
  gchar *heap;

  GST_OBJECT_LOCK (self);
  gst_ffs_endpoint_set_path (&self->ffs, self->endpoint);
  self->timeout_ms = self->timeout;
  self->max_queued = self->transfers;
  self->check_short = self->short_check;
  blocks = self->blocks;
  heap = g_strdup (self->dma_heap);
  self->n_transfers = self->bytes = self->dmabuf_imports = 0;
  self->timeouts = 0;
  GST_OBJECT_UNLOCK (self);
  self->block_bytes = gst_base_src_get_blocksize (bsrc);
  self->flushing = FALSE;
  self->queue_errno = 0;

  if (!gst_ffs_endpoint_check_path (&self->ffs))
    goto fail;
  if (self->max_queued > blocks) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("transfers (%u) cannot "
            "exceed blocks (%u): valid transfers are 1 to %u",
            self->max_queued, blocks, blocks), (NULL));
    goto fail;
  }
  if (!gst_ffs_endpoint_open (&self->ffs))
    goto fail;
  g_free (self->heap);
  self->heap = heap;
  self->n_blocks = blocks;
  /* with function=, the endpoint's descriptor and the ATTACHes wait for
   * the host (ENDPOINT_DESC is EAGAIN before the ENABLE, ATTACH EPERM
   * while unbound): the first create() does them, where unlock works */
  if (self->ffs.fn == NULL && !setup_pool (self))
    goto fail_heap_kept;
  return TRUE;

fail:
  g_free (heap);
fail_heap_kept:
  close_all (self);
  return FALSE;
}

static gboolean
gst_ffs_src_stop (GstBaseSrc * bsrc)
{
  close_all (GST_FFS_SRC (bsrc));
  return TRUE;
}

static GstStateChangeReturn
gst_ffs_src_change_state (GstElement * element, GstStateChange transition)
{
  GstFfsSrc *self = GST_FFS_SRC (element);

  return gst_ffs_endpoint_change_state (&self->ffs, transition,
      &self->function, INTERFACE_NAME, GST_ELEMENT_CLASS (parent_class));
}

/* ---- properties ---- */

static GstStructure *
get_stats (GstFfsSrc * self)
{
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("ffssrc-stats",
      "transfers", G_TYPE_UINT64, self->n_transfers,
      "bytes", G_TYPE_UINT64, self->bytes,
      "bytes-copied", G_TYPE_UINT64, (guint64) 0,
      "dmabuf-imports", G_TYPE_UINT64, self->dmabuf_imports,
      "timeouts", G_TYPE_UINT64, self->timeouts, NULL);
  GST_OBJECT_UNLOCK (self);
  return s;
}

static void
gst_ffs_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstFfsSrc *self = GST_FFS_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ENDPOINT:
      g_free (self->endpoint);
      self->endpoint = g_value_dup_string (value);
      break;
    case PROP_FUNCTION:
      g_free (self->function);
      self->function = g_value_dup_string (value);
      break;
    case PROP_CAPS:
      gst_caps_replace (&self->caps, (GstCaps *) gst_value_get_caps (value));
      break;
    case PROP_TIMEOUT:
      self->timeout = g_value_get_uint (value);
      break;
    case PROP_TRANSFERS:
      self->transfers = g_value_get_uint (value);
      break;
    case PROP_BLOCKS:
      self->blocks = g_value_get_uint (value);
      break;
    case PROP_DMA_HEAP:
      g_free (self->dma_heap);
      self->dma_heap = g_value_dup_string (value);
      break;
    case PROP_SHORT_CHECK:
      self->short_check = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ffs_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstFfsSrc *self = GST_FFS_SRC (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, get_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ENDPOINT:
      g_value_set_string (value, self->endpoint);
      break;
    case PROP_FUNCTION:
      g_value_set_string (value, self->function);
      break;
    case PROP_CAPS:
      gst_value_set_caps (value, self->caps);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout);
      break;
    case PROP_TRANSFERS:
      g_value_set_uint (value, self->transfers);
      break;
    case PROP_BLOCKS:
      g_value_set_uint (value, self->blocks);
      break;
    case PROP_DMA_HEAP:
      g_value_set_string (value, self->dma_heap);
      break;
    case PROP_SHORT_CHECK:
      g_value_set_boolean (value, self->short_check);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ffs_src_finalize (GObject * object)
{
  GstFfsSrc *self = GST_FFS_SRC (object);

  g_free (self->endpoint);
  g_free (self->function);
  gst_ffs_endpoint_clear (&self->ffs);
  g_free (self->heap);
  g_free (self->dma_heap);
  gst_caps_replace (&self->caps, NULL);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_ffs_src_class_init (GstFfsSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *bsrc_class = GST_BASE_SRC_CLASS (klass);
  const GParamFlags rw_ready = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_ffs_src_set_property;
  gobject_class->get_property = gst_ffs_src_get_property;
  gobject_class->finalize = gst_ffs_src_finalize;

  g_object_class_install_property (gobject_class, PROP_ENDPOINT,
      g_param_spec_string ("endpoint", "Endpoint", "The bulk OUT endpoint "
          "file of a FunctionFS function whose ep0 another program has set "
          "up, e.g. /dev/ffs-NAME/ep2 (ignored when function is set)", NULL,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_FUNCTION,
      g_param_spec_string ("function", "Function", "The mount point of a "
          "FunctionFS function the element owns from READY to NULL, e.g. "
          "/dev/ffs-NAME: it writes ep0's descriptors (one vendor-specific "
          "interface, one bulk OUT endpoint), answers ep0's events and "
          "streams once the host enabled the interface; wins over endpoint",
          NULL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_CAPS,
      g_param_spec_boxed ("caps", "Caps", "The format of the stream the USB "
          "host sends, e.g. audio/x-raw,format=S16LE,channels=2,rate=48000,"
          "layout=interleaved (unset: none, ANY)", GST_TYPE_CAPS, rw_ready));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout", "Milliseconds a transfer may "
          "wait for the USB host before the element fails with an error "
          "(0: wait for ever, still interruptible)", 0, G_MAXINT,
          DEFAULT_TIMEOUT, rw_ready));
  g_object_class_install_property (gobject_class, PROP_TRANSFERS,
      g_param_spec_uint ("transfers", "Transfers", "Transfers of blocksize "
          "bytes kept queued to the USB controller (at most blocks)",
          1, MAX_BLOCKS, DEFAULT_TRANSFERS, rw_ready));
  g_object_class_install_property (gobject_class, PROP_BLOCKS,
      g_param_spec_uint ("blocks", "Blocks", "DMABUFs of blocksize bytes in "
          "the element's pool: the queued transfers and the buffers "
          "downstream holds", 1, MAX_BLOCKS, DEFAULT_BLOCKS, rw_ready));
  g_object_class_install_property (gobject_class, PROP_DMA_HEAP,
      g_param_spec_string ("dma-heap", "DMA heap", "Where the pool's DMABUFs "
          "come from: a heap name in /dev/dma_heap, a path to a heap device, "
          "or udmabuf (\"system\" falls back to udmabuf)", DEFAULT_DMA_HEAP,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_SHORT_CHECK,
      g_param_spec_boolean ("short-check", "Short check", "Detect a transfer "
          "the host ended before blocksize bytes (a marker at each block's "
          "end) and fail instead of pushing stale bytes", DEFAULT_SHORT_CHECK,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics", "Counters of the running "
          "or last stream: transfers (completed), bytes, bytes-copied "
          "(always 0), dmabuf-imports (DMABUFs attached), timeouts",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "FunctionFS source", "Source/Hardware",
      "Reads a stream from a USB gadget's bulk OUT endpoint through Linux "
      "FunctionFS into DMABUFs, zero-copy", "gst-iio contributors");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_ffs_src_change_state);
  bsrc_class->start = GST_DEBUG_FUNCPTR (gst_ffs_src_start);
  bsrc_class->stop = GST_DEBUG_FUNCPTR (gst_ffs_src_stop);
  bsrc_class->create = GST_DEBUG_FUNCPTR (gst_ffs_src_create);
  bsrc_class->get_caps = GST_DEBUG_FUNCPTR (gst_ffs_src_get_caps);
  bsrc_class->unlock = GST_DEBUG_FUNCPTR (gst_ffs_src_unlock);
  bsrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_ffs_src_unlock_stop);
}

static void
gst_ffs_src_init (GstFfsSrc * self)
{
  self->timeout = DEFAULT_TIMEOUT;
  self->transfers = DEFAULT_TRANSFERS;
  self->blocks = DEFAULT_BLOCKS;
  self->dma_heap = g_strdup (DEFAULT_DMA_HEAP);
  self->short_check = DEFAULT_SHORT_CHECK;
  gst_ffs_endpoint_init (&self->ffs, GST_ELEMENT (self), GST_FFS_DIRECTION_OUT);
  g_mutex_init (&self->lock);
  g_queue_init (&self->queued);
  /* the USB host paces the stream, as a network peer would: live, each
   * buffer stamped with the running time its transfer completed */
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  gst_base_src_set_do_timestamp (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_blocksize (GST_BASE_SRC (self), DEFAULT_BLOCKSIZE);
}
