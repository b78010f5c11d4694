/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The copy path through libiio's iio_buffer.
 *
 * Input: iio_buffer_refill() reads one block (libiio's read() of the
 * chardev, or iiod), then one memcpy into a GstBuffer from a plain pool.
 *
 * Output: render() copies into libiio's block and iio_buffer_push()es it
 * when full. The kernel buffer is sized to two of our blocks, because a
 * DMA-type buffer's fileio interface splits its length into two blocks
 * and hands only whole blocks to the device: with length = 2 blocks every
 * push is played at once, and a partial last block is completed (drain)
 * by repeating its last sample.
 *
 * Drain: libiio's iio_buffer_destroy() disables the buffer, which aborts
 * whatever the device has not played yet (KERNEL-NOTES: iio_writedev loses
 * data). So before destroying, drain() waits until the kernel buffer is
 * idle again, read from the buffer's data_available attribute: a DMA
 * buffer's counts free fileio blocks (all of them when idle), a kfifo's
 * the samples still queued (0 when idle). The idle value is read right
 * after the buffer is created, before anything is pushed, so both kinds
 * are exact; through iiod (ip:, usb:) too, since iiod answers OPEN once
 * its own buffer is enabled and answers a write once it has pushed the
 * data into the kernel. Without data_available (an old kernel), the wait
 * is the duration of two blocks at the device's rate plus a margin.
 * Bounded by twice the timeout, interrupted by set_flushing(TRUE).
 *
 * Cyclic output: libiio supports it only with ADI's high-speed block API;
 * on mainline kernels (and iiod on them) creating a cyclic buffer fails
 * with EPERM, and the queue repeats the block itself from a thread.
 *
 * Input losses (docs/iiosrc.md, "Lost samples"): the device's samples
 * are on a timeline (gstiiosampletimeline.h) built from when each refill
 * returned. A local DMA-type buffer's fileio interface splits its length
 * (libiio writes blocks x buffer-size) into two kernel blocks, which the
 * device fills in turn; read() hands a kernel block back to the device
 * as it copies its last byte, at the end of a refill. So a gap can only
 * open before the first of our blocks in a kernel block, and it opened
 * exactly when that kernel block went back after the other one was full:
 * decided as on the DMABUF path, from refill times instead of ENQUEUE
 * times. A refill that had to wait saw its block complete; one much later
 * than the timeline means the kernel skipped a block (a failed transfer)
 * if the next kernel block comes a kernel block after it, counted there;
 * if it comes at once, the consumer's thread was away and nothing is lost.
 * Elsewhere (a kfifo buffer, iiod) the geometry is unknown: a loss is
 * proven when more samples are missing than the buffers in between can
 * hold. The gap is then after the samples still buffered, so the flag
 * goes on the block that many samples on: at or after the gap, never
 * before it.
 *
 * Flushing: iio_buffer_cancel() makes a blocked refill/push return at
 * once; a cancelled libiio buffer cannot be used again, so the next
 * capture/render creates a new one (input: the next block is DISCONT).
 * Output: unlock cannot tell a pause from a stop (a bin going to NULL
 * passes through PAUSED), and a cancel loses what the kernel holds. So on
 * a local DMA buffer render waits for room itself before each push
 * (data_available shows a free fileio block, read as drain does), in an
 * interruptible wait: the push then never blocks and a pause needs no
 * cancel, even on a stalled device. Elsewhere (iiod, where reading the
 * attribute would itself block on a silent iiod; kfifo buffers) the push
 * may block, and set_flushing (TRUE) cancels it only if it is still
 * blocked after a grace period (the time the device takes to free a
 * block, at most PAUSE_GRACE_MAX_MS): a push into a device that plays
 * returns within it and a pause loses nothing; a stalled device or an
 * iiod that does not answer is cancelled. The other waits (drain) are
 * ours and end at once. discard() (a flush) and stop cancel; after a cancel,
 * libiio's network backend closes the socket without waiting for iiod's
 * answer to CLOSE, so stop is bounded even when iiod hangs.
 */
#include "gstiiocopyqueue.h"
#include "gstiiosampletimeline.h"

#include <errno.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_copy_queue_debug);
#define GST_CAT_DEFAULT gst_iio_copy_queue_debug

/* How often drain() looks at data_available. */
#define DRAIN_POLL_US (2 * G_TIME_SPAN_MILLISECOND)
/* Slack over the duration of the queued samples (scheduling, iiod). */
#define DRAIN_MARGIN_MS 500
/* Drain bound when neither a timeout nor the rate is known. */
#define DRAIN_DEFAULT_BOUND_MS 10000
/* Bounds set_flushing (TRUE) waiting for a push in progress. */
#define PAUSE_GRACE_MAX_MS 2000

struct _GstIioCopyQueue
{
  GstIioQueue parent;

  struct iio_device *dev;       /* owned by the GstIioDevice */
  struct iio_context *ctx;
  gboolean input;
  gboolean local;               /* a local: context (sysfs reads are cheap) */
  gsize block_bytes;
  guint rate;                   /* Hz, 0 if unknown: bounds the drain */

  /* Streaming-thread state: capture, render and drain run in the streaming
   * thread; start and stop in the state thread while it is stopped. */
  guint buf_samples;            /* samples_count of buf */
  gsize fill;                   /* output: bytes in buf not pushed yet */
  gsize resume;                 /* output: bytes of an interrupted buffer
                                 * already taken */
  gboolean unplayed;            /* output: pushed since the last drain */
  guint64 pushed;               /* output: samples pushed into buf */
  gint64 enabled_at;            /* output: monotonic us, buf created */
  gboolean discont;             /* input: samples lost before next block */
  gint64 idle_available;        /* output: data_available when idle */
  GstBufferPool *pool;          /* input */
  /* Input loss detection (see the top): the timeline; our blocks per
   * fileio kernel block (0: not that geometry); when each of the two
   * kernel blocks last went back to the device (CLOCK_MONOTONIC ns); the
   * samples received, and for the proof elsewhere those accounted lost
   * and those proven but not yet flagged. */
  GstIioSampleTimeline timeline;
  guint blocks_per_kernel_block;
  gint64 requeued_ns[2];
  guint64 received;
  guint64 accounted_lost;
  guint64 pending_lost;         /* proven, not yet flagged */
  guint64 pending_at;           /* the block it is flagged on */
  GThread *repeat_thread;       /* cyclic output without kernel support */

