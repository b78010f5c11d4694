/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The output lifecycle, in order: start (blocks allocated and attached,
 * the buffer enabled), getting a block (for upstream or for our copies),
 * the three routes into the device (our block, an imported DMABUF, a
 * copy into our blocks), the transfer's end (the buffer released, our
 * block back on the free list), drain, flush and pause, stop. The
 * transfers (gstiiotransfers.h), the blocks (gstdmabufblockallocator.h)
 * and the imports (gstdmabufimportcache.h) carry the waiting and the
 * bookkeeping. */
#include "gstiiodmabufoutput.h"
#include "gstiiosinkallocator.h"
#include "gstiiotransfers.h"
#include "gstdmabufblockallocator.h"
#include "gstdmabufexporter.h"
#include "gstdmabufimportcache.h"

#include <string.h>
#include <gst/allocators/allocators.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_dmabuf_output_debug);
#define GST_CAT_DEFAULT gst_iio_dmabuf_output_debug

struct _GstIioDmabufOutput
{
  GstIioQueue parent;

  /* Streaming thread only. */
  GstMemory *pending;           /* our block being filled by copies */
  GstMapInfo pending_map;
  gsize pending_fill;
  gsize resume;                 /* bytes of an interrupted buffer copied */
  gboolean cyclic_queued;
  gboolean cyclic_drop_logged;
  gboolean import_failure_logged;
  guint64 n_enqueued;
  guint64 reported_bytes;       /* consumed, as last reported */

  /* Leaf lock. The objects are made by start() and dropped by stop(),
   * in the state thread; other threads (upstream's allocations, unlock)
   * take a reference under the lock. */
  GMutex lock;
  GCond cond;                   /* flushing ended, a discard, or stop */
  GstDmabufExporter *exporter;
  GstIioTransfers *transfers;
  GstDmabufBlockAllocator *blocks;
  GstDmabufImportCache *imports;
  gboolean flushing;
  gboolean discard_pending;     /* a flush began: drop the partial block */
  guint discards;               /* counts discard() calls */
  gboolean stopped;             /* stop() to start() */
};

G_DEFINE_TYPE_WITH_CODE (GstIioDmabufOutput, gst_iio_dmabuf_output,
    GST_TYPE_IIO_QUEUE,
    GST_DEBUG_CATEGORY_INIT (gst_iio_dmabuf_output_debug, "iiodmabufoutput",
        0, "IIO output DMABUF queue"));

static const gchar *
device_name (GstIioDmabufOutput * self)
{
  return gst_iio_device_get_display_name (gst_iio_queue_get_device
      (GST_IIO_QUEUE (self)));
}

static const GstIioQueueConfig *
config_of (GstIioDmabufOutput * self)
{
  return gst_iio_queue_get_config (GST_IIO_QUEUE (self));
}

/* ---- start ---- */

/* A missing default heap means "no DMABUF here" (io-mode=auto falls back
 * to copy); a heap the user named must exist. */
static GstDmabufExporter *
open_exporter (GstIioDmabufOutput * self, GError ** error)
{
  const gchar *heap = config_of (self)->dma_heap;
  GstDmabufExporter *exporter;
  GError *err = NULL;

  exporter = gst_dmabuf_exporter_new (heap, &err);
  if (exporter)
    return exporter;

  if (heap == NULL || heap[0] == '\0'
      || g_str_equal (heap, GST_DMABUF_EXPORTER_DEFAULT_HEAP)) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
        "no DMA heap and no udmabuf to allocate DMABUFs from (%s)",
        err->message);
    g_error_free (err);
  } else {
    g_propagate_error (error, err);
  }

  return NULL;
}

/* Our blocks double as what upstream writes into and as copy targets.
 * They are attached before enable: the kernel picks DMABUF or fileio
 * mode when the buffer is enabled. */
