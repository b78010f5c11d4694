/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The capture lifecycle, in order: start (blocks allocated and attached),
 * the first capture (every block queued, then the buffer enabled), each
 * capture (the oldest transfer completes, its block goes downstream),
 * a block's release downstream (re-enqueued by the allocator's released
 * hook), stop (transfers aborted, blocks freed or left to their holders).
 * The transfers (gstiiotransfers.h) and the blocks
 * (gstdmabufblockallocator.h) carry the waiting and the bookkeeping. */
#include "gstiiodmabufinput.h"
#include "gstiiotransfers.h"
#include "gstiiosampletimeline.h"
#include "gstdmabufblockallocator.h"
#include "gstdmabufexporter.h"

#include <gst/allocators/allocators.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_dmabuf_input_debug);
#define GST_CAT_DEFAULT gst_iio_dmabuf_input_debug

struct _GstIioDmabufInput
{
  GstIioQueue parent;

  /* Set by start(), cleared by stop(); the streaming thread and the
   * released hook use them in between (stop closes the allocator, which
   * waits for a hook in progress, before it drops them). A block
   * downstream holds after stop needs only its DMABUF, which its memory
   * owns: the device is free for the next start while an application
   * still reads old buffers. */
  GstDmabufExporter *exporter;
  GstIioTransfers *transfers;
  GstDmabufBlockAllocator *blocks;
  guint n_blocks;
  gsize block_bytes;

  /* Capture thread only: whether the blocks are queued and the buffer
   * enabled, and the blocks in the order the device filled them with the
   * samples lost between them. */
  gboolean primed;
  gboolean warned_copy;
  GstIioSampleTimeline timeline;
};

G_DEFINE_TYPE_WITH_CODE (GstIioDmabufInput, gst_iio_dmabuf_input,
    GST_TYPE_IIO_QUEUE,
    GST_DEBUG_CATEGORY_INIT (gst_iio_dmabuf_input_debug, "iiodmabufinput", 0,
        "IIO DMABUF capture queue"));

static const gchar *
device_name (GstIioDmabufInput * self)
{
  return gst_iio_device_get_display_name (gst_iio_queue_get_device
      (GST_IIO_QUEUE (self)));
}

static gint64
monotonic_ns (void)
{
  return g_get_monotonic_time () * 1000;
}

/* ---- start ---- */

static gboolean
is_default_heap (const gchar * heap)
{
  return heap == NULL || heap[0] == '\0' ||
      g_str_equal (heap, GST_DMABUF_EXPORTER_DEFAULT_HEAP);
}

static gboolean
open_exporter (GstIioDmabufInput * self, const gchar * heap, GError ** error)
{
  GError *err = NULL;

  self->exporter = gst_dmabuf_exporter_new (heap, &err);
  if (self->exporter)
    return TRUE;

  /* Nothing to allocate from is a missing condition (auto falls back);
   * a heap the user named that does not exist is a mistake. */
  g_set_error (error, GST_IIO_ERROR, is_default_heap (heap) ?
      GST_IIO_ERROR_UNSUPPORTED : GST_IIO_ERROR_FAILED, "%s", err->message);
  g_error_free (err);

  return FALSE;
}

static void block_released (GstDmabufBlockAllocator * blocks,
    GstMemory * block, gpointer user_data);

/* Every block is attached while the buffer is disabled: the kernel picks
 * DMABUF mode over read() mode at enable time. */
static gboolean
make_blocks (GstIioDmabufInput * self, GError ** error)
{
  guint i;
  gint fd;

  self->blocks = gst_dmabuf_block_allocator_new (self->block_bytes,
      gst_iio_transfers_get_attacher (), self->transfers);
  gst_dmabuf_block_allocator_set_released_func (self->blocks, block_released,
      self);
  for (i = 0; i < self->n_blocks; i++) {
    fd = gst_dmabuf_exporter_alloc (self->exporter, self->block_bytes, error);
    if (fd < 0 || !gst_dmabuf_block_allocator_add_block (self->blocks, fd,
            error))
      return FALSE;
  }

  return TRUE;
}

static void gst_iio_dmabuf_input_stop (GstIioQueue * queue);