  /* lock guards the fields below against set_flushing(), which cancels
   * buf from another thread, and the repeat thread. Leaf lock: only
   * iio_buffer_cancel (an eventfd write or a socket shutdown) is called
   * under it. buf is written under it and read without it by the
   * streaming thread, its only writer. */
  GMutex lock;
  GCond cond;                   /* drain waits; set_flushing wakes it */
  struct iio_buffer *buf;
  gboolean flushing;
  gboolean cancelled;           /* buf was cancelled: unusable */
  gboolean pushing;             /* the streaming thread is in a push */
  GError *repeat_error;
};

G_DEFINE_TYPE_WITH_CODE (GstIioCopyQueue, gst_iio_copy_queue,
    GST_TYPE_IIO_QUEUE,
    GST_DEBUG_CATEGORY_INIT (gst_iio_copy_queue_debug, "iiocopyqueue", 0,
        "IIO copy path (libiio buffers)"));

static const GstIioQueueConfig *
config_of (GstIioCopyQueue * self)
{
  return gst_iio_queue_get_config (GST_IIO_QUEUE (self));
}

static const gchar *
dev_name (GstIioCopyQueue * self)
{
  GstIioDevice *device = gst_iio_queue_get_device (GST_IIO_QUEUE (self));

  return gst_iio_device_get_display_name (device);
}

/* An unplugged device's fileio read()/write() never wakes poll(): libiio
 * times out. Locally, the sysfs directory tells whether it is gone. */
static gboolean
set_gone_error (GstIioCopyQueue * self, const gchar * call, GError ** error)
{
  GstIioDevice *device = gst_iio_queue_get_device (GST_IIO_QUEUE (self));
  const gchar *sysfs = gst_iio_device_get_sysfs_path (device);

  if (!sysfs || g_file_test (sysfs, G_FILE_TEST_EXISTS))
    return FALSE;
  g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_DEVICE_LOST,
      "Device %s disappeared (%s timed out after %d ms and %s is gone)",
      dev_name (self), call, config_of (self)->timeout_ms, sysfs);

  return TRUE;
}

/* A libiio call failed with errno @err: the queue error users read. */
static void
set_io_error (GstIioCopyQueue * self, const gchar * call, gint err,
    GError ** error)
{
  GstIioDevice *device = gst_iio_queue_get_device (GST_IIO_QUEUE (self));
  gint timeout_ms = config_of (self)->timeout_ms;

  if (err == ETIMEDOUT && set_gone_error (self, call, error))
    return;
  if (err == EBUSY && !g_strcmp0 (call, "iio_device_create_buffer"))
    gst_iio_device_set_busy_error (device, error);
  else if (err == ETIMEDOUT && self->input)
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_TIMEOUT,
        "Timed out after %d ms waiting for a block from %s", timeout_ms,
        dev_name (self));
  else if (err == ETIMEDOUT)
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_TIMEOUT,
        "Timed out after %d ms waiting for %s to take a block", timeout_ms,
        dev_name (self));
  else if (err == ENODEV || err == ENXIO)
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_DEVICE_LOST,
        "Device %s disappeared (%s: %s)", dev_name (self), call,
        g_strerror (err));
  else if (err == EPIPE || err == ECONNRESET || err == ENOTCONN)
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_DEVICE_LOST,
        "Lost the connection to %s at %s (%s: %s)", dev_name (self),
        gst_iio_device_get_uri (device), call, g_strerror (err));
  else
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "%s on %s failed: %s", call, dev_name (self), g_strerror (err));
}

/* After a failed refill/push: FLUSHING when set_flushing interrupted it. */
static GstFlowReturn
io_failed (GstIioCopyQueue * self, const gchar * call, gssize ret,
    GError ** error)
{
  gboolean cancelled;

  g_mutex_lock (&self->lock);
  cancelled = self->cancelled;
  g_mutex_unlock (&self->lock);
  if (cancelled) {
    GST_DEBUG_OBJECT (self, "%s interrupted (%s)", call,
        g_strerror ((gint) - ret));
    return GST_FLOW_FLUSHING;
  }
  set_io_error (self, call, (gint) - ret, error);
  /* A libiio client started beside us (iio_readdev) disabled our buffer:
   * refill then times out, push finds no room. Say so. */
  gst_iio_device_explain_disabled (gst_iio_queue_get_device (GST_IIO_QUEUE
          (self)), error);
  GST_WARNING_OBJECT (self, "%s", (*error)->message);

  return GST_FLOW_ERROR;
}

static gint64
read_buffer_attr (GstIioCopyQueue * self, const gchar * attr)
{
  gchar str[32], *end;
  guint64 value;

  if (iio_device_buffer_attr_read (self->dev, attr, str, sizeof (str)) <= 0)
    return -1;
  value = g_ascii_strtoull (str, &end, 10);

  return end == str || value > G_MAXINT64 ? -1 : (gint64) value;
}

static void
set_kernel_blocks (GstIioCopyQueue * self, guint n)
{
  gint ret = iio_device_set_kernel_buffers_count (self->dev, n);

  /* Not every backend has it (iiod may not): only a size hint. */
  if (ret < 0)
    GST_DEBUG_OBJECT (self, "iio_device_set_kernel_buffers_count %u: %s", n,
        g_strerror (-ret));
}

/* libiio 0.24's local open writes buffer/enable=0 before it opens the
 * chardev, so handing it a device another program streams from stops
 * that stream. The element holds the claim (gst_iio_device_claim) until
 * right before iio_device_create_buffer, where it must let go for libiio
 * to open the chardev. Remaining race: a program that opens the device
 * in the few syscalls between our close() and libiio's enable=0 write
 * may have its stream disabled (then libiio's open fails with EBUSY
 * here); likewise libiio's iio_buffer_destroy closes the chardev before
 * it writes enable=0 and disables the channels, until destroy_buffer()
 * claims the device back. Remote contexts: iiod does the same on its
 * side, which nothing here can guard. */
static gboolean
hand_to_libiio (GstIioCopyQueue * self)
{
  GstIioDevice *device = gst_iio_queue_get_device (GST_IIO_QUEUE (self));

  if (!gst_iio_device_claim (device, NULL))
    return FALSE;
  /* Held by us, so no program streams: an enabled buffer was left so by
   * one that exited (libiio disables it). */
  if (gst_iio_device_buffer_is_enabled (device))
    GST_WARNING_OBJECT (self, "the buffer of %s was left enabled by a "
        "program that exited: libiio disables it", dev_name (self));
  gst_iio_device_release (device);

  return TRUE;
}