static gboolean
make_blocks (GstIioDmabufOutput * self, GError ** error)
{
  gsize block_bytes = gst_iio_queue_get_block_bytes (GST_IIO_QUEUE (self));
  const GstDmabufAttacher *attacher = gst_iio_transfers_get_attacher ();
  guint i;
  gint fd;

  self->blocks = gst_dmabuf_block_allocator_new (block_bytes, attacher,
      self->transfers);
  self->imports = gst_dmabuf_import_cache_new (attacher, self->transfers);
  for (i = 0; i < config_of (self)->n_blocks; i++) {
    fd = gst_dmabuf_exporter_alloc (self->exporter, block_bytes, error);
    if (fd < 0 || !gst_dmabuf_block_allocator_add_block (self->blocks, fd,
            error))
      return FALSE;
  }

  return TRUE;
}

static void gst_iio_dmabuf_output_stop (GstIioQueue * queue);

static gboolean
gst_iio_dmabuf_output_start (GstIioQueue * queue, GError ** error)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  GstIioDevice *device = gst_iio_queue_get_device (queue);
  gboolean ok;

  self->n_enqueued = 0;
  self->reported_bytes = 0;
  self->cyclic_queued = self->cyclic_drop_logged = FALSE;
  self->resume = 0;

  g_mutex_lock (&self->lock);
  self->stopped = self->flushing = self->discard_pending = FALSE;
  ok = (self->exporter = open_exporter (self, error)) &&
      (self->transfers = gst_iio_transfers_open (device,
          GST_IIO_DIRECTION_OUTPUT, error)) &&
      gst_iio_device_write_scan_elements (device, error) &&
      make_blocks (self, error) &&
      gst_iio_transfers_enable (self->transfers, error);
  g_mutex_unlock (&self->lock);
  if (!ok) {
    gst_iio_dmabuf_output_stop (queue);
    return FALSE;
  }

  GST_INFO_OBJECT (self, "%s: %u blocks of %" G_GSIZE_FORMAT " bytes from %s"
      "%s", device_name (self), config_of (self)->n_blocks,
      gst_iio_queue_get_block_bytes (queue),
      gst_dmabuf_exporter_get_description (self->exporter),
      config_of (self)->cyclic ? ", cyclic" : "");

  return TRUE;
}

/* ---- getting a block ---- */

/* A free block of @size bytes. Every block is either in a transfer (the
 * oldest is waited for and retired: its block comes back when the
 * buffer holding it goes) or held elsewhere (upstream, a queue: wait up
 * to @timeout_ms for one to come back). GST_FLOW_CUSTOM_SUCCESS: none
 * will come back (only the cyclic transfer holds one). */
static GstFlowReturn
acquire_block (GstIioDmabufOutput * self, GstIioTransfers * transfers,
    GstDmabufBlockAllocator * blocks, gsize size, gint timeout_ms,
    GstMemory ** mem, GError ** error)
{
  gint device_timeout_ms = config_of (self)->timeout_ms;
  gint64 deadline = timeout_ms < 0 ? -1 :
      g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  GstFlowReturn ret;

  for (;;) {
    *mem = gst_dmabuf_block_allocator_try_acquire (blocks, size);
    if (*mem)
      return GST_FLOW_OK;

    ret = gst_iio_transfers_retire_oldest (transfers, device_timeout_ms, error);
    if (ret == GST_FLOW_OK)
      continue;
    if (ret != GST_FLOW_CUSTOM_SUCCESS)
      return ret;
    if (gst_dmabuf_block_allocator_count (blocks,
            GST_DMABUF_BLOCK_QUEUED) > 0 && config_of (self)->cyclic)
      return GST_FLOW_CUSTOM_SUCCESS;

    /* Nothing to retire: wait for a block to come back or be queued. */
    ret = gst_dmabuf_block_allocator_wait (blocks, deadline);
    if (ret == GST_FLOW_CUSTOM_ERROR) {
      g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_TIMEOUT,
          "None of the %u DMA blocks of %s came back within %d ms: all are "
          "held by other elements", config_of (self)->n_blocks,
          device_name (self), timeout_ms);
      return GST_FLOW_ERROR;
    }
    if (ret != GST_FLOW_OK)
      return ret;
  }
}

/* After an interrupted wait in upstream's thread: TRUE when it was a
 * pause (flushing ended with no discard since @discards, and no stop), so
 * the wait goes on; FALSE for a flush or stop. */