static gboolean
gst_iio_dmabuf_input_start (GstIioQueue * queue, GError ** error)
{
  GstIioDmabufInput *self = GST_IIO_DMABUF_INPUT (queue);
  const GstIioQueueConfig *config = gst_iio_queue_get_config (queue);
  GstIioDevice *device = gst_iio_queue_get_device (queue);

  self->n_blocks = config->n_blocks;
  self->block_bytes = gst_iio_queue_get_block_bytes (queue);
  self->primed = FALSE;

  /* The blocks are queued and the buffer enabled by the first capture():
   * a stop before it leaves nothing queued in a disabled buffer, where it
   * would never complete. The scan elements change only while the buffer
   * is disabled (transfers_open disables a leftover). */
  if (!open_exporter (self, config->dma_heap, error) ||
      !(self->transfers = gst_iio_transfers_open (device,
              GST_IIO_DIRECTION_INPUT, error)) ||
      !gst_iio_device_write_scan_elements (device, error) ||
      !make_blocks (self, error)) {
    gst_iio_dmabuf_input_stop (queue);
    return FALSE;
  }

  GST_INFO_OBJECT (self, "%s: %u DMABUF blocks of %" G_GSIZE_FORMAT
      " bytes from %s attached", device_name (self), self->n_blocks,
      self->block_bytes, gst_dmabuf_exporter_get_description (self->exporter));

  return TRUE;
}

/* ---- the kernel queue ---- */

/* @block (our reference) goes to the device; it stays ours on failure. */
static gboolean
enqueue_block (GstIioDmabufInput * self, GstMemory * block, GError ** error)
{
  gst_dmabuf_block_allocator_mark_queued (self->blocks, block);
  return gst_iio_transfers_enqueue (self->transfers,
      gst_dmabuf_memory_get_fd (block), self->block_bytes, FALSE, block,
      (GDestroyNotify) gst_memory_unref, error);
}

/* The allocator's released hook: downstream dropped @block (in its
 * thread). Back to the device, unless the transfers stopped or failed:
 * a failure is their sticky error, which the next capture reports. */
static void
block_released (GstDmabufBlockAllocator * blocks, GstMemory * block,
    gpointer user_data)
{
  GstIioDmabufInput *self = user_data;
  GError *error = NULL;

  if (enqueue_block (self, block, &error))
    return;
  GST_DEBUG_OBJECT (self, "block %u not re-enqueued: %s",
      gst_dmabuf_block_get_index (block), error->message);
  g_error_free (error);
  gst_dmabuf_block_allocator_put_free (blocks, block);
}

/* First capture: queue every block while disabled, then enable, so the
 * device's first sample lands at the start of block 0. */
static gboolean
prime_and_enable (GstIioDmabufInput * self, GError ** error)
{
  GstMemory *block;

  while ((block = gst_dmabuf_block_allocator_try_acquire (self->blocks,
              self->block_bytes))) {
    if (!enqueue_block (self, block, error)) {
      gst_dmabuf_block_allocator_put_free (self->blocks, block);
      return FALSE;
    }
  }
  if (!gst_iio_transfers_enable (self->transfers, error))
    return FALSE;
  self->primed = TRUE;
  gst_iio_sample_timeline_init (&self->timeline,
      gst_iio_queue_get_config (GST_IIO_QUEUE (self))->rate);
  gst_iio_sample_timeline_start (&self->timeline, monotonic_ns ());
  GST_DEBUG_OBJECT (self, "%s: streaming", device_name (self));

  return TRUE;
}

/* ---- capture ---- */

/* Samples the device lost right before @block, which just completed:
 * from its queue times and fence time against the blocks before it. */