static struct iio_buffer *
try_create (GstIioCopyQueue * self, guint samples, gboolean cyclic,
    guint kernel_blocks, gint * err)
{
  GstIioDevice *device = gst_iio_queue_get_device (GST_IIO_QUEUE (self));
  struct iio_buffer *buf;

  if (!hand_to_libiio (self)) {
    *err = EBUSY;
    return NULL;
  }
  set_kernel_blocks (self, kernel_blocks);
  errno = 0;
  buf = iio_device_create_buffer (self->dev, samples, cyclic);
  *err = buf ? 0 : (errno ? errno : EIO);
  if (!buf)
    gst_iio_device_claim (device, NULL);

  return buf;
}

/* Publishes @buf; cancels it at once if a flush began meanwhile. */
static void
publish_buffer (GstIioCopyQueue * self, struct iio_buffer *buf, guint samples)
{
  g_mutex_lock (&self->lock);
  self->buf = buf;
  self->cancelled = FALSE;
  if (self->flushing) {
    iio_buffer_cancel (buf);
    self->cancelled = TRUE;
  }
  g_mutex_unlock (&self->lock);
  self->buf_samples = samples;
  self->fill = 0;
  self->pushed = 0;
  self->enabled_at = g_get_monotonic_time ();
}

static gboolean
create_buffer (GstIioCopyQueue * self, guint samples, gboolean cyclic,
    GError ** error)
{
  /* Input: the blocks property sizes the kernel buffer. Output: two of
   * our blocks (see the top of the file). */
  guint kernel_blocks = self->input ? MAX (config_of (self)->n_blocks, 1) : 2;
  struct iio_buffer *buf;
  gint err;

  buf = try_create (self, samples, cyclic, kernel_blocks, &err);
  if (!buf && err == ENOMEM && kernel_blocks > 2) {
    /* A fileio block is half the kernel buffer; 6.12 cannot allocate
     * blocks over 4 MiB. Two blocks is the least that streams. */
    GST_INFO_OBJECT (self, "ENOMEM with %u kernel blocks, trying 2",
        kernel_blocks);
    buf = try_create (self, samples, cyclic, 2, &err);
  }
  if (!buf) {
    set_io_error (self, "iio_device_create_buffer", err, error);
    return FALSE;
  }
  publish_buffer (self, buf, samples);
  /* Enabled in fileio mode just now (iiod too: its OPEN returns once its
   * own buffer exists), nothing queued yet: the idle value. */
  self->idle_available = self->input ? -1 :
      read_buffer_attr (self, "data_available");
  GST_DEBUG_OBJECT (self, "libiio buffer of %u samples (%s), idle "
      "data_available %" G_GINT64_FORMAT, samples, cyclic ? "cyclic" :
      "streaming", self->idle_available);

  return TRUE;
}

static void
destroy_buffer (GstIioCopyQueue * self)
{
  struct iio_buffer *buf;

  g_mutex_lock (&self->lock);
  buf = self->buf;
  self->buf = NULL;
  g_mutex_unlock (&self->lock);
  if (!buf)
    return;
  iio_buffer_destroy (buf);
  /* Ours again until the next create (see hand_to_libiio); if another
   * program took it meanwhile, that create says the device is busy. */
  gst_iio_device_claim (gst_iio_queue_get_device (GST_IIO_QUEUE (self)), NULL);
}

static void start_timeline (GstIioCopyQueue * self, gint64 created_ns);

/* Before each refill/push: FLUSHING while flushing; a buffer cancelled by
 * an earlier flush is replaced. */
static GstFlowReturn
prepare_buffer (GstIioCopyQueue * self, GError ** error)
{
  gboolean flushing, cancelled;

  g_mutex_lock (&self->lock);
  flushing = self->flushing;
  cancelled = self->cancelled;
  g_mutex_unlock (&self->lock);

  if (flushing)
    return GST_FLOW_FLUSHING;
  if (self->buf && !cancelled)
    return GST_FLOW_OK;
  if (self->buf) {
    GST_DEBUG_OBJECT (self, "replacing the buffer cancelled by a flush%s",
        self->fill ? ", dropping a partial block" : "");
    destroy_buffer (self);
    self->discont = TRUE;
  }

  if (!create_buffer (self, config_of (self)->block_samples, FALSE, error))
    return GST_FLOW_ERROR;
  /* libiio enabled the buffer inside create: sample 0 is before now. */
  if (self->input)
    start_timeline (self, g_get_monotonic_time () * 1000);

  return GST_FLOW_OK;
}

/* ---- input ---- */

static GstBufferPool *
make_pool (gsize block_bytes)
{
  GstBufferPool *pool = gst_buffer_pool_new ();
  GstStructure *config = gst_buffer_pool_get_config (pool);

  /* No maximum: downstream may hold any number of buffers. */
  gst_buffer_pool_config_set_params (config, NULL, block_bytes, 0, 0);
  if (!gst_buffer_pool_set_config (pool, config) ||
      !gst_buffer_pool_set_active (pool, TRUE))
    g_warn_if_reached ();

  return pool;
}

/* The samples between the device and us that the kernel, iiod and the
 * network can hold, for the proof where the geometry is unknown: the
 * kernel buffer, and three times as much again through iiod. */
static guint64
buffered_capacity (GstIioCopyQueue * self)
{
  GstIioDevice *device = gst_iio_queue_get_device (GST_IIO_QUEUE (self));
  const GstIioQueueConfig *config = config_of (self);
  guint64 n = (guint64) config->block_samples * MAX (config->n_blocks, 2);

  return gst_iio_device_is_local (device) ? n : 4 * n;
}

/* Our blocks per fileio kernel block of a local DMA-type buffer (those
 * have length_align_bytes, as dmaengine's; kfifo buffers do not), 0 if
 * that is not the geometry. */
static guint
fileio_geometry (GstIioCopyQueue * self)
{
  GstIioDevice *device = gst_iio_queue_get_device (GST_IIO_QUEUE (self));
  guint block = config_of (self)->block_samples;
  gint64 length;

  if (!gst_iio_device_is_local (device) ||
      read_buffer_attr (self, "length_align_bytes") < 0)
    return 0;
  length = read_buffer_attr (self, "length");
  if (length <= 0 || length % 2 || (length / 2) % block)
    return 0;

  return (guint) (length / 2 / block);
}