static gboolean
wait_pause_over (GstIioDmabufOutput * self, guint discards)
{
  gboolean paused;

  g_mutex_lock (&self->lock);
  while (self->flushing && self->discards == discards && !self->stopped)
    g_cond_wait (&self->cond, &self->lock);
  paused = self->discards == discards && !self->stopped;
  g_mutex_unlock (&self->lock);

  return paused;
}

GstMemory *
gst_iio_dmabuf_output_alloc_block (GstIioDmabufOutput * self, gsize size)
{
  GstIioTransfers *transfers = NULL;
  GstDmabufBlockAllocator *blocks = NULL;
  GstMemory *mem = NULL;
  GError *error = NULL;
  GstFlowReturn ret = GST_FLOW_FLUSHING;
  guint discards;

  do {
    g_mutex_lock (&self->lock);
    discards = self->discards;
    if (!self->stopped && self->blocks) {
      transfers = gst_object_ref (self->transfers);
      blocks = gst_object_ref (self->blocks);
    }
    g_mutex_unlock (&self->lock);
    if (blocks == NULL)
      break;
    if (size > gst_dmabuf_block_allocator_get_block_bytes (blocks)) {
      ret = GST_FLOW_NOT_SUPPORTED;
    } else {
      /* No limit on the wait for a block held elsewhere, like a pool's;
       * the waits on the device are bounded by the timeout. Upstream
       * would stop its task on FLUSHING: after a mere pause, resume. */
      ret = acquire_block (self, transfers, blocks, size, -1, &mem, &error);
    }
    gst_clear_object (&transfers);
    gst_clear_object (&blocks);
  } while (ret == GST_FLOW_FLUSHING && wait_pause_over (self, discards));

  /* The transfers keep a device failure for the streaming thread, which
   * posts it: here it only costs upstream a system-memory buffer. */
  if (error) {
    GST_INFO_OBJECT (self, "no block for upstream: %s", error->message);
    g_error_free (error);
  } else if (mem == NULL) {
    GST_LOG_OBJECT (self, "no block of %" G_GSIZE_FORMAT " bytes for "
        "upstream: %s", size, gst_flow_get_name (ret));
  }

  return mem;
}

/* ---- into the device ---- */

/* The transfer of one of our blocks ended: the block is no longer
 * queued, and comes back free when the last holder of @buffer lets go. */
static void
own_block_done (GstBuffer * buffer)
{
  GstMemory *mem = gst_buffer_peek_memory (buffer, 0);

  while (mem->parent)
    mem = mem->parent;
  gst_dmabuf_block_allocator_mark_outstanding (GST_DMABUF_BLOCK_ALLOCATOR
      (mem->allocator), mem);
  gst_buffer_unref (buffer);
}

/* The device had played everything queued: it ran dry before this one
 * (not counted before the first transfer). */
static void
count_underrun (GstIioDmabufOutput * self)
{
  if (self->n_enqueued == 0 || !gst_iio_transfers_ran_dry (self->transfers))
    return;
  GST_DEBUG_OBJECT (self, "underrun: the device played all it had");
  gst_iio_queue_add_stat (GST_IIO_QUEUE (self), GST_IIO_QUEUE_STAT_UNDERRUNS,
      1);
}

/* Room for one more transfer of @mem's DMABUF (inode number @ino). */
static GstFlowReturn
make_room (GstIioDmabufOutput * self, GstMemory * mem, guint64 ino,
    GError ** error)
{
  return gst_iio_transfers_make_room (self->transfers,
      config_of (self)->n_blocks, gst_dmabuf_memory_get_fd (mem), ino,
      config_of (self)->timeout_ms, error);
}

/* A whole buffer of one DMABUF memory @mem (ours when @own) goes to the
 * device; @buffer stays referenced until its transfer ends. The caller
 * made room. */
