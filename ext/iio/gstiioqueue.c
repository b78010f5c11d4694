/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiioqueue.h"

#include <string.h>

typedef struct
{
  GstIioDevice *device;
  GstIioQueueConfig config;
  gchar *dma_heap;
  GstIioIoMode io_mode;
  /* Updated from the streaming thread and from buffer release callbacks,
   * read from the application thread. A mutex rather than 64-bit atomics,
   * which 32-bit ARM boards lack. Leaf lock: nothing is called under it. */
  GMutex stats_lock;
  guint64 stats[GST_IIO_QUEUE_N_COUNTERS];
  guint measured_rate;          /* under stats_lock */
  gboolean measured_rate_taken;
  gdouble drift_ppm;            /* under stats_lock */
  /* streaming thread only */
  gboolean have_progress;
  guint64 progress_ahead;
  gint64 progress_ns;
} GstIioQueuePrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (GstIioQueue, gst_iio_queue,
    GST_TYPE_OBJECT);

/* The names users see in the stats property (docs/iiosrc.md,
 * docs/iiosink.md): never rename one. */
static const gchar *const stat_names[GST_IIO_QUEUE_N_STATS] = {
  [GST_IIO_QUEUE_STAT_BUFFERS] = "buffers",
  [GST_IIO_QUEUE_STAT_BYTES] = "bytes",
  [GST_IIO_QUEUE_STAT_BYTES_COPIED] = "bytes-copied",
  [GST_IIO_QUEUE_STAT_OVERRUNS] = "overruns",
  [GST_IIO_QUEUE_STAT_UNDERRUNS] = "underruns",
  [GST_IIO_QUEUE_STAT_DMABUF_IMPORTS] = "dmabuf-imports",
  [GST_IIO_QUEUE_STAT_SAMPLES_LOST] = "samples-lost",
  [GST_IIO_QUEUE_STAT_HW_OVERRUNS] = "hw-overruns",
  [GST_IIO_QUEUE_STAT_HW_UNDERRUNS] = "hw-underruns",
  [GST_IIO_QUEUE_STAT_IO_MODE] = "io-mode",
  [GST_IIO_QUEUE_STAT_BLOCKS] = "blocks",
  [GST_IIO_QUEUE_STAT_BLOCK_BYTES] = "block-bytes",
  [GST_IIO_QUEUE_STAT_DRIFT_PPM] = "drift-ppm",
  [GST_IIO_QUEUE_STAT_FALLBACK_REASON] = "fallback-reason",
};

/* The io-mode field of stats for no stream. */
#define IO_MODE_NONE "none"

GType
gst_iio_io_mode_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_IIO_IO_MODE_AUTO,
        "Zero-copy DMABUF where the kernel and the device support it, "
          "else copy", "auto"},
    {GST_IIO_IO_MODE_DMABUF,
        "Zero-copy DMABUF blocks (Linux 6.11+, DMA-type buffer, local "
          "context), an error otherwise", "dmabuf"},
    {GST_IIO_IO_MODE_COPY,
        "Through libiio with one CPU copy (every context and kernel)", "copy"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstIioIoMode", values);

    g_once_init_leave (&type, t);
  }

  return (GType) type;
}

/* The enum's nick: static, valid after the class is unreferenced. */
static const gchar *
io_mode_nick (GstIioIoMode mode)
{
  GEnumClass *klass = g_type_class_ref (GST_TYPE_IIO_IO_MODE);
  GEnumValue *value = g_enum_get_value (klass, mode);
  const gchar *nick = value ? value->value_nick : IO_MODE_NONE;

  g_type_class_unref (klass);

  return nick;
}

const gchar *
gst_iio_queue_stat_name (GstIioQueueStat stat)
{
  g_return_val_if_fail (stat < GST_IIO_QUEUE_N_STATS, NULL);

  return stat_names[stat];
}

static void
gst_iio_queue_finalize (GObject * object)
{
  GstIioQueuePrivate *priv =
      gst_iio_queue_get_instance_private (GST_IIO_QUEUE (object));

  gst_clear_object (&priv->device);
  g_free (priv->dma_heap);
  g_mutex_clear (&priv->stats_lock);

  G_OBJECT_CLASS (gst_iio_queue_parent_class)->finalize (object);
}

static void
gst_iio_queue_class_init (GstIioQueueClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_iio_queue_finalize;
}