static void
start_timeline (GstIioCopyQueue * self, gint64 created_ns)
{
  gst_iio_sample_timeline_init (&self->timeline, config_of (self)->rate);
  gst_iio_sample_timeline_start (&self->timeline, created_ns);
  /* Both kernel blocks were queued by the enable, before sample 0. */
  self->requeued_ns[0] = self->requeued_ns[1] = created_ns;
  self->received = self->accounted_lost = self->pending_lost = 0;
  self->blocks_per_kernel_block = fileio_geometry (self);
  GST_DEBUG_OBJECT (self, "loss detection: %s (%u blocks per kernel "
      "block)", self->blocks_per_kernel_block ? "fileio kernel blocks" :
      "buffered capacity", self->blocks_per_kernel_block);
}

/* Fileio: samples lost before the block just read (one refill from
 * @begin_ns to @end_ns), decided where a kernel block starts. */
static guint64
fileio_lost (GstIioCopyQueue * self, gint64 begin_ns, gint64 end_ns)
{
  const GstIioQueueConfig *config = config_of (self);
  guint m = self->blocks_per_kernel_block;
  guint64 index = self->received / config->block_samples;
  guint64 kernel_block = index / m;
  gint64 dur = gst_iio_sample_timeline_duration_ns
      ((guint64) m * config->block_samples, config->rate);
  GstIioBlockTimes times = {
    .samples = m * config->block_samples,
    .queue_begin_ns = self->requeued_ns[kernel_block % 2],
    .queue_end_ns = self->requeued_ns[kernel_block % 2],
    .signal_ns = end_ns,
    .seen_ns = end_ns,
    /* Only a refill that had to wait saw the kernel block complete; a
     * block the kernel skipped (a failed transfer) makes it a kernel block
     * late, below the default stall threshold. */
    .stall_ns = end_ns - begin_ns > dur / 8 ?
        MAX (dur / 2, 20 * G_GINT64_CONSTANT (1000000)) : G_MAXINT64,
  };
  guint64 lost = 0;

  if (index % m == 0)
    lost = gst_iio_sample_timeline_complete (&self->timeline, &times);
  /* A refill that waited saw the whole kernel block complete. */
  if (index % m == 0 && times.stall_ns != G_MAXINT64)
    gst_iio_queue_set_progress (GST_IIO_QUEUE (self),
        (guint64) (m - 1) * config->block_samples, end_ns);
  if (G_UNLIKELY (self->timeline.measured_rate))
    gst_iio_queue_note_measured_rate (GST_IIO_QUEUE (self),
        self->timeline.measured_rate);
  /* Its last block read: the kernel block went back to the device. */
  if (index % m == m - 1)
    self->requeued_ns[kernel_block % 2] = end_ns;

  return lost;
}

/* Elsewhere: lost for certain when the device produced more since the
 * start (at the lowest rate it may run at) than we received plus what
 * the buffers in between hold. */
static guint64
proven_lost (GstIioCopyQueue * self, gint64 now_ns)
{
  guint rate = config_of (self)->rate;
  gint64 elapsed = now_ns - self->timeline.started_ns;
  guint64 produced, missing;

  if (rate == 0 || elapsed <= 0)
    return 0;
  produced = (guint64) elapsed / 1000 * rate / 1000000;
  produced -= produced / 1000;  /* 1000 ppm slow */
  missing = self->received + self->accounted_lost + buffered_capacity (self);
  if (produced <= missing)
    return 0;
  self->accounted_lost += produced - missing;

  return produced - missing;
}

/* Elsewhere, the gap is after the samples buffered when the loss was
 * proven: flagged on the first block that cannot come before it. */
static guint64
flagged_lost (GstIioCopyQueue * self, gint64 now_ns)
{
  guint64 lost = proven_lost (self, now_ns);

  if (lost && self->pending_lost == 0)
    self->pending_at = self->received + buffered_capacity (self);
  self->pending_lost += lost;
  if (self->pending_lost == 0 || self->received < self->pending_at)
    return 0;
  lost = self->pending_lost;
  self->pending_lost = 0;

  return lost;
}

static GstFlowReturn
gst_iio_copy_queue_capture (GstIioQueue * queue, GstBuffer ** buffer,
    GError ** error)
{
  GstIioCopyQueue *self = GST_IIO_COPY_QUEUE (queue);
  GstBuffer *out = NULL;
  GstFlowReturn ret;
  gint64 begin_ns, end_ns;
  guint64 lost;
  gssize n;

  ret = prepare_buffer (self, error);
  if (ret != GST_FLOW_OK)
    return ret;

  begin_ns = g_get_monotonic_time () * 1000;
  n = iio_buffer_refill (self->buf);
  end_ns = g_get_monotonic_time () * 1000;
  if (n < 0)
    return io_failed (self, "iio_buffer_refill", n, error);
  if ((gsize) n != self->block_bytes) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "iio_buffer_refill on %s returned %" G_GSSIZE_FORMAT " bytes instead "
        "of %" G_GSIZE_FORMAT, dev_name (self), n, self->block_bytes);
    return GST_FLOW_ERROR;
  }

  ret = gst_buffer_pool_acquire_buffer (self->pool, &out, NULL);
  if (ret != GST_FLOW_OK) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "No buffer from the pool for %s: %s", dev_name (self),
        gst_flow_get_name (ret));
    return ret == GST_FLOW_FLUSHING ? ret : GST_FLOW_ERROR;
  }
  gst_buffer_fill (out, 0, iio_buffer_start (self->buf), self->block_bytes);

  if (self->discont) {
    /* A new libiio buffer after a flush: how much the device produced
     * meanwhile is unknown. */
    lost = GST_IIO_QUEUE_LOST_UNKNOWN;
    self->discont = FALSE;
  } else if (self->blocks_per_kernel_block) {
    lost = fileio_lost (self, begin_ns, end_ns);
  } else {
    lost = flagged_lost (self, end_ns);
  }
  gst_iio_queue_count_capture (queue, out, self->block_bytes,
      self->block_bytes, lost);
  self->received += config_of (self)->block_samples;
  *buffer = out;

  return GST_FLOW_OK;
}

/* ---- output ---- */

static gboolean sleep_until (GstIioCopyQueue * self, gint64 deadline);

/* Local DMA buffer (data_available counts the bytes of free fileio
 * blocks, two blocks when idle; docs/kernel-bugs.md 9): waits until one
 * is free, so that the push does not block. At the timeout the push goes
 * ahead and reports it. FLUSHING when interrupted. */
