/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiodmabufinput.h"
#include "gstiiokernelbuffer.h"
#include "gstiiosampletimeline.h"
#include "gstdmabufexporter.h"
#include "gstdmabuffence.h"

#include <gst/allocators/allocators.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_dmabuf_input_debug);
#define GST_CAT_DEFAULT gst_iio_dmabuf_input_debug

/* How long stop() waits, in all, for the aborted blocks' fences.
 * Disabling aborts transfers at once; this only bounds a broken driver
 * (docs/iiosrc.md states the NULL bound it makes). */
#define STOP_FENCE_WAIT_MS 1000

typedef enum
{
  BLOCK_FREE,                   /* ours, not in the kernel */
  BLOCK_QUEUED,                 /* enqueued in the kernel, in `queued` */
  BLOCK_OUTSTANDING,            /* inside a GstBuffer downstream */
} BlockState;

typedef struct
{
  GstIioDmabufInput *queue;     /* back pointer; see `outstanding refs` */
  guint index;
  gint fd;                      /* the DMABUF */
  /* sync_file of the last ENQUEUE: written only under enqueue_lock (at
   * enqueue and stop), read by capture while the block is QUEUED. */
  gint fence_fd;
  /* Wraps fd (DONT_CLOSE, KEEP_MAPPED): mapped once for its lifetime.
   * One reference owned by the block while FREE or QUEUED, owned by
   * downstream while OUTSTANDING; its dispose hook brings it back. */
  GstMemory *mem;
  gboolean attached;
  BlockState state;
  /* CLOCK_MONOTONIC ns around its last ENQUEUE (under enqueue_lock; read
   * by capture once the fence signalled). */
  gint64 queue_begin_ns;
  gint64 queue_end_ns;
} Block;

struct _GstIioDmabufInput
{
  GstIioQueue parent;

  /* Set by start(), cleared by stop() or finalize. A block downstream
   * holds after stop needs only its DMABUF (the samples are in it), so
   * stop closes the kernel buffer at once: the device is free for the
   * next start while an application still reads old buffers. */
  GstDmabufExporter *exporter;
  GstAllocator *allocator;
  GstIioKernelBuffer *kbuf;
  Block *blocks;
  guint n_blocks;
  gsize block_bytes;
  gint cancel_fd;               /* eventfd, readable while flushing */
  gboolean enabled;             /* capture thread and stop only */
  gboolean warned_copy;         /* capture thread only */
  /* Capture thread only: the blocks in the order the device filled them,
   * and the samples lost between them. */
  GstIioSampleTimeline timeline;

  /* Lock order: enqueue_lock, then lock. Neither is held while waiting
   * for a fence or calling into GStreamer (pushing, unreffing a buffer).
   *
   * enqueue_lock serialises what changes the kernel's queue: ENQUEUE plus
   * the fence export and the append to `queued` (the kernel completes
   * blocks in ENQUEUE order and `queued` must keep that order), enable,
   * and stop. It is held across those non-blocking ioctls (the buffer fd
   * is O_NONBLOCK). It also guards the fence fds and queue times.
   *
   * lock guards the block states, `queued`, n_outstanding, flushing,
   * stopped and error; `cond` (on lock) wakes a capture waiting for a
   * block downstream releases. Only the eventfd write of set_flushing is
   * made under it. */
  GMutex enqueue_lock;
  GMutex lock;
  GCond cond;
  GQueue queued;                /* Block *, oldest first */
  guint n_outstanding;
  gboolean flushing;
  gboolean stopped;
  GError *error;                /* a failed re-enqueue, for capture */
};

G_DEFINE_TYPE_WITH_CODE (GstIioDmabufInput, gst_iio_dmabuf_input,
    GST_TYPE_IIO_QUEUE,
    GST_DEBUG_CATEGORY_INIT (gst_iio_dmabuf_input_debug, "iiodmabufinput", 0,
        "IIO DMABUF capture queue"));