static GstFlowReturn
enqueue_buffer (GstIioDmabufOutput * self, GstBuffer * buffer,
    GstMemory * mem, gboolean own, GError ** error)
{
  gboolean cyclic = config_of (self)->cyclic;
  gint fd = gst_dmabuf_memory_get_fd (mem);

  count_underrun (self);
  if (own)
    gst_dmabuf_block_allocator_mark_queued (self->blocks, mem);
  if (!gst_iio_transfers_enqueue (self->transfers, fd, mem->size, cyclic,
          gst_buffer_ref (buffer), own ? (GDestroyNotify) own_block_done :
          (GDestroyNotify) gst_buffer_unref, error)) {
    if (own)
      gst_dmabuf_block_allocator_mark_outstanding (self->blocks, mem);
    gst_buffer_unref (buffer);
    return GST_FLOW_ERROR;
  }

  self->n_enqueued++;
  self->cyclic_queued = cyclic;
  gst_iio_queue_add_stat (GST_IIO_QUEUE (self), GST_IIO_QUEUE_STAT_BYTES,
      mem->size);

  return GST_FLOW_OK;
}

/* ---- the copy route into our own blocks ---- */

static void
drop_pending (GstIioDmabufOutput * self)
{
  if (self->pending == NULL)
    return;
  GST_DEBUG_OBJECT (self, "dropping %" G_GSIZE_FORMAT " copied bytes not "
      "queued yet", self->pending_fill);
  gst_memory_unmap (self->pending, &self->pending_map);
  g_clear_pointer (&self->pending, gst_memory_unref);
  self->pending_fill = 0;
}

/* Streaming thread: after a flush, the partly filled block holds data
 * from before it. */
static void
discard_after_flush (GstIioDmabufOutput * self)
{
  gboolean discard;

  g_mutex_lock (&self->lock);
  discard = self->discard_pending && !self->flushing;
  if (discard)
    self->discard_pending = FALSE;
  g_mutex_unlock (&self->lock);

  if (discard) {
    drop_pending (self);
    self->resume = 0;
  }
}

static GstFlowReturn
open_pending (GstIioDmabufOutput * self, GError ** error)
{
  GstMemory *mem;
  GstFlowReturn ret;

  ret = acquire_block (self, self->transfers, self->blocks,
      gst_dmabuf_block_allocator_get_block_bytes (self->blocks),
      config_of (self)->timeout_ms, &mem, error);
  if (ret == GST_FLOW_CUSTOM_SUCCESS)
    ret = GST_FLOW_FLUSHING;
  if (ret != GST_FLOW_OK)
    return ret;

  if (!gst_memory_map (mem, &self->pending_map, GST_MAP_WRITE)) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "Cannot map a DMA block of %s for writing", device_name (self));
    gst_memory_unref (mem);
    return GST_FLOW_ERROR;
  }
  self->pending = mem;
  self->pending_fill = 0;

  return GST_FLOW_OK;
}

/* Hands the block being filled to the device, full or not. Kept if
 * there is no room yet (flushing, error). */
static GstFlowReturn
submit_pending (GstIioDmabufOutput * self, GError ** error)
{
  GstMemory *mem = self->pending;
  GstBuffer *buffer;
  GstFlowReturn ret;

  if (mem == NULL)
    return GST_FLOW_OK;
  ret = make_room (self, mem, gst_dmabuf_block_get_ino (mem), error);
  if (ret != GST_FLOW_OK)
    return ret;

  gst_memory_unmap (mem, &self->pending_map);
  gst_memory_resize (mem, 0, self->pending_fill);
  buffer = gst_buffer_new ();
  gst_buffer_append_memory (buffer, mem);
  self->pending = NULL;
  self->pending_fill = 0;
  ret = enqueue_buffer (self, buffer, mem, TRUE, error);
  /* The transfer holds its own reference; on failure the block is free. */
  gst_buffer_unref (buffer);

  return ret;
}