static GstFlowReturn
wait_room (GstIioCopyQueue * self)
{
  gint timeout_ms = config_of (self)->timeout_ms;
  gint64 idle = self->idle_available, avail, deadline, now;

  if (!self->local || idle <= 0)
    return GST_FLOW_OK;
  now = g_get_monotonic_time ();
  deadline = timeout_ms > 0 ? now + (gint64) timeout_ms *1000 : G_MAXINT64;
  /* An attribute that cannot be read (the device went): push, and let it
   * fail. */
  while ((avail = read_buffer_attr (self, "data_available")) >= 0
      && avail < idle / 2) {
    now = g_get_monotonic_time ();
    if (now >= deadline)
      break;
    if (!sleep_until (self, MIN (deadline, now + DRAIN_POLL_US)))
      return GST_FLOW_FLUSHING;
  }

  return GST_FLOW_OK;
}

/* Not started while flushing: set_flushing only waits for a push that
 * began before it. */
static GstFlowReturn
push_block (GstIioCopyQueue * self, GError ** error)
{
  gboolean flushing;
  gssize n;

  if (wait_room (self) != GST_FLOW_OK)
    return GST_FLOW_FLUSHING;

  g_mutex_lock (&self->lock);
  flushing = self->flushing || self->cancelled;
  self->pushing = !flushing;
  g_mutex_unlock (&self->lock);
  if (flushing)
    return GST_FLOW_FLUSHING;

  n = iio_buffer_push (self->buf);
  g_mutex_lock (&self->lock);
  self->pushing = FALSE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  if (n < 0)
    return io_failed (self, "iio_buffer_push", n, error);
  self->fill = 0;
  self->unplayed = TRUE;
  self->pushed += self->buf_samples;
  /* The kernel holds two blocks at most: the device played the rest (a
   * lower bound, tight when the push had to wait for room). */
  gst_iio_queue_set_consumed (GST_IIO_QUEUE (self), self->pushed -
      MIN (self->pushed, 2 * (guint64) self->buf_samples),
      g_get_monotonic_time () * 1000);

  return GST_FLOW_OK;
}

/* *@taken: bytes of @data copied into blocks, also when interrupted. A
 * full block is pushed before anything else, so a resumed call first
 * pushes the block an interrupt kept. */
static GstFlowReturn
write_bytes (GstIioCopyQueue * self, const guint8 * data, gsize size,
    gsize * taken, GError ** error)
{
  GstFlowReturn ret;

  *taken = 0;
  while (TRUE) {
    gsize n;

    ret = prepare_buffer (self, error);
    if (ret != GST_FLOW_OK)
      return ret;
    if (self->fill == self->block_bytes) {
      ret = push_block (self, error);
      if (ret != GST_FLOW_OK)
        return ret;
      continue;
    }
    if (size == 0)
      return GST_FLOW_OK;
    n = MIN (size, self->block_bytes - self->fill);
    memcpy ((guint8 *) iio_buffer_start (self->buf) + self->fill, data, n);
    gst_iio_queue_add_stat (GST_IIO_QUEUE (self),
        GST_IIO_QUEUE_STAT_BYTES_COPIED, n);
    self->fill += n;
    data += n;
    size -= n;
    *taken += n;
  }
}

static GstFlowReturn render_cyclic (GstIioCopyQueue * self,
    GstBuffer * buffer, GError ** error);

/* As on the DMABUF path (same text): libiio's buffer takes any bytes, but
 * a partial sample would shift every later one to other channels. */
static gboolean
check_whole_samples (GstIioCopyQueue * self, gsize size, GError ** error)
{
  gsize sample_size = config_of (self)->sample_size;

  if (size % sample_size == 0)
    return TRUE;
  g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
      "A buffer of %" G_GSIZE_FORMAT " bytes is not a whole number of "
      "%" G_GSIZE_FORMAT "-byte samples for %s", size, sample_size,
      dev_name (self));

  return FALSE;
}

static GstFlowReturn
gst_iio_copy_queue_render (GstIioQueue * queue, GstBuffer * buffer,
    GError ** error)
{
  GstIioCopyQueue *self = GST_IIO_COPY_QUEUE (queue);
  GstFlowReturn ret;
  GstMapInfo map;
  gsize skip, taken;

  if (config_of (self)->cyclic)
    return render_cyclic (self, buffer, error);
  if (!check_whole_samples (self, gst_buffer_get_size (buffer), error))
    return GST_FLOW_ERROR;

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "Could not map a buffer for %s", dev_name (self));
    return GST_FLOW_ERROR;
  }
  /* The same buffer again after an interrupt (a pause): go on after what
   * was taken. */
  skip = MIN (self->resume, map.size);
  ret = write_bytes (self, map.data + skip, map.size - skip, &taken, error);
  self->resume = ret == GST_FLOW_FLUSHING ? skip + taken : 0;
  if (ret == GST_FLOW_OK) {
    gst_iio_queue_add_stat (queue, GST_IIO_QUEUE_STAT_BUFFERS, 1);
    gst_iio_queue_add_stat (queue, GST_IIO_QUEUE_STAT_BYTES, map.size);
  }
  gst_buffer_unmap (buffer, &map);

  return ret;
}

/* A DMA buffer's fileio interface plays whole blocks only: complete the
 * last one by repeating its last sample (what a DAC holds after its
 * stream anyway). render() let whole samples only in. */
static void
pad_block (GstIioCopyQueue * self)
{
  guint8 *base = iio_buffer_start (self->buf);
  gsize ss = config_of (self)->sample_size, pos;

  for (pos = self->fill; pos + ss <= self->block_bytes; pos += ss)
    memcpy (base + pos, base + self->fill - ss, ss);
  GST_INFO_OBJECT (self, "padded the last block of %s with %" G_GSIZE_FORMAT
      " copies of its last sample", dev_name (self),
      (self->block_bytes - self->fill) / ss);
  self->fill = self->block_bytes;
}

/* Waits on cond until @deadline; FALSE when flushing. */
static gboolean
sleep_until (GstIioCopyQueue * self, gint64 deadline)
{
  gboolean flushing;

  g_mutex_lock (&self->lock);
  while (!self->flushing && g_get_monotonic_time () < deadline)
    g_cond_wait_until (&self->cond, &self->lock, deadline);
  flushing = self->flushing;
  g_mutex_unlock (&self->lock);

  return !flushing;
}

