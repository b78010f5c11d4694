/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiioqueue.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_queue_debug);
#define GST_CAT_DEFAULT gst_iio_queue_debug

typedef struct
{
  GstIioDevice *device;
  GstIioQueueConfig config;
  gchar *dma_heap;
  const gchar *io_mode;
  /* Updated from the streaming thread and from buffer release callbacks,
   * read from the application thread. A mutex rather than 64-bit atomics,
   * which 32-bit ARM boards lack. Leaf lock: nothing is called under it. */
  GMutex stats_lock;
  guint64 stats[GST_IIO_QUEUE_N_STATS];
} GstIioQueuePrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (GstIioQueue, gst_iio_queue, GST_TYPE_OBJECT,
    G_ADD_PRIVATE (GstIioQueue)
    GST_DEBUG_CATEGORY_INIT (gst_iio_queue_debug, "iioqueue", 0,
        "IIO block queue"));

static const gchar *stat_names[GST_IIO_QUEUE_N_STATS] = {
  "buffers", "bytes", "bytes-copied", "overruns", "underruns",
  "dmabuf-imports", "samples-lost",
};

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
    const GstIioQueueConfig * config, const gchar * io_mode)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  gst_object_replace ((GstObject **) & priv->device, GST_OBJECT (device));
  priv->config = *config;
  g_free (priv->dma_heap);
  priv->dma_heap = g_strdup (config->dma_heap);
  priv->config.dma_heap = priv->dma_heap;
  priv->io_mode = io_mode;
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
gst_iio_queue_add_stat (GstIioQueue * self, GstIioQueueStat stat,
    guint64 value)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);

  g_return_if_fail (stat < GST_IIO_QUEUE_N_STATS);
  g_mutex_lock (&priv->stats_lock);
  priv->stats[stat] += value;
  g_mutex_unlock (&priv->stats_lock);
}

guint64
gst_iio_queue_get_stat (GstIioQueue * self, GstIioQueueStat stat)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);
  guint64 value;

  g_return_val_if_fail (stat < GST_IIO_QUEUE_N_STATS, 0);
  g_mutex_lock (&priv->stats_lock);
  value = priv->stats[stat];
  g_mutex_unlock (&priv->stats_lock);

  return value;
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
    const guint64 * values)
{
  GstStructure *s;
  guint i;

  s = gst_structure_new ("stats",
      "io-mode", G_TYPE_STRING, io_mode,
      "blocks", G_TYPE_UINT, n_blocks,
      "block-bytes", G_TYPE_UINT64, block_bytes, NULL);
  for (i = 0; i < GST_IIO_QUEUE_N_STATS; i++)
    gst_structure_set (s, stat_names[i], G_TYPE_UINT64, values[i], NULL);

  return s;
}

GstStructure *
gst_iio_queue_get_stats (GstIioQueue * self)
{
  GstIioQueuePrivate *priv = gst_iio_queue_get_instance_private (self);
  guint64 values[GST_IIO_QUEUE_N_STATS];

  g_mutex_lock (&priv->stats_lock);
  memcpy (values, priv->stats, sizeof (values));
  g_mutex_unlock (&priv->stats_lock);

  return stats_new (priv->io_mode, priv->config.n_blocks,
      gst_iio_queue_get_block_bytes (self), values);
}

GstStructure *
gst_iio_queue_get_empty_stats (void)
{
  guint64 values[GST_IIO_QUEUE_N_STATS] = { 0, };

  return stats_new ("none", 0, 0, values);
}

gboolean
gst_iio_queue_start (GstIioQueue * self, GError ** error)
{
  return GST_IIO_QUEUE_GET_CLASS (self)->start (self, error);
}

GstFlowReturn
gst_iio_queue_capture (GstIioQueue * self, GstBuffer ** buffer,
    GError ** error)
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