static void
gst_iio_queue_init (GstIioQueue * self)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  g_mutex_init (&priv->stats_lock);
}

void
gst_iio_queue_init_config (GstIioQueue * self, GstIioDevice * device,
    const GstIioQueueConfig * config, GstIioIoMode io_mode)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  g_return_if_fail (io_mode == GST_IIO_IO_MODE_DMABUF ||
      io_mode == GST_IIO_IO_MODE_COPY);
  gst_object_replace ((GstObject **) & priv->device, GST_OBJECT (device));
  priv->config = *config;
  g_free (priv->dma_heap);
  priv->dma_heap = g_strdup (config->dma_heap);
  priv->config.dma_heap = priv->dma_heap;
  priv->io_mode = io_mode;
}

GstIioIoMode
gst_iio_queue_get_io_mode (GstIioQueue * self)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  return priv->io_mode;
}

const GstIioQueueConfig *
gst_iio_queue_get_config (GstIioQueue * self)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  return &priv->config;
}

GstIioDevice *
gst_iio_queue_get_device (GstIioQueue * self)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  return priv->device;
}

gsize
gst_iio_queue_get_block_bytes (GstIioQueue * self)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  return (gsize) priv->config.block_samples * priv->config.sample_size;
}

void
gst_iio_queue_add_stat (GstIioQueue * self, GstIioQueueStat stat, guint64 value)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  g_return_if_fail (stat < GST_IIO_QUEUE_N_COUNTERS);
  g_mutex_lock (&priv->stats_lock);
  priv->stats[stat] += value;
  g_mutex_unlock (&priv->stats_lock);
}

guint64
gst_iio_queue_get_stat (GstIioQueue * self, GstIioQueueStat stat)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);
  guint64 value;

  g_return_val_if_fail (stat < GST_IIO_QUEUE_N_COUNTERS, 0);
  g_mutex_lock (&priv->stats_lock);
  value = priv->stats[stat];
  g_mutex_unlock (&priv->stats_lock);

  return value;
}

void
gst_iio_queue_note_measured_rate (GstIioQueue * self, guint hz)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  g_mutex_lock (&priv->stats_lock);
  if (priv->measured_rate == 0)
    priv->measured_rate = hz;
  g_mutex_unlock (&priv->stats_lock);
}

guint
gst_iio_queue_take_measured_rate (GstIioQueue * self)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);
  guint hz = 0;

  g_mutex_lock (&priv->stats_lock);
  if (!priv->measured_rate_taken && priv->measured_rate) {
    hz = priv->measured_rate;
    priv->measured_rate_taken = TRUE;
  }
  g_mutex_unlock (&priv->stats_lock);

  return hz;
}

void
gst_iio_queue_set_progress (GstIioQueue * self, guint64 ahead, gint64 ns)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  priv->have_progress = TRUE;
  priv->progress_ahead = ahead;
  priv->progress_ns = ns;
}

gboolean
gst_iio_queue_take_progress (GstIioQueue * self, guint64 * ahead, gint64 * ns)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  if (!priv->have_progress)
    return FALSE;
  priv->have_progress = FALSE;
  *ahead = priv->progress_ahead;
  *ns = priv->progress_ns;
  return TRUE;
}

void
gst_iio_queue_set_consumed (GstIioQueue * self, guint64 samples, gint64 ns)
{
  gst_iio_queue_set_progress (self, samples, ns);
}

gboolean
gst_iio_queue_take_consumed (GstIioQueue * self, guint64 * samples, gint64 * ns)
{
  /* The same slot as the input's progress: a queue has one direction. */
  return gst_iio_queue_take_progress (self, samples, ns);
}

void
gst_iio_queue_set_drift_ppm (GstIioQueue * self, gdouble ppm)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  g_mutex_lock (&priv->stats_lock);
  priv->drift_ppm = ppm;
  g_mutex_unlock (&priv->stats_lock);
}

void
gst_iio_queue_count_capture (GstIioQueue * self, GstBuffer * buffer,
    gsize bytes, gsize copied, guint64 lost)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  if (lost) {
    GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DISCONT);
    GST_BUFFER_OFFSET (buffer) = lost == GST_IIO_QUEUE_LOST_UNKNOWN ?
        GST_BUFFER_OFFSET_NONE : lost;
  }

  g_mutex_lock (&priv->stats_lock);
  priv->stats[GST_IIO_QUEUE_STAT_BUFFERS]++;
  priv->stats[GST_IIO_QUEUE_STAT_BYTES] += bytes;
  priv->stats[GST_IIO_QUEUE_STAT_BYTES_COPIED] += copied;
  if (lost)
    priv->stats[GST_IIO_QUEUE_STAT_OVERRUNS]++;
  if (lost && lost != GST_IIO_QUEUE_LOST_UNKNOWN)
    priv->stats[GST_IIO_QUEUE_STAT_SAMPLES_LOST] += lost;
  g_mutex_unlock (&priv->stats_lock);
}