/* Two blocks may be queued in the kernel, each allowed the timeout. */
static gint64
drain_bound_ms (GstIioCopyQueue * self)
{
  const GstIioQueueConfig *config = config_of (self);

  if (config->timeout_ms > 0)
    return 2 * (gint64) config->timeout_ms;
  if (self->rate)
    return 2 * (gint64) self->buf_samples * 1000 / self->rate + 5000;
  return DRAIN_DEFAULT_BOUND_MS;
}

/* Waits until the kernel played everything pushed (see the top). */
static gboolean
wait_played (GstIioCopyQueue * self, GError ** error)
{
  gint64 start = g_get_monotonic_time (), deadline, now;
  gint64 idle = self->idle_available;
  gint64 avail = -1;
  /* Without data_available, the duration of two queued blocks at the
   * device's rate ends the wait. */
  gboolean exact = idle >= 0;

  deadline = start + drain_bound_ms (self) * 1000;
  if (!exact && self->rate)
    deadline = MIN (deadline, start + (2 * (gint64) self->buf_samples *
            G_USEC_PER_SEC / self->rate) + DRAIN_MARGIN_MS * 1000);

  while (TRUE) {
    if (idle >= 0 && (avail = read_buffer_attr (self, "data_available"))
        == idle) {
      GST_DEBUG_OBJECT (self, "played after %" G_GINT64_FORMAT " us",
          g_get_monotonic_time () - start);
      return TRUE;
    }
    now = g_get_monotonic_time ();
    if (now >= deadline)
      break;
    if (!sleep_until (self, MIN (deadline, now + DRAIN_POLL_US))) {
      GST_INFO_OBJECT (self, "drain interrupted by a flush: queued samples "
          "of %s may be dropped", dev_name (self));
      return FALSE;
    }
  }

  if (!exact) {
    GST_INFO_OBJECT (self, "waited %" G_GINT64_FORMAT " ms for %s to play "
        "two blocks (data_available %" G_GINT64_FORMAT ")",
        (deadline - start) / 1000, dev_name (self), avail);
    return TRUE;
  }
  g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_TIMEOUT,
      "Timed out after %" G_GINT64_FORMAT " ms waiting for %s to play the "
      "queued samples (data_available %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
      " when idle)", (deadline - start) / 1000, dev_name (self), avail, idle);
  gst_iio_device_explain_disabled (gst_iio_queue_get_device (GST_IIO_QUEUE
          (self)), error);

  return FALSE;
}

/* The samples the device says it played since the buffer was enabled, or
 * -1: only a device with a samples_consumed attribute counts them (the
 * test bed's sim-dac; no mainline driver). */
static gint64
read_consumed (GstIioCopyQueue * self)
{
  gchar str[32], *end;
  guint64 value;

  if (iio_device_attr_read (self->dev, "samples_consumed", str,
          sizeof (str)) <= 0)
    return -1;
  value = g_ascii_strtoull (str, &end, 10);

  return end == str || value > G_MAXINT64 ? -1 : (gint64) value;
}

/* fileio cannot report a failed output block (6.12): the write()
 * succeeded and the block completes, played or not. Where the device
 * counts what it played, compare once it is idle; elsewhere nothing shows
 * the loss (docs/kernel-bugs.md). */
static gboolean
check_consumed (GstIioCopyQueue * self, GError ** error)
{
  gint64 consumed = read_consumed (self);

  if (consumed < 0 || (guint64) consumed >= self->pushed) {
    GST_DEBUG_OBJECT (self, "%s played %" G_GINT64_FORMAT " of %"
        G_GUINT64_FORMAT " samples pushed", dev_name (self), consumed,
        self->pushed);
    return TRUE;
  }
  g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
      "Device %s played only %" G_GINT64_FORMAT " of the %" G_GUINT64_FORMAT
      " samples handed to it (samples_consumed): %" G_GUINT64_FORMAT
      " samples were lost (a block completed unplayed, which fileio does "
      "not report)", dev_name (self), consumed, self->pushed,
      self->pushed - (guint64) consumed);
  GST_WARNING_OBJECT (self, "%s", (*error)->message);

  return FALSE;
}

/* Slack on the shortest time the pushed samples take at the device's
 * rate: its clock against ours, and the first block's start. */
#define DURATION_SLACK_PERCENT 10
#define DURATION_SLACK_US (20 * G_TIME_SPAN_MILLISECOND)

/* The other evidence, on any device with a known rate: a block that
 * completes without being played ends the stream sooner than the rate
 * allows. (Not when the device fails a block after its time, as the
 * simulator's fault=error does: docs/kernel-bugs.md.) */
static gboolean
check_duration (GstIioCopyQueue * self, GError ** error)
{
  gint64 elapsed = g_get_monotonic_time () - self->enabled_at;
  gint64 least;

  if (self->rate == 0 || self->pushed == 0)
    return TRUE;
  least = (gint64) gst_util_uint64_scale (self->pushed, G_USEC_PER_SEC,
      self->rate);
  if (elapsed >= least - least * DURATION_SLACK_PERCENT / 100
      - DURATION_SLACK_US)
    return TRUE;
  g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
      "Device %s was done with %" G_GUINT64_FORMAT " samples after %"
      G_GINT64_FORMAT " ms, but they take at least %" G_GINT64_FORMAT " ms "
      "at its %u Hz: blocks completed without being played (which fileio "
      "does not report), or the device runs faster than its "
      "sampling_frequency", dev_name (self), self->pushed, elapsed / 1000,
      least / 1000, self->rate);
  GST_WARNING_OBJECT (self, "%s", (*error)->message);

  return FALSE;
}

static gboolean take_repeat_error (GstIioCopyQueue * self, GError ** error);

static gboolean
gst_iio_copy_queue_drain (GstIioQueue * queue, GError ** error)
{
  GstIioCopyQueue *self = GST_IIO_COPY_QUEUE (queue);
  GstFlowReturn ret;
  gboolean cancelled, flushing;

  if (config_of (self)->cyclic)
    return take_repeat_error (self, error);

  g_mutex_lock (&self->lock);
  cancelled = self->cancelled;
  flushing = self->flushing;
  g_mutex_unlock (&self->lock);
  if (flushing)
    return FALSE;
  if (cancelled) {
    /* A flush dropped the buffer, or a pause cancelled a push the device
     * did not take within the grace: nothing is left to play. */
    GST_INFO_OBJECT (self, "nothing to drain: the buffer was cancelled");
    self->unplayed = FALSE;
    return TRUE;
  }
  if (!self->buf)
    return TRUE;

  if (self->fill > 0) {
    pad_block (self);
    ret = push_block (self, error);
    if (ret != GST_FLOW_OK)
      return FALSE;
  }
  if (!self->unplayed)
    return TRUE;
  if (!wait_played (self, error))
    return FALSE;
  self->unplayed = FALSE;

  return check_consumed (self, error) && check_duration (self, error);
}