/* Appends @data to our blocks, handing each to the device when full. */
static GstFlowReturn
copy_bytes (GstIioDmabufOutput * self, const guint8 * data, gsize size,
    GError ** error)
{
  gsize block_bytes = gst_iio_queue_get_block_bytes (GST_IIO_QUEUE (self));
  /* An interrupted call (a pause) resumes after what it copied. */
  gsize n, done = MIN (self->resume, size), start = done;
  GstFlowReturn ret = GST_FLOW_OK;

  while (done < size && ret == GST_FLOW_OK) {
    if (self->pending == NULL) {
      ret = open_pending (self, error);
      if (ret != GST_FLOW_OK)
        break;
    }
    n = MIN (block_bytes - self->pending_fill, size - done);
    memcpy (self->pending_map.data + self->pending_fill, data + done, n);
    self->pending_fill += n;
    done += n;
    if (self->pending_fill == block_bytes)
      ret = submit_pending (self, error);
  }
  /* A full last block whose submit a pause interrupted: the resumed call
   * submits it before returning. */
  if (ret == GST_FLOW_OK && self->pending && self->pending_fill == block_bytes)
    ret = submit_pending (self, error);
  self->resume = ret == GST_FLOW_FLUSHING ? done : 0;
  gst_iio_queue_add_stat (GST_IIO_QUEUE (self),
      GST_IIO_QUEUE_STAT_BYTES_COPIED, done - start);

  return ret;
}

static GstFlowReturn
copy_buffer (GstIioDmabufOutput * self, GstBuffer * buffer, GError ** error)
{
  GstMapInfo map;
  GstFlowReturn ret;

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "Cannot map an upstream buffer of %" G_GSIZE_FORMAT " bytes for "
        "reading", gst_buffer_get_size (buffer));
    return GST_FLOW_ERROR;
  }
  ret = copy_bytes (self, map.data, map.size, error);
  gst_buffer_unmap (buffer, &map);

  return ret;
}

/* cyclic=true: the first buffer alone, in one transfer. */
static GstFlowReturn
render_cyclic_copy (GstIioDmabufOutput * self, GstBuffer * buffer,
    GError ** error)
{
  gsize block_bytes = gst_iio_queue_get_block_bytes (GST_IIO_QUEUE (self));
  gsize size = gst_buffer_get_size (buffer);
  GstFlowReturn ret;

  if (size > block_bytes) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "cyclic=true repeats the first buffer, but its %" G_GSIZE_FORMAT
        " bytes do not fit a block of %" G_GSIZE_FORMAT " bytes: raise "
        "buffer-size to at least %" G_GSIZE_FORMAT " samples", size,
        block_bytes, size / config_of (self)->sample_size);
    return GST_FLOW_ERROR;
  }
  ret = copy_buffer (self, buffer, error);
  if (ret == GST_FLOW_OK)
    ret = submit_pending (self, error);

  return ret;
}

/* ---- choosing the route ---- */

/* The one DMABUF memory of @buffer if the device can take the buffer as
 * it is: a single memory starting at the DMABUF's first byte. */
static GstMemory *
single_dmabuf_memory (GstBuffer * buffer)
{
  GstMemory *mem;

  if (gst_buffer_n_memory (buffer) != 1)
    return NULL;
  mem = gst_buffer_peek_memory (buffer, 0);
  if (!gst_is_dmabuf_memory (mem) || mem->offset != 0)
    return NULL;

  return mem;
}

/* A foreign DMABUF the device can take: attached once, for as long as a
 * memory wraps it; *@ino its inode number. */
static gboolean
can_import (GstIioDmabufOutput * self, GstMemory * mem, guint64 * ino)
{
  GError *error = NULL;

  if (gst_dmabuf_import_cache_import (self->imports, mem, ino, &error))
    return TRUE;
  if (!self->import_failure_logged) {
    GST_WARNING_OBJECT (self, "upstream DMABUFs cannot be imported, "
        "copying them: %s", error->message);
    self->import_failure_logged = TRUE;
  }
  g_error_free (error);

  return FALSE;
}

static GstFlowReturn
render_buffer (GstIioDmabufOutput * self, GstBuffer * buffer, GError ** error)
{
  GstMemory *mem = single_dmabuf_memory (buffer);
  gboolean own = mem && gst_dmabuf_block_allocator_owns (self->blocks, mem);
  guint64 ino = 0;
  GstFlowReturn ret;

  if (own)
    ino = gst_dmabuf_block_get_ino (mem);
  if (own || (mem && can_import (self, mem, &ino))) {
    /* Copied data before it goes first: keep the order. */
    ret = submit_pending (self, error);
    if (ret == GST_FLOW_OK)
      ret = make_room (self, mem, ino, error);
    if (ret == GST_FLOW_OK)
      ret = enqueue_buffer (self, buffer, mem, own, error);
    if (ret == GST_FLOW_OK && !own)
      gst_iio_queue_add_stat (GST_IIO_QUEUE (self),
          GST_IIO_QUEUE_STAT_DMABUF_IMPORTS, 1);
    return ret;
  }
  if (config_of (self)->cyclic)
    return render_cyclic_copy (self, buffer, error);

  return copy_buffer (self, buffer, error);
}