static GQuark
block_quark (void)
{
  static GQuark quark = 0;

  if (quark == 0)
    quark = g_quark_from_static_string ("GstIioDmabufInputBlock");
  return quark;
}

static const gchar *
device_name (GstIioDmabufInput * self)
{
  return gst_iio_device_get_display_name (gst_iio_queue_get_device
      (GST_IIO_QUEUE (self)));
}

/* ---- block lifetime ---- */

/* Returns the block to the kernel or, after stop, frees it. */
static void release_block (GstIioDmabufInput * self, Block * block);

/* The memory's last reference went away downstream. Like the
 * v4l2codecs allocator: take the reference back instead of freeing, and
 * recycle the block. An outstanding block holds a reference on the queue,
 * dropped here last (it may be the last one). */
static gboolean
block_memory_dispose (GstMiniObject * obj)
{
  GstMemory *mem = GST_MEMORY_CAST (obj);
  Block *block = gst_mini_object_get_qdata (obj, block_quark ());
  GstIioDmabufInput *self = block->queue;

  gst_memory_ref (mem);
  if (mem->offset != 0 || mem->size != self->block_bytes)
    gst_memory_resize (mem, -(gssize) mem->offset, self->block_bytes);

  /* May free the block and this memory (after stop): not touched below. */
  release_block (self, block);
  gst_object_unref (self);

  return FALSE;
}

static gboolean
block_init (GstIioDmabufInput * self, Block * block, guint index,
    GError ** error)
{
  block->queue = self;
  block->index = index;
  block->fence_fd = -1;
  block->state = BLOCK_FREE;
  block->fd = gst_dmabuf_exporter_alloc (self->exporter, self->block_bytes,
      error);
  if (block->fd < 0)
    return FALSE;

  block->mem = gst_dmabuf_allocator_alloc_with_flags (self->allocator,
      block->fd, self->block_bytes,
      GST_FD_MEMORY_FLAG_DONT_CLOSE | GST_FD_MEMORY_FLAG_KEEP_MAPPED);
  gst_mini_object_set_qdata (GST_MINI_OBJECT (block->mem), block_quark (),
      block, NULL);
  GST_MINI_OBJECT (block->mem)->dispose = block_memory_dispose;

  return TRUE;
}

/* Detaches and frees a block that is not outstanding. Under enqueue_lock
 * (or from finalize). */
static void
block_free (GstIioDmabufInput * self, Block * block)
{
  GError *error = NULL;

  if (block->attached && self->kbuf &&
      !gst_iio_kernel_buffer_detach (self->kbuf, block->fd, &error)) {
    GST_DEBUG_OBJECT (self, "block %u: %s", block->index, error->message);
    g_clear_error (&error);
  }
  block->attached = FALSE;
  if (block->mem) {
    GST_MINI_OBJECT (block->mem)->dispose = NULL;
    gst_memory_unref (g_steal_pointer (&block->mem));
  }
  if (block->fence_fd >= 0)
    close (block->fence_fd);
  block->fence_fd = -1;
  if (block->fd >= 0)
    close (block->fd);
  block->fd = -1;
}

/* ---- the kernel queue (under enqueue_lock) ---- */

static gint64
monotonic_ns (void)
{
  return g_get_monotonic_time () * 1000;
}

static gboolean
enqueue_block (GstIioDmabufInput * self, Block * block, GError ** error)
{
  gboolean ok;

  if (block->fence_fd >= 0)
    close (block->fence_fd);
  block->fence_fd = -1;

  /* The times bracket the moment the device got the block: whether it
   * had run dry by then is decided from them (gstiiosampletimeline.h). */
  block->queue_begin_ns = monotonic_ns ();
  ok = gst_iio_kernel_buffer_enqueue (self->kbuf, block->fd,
      self->block_bytes, FALSE, error);
  block->queue_end_ns = monotonic_ns ();
  if (!ok)
    return FALSE;
  /* Right after ENQUEUE: only a sync_file taken before the fence signals
   * carries the transfer's error status and signal time. */
  block->fence_fd = gst_dmabuf_fence_export (block->fd, FALSE, error);
  if (block->fence_fd < 0)
    return FALSE;

  g_mutex_lock (&self->lock);
  block->state = BLOCK_QUEUED;
  g_queue_push_tail (&self->queued, block);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  return TRUE;
}