/* ---- cyclic output ---- */

static gboolean
take_repeat_error (GstIioCopyQueue * self, GError ** error)
{
  GError *err;

  g_mutex_lock (&self->lock);
  err = self->repeat_error;
  self->repeat_error = NULL;
  g_mutex_unlock (&self->lock);
  if (!err)
    return TRUE;
  g_propagate_error (error, err);

  return FALSE;
}

/* Pushes the same block until cancelled; libiio's buffer memory keeps
 * the samples between pushes (fileio). */
static gpointer
repeat_loop (gpointer data)
{
  GstIioCopyQueue *self = data;
  GError *err = NULL;
  gssize n;

  do
    n = iio_buffer_push (self->buf);
  while (n >= 0);

  set_io_error (self, "iio_buffer_push", (gint) - n, &err);
  gst_iio_device_explain_disabled (gst_iio_queue_get_device (GST_IIO_QUEUE
          (self)), &err);
  g_mutex_lock (&self->lock);
  if (!self->cancelled && !self->repeat_error) {
    GST_WARNING_OBJECT (self, "%s", err->message);
    self->repeat_error = g_steal_pointer (&err);
  }
  g_mutex_unlock (&self->lock);
  g_clear_error (&err);

  return NULL;
}

static void
stop_repeat (GstIioCopyQueue * self)
{
  if (!self->repeat_thread)
    return;

  g_mutex_lock (&self->lock);
  if (self->buf && !self->cancelled) {
    iio_buffer_cancel (self->buf);
    self->cancelled = TRUE;
  }
  g_mutex_unlock (&self->lock);
  g_thread_join (self->repeat_thread);
  self->repeat_thread = NULL;
}

static void
copy_cycle (GstIioCopyQueue * self, GstBuffer * buffer)
{
  gst_buffer_extract (buffer, 0, iio_buffer_start (self->buf),
      gst_buffer_get_size (buffer));
}

/* The kernel repeats a cyclic libiio buffer where libiio supports it
 * (ADI's high-speed block API); TRUE if it does. */
static gboolean
try_kernel_cycle (GstIioCopyQueue * self, GstBuffer * buffer, guint samples)
{
  struct iio_buffer *buf;
  gssize n;
  gint err;

  buf = try_create (self, samples, TRUE, 1, &err);
  if (buf) {
    publish_buffer (self, buf, samples);
    copy_cycle (self, buffer);
    n = iio_buffer_push (buf);
    if (n >= 0)
      return TRUE;
    err = (gint) - n;
    destroy_buffer (self);
  }
  GST_INFO_OBJECT (self, "no cyclic libiio buffer for %s (%s): repeating "
      "the block from a thread", dev_name (self), g_strerror (err));

  return FALSE;
}

static GstFlowReturn
start_cycle (GstIioCopyQueue * self, GstBuffer * buffer, guint samples,
    GError ** error)
{
  gssize n;

  stop_repeat (self);
  destroy_buffer (self);
  if (try_kernel_cycle (self, buffer, samples))
    return GST_FLOW_OK;

  if (!create_buffer (self, samples, FALSE, error))
    return GST_FLOW_ERROR;
  copy_cycle (self, buffer);
  n = iio_buffer_push (self->buf);
  if (n < 0)
    return io_failed (self, "iio_buffer_push", n, error);
  self->repeat_thread = g_thread_new ("iio-cyclic", repeat_loop, self);

  return GST_FLOW_OK;
}

/* The first buffer repeats until stop (or a flush: then the next one). */
static GstFlowReturn
render_cyclic (GstIioCopyQueue * self, GstBuffer * buffer, GError ** error)
{
  gsize ss = config_of (self)->sample_size;
  gsize size = gst_buffer_get_size (buffer);
  gboolean flushing, repeating;
  GstFlowReturn ret;

  g_mutex_lock (&self->lock);
  flushing = self->flushing;
  repeating = self->buf && !self->cancelled;
  g_mutex_unlock (&self->lock);
  if (flushing)
    return GST_FLOW_FLUSHING;
  if (repeating) {
    GST_LOG_OBJECT (self, "cyclic: ignoring a buffer after the first");
    return take_repeat_error (self, error) ? GST_FLOW_OK : GST_FLOW_ERROR;
  }
  if (size == 0 || size % ss || size / ss > G_MAXUINT) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "Cyclic output to %s needs whole samples: got %" G_GSIZE_FORMAT
        " bytes for %" G_GSIZE_FORMAT "-byte samples", dev_name (self), size,
        ss);
    return GST_FLOW_ERROR;
  }

  ret = start_cycle (self, buffer, size / ss, error);
  if (ret == GST_FLOW_OK) {
    gst_iio_queue_add_stat (GST_IIO_QUEUE (self),
        GST_IIO_QUEUE_STAT_BUFFERS, 1);
    gst_iio_queue_add_stat (GST_IIO_QUEUE (self), GST_IIO_QUEUE_STAT_BYTES,
        size);
    gst_iio_queue_add_stat (GST_IIO_QUEUE (self),
        GST_IIO_QUEUE_STAT_BYTES_COPIED, size);
  }

  return ret;
}

/* ---- state ---- */

/* Under the lock. Wakes a blocked refill/push at once; the buffer is
 * replaced by the next capture/render. */
static void
cancel_locked (GstIioCopyQueue * self)
{
  if (self->buf && !self->cancelled) {
    iio_buffer_cancel (self->buf);
    self->cancelled = TRUE;
  }
}

/* How long the device takes to free a block, plus scheduling slack. */
static gint64
pause_grace_us (GstIioCopyQueue * self)
{
  gint64 ms = PAUSE_GRACE_MAX_MS;

  if (self->rate)
    ms = MIN (ms, (gint64) self->buf_samples * 1000 / self->rate +
        DRAIN_MARGIN_MS);

  return ms * G_TIME_SPAN_MILLISECOND;
}

