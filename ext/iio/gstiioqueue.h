/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one small interface both data paths (DMABUF and copy) offer the
 * elements: start, capture or render a block, drain, unlock, stop, stats.
 * A block is a fixed region of block_samples channel-set samples. */
#pragma once

#include <gst/gst.h>
#include "gstiiodevice.h"
#include "gstiioerror.h"

G_BEGIN_DECLS

/* How samples move: the io-mode property asks for one (AUTO: DMABUF where
 * possible, else COPY); a running queue is DMABUF or COPY
 * (gst_iio_queue_get_io_mode). The nicks are the property's values and
 * the "io-mode" field of the stats. */
typedef enum
{
  GST_IIO_IO_MODE_AUTO,
  GST_IIO_IO_MODE_DMABUF,
  GST_IIO_IO_MODE_COPY,
} GstIioIoMode;

#define GST_TYPE_IIO_IO_MODE (gst_iio_io_mode_get_type ())
GType gst_iio_io_mode_get_type (void);

typedef struct
{
  GstIioDirection direction;
  guint block_samples;          /* the buffer-size property */
  guint n_blocks;               /* the blocks property */
  gsize sample_size;            /* bytes per channel-set sample */
  guint rate;                   /* the device's nominal rate in Hz */
  gint timeout_ms;              /* -1: wait forever */
  gboolean cyclic;              /* output only */
  const gchar *dma_heap;        /* DMABUF path only */
} GstIioQueueConfig;

#define GST_TYPE_IIO_QUEUE (gst_iio_queue_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstIioQueue, gst_iio_queue, GST, IIO_QUEUE,
    GstObject)

struct _GstIioQueueClass
{
  GstObjectClass parent_class;

  gboolean (*start) (GstIioQueue * self, GError ** error);
  /* Input: waits for the next filled block. GST_FLOW_FLUSHING after
   * set_flushing (TRUE), GST_FLOW_ERROR with @error set. A block after
   * lost samples is counted with gst_iio_queue_count_capture(). */
  GstFlowReturn (*capture) (GstIioQueue * self, GstBuffer ** buffer,
      GError ** error);
  /* Output: hands @buffer (not consumed) to the device. */
  GstFlowReturn (*render) (GstIioQueue * self, GstBuffer * buffer,
      GError ** error);
  /* Output: waits until every queued sample reached the device. FALSE
   * with @error set on a failure, FALSE without @error when a flush cut
   * it short. */
  gboolean (*drain) (GstIioQueue * self, GError ** error);
  /* Interrupts every wait (unlock) or ends that state (unlock_stop).
   * An interrupted render or drain returns GST_FLOW_FLUSHING (drain:
   * FALSE without @error) and keeps its place: called again with the same
   * buffer after set_flushing (FALSE), it resumes where it stopped, so a
   * pause loses and doubles nothing. Never blocks for longer than the
   * bound the subclass documents. */
  void (*set_flushing) (GstIioQueue * self, gboolean flushing);
  /* Output, while flushing, the streaming thread out of render: a flush
   * or stop, not a pause. Forgets the place an interrupted render kept
   * and drops data accepted but not handed to the device yet. */
  void (*discard) (GstIioQueue * self);
  void (*stop) (GstIioQueue * self);
  /* Output: an allocator whose memories (of up to a block) the device
   * takes without a copy, or NULL. */
  GstAllocator *(*get_allocator) (GstIioQueue * self, GstCaps * caps);

  /*< private > */
  gpointer _gst_reserved[GST_PADDING];
};

/* The fields of the stats structure (gst_iio_queue_get_stats), named by
 * gst_iio_queue_stat_name(): first the counters (guint64, counted with
 * gst_iio_queue_add_stat), then the others. */
typedef enum
{
  GST_IIO_QUEUE_STAT_BUFFERS,
  GST_IIO_QUEUE_STAT_BYTES,
  GST_IIO_QUEUE_STAT_BYTES_COPIED,
  GST_IIO_QUEUE_STAT_OVERRUNS,
  GST_IIO_QUEUE_STAT_UNDERRUNS,
  GST_IIO_QUEUE_STAT_DMABUF_IMPORTS,
  GST_IIO_QUEUE_STAT_SAMPLES_LOST,
  /* events of the AXI status register (gstiioxflow.h) */
  GST_IIO_QUEUE_STAT_HW_OVERRUNS,
  GST_IIO_QUEUE_STAT_HW_UNDERRUNS,
  GST_IIO_QUEUE_N_COUNTERS,
  /* string: the nick of the running GstIioIoMode, "none" for no stream */
  GST_IIO_QUEUE_STAT_IO_MODE = GST_IIO_QUEUE_N_COUNTERS,
  GST_IIO_QUEUE_STAT_BLOCKS,    /* guint */
  GST_IIO_QUEUE_STAT_BLOCK_BYTES,       /* guint64 */
  /* gdouble, set by the element: how much faster than its nominal rate
   * the device runs against the reference clock, 0 until measured */
  GST_IIO_QUEUE_STAT_DRIFT_PPM,
  /* string, set by the element: why io-mode=auto chose copy */
  GST_IIO_QUEUE_STAT_FALLBACK_REASON,
  GST_IIO_QUEUE_N_STATS,
} GstIioQueueStat;