static guint64
samples_lost_before (GstIioDmabufInput * self, GstMemory * block,
    const GstIioTransferInfo * info)
{
  GstIioBlockTimes times = {
    .samples = gst_iio_queue_get_config (GST_IIO_QUEUE (self))->block_samples,
    .queue_begin_ns = info->queue_begin_ns,
    .queue_end_ns = info->queue_end_ns,
    .signal_ns = info->signal_ns,
    .seen_ns = monotonic_ns (),
  };
  guint index = gst_dmabuf_block_get_index (block);
  guint64 lost;

  lost = gst_iio_sample_timeline_complete (&self->timeline, &times);
  if (G_UNLIKELY (self->timeline.measured_rate))
    gst_iio_queue_note_measured_rate (GST_IIO_QUEUE (self),
        self->timeline.measured_rate);
  if (info->signal_ns >= 0)
    gst_iio_queue_set_progress (GST_IIO_QUEUE (self), 0, info->signal_ns);
  GST_LOG_OBJECT (self, "timeline block %u: queued %" G_GINT64_FORMAT
      " +%" G_GINT64_FORMAT " signal %+" G_GINT64_FORMAT " seen %+"
      G_GINT64_FORMAT " end %+" G_GINT64_FORMAT " lost %" G_GUINT64_FORMAT,
      index, times.queue_begin_ns, times.queue_end_ns -
      times.queue_begin_ns, times.signal_ns - times.queue_begin_ns,
      times.seen_ns - times.queue_begin_ns,
      self->timeline.prev_end_ns - times.queue_begin_ns, lost);
  if (lost)
    GST_DEBUG_OBJECT (self, "block %u: %" G_GUINT64_FORMAT " samples lost "
        "before it (queued at %" G_GINT64_FORMAT " ns, signalled at %"
        G_GINT64_FORMAT " ns)", index, lost, times.queue_begin_ns,
        times.signal_ns);

  return lost;
}

/* The oldest transfer completed: its block becomes outstanding, inside a
 * new GstBuffer. */
static GstBuffer *
hand_out (GstIioDmabufInput * self)
{
  GstIioTransferInfo info;
  GstMemory *block;
  GstBuffer *buffer;
  guint64 lost;

  block = gst_iio_transfers_pop_oldest (self->transfers, &info);
  gst_dmabuf_block_allocator_mark_outstanding (self->blocks, block);
  lost = samples_lost_before (self, block, &info);
  buffer = gst_buffer_new ();
  gst_buffer_append_memory (buffer, block);
  gst_iio_queue_count_capture (GST_IIO_QUEUE (self), buffer,
      self->block_bytes, 0, lost);

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
  return gst_iio_transfers_get_n_queued (self->transfers) <= MIN_KERNEL_BLOCKS;
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
  /* Re-enqueues the block (the released hook). */
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
  GstFlowReturn ret;
  gboolean low;

  if (!self->primed && !prime_and_enable (self, error))
    return GST_FLOW_ERROR;

  /* While downstream holds every block, this waits for one to be
   * released and re-enqueued. */
  ret = gst_iio_transfers_wait_oldest (self->transfers, timeout_ms, TRUE,
      error);
  if (ret != GST_FLOW_OK)
    return ret;

  low = kernel_queue_low (self);
  *buffer = hand_out (self);
  if (low)
    *buffer = copy_out (self, *buffer);
  GST_LOG_OBJECT (self, "block%s: %" GST_PTR_FORMAT, low ? " (copied)" : "",
      *buffer);

  return GST_FLOW_OK;
}

static void
gst_iio_dmabuf_input_set_flushing (GstIioQueue * queue, gboolean flushing)
{
  GstIioDmabufInput *self = GST_IIO_DMABUF_INPUT (queue);

  if (self->transfers)
    gst_iio_transfers_set_flushing (self->transfers, flushing);
}

/* ---- stop ---- */

/* The aborted transfers give their blocks back first (the hook finds the
 * transfers stopped and frees them on close); blocks downstream are
 * detached now and freed when released. */
static void
gst_iio_dmabuf_input_stop (GstIioQueue * queue)
{
  GstIioDmabufInput *self = GST_IIO_DMABUF_INPUT (queue);
  guint outstanding;

  if (self->transfers) {
    gst_iio_transfers_set_flushing (self->transfers, TRUE);
    gst_iio_transfers_abort_all (self->transfers, NULL);
  }
  if (self->blocks) {
    outstanding = gst_dmabuf_block_allocator_count (self->blocks,
        GST_DMABUF_BLOCK_OUTSTANDING);
    if (outstanding > 0)
      GST_DEBUG_OBJECT (self, "%u blocks still held downstream: freed when "
          "released", outstanding);
    gst_dmabuf_block_allocator_close (self->blocks);
  }
  gst_clear_object (&self->blocks);
  gst_clear_object (&self->transfers);
  gst_clear_object (&self->exporter);
  self->primed = FALSE;
}

/* ---- GObject ---- */

static void
gst_iio_dmabuf_input_finalize (GObject * object)
{
  gst_iio_dmabuf_input_stop (GST_IIO_QUEUE (object));

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
  gst_iio_queue_init_config (GST_IIO_QUEUE (self), device, config,
      GST_IIO_IO_MODE_DMABUF);

  return GST_IIO_QUEUE (self);
}