static void
release_block (GstIioDmabufInput * self, Block * block)
{
  GError *error = NULL;
  gboolean stopped;

  g_mutex_lock (&self->enqueue_lock);
  g_mutex_lock (&self->lock);
  g_warn_if_fail (block->state == BLOCK_OUTSTANDING);
  block->state = BLOCK_FREE;
  self->n_outstanding--;
  stopped = self->stopped;
  g_mutex_unlock (&self->lock);

  if (stopped) {
    GST_DEBUG_OBJECT (self, "block %u released after stop: freed",
        block->index);
    block_free (self, block);
  } else if (!enqueue_block (self, block, &error)) {
    GST_WARNING_OBJECT (self, "re-enqueue of block %u failed: %s",
        block->index, error->message);
    g_mutex_lock (&self->lock);
    if (self->error == NULL)
      self->error = g_steal_pointer (&error);
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    g_clear_error (&error);
  }
  g_mutex_unlock (&self->enqueue_lock);
}

/* ---- start ---- */

static gboolean
is_default_heap (const gchar * heap)
{
  return heap == NULL || heap[0] == '\0' ||
      g_str_equal (heap, GST_DMABUF_EXPORTER_DEFAULT_HEAP);
}

static gboolean
open_allocators (GstIioDmabufInput * self, const gchar * heap,
    GError ** error)
{
  GError *err = NULL;

  self->exporter = gst_dmabuf_exporter_new (heap, &err);
  if (self->exporter == NULL) {
    /* Nothing to allocate from is a missing condition (auto falls back);
     * a heap the user named that does not exist is a mistake. */
    gboolean missing = is_default_heap (heap);

    g_set_error (error, GST_IIO_ERROR, missing ?
        GST_IIO_ERROR_UNSUPPORTED : GST_IIO_ERROR_FAILED,
        "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
  self->allocator = gst_dmabuf_allocator_new ();
  GST_INFO_OBJECT (self, "blocks of %" G_GSIZE_FORMAT " bytes from %s",
      self->block_bytes, gst_dmabuf_exporter_get_description (self->exporter));

  return TRUE;
}

/* The scan elements can only change while the buffer is disabled; a
 * buffer left enabled by a crashed program is disabled first. */
static gboolean
open_kernel_buffer (GstIioDmabufInput * self, GError ** error)
{
  GstIioDevice *device = gst_iio_queue_get_device (GST_IIO_QUEUE (self));

  self->kbuf = gst_iio_kernel_buffer_open (gst_iio_device_get_claim_fd
      (device), gst_iio_device_get_dev_path (device),
      gst_iio_device_get_sysfs_path (device), 0, error);
  if (self->kbuf == NULL)
    return FALSE;
  if (gst_iio_kernel_buffer_is_enabled (self->kbuf)) {
    GST_WARNING_OBJECT (self, "buffer of %s was left enabled: disabling",
        device_name (self));
    if (!gst_iio_kernel_buffer_set_enabled (self->kbuf, FALSE, error))
      return FALSE;
  }

  return gst_iio_device_write_scan_elements (device, error);
}

/* Every block is attached while the buffer is disabled: the kernel picks
 * DMABUF mode over read() mode at enable time. */
static gboolean
allocate_and_attach (GstIioDmabufInput * self, GError ** error)
{
  guint i;

  self->blocks = g_new0 (Block, self->n_blocks);
  for (i = 0; i < self->n_blocks; i++)
    self->blocks[i].fd = self->blocks[i].fence_fd = -1;

  for (i = 0; i < self->n_blocks; i++) {
    if (!block_init (self, &self->blocks[i], i, error))
      return FALSE;
    if (!gst_iio_kernel_buffer_attach (self->kbuf, self->blocks[i].fd, error))
      return FALSE;
    self->blocks[i].attached = TRUE;
  }

  return TRUE;
}

static void
free_all_blocks (GstIioDmabufInput * self)
{
  guint i;

  for (i = 0; self->blocks && i < self->n_blocks; i++)
    block_free (self, &self->blocks[i]);
  g_clear_pointer (&self->blocks, g_free);
  g_queue_clear (&self->queued);
}

static gboolean
gst_iio_dmabuf_input_start (GstIioQueue * queue, GError ** error)
{
  GstIioDmabufInput *self = GST_IIO_DMABUF_INPUT (queue);
  const GstIioQueueConfig *config = gst_iio_queue_get_config (queue);
  gboolean ok;

  self->n_blocks = config->n_blocks;
  self->block_bytes = gst_iio_queue_get_block_bytes (queue);

  /* Blocks are enqueued and the buffer enabled by the first capture(): a
   * stop before it leaves nothing queued in a disabled buffer, where it
   * would never complete. */
  g_mutex_lock (&self->enqueue_lock);
  ok = open_allocators (self, config->dma_heap, error) &&
      open_kernel_buffer (self, error) && allocate_and_attach (self, error);
  if (!ok) {
    free_all_blocks (self);
    gst_clear_object (&self->kbuf);
  }
  g_mutex_unlock (&self->enqueue_lock);

  if (ok)
    GST_INFO_OBJECT (self, "%s: %u DMABUF blocks of %" G_GSIZE_FORMAT
        " bytes attached", device_name (self), self->n_blocks,
        self->block_bytes);

  return ok;
}

/* ---- capture ---- */

/* First capture: queue every block while disabled, then enable, so the
 * device's first sample lands at the start of block 0. */
static gboolean
prime_and_enable (GstIioDmabufInput * self, GError ** error)
{
  gboolean ok = TRUE;
  guint i;

  g_mutex_lock (&self->enqueue_lock);
  for (i = 0; ok && i < self->n_blocks; i++)
    ok = enqueue_block (self, &self->blocks[i], error);
  if (ok)
    ok = gst_iio_kernel_buffer_set_enabled (self->kbuf, TRUE, error);
  self->enabled = ok;
  gst_iio_sample_timeline_init (&self->timeline,
      gst_iio_queue_get_config (GST_IIO_QUEUE (self))->rate);
  gst_iio_sample_timeline_start (&self->timeline, monotonic_ns ());
  g_mutex_unlock (&self->enqueue_lock);

  if (ok)
    GST_DEBUG_OBJECT (self, "%s: streaming", device_name (self));

  return ok;
}

static gboolean
device_gone (GstIioDmabufInput * self)
{
  GstIioDevice *device = gst_iio_queue_get_device (GST_IIO_QUEUE (self));

  return !g_file_test (gst_iio_device_get_sysfs_path (device),
      G_FILE_TEST_EXISTS);
}

static void
set_lost_or (GstIioDmabufInput * self, GError ** error, gint code,
    const gchar * format, ...) G_GNUC_PRINTF (4, 5);

/* The buffer is disabled while we stream and did not stop: another
 * program did it (libiio's open writes buffer/enable=0 before it finds the
 * device busy). Its transfers were aborted, which reads as a failed block
 * or, for blocks enqueued after, a timeout. */
static gboolean
disabled_by_other (GstIioDmabufInput * self, GError ** error)
{
  gboolean flushing;

  g_mutex_lock (&self->lock);
  flushing = self->flushing;
  g_mutex_unlock (&self->lock);

  return self->enabled && !flushing &&
      gst_iio_device_explain_disabled (gst_iio_queue_get_device (GST_IIO_QUEUE (self)), error);
}

/* Sets "device disappeared" when it did (ENODEV from the kernel, or its
 * sysfs directory is gone), "disabled by another program" when that
 * happened, else the error described. */
static void
set_lost_or (GstIioDmabufInput * self, GError ** error, gint code,
    const gchar * format, ...)
{
  GError *err;
  va_list args;

  va_start (args, format);
  err = g_error_new_valist (GST_IIO_ERROR, code, format, args);
  va_end (args);

  if (code == GST_IIO_ERROR_DEVICE_LOST || device_gone (self)) {
    GST_WARNING_OBJECT (self, "device lost: %s", err->message);
    g_clear_error (&err);
    g_set_error (&err, GST_IIO_ERROR, GST_IIO_ERROR_DEVICE_LOST,
        "Device %s disappeared", device_name (self));
  } else {
    disabled_by_other (self, &err);
  }
  g_propagate_error (error, err);
}

/* The oldest queued block, waiting (bounded) while downstream holds all
 * of them. */
static GstFlowReturn
wait_for_queued (GstIioDmabufInput * self, gint timeout_ms, Block ** block,
    GError ** error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  GstFlowReturn ret = GST_FLOW_OK;

  g_mutex_lock (&self->lock);
  while (!self->flushing && !self->error && g_queue_is_empty (&self->queued)) {
    if (timeout_ms < 0)
      g_cond_wait (&self->cond, &self->lock);
    else if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
      break;
  }
  if (self->flushing)
    ret = GST_FLOW_FLUSHING;
  else if (self->error || g_queue_is_empty (&self->queued))
    ret = GST_FLOW_ERROR;
  else
    *block = g_queue_peek_head (&self->queued);
  g_mutex_unlock (&self->lock);

  /* The error of a re-enqueue is only set under the lock, never cleared. */
  if (ret == GST_FLOW_ERROR && self->error)
    set_lost_or (self, error, self->error->code, "%s", self->error->message);
  else if (ret == GST_FLOW_ERROR)
    set_lost_or (self, error, GST_IIO_ERROR_TIMEOUT,
        "Timed out after %d ms waiting for a block from %s: all %u blocks "
        "are held downstream", timeout_ms, device_name (self),
        self->n_blocks);

  return ret;
}

static GstFlowReturn
wait_for_fence (GstIioDmabufInput * self, Block * block, gint timeout_ms,
    GError ** error)
{
  gint status;

  switch (gst_dmabuf_fence_wait (block->fence_fd, self->cancel_fd,
          timeout_ms, error)) {
    case GST_DMABUF_FENCE_CANCELLED:
      return GST_FLOW_FLUSHING;
    case GST_DMABUF_FENCE_TIMEOUT:
      set_lost_or (self, error, GST_IIO_ERROR_TIMEOUT,
          "Timed out after %d ms waiting for a block from %s", timeout_ms,
          device_name (self));
      return GST_FLOW_ERROR;
    case GST_DMABUF_FENCE_FAILED:
      return GST_FLOW_ERROR;
    case GST_DMABUF_FENCE_SIGNALED:
      break;
  }

  status = gst_dmabuf_fence_get_status (block->fence_fd);
  if (status < 0) {
    set_lost_or (self, error, GST_IIO_ERROR_FAILED,
        "A block from %s failed: %s (transfer status %d)", device_name (self),
        g_strerror (-status), status);
    return GST_FLOW_ERROR;
  }

  return GST_FLOW_OK;
}

/* Samples the device lost right before @block, which just completed:
 * from its queue times and fence time against the blocks before it. */
static guint64
samples_lost_before (GstIioDmabufInput * self, Block * block)
{
  GstIioBlockTimes times = {
    .samples = gst_iio_queue_get_config (GST_IIO_QUEUE (self))->block_samples,
    .queue_begin_ns = block->queue_begin_ns,
    .queue_end_ns = block->queue_end_ns,
    .signal_ns = -1,
    .seen_ns = monotonic_ns (),
  };
  guint64 lost;

  if (!gst_dmabuf_fence_get_signal_time (block->fence_fd, &times.signal_ns))
    times.signal_ns = -1;
  lost = gst_iio_sample_timeline_complete (&self->timeline, &times);
  GST_LOG_OBJECT (self, "timeline block %u: queued %" G_GINT64_FORMAT
      " +%" G_GINT64_FORMAT " signal %+" G_GINT64_FORMAT " seen %+"
      G_GINT64_FORMAT " end %+" G_GINT64_FORMAT " lost %" G_GUINT64_FORMAT,
      block->index, times.queue_begin_ns, times.queue_end_ns -
      times.queue_begin_ns, times.signal_ns - times.queue_begin_ns,
      times.seen_ns - times.queue_begin_ns,
      self->timeline.prev_end_ns - times.queue_begin_ns, lost);
  if (lost)
    GST_DEBUG_OBJECT (self, "block %u: %" G_GUINT64_FORMAT " samples lost "
        "before it (queued at %" G_GINT64_FORMAT " ns, signalled at %"
        G_GINT64_FORMAT " ns)", block->index, lost, block->queue_begin_ns,
        times.signal_ns);

  return lost;
}

/* The head block becomes outstanding, inside a new GstBuffer. */
static GstBuffer *
hand_out (GstIioDmabufInput * self, Block * block)
{
  GstIioQueue *queue = GST_IIO_QUEUE (self);
  guint64 lost = samples_lost_before (self, block);
  GstBuffer *buffer;

  g_mutex_lock (&self->lock);
  g_warn_if_fail (g_queue_peek_head (&self->queued) == block);
  g_queue_pop_head (&self->queued);
  block->state = BLOCK_OUTSTANDING;
  self->n_outstanding++;
  g_mutex_unlock (&self->lock);

  /* Dropped by block_memory_dispose. */
  gst_object_ref (self);
  buffer = gst_buffer_new ();
  gst_buffer_append_memory (buffer, block->mem);
  gst_iio_queue_count_capture (queue, buffer, self->block_bytes, 0, lost);

  return buffer;
}

/* Blocks kept with the kernel: the one the device writes and the next,
 * ready when it completes. The completed head counts as one of them, so
 * handing it downstream at this level leaves the device a single block,
 * and it would starve the moment that one completes. */
#define MIN_KERNEL_BLOCKS 2

/* TRUE when handing the completed head block downstream would leave the
 * device fewer than MIN_KERNEL_BLOCKS - 1 blocks to write into. */
static gboolean
kernel_queue_low (GstIioDmabufInput * self)
{
  gboolean low;

  g_mutex_lock (&self->lock);
  low = g_queue_get_length (&self->queued) <= MIN_KERNEL_BLOCKS;
  g_mutex_unlock (&self->lock);

  return low;
}

/* Downstream holds the other blocks (a filesink batching writes, a deep
 * queue, an application keeping samples): like v4l2src when its pool
 * runs low, copy this block into system memory and give it straight back
 * to the kernel, so downstream's hoarding never starves the device. The
 * copy is counted in bytes-copied. */
static GstBuffer *
copy_out (GstIioDmabufInput * self, GstBuffer * dmabuf_buffer)
{
  GstBuffer *copy;
  GstMapInfo map;

  copy = gst_buffer_new_allocate (NULL, self->block_bytes, NULL);
  gst_buffer_map (copy, &map, GST_MAP_WRITE);
  gst_buffer_extract (dmabuf_buffer, 0, map.data, self->block_bytes);
  gst_buffer_unmap (copy, &map);
  /* The flags and OFFSET say what was lost before it. */
  gst_buffer_copy_into (copy, dmabuf_buffer, GST_BUFFER_COPY_FLAGS |
      GST_BUFFER_COPY_TIMESTAMPS, 0, 0);
  /* Re-enqueues the block (its memory dispose hook). */
  gst_buffer_unref (dmabuf_buffer);

  gst_iio_queue_add_stat (GST_IIO_QUEUE (self),
      GST_IIO_QUEUE_STAT_BYTES_COPIED, self->block_bytes);
  if (!self->warned_copy) {
    self->warned_copy = TRUE;
    GST_INFO_OBJECT (self, "downstream holds all but %u of %u blocks: "
        "copying blocks out until it releases some (give iiosrc more "
        "blocks to stay zero-copy)", MIN_KERNEL_BLOCKS, self->n_blocks);
  }

  return copy;
}

static GstFlowReturn
gst_iio_dmabuf_input_capture (GstIioQueue * queue, GstBuffer ** buffer,
    GError ** error)
{
  GstIioDmabufInput *self = GST_IIO_DMABUF_INPUT (queue);
  gint timeout_ms = gst_iio_queue_get_config (queue)->timeout_ms;
  Block *block = NULL;
  GstFlowReturn ret;
  gboolean low;

  if (!self->enabled && !prime_and_enable (self, error))
    return GST_FLOW_ERROR;

  ret = wait_for_queued (self, timeout_ms, &block, error);
  if (ret == GST_FLOW_OK)
    ret = wait_for_fence (self, block, timeout_ms, error);
  if (ret != GST_FLOW_OK)
    return ret;

  low = kernel_queue_low (self);
  *buffer = hand_out (self, block);
  if (low)
    *buffer = copy_out (self, *buffer);
  GST_LOG_OBJECT (self, "block %u%s: %" GST_PTR_FORMAT, block->index,
      low ? " (copied)" : "", *buffer);

  return GST_FLOW_OK;
}

static void
gst_iio_dmabuf_input_set_flushing (GstIioQueue * queue, gboolean flushing)
{
  GstIioDmabufInput *self = GST_IIO_DMABUF_INPUT (queue);
  guint64 value = 1;

  g_mutex_lock (&self->lock);
  self->flushing = flushing;
  /* The eventfd interrupts a fence wait, the cond a wait for a block. */
  if (flushing) {
    if (write (self->cancel_fd, &value, sizeof (value)) < 0)
      GST_WARNING_OBJECT (self, "eventfd write: %s", g_strerror (errno));
    g_cond_broadcast (&self->cond);
  } else if (read (self->cancel_fd, &value, sizeof (value)) < 0 &&
      errno != EAGAIN) {
    GST_WARNING_OBJECT (self, "eventfd read: %s", g_strerror (errno));
  }
  g_mutex_unlock (&self->lock);
}

/* ---- stop ---- */

/* After the disable, every queued transfer is aborted; waits (bounded)
 * until its fence says so, since freeing a DMABUF the device still
 * writes would be worse than a slow stop. */
static void
drain_aborted (GstIioDmabufInput * self)
{
  /* One bound for all blocks, so that stop is bounded by it. */
  gint64 deadline = g_get_monotonic_time () +
      STOP_FENCE_WAIT_MS * G_TIME_SPAN_MILLISECOND;
  Block *block;
  gint left_ms;

  for (;;) {
    g_mutex_lock (&self->lock);
    block = g_queue_pop_head (&self->queued);
    if (block)
      block->state = BLOCK_FREE;
    g_mutex_unlock (&self->lock);
    if (block == NULL)
      break;
    left_ms = (gint) MAX ((deadline - g_get_monotonic_time ()) /
        G_TIME_SPAN_MILLISECOND, 0);
    if (gst_dmabuf_fence_wait (block->fence_fd, -1, left_ms,
            NULL) != GST_DMABUF_FENCE_SIGNALED)
      GST_WARNING_OBJECT (self, "block %u still in flight %d ms after the "
          "disable", block->index, STOP_FENCE_WAIT_MS);
  }
}

/* Frees every block downstream does not hold. The held ones are detached
 * (their transfers are over) and freed when downstream releases them. */
static void
free_idle_blocks (GstIioDmabufInput * self)
{
  GError *error = NULL;
  guint i, n_outstanding = 0;
  Block *block;

  /* Under enqueue_lock: no release can change a state meanwhile. */
  for (i = 0; self->blocks && i < self->n_blocks; i++) {
    BlockState state;

    block = &self->blocks[i];
    g_mutex_lock (&self->lock);
    state = block->state;
    g_mutex_unlock (&self->lock);

    if (state != BLOCK_OUTSTANDING) {
      block_free (self, block);
      continue;
    }
    n_outstanding++;
    if (block->attached &&
        !gst_iio_kernel_buffer_detach (self->kbuf, block->fd, &error)) {
      GST_DEBUG_OBJECT (self, "block %u: %s", block->index, error->message);
      g_clear_error (&error);
    }
    block->attached = FALSE;
  }

  if (n_outstanding > 0)
    GST_DEBUG_OBJECT (self, "%u blocks still held downstream: freed when "
        "released", n_outstanding);
}

static void
gst_iio_dmabuf_input_stop (GstIioQueue * queue)
{
  GstIioDmabufInput *self = GST_IIO_DMABUF_INPUT (queue);
  GError *error = NULL;

  /* stopped makes every later release free its block instead. */
  g_mutex_lock (&self->lock);
  self->stopped = TRUE;
  g_mutex_unlock (&self->lock);
  gst_iio_dmabuf_input_set_flushing (queue, TRUE);

  g_mutex_lock (&self->enqueue_lock);
  if (self->enabled && self->kbuf &&
      !gst_iio_kernel_buffer_set_enabled (self->kbuf, FALSE, &error)) {
    GST_WARNING_OBJECT (self, "%s", error->message);
    g_clear_error (&error);
  }
  self->enabled = FALSE;
  drain_aborted (self);
  free_idle_blocks (self);
  gst_clear_object (&self->kbuf);
  g_mutex_unlock (&self->enqueue_lock);

  gst_clear_object (&self->exporter);
}

/* ---- GObject ---- */

static void
gst_iio_dmabuf_input_finalize (GObject * object)
{
  GstIioDmabufInput *self = GST_IIO_DMABUF_INPUT (object);

  /* No block is outstanding here: each holds a reference on us. */
  gst_iio_dmabuf_input_stop (GST_IIO_QUEUE (self));
  free_all_blocks (self);
  gst_clear_object (&self->kbuf);
  gst_clear_object (&self->allocator);
  if (self->cancel_fd >= 0)
    close (self->cancel_fd);
  g_clear_error (&self->error);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->enqueue_lock);

  G_OBJECT_CLASS (gst_iio_dmabuf_input_parent_class)->finalize (object);
}

static void
gst_iio_dmabuf_input_class_init (GstIioDmabufInputClass * klass)
{
  GstIioQueueClass *queue_class = GST_IIO_QUEUE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = gst_iio_dmabuf_input_finalize;
  queue_class->start = gst_iio_dmabuf_input_start;
  queue_class->capture = gst_iio_dmabuf_input_capture;
  queue_class->set_flushing = gst_iio_dmabuf_input_set_flushing;
  queue_class->stop = gst_iio_dmabuf_input_stop;
}

static void
gst_iio_dmabuf_input_init (GstIioDmabufInput * self)
{
  g_mutex_init (&self->enqueue_lock);
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->queued);
  self->cancel_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
}

GstIioQueue *
gst_iio_dmabuf_input_new (GstIioDevice * device,
    const GstIioQueueConfig * config, GError ** error)
{
  GstIioDmabufInput *self;

  g_return_val_if_fail (config->direction == GST_IIO_DIRECTION_INPUT, NULL);

  if (!gst_iio_device_is_local (device) ||
      gst_iio_device_get_dev_path (device) == NULL ||
      gst_iio_device_get_sysfs_path (device) == NULL) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
        "%s is not a local kernel device: DMABUFs need uri=local:",
        gst_iio_device_get_display_name (device));
    return NULL;
  }

  self = g_object_new (GST_TYPE_IIO_DMABUF_INPUT, NULL);
  gst_object_ref_sink (self);
  if (self->cancel_fd < 0) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "eventfd failed: %s", g_strerror (errno));
    gst_object_unref (self);
    return NULL;
  }
  gst_iio_queue_init_config (GST_IIO_QUEUE (self), device, config, GST_IIO_IO_MODE_DMABUF);

  return GST_IIO_QUEUE (self);
}