/* The field name of @stat in the stats structure ("buffers", "io-mode",
 * ...): the one table of them, for the elements, the queues and the
 * tests. */
const gchar *gst_iio_queue_stat_name (GstIioQueueStat stat);

/* For subclasses: the configuration, the device and the io-mode
 * (GST_IIO_IO_MODE_DMABUF or GST_IIO_IO_MODE_COPY), set at construction. */
void gst_iio_queue_init_config (GstIioQueue * self, GstIioDevice * device,
    const GstIioQueueConfig * config, GstIioIoMode io_mode);
/* GST_IIO_IO_MODE_DMABUF or GST_IIO_IO_MODE_COPY. */
GstIioIoMode gst_iio_queue_get_io_mode (GstIioQueue * self);
const GstIioQueueConfig *gst_iio_queue_get_config (GstIioQueue * self);
GstIioDevice *gst_iio_queue_get_device (GstIioQueue * self);
gsize gst_iio_queue_get_block_bytes (GstIioQueue * self);
/* @stat: a counter (below GST_IIO_QUEUE_N_COUNTERS). */
void gst_iio_queue_add_stat (GstIioQueue * self, GstIioQueueStat stat,
    guint64 value);
guint64 gst_iio_queue_get_stat (GstIioQueue * self, GstIioQueueStat stat);

/* Samples lost before a block, when the queue cannot tell how many. */
#define GST_IIO_QUEUE_LOST_UNKNOWN G_MAXUINT64
/* Input: counts @buffer (@bytes, @copied of them by the CPU) in one step
 * with what was lost right before it, so that stats read at any time
 * agree with the buffers made. @lost samples (GST_IIO_QUEUE_LOST_UNKNOWN:
 * some) set GST_BUFFER_FLAG_DISCONT and, for the element,
 * GST_BUFFER_OFFSET to @lost (the element replaces it with the stream
 * position), and count an overrun and the samples. */
void gst_iio_queue_count_capture (GstIioQueue * self, GstBuffer * buffer,
    gsize bytes, gsize copied, guint64 lost);

/* Input: the sample timeline found the device running at @hz, at least
 * 25 % above the configured rate, and stopped inferring losses (a wrong rate,
 * or a device that is not paced). Kept once per queue; the element takes
 * it once (0 otherwise) to warn. */
void gst_iio_queue_note_measured_rate (GstIioQueue * self, guint hz);
guint gst_iio_queue_take_measured_rate (GstIioQueue * self);

/* Input, streaming thread: the device had produced @ahead samples past
 * the end of the block being captured by monotonic time @ns (its fence
 * time; for fileio, the read that waited for a kernel block). Only where
 * the time is the device's own, not when the element got around to
 * asking: the device clock and the drift are built on these. The element
 * takes it after each capture (FALSE: none for this block). */
void gst_iio_queue_set_progress (GstIioQueue * self, guint64 ahead,
    gint64 ns);
gboolean gst_iio_queue_take_progress (GstIioQueue * self, guint64 * ahead,
    gint64 * ns);

/* Output, streaming thread: the device had consumed @samples since the
 * start by monotonic time @ns (the fence of the newest block retired).
 * The element takes it after each render (FALSE: nothing new). */
void gst_iio_queue_set_consumed (GstIioQueue * self, guint64 samples,
    gint64 ns);
gboolean gst_iio_queue_take_consumed (GstIioQueue * self, guint64 * samples,
    gint64 * ns);

/* The element measured the device's drift (stats drift-ppm). */
void gst_iio_queue_set_drift_ppm (GstIioQueue * self, gdouble ppm);

gboolean gst_iio_queue_start (GstIioQueue * self, GError ** error);
GstFlowReturn gst_iio_queue_capture (GstIioQueue * self, GstBuffer ** buffer,
    GError ** error);
GstFlowReturn gst_iio_queue_render (GstIioQueue * self, GstBuffer * buffer,
    GError ** error);
gboolean gst_iio_queue_drain (GstIioQueue * self, GError ** error);
void gst_iio_queue_set_flushing (GstIioQueue * self, gboolean flushing);
void gst_iio_queue_discard (GstIioQueue * self);
void gst_iio_queue_stop (GstIioQueue * self);
GstAllocator *gst_iio_queue_get_allocator (GstIioQueue * self,
    GstCaps * caps);

/* Every field of GstIioQueueStat but FALLBACK_REASON; io-mode dmabuf or
 * copy. */
GstStructure *gst_iio_queue_get_stats (GstIioQueue * self);
/* The same fields for no stream: io-mode "none", every counter 0. */
GstStructure *gst_iio_queue_get_empty_stats (void);

G_END_DECLS