/* What the device played, for the element's clock: new only when a
 * block was retired since. */
static void
report_consumed (GstIioDmabufOutput * self)
{
  guint64 bytes;
  gint64 ns;

  if (!gst_iio_transfers_get_done (self->transfers, &bytes, &ns) ||
      bytes == self->reported_bytes)
    return;
  self->reported_bytes = bytes;
  gst_iio_queue_set_consumed (GST_IIO_QUEUE (self),
      bytes / config_of (self)->sample_size, ns);
}

static GstFlowReturn
gst_iio_dmabuf_output_render (GstIioQueue * queue, GstBuffer * buffer,
    GError ** error)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  gsize sample_size = config_of (self)->sample_size;
  gsize size = gst_buffer_get_size (buffer);
  GstFlowReturn ret;

  if (self->cyclic_queued) {
    if (!self->cyclic_drop_logged)
      GST_INFO_OBJECT (self, "cyclic: the first buffer repeats until stop, "
          "dropping the ones after it");
    self->cyclic_drop_logged = TRUE;
    return GST_FLOW_OK;
  }
  if (size % sample_size != 0) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "A buffer of %" G_GSIZE_FORMAT " bytes is not a whole number of "
        "%" G_GSIZE_FORMAT "-byte samples for %s", size, sample_size,
        device_name (self));
    return GST_FLOW_ERROR;
  }
  if (size == 0)
    return GST_FLOW_OK;

  discard_after_flush (self);
  ret = render_buffer (self, buffer, error);
  /* Once, when an interrupted render (a pause) is resumed. */
  if (ret == GST_FLOW_OK)
    gst_iio_queue_add_stat (queue, GST_IIO_QUEUE_STAT_BUFFERS, 1);
  report_consumed (self);

  return ret;
}

/* ---- drain, flush, pause ---- */

/* EOS: the partial block goes too, then every transfer must finish.
 * FALSE without @error: interrupted by set_flushing. */
static gboolean
gst_iio_dmabuf_output_drain (GstIioQueue * queue, GError ** error)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  GstFlowReturn ret;

  if (self->cyclic_queued)
    return TRUE;
  discard_after_flush (self);
  ret = submit_pending (self, error);
  while (ret == GST_FLOW_OK)
    ret = gst_iio_transfers_retire_oldest (self->transfers,
        config_of (self)->timeout_ms, error);
  GST_DEBUG_OBJECT (self, "drained: %s", gst_flow_get_name (ret));

  return ret == GST_FLOW_CUSTOM_SUCCESS;
}

static void
gst_iio_dmabuf_output_set_flushing (GstIioQueue * queue, gboolean flushing)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  GstIioTransfers *transfers;
  GstDmabufBlockAllocator *blocks;

  g_mutex_lock (&self->lock);
  self->flushing = flushing;
  g_cond_broadcast (&self->cond);
  transfers = self->transfers ? gst_object_ref (self->transfers) : NULL;
  blocks = self->blocks ? gst_object_ref (self->blocks) : NULL;
  g_mutex_unlock (&self->lock);

  if (transfers) {
    gst_iio_transfers_set_flushing (transfers, flushing);
    gst_object_unref (transfers);
  }
  if (blocks) {
    gst_dmabuf_block_allocator_set_flushing (blocks, flushing);
    gst_object_unref (blocks);
  }
}

/* A flush or stop, not a pause: the streaming thread drops its partial
 * block at the next render; an upstream waiting for a block gives up. */
static void
gst_iio_dmabuf_output_discard (GstIioQueue * queue)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);

  g_mutex_lock (&self->lock);
  self->discard_pending = TRUE;
  self->discards++;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static GstAllocator *