/* Output: a push in progress may finish within the grace (see the top);
 * one still blocked after it is cancelled. */
static void
end_push_locked (GstIioCopyQueue * self)
{
  gint64 deadline = g_get_monotonic_time () + pause_grace_us (self);

  while (self->pushing && g_get_monotonic_time () < deadline)
    g_cond_wait_until (&self->cond, &self->lock, deadline);
  if (self->pushing) {
    GST_INFO_OBJECT (self, "a push to %s is still blocked after %"
        G_GINT64_FORMAT " ms: cancelling the buffer (the samples the "
        "kernel holds are lost)", dev_name (self),
        pause_grace_us (self) / G_TIME_SPAN_MILLISECOND);
    cancel_locked (self);
  }
}

static void
gst_iio_copy_queue_set_flushing (GstIioQueue * queue, gboolean flushing)
{
  GstIioCopyQueue *self = GST_IIO_COPY_QUEUE (queue);

  g_mutex_lock (&self->lock);
  self->flushing = flushing;
  g_cond_broadcast (&self->cond);
  if (flushing && self->input)
    cancel_locked (self);
  else if (flushing)
    end_push_locked (self);
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "flushing %d", flushing);
}

/* A flush: the partial block and what the kernel holds go (a new buffer
 * at the next render). The streaming thread is out of render. */
static void
gst_iio_copy_queue_discard (GstIioQueue * queue)
{
  GstIioCopyQueue *self = GST_IIO_COPY_QUEUE (queue);

  g_mutex_lock (&self->lock);
  cancel_locked (self);
  g_mutex_unlock (&self->lock);
  self->resume = 0;
}

static gboolean
gst_iio_copy_queue_start (GstIioQueue * queue, GError ** error)
{
  GstIioCopyQueue *self = GST_IIO_COPY_QUEUE (queue);
  const GstIioQueueConfig *config = config_of (self);
  ssize_t libiio_size = iio_device_get_sample_size (self->dev);
  gint ret;

  /* libiio reads and writes in its own sample size; it omits the final
   * padding of the kernel's layout (gstiiodevice.h). */
  if (libiio_size != (ssize_t) config->sample_size) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "libiio counts %" G_GSSIZE_FORMAT " bytes per sample for these "
        "channels of %s where the kernel uses %" G_GSIZE_FORMAT ": the copy "
        "path cannot stream this layout; choose other channels or "
        "io-mode=dmabuf", (gssize) libiio_size, dev_name (self),
        config->sample_size);
    return FALSE;
  }
  ret = iio_context_set_timeout (self->ctx, MAX (config->timeout_ms, 0));
  if (ret < 0) {
    set_io_error (self, "iio_context_set_timeout", -ret, error);
    return FALSE;
  }
  if (!gst_iio_device_read_rate (gst_iio_queue_get_device (queue), &self->rate))
    self->rate = 0;
  if (self->input)
    self->pool = make_pool (self->block_bytes);
  self->flushing = FALSE;
  self->discont = FALSE;
  self->unplayed = FALSE;
  GST_INFO_OBJECT (self, "copy path for %s: blocks of %u samples, %"
      G_GSIZE_FORMAT " bytes, timeout %d ms, rate %u", dev_name (self),
      config->block_samples, self->block_bytes, config->timeout_ms, self->rate);

  return TRUE;
}

static void
gst_iio_copy_queue_stop (GstIioQueue * queue)
{
  GstIioCopyQueue *self = GST_IIO_COPY_QUEUE (queue);

  stop_repeat (self);
  if (self->unplayed || self->fill) {
    GST_INFO_OBJECT (self, "stopping %s without a drain: samples not played "
        "yet are dropped", dev_name (self));
    /* Also spares the CLOSE round trip to an iiod that may not answer. */
    g_mutex_lock (&self->lock);
    cancel_locked (self);
    g_mutex_unlock (&self->lock);
  }
  destroy_buffer (self);
  self->resume = 0;
  self->fill = 0;
  self->unplayed = FALSE;
  if (self->pool) {
    gst_buffer_pool_set_active (self->pool, FALSE);
    gst_clear_object (&self->pool);
  }
  g_clear_error (&self->repeat_error);
}

static void
gst_iio_copy_queue_finalize (GObject * object)
{
  GstIioCopyQueue *self = GST_IIO_COPY_QUEUE (object);

  gst_iio_copy_queue_stop (GST_IIO_QUEUE (self));
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (gst_iio_copy_queue_parent_class)->finalize (object);
}

static void
gst_iio_copy_queue_class_init (GstIioCopyQueueClass * klass)
{
  GstIioQueueClass *queue_class = GST_IIO_QUEUE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = gst_iio_copy_queue_finalize;
  queue_class->start = gst_iio_copy_queue_start;
  queue_class->capture = gst_iio_copy_queue_capture;
  queue_class->render = gst_iio_copy_queue_render;
  queue_class->drain = gst_iio_copy_queue_drain;
  queue_class->set_flushing = gst_iio_copy_queue_set_flushing;
  queue_class->discard = gst_iio_copy_queue_discard;
  queue_class->stop = gst_iio_copy_queue_stop;
}

static void
gst_iio_copy_queue_init (GstIioCopyQueue * self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->idle_available = -1;
}

GstIioQueue *
gst_iio_copy_queue_new (GstIioDevice * device,
    const GstIioQueueConfig * config, GError ** error)
{
  struct iio_context *ctx = gst_iio_device_get_context (device);
  GstIioCopyQueue *self;

  if (!g_strcmp0 (iio_context_get_name (ctx), "xml")) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "%s is described by an xml: context, which cannot stream samples; "
        "use local:, ip:HOST or usb:", gst_iio_device_get_display_name
        (device));
    return NULL;
  }
  g_return_val_if_fail (config->block_samples > 0, NULL);
  g_return_val_if_fail (config->sample_size > 0, NULL);

  self = g_object_new (GST_TYPE_IIO_COPY_QUEUE, NULL);
  gst_object_ref_sink (self);
  gst_iio_queue_init_config (GST_IIO_QUEUE (self), device, config,
      GST_IIO_IO_MODE_COPY);
  self->dev = gst_iio_device_get_iio (device);
  self->ctx = ctx;
  self->input = config->direction == GST_IIO_DIRECTION_INPUT;
  self->local = gst_iio_device_is_local (device);
  self->block_bytes = (gsize) config->block_samples * config->sample_size;

  return GST_IIO_QUEUE (self);
}