static GstStructure *
stats_new (const gchar * io_mode, guint n_blocks, guint64 block_bytes,
    gdouble drift_ppm, const guint64 * values)
{
  GstStructure *s;
  guint i;

  s = gst_structure_new ("stats",
      stat_names[GST_IIO_QUEUE_STAT_IO_MODE], G_TYPE_STRING, io_mode,
      stat_names[GST_IIO_QUEUE_STAT_BLOCKS], G_TYPE_UINT, n_blocks,
      stat_names[GST_IIO_QUEUE_STAT_BLOCK_BYTES], G_TYPE_UINT64, block_bytes,
      stat_names[GST_IIO_QUEUE_STAT_DRIFT_PPM], G_TYPE_DOUBLE, drift_ppm, NULL);
  for (i = 0; i < GST_IIO_QUEUE_N_COUNTERS; i++)
    gst_structure_set (s, stat_names[i], G_TYPE_UINT64, values[i], NULL);

  return s;
}

GstStructure *
gst_iio_queue_get_stats (GstIioQueue * self)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);
  guint64 values[GST_IIO_QUEUE_N_COUNTERS];
  gdouble drift_ppm;

  g_mutex_lock (&priv->stats_lock);
  memcpy (values, priv->stats, sizeof (values));
  drift_ppm = priv->drift_ppm;
  g_mutex_unlock (&priv->stats_lock);

  return stats_new (io_mode_nick (priv->io_mode), priv->config.n_blocks,
      gst_iio_queue_get_block_bytes (self), drift_ppm, values);
}

GstStructure *
gst_iio_queue_get_empty_stats (void)
{
  guint64 values[GST_IIO_QUEUE_N_COUNTERS] = { 0, };

  return stats_new (IO_MODE_NONE, 0, 0, 0.0, values);
}

gboolean
gst_iio_queue_start (GstIioQueue * self, GError ** error)
{
  return GST_IIO_QUEUE_GET_CLASS (self)->start (self, error);
}

GstFlowReturn
gst_iio_queue_capture (GstIioQueue * self, GstBuffer ** buffer, GError ** error)
{
  GstIioQueueClass *klass = GST_IIO_QUEUE_GET_CLASS (self);

  g_return_val_if_fail (klass->capture != NULL, GST_FLOW_NOT_SUPPORTED);
  return klass->capture (self, buffer, error);
}

GstFlowReturn
gst_iio_queue_render (GstIioQueue * self, GstBuffer * buffer, GError ** error)
{
  GstIioQueueClass *klass = GST_IIO_QUEUE_GET_CLASS (self);

  g_return_val_if_fail (klass->render != NULL, GST_FLOW_NOT_SUPPORTED);
  return klass->render (self, buffer, error);
}

gboolean
gst_iio_queue_drain (GstIioQueue * self, GError ** error)
{
  GstIioQueueClass *klass = GST_IIO_QUEUE_GET_CLASS (self);

  if (klass->drain == NULL)
    return TRUE;
  return klass->drain (self, error);
}

void
gst_iio_queue_set_flushing (GstIioQueue * self, gboolean flushing)
{
  GST_IIO_QUEUE_GET_CLASS (self)->set_flushing (self, flushing);
}

void
gst_iio_queue_discard (GstIioQueue * self)
{
  GstIioQueueClass *klass = GST_IIO_QUEUE_GET_CLASS (self);

  if (klass->discard)
    klass->discard (self);
}

void
gst_iio_queue_stop (GstIioQueue * self)
{
  GST_IIO_QUEUE_GET_CLASS (self)->stop (self);
}

GstAllocator *
gst_iio_queue_get_allocator (GstIioQueue * self, GstCaps * caps)
{
  GstIioQueueClass *klass = GST_IIO_QUEUE_GET_CLASS (self);

  if (klass->get_allocator == NULL)
    return NULL;
  return klass->get_allocator (self, caps);
}