gst_iio_dmabuf_output_get_allocator (GstIioQueue * queue, GstCaps * caps)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  gboolean started;

  g_mutex_lock (&self->lock);
  started = self->blocks != NULL && !self->stopped;
  g_mutex_unlock (&self->lock);

  return started ? gst_iio_sink_allocator_new (self) : NULL;
}

/* ---- stop ---- */

/* The transfers are aborted (their buffers go back to upstream, our
 * blocks to the free list), then the imports detached and the blocks
 * freed (those still held upstream when they come back). Stop without
 * EOS drops what the device has not played: say so. */
static void
gst_iio_dmabuf_output_stop (GstIioQueue * queue)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  GstIioTransfers *transfers;
  GstDmabufBlockAllocator *blocks;
  GstDmabufImportCache *imports;
  gsize bytes = 0;
  guint n = 0;

  gst_iio_dmabuf_output_set_flushing (queue, TRUE);
  g_mutex_lock (&self->lock);
  self->stopped = TRUE;         /* upstream's waits give up */
  g_cond_broadcast (&self->cond);
  transfers = g_steal_pointer (&self->transfers);
  blocks = g_steal_pointer (&self->blocks);
  imports = g_steal_pointer (&self->imports);
  g_mutex_unlock (&self->lock);

  if (transfers)
    n = gst_iio_transfers_abort_all (transfers, &bytes);
  bytes += self->pending_fill;
  if (bytes > 0)
    GST_WARNING_OBJECT (self, "stopping without EOS: %u queued blocks and %"
        G_GSIZE_FORMAT " bytes in all, not yet played by %s, are dropped", n,
        bytes, device_name (self));
  drop_pending (self);
  if (imports)
    gst_dmabuf_import_cache_clear (imports);
  if (blocks)
    gst_dmabuf_block_allocator_close (blocks);
  gst_clear_object (&imports);
  gst_clear_object (&blocks);
  gst_clear_object (&transfers);
  gst_clear_object (&self->exporter);
  self->cyclic_queued = FALSE;
}

/* ---- GObject ---- */

static void
gst_iio_dmabuf_output_finalize (GObject * object)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (object);

  gst_iio_dmabuf_output_stop (GST_IIO_QUEUE (self));
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (gst_iio_dmabuf_output_parent_class)->finalize (object);
}

static void
gst_iio_dmabuf_output_class_init (GstIioDmabufOutputClass * klass)
{
  GstIioQueueClass *queue_class = GST_IIO_QUEUE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = gst_iio_dmabuf_output_finalize;
  queue_class->start = gst_iio_dmabuf_output_start;
  queue_class->render = gst_iio_dmabuf_output_render;
  queue_class->drain = gst_iio_dmabuf_output_drain;
  queue_class->set_flushing = gst_iio_dmabuf_output_set_flushing;
  queue_class->discard = gst_iio_dmabuf_output_discard;
  queue_class->stop = gst_iio_dmabuf_output_stop;
  queue_class->get_allocator = gst_iio_dmabuf_output_get_allocator;
}

static void
gst_iio_dmabuf_output_init (GstIioDmabufOutput * self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
}

GstIioQueue *
gst_iio_dmabuf_output_new (GstIioDevice * device,
    const GstIioQueueConfig * config, GError ** error)
{
  GstIioDmabufOutput *self;

  g_return_val_if_fail (config->sample_size > 0, NULL);

  if (config->direction != GST_IIO_DIRECTION_OUTPUT) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
        "the DMABUF output queue plays to output devices only");
    return NULL;
  }
  if (!gst_iio_device_is_local (device)
      || gst_iio_device_get_dev_path (device) == NULL) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
        "%s is not a local device with a character device: DMABUFs work "
        "only on the machine that has the device (uri=local:)",
        gst_iio_device_get_display_name (device));
    return NULL;
  }

  self = g_object_new (GST_TYPE_IIO_DMABUF_OUTPUT, NULL);
  gst_object_ref_sink (self);
  gst_iio_queue_init_config (GST_IIO_QUEUE (self), device, config,
      GST_IIO_IO_MODE_DMABUF);

  return GST_IIO_QUEUE (self);
}
