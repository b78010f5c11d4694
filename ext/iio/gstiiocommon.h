/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What iiosrc and iiosink share: one property set defined in one place, and the state-change logic (open the device,
 * pick and start the queue, stop) with the element errors it posts. The
 * direction (input for iiosrc, output for iiosink) is a parameter; the
 * element passes the constructor of its DMABUF queue. */
#pragma once

#include <gst/gst.h>
#include "gstiiodevice.h"
#include "gstiioqueue.h"
#include "gstiioxflow.h"

G_BEGIN_DECLS

/* Ids of the shared properties, indexes of the element's properties[]
 * array; an element numbers its own properties from GST_IIO_PROP_LAST. */
enum
{
  GST_IIO_PROP_0,
  GST_IIO_PROP_URI,
  GST_IIO_PROP_DEVICE,
  GST_IIO_PROP_CHANNELS,
  GST_IIO_PROP_BUFFER_SIZE,
  GST_IIO_PROP_BLOCKS,
  GST_IIO_PROP_IO_MODE,
  GST_IIO_PROP_DMA_HEAP,
  GST_IIO_PROP_ATTRIBUTES,
  GST_IIO_PROP_TIMEOUT,
  GST_IIO_PROP_RATE,
  GST_IIO_PROP_STATS,
  GST_IIO_PROP_APPLIED_ATTRIBUTES,
  GST_IIO_PROP_XFLOW_CHECK,
  GST_IIO_PROP_LAST
};

/* The author of both elements' metadata. */
#define GST_IIO_AUTHOR "gst-iio contributors"

#define GST_IIO_DEFAULT_URI "local:"
#define GST_IIO_DEFAULT_BUFFER_SIZE 4096
/* iiosrc keeps two blocks with the kernel and copies when downstream
 * holds the rest (gstiiodmabufinput.c); iiosink holds up to its own
 * `blocks` upstream buffers in flight. 8 against 4 leaves iiosrc ! iiosink
 * zero-copy with two blocks to spare for a queue in between. */
#define GST_IIO_DEFAULT_SRC_BLOCKS 8
#define GST_IIO_DEFAULT_SINK_BLOCKS 4
#define GST_IIO_DEFAULT_BLOCKS(direction) \
  ((direction) == GST_IIO_DIRECTION_INPUT ? GST_IIO_DEFAULT_SRC_BLOCKS : \
      GST_IIO_DEFAULT_SINK_BLOCKS)
#define GST_IIO_MAX_BLOCKS 64
#define GST_IIO_DEFAULT_DMA_HEAP "system"

/* The DMABUF queue of the element's direction: gst_iio_dmabuf_input_new
 * or gst_iio_dmabuf_output_new (same signature as every queue
 * constructor). */
typedef GstIioQueue *(*GstIioQueueNewFunc) (GstIioDevice * device,
    const GstIioQueueConfig * config, GError ** error);

/* Embedded in the element (not a GObject). Locking: every field but
 * element and direction is guarded by the element's object lock, which
 * writers take. The state-change thread is the only writer of device,
 * rate, device_caps, queue and fallback_reason, and reads them without
 * it; the streaming thread uses device and queue only between start and
 * stop, when they do not change, and reads them without it as well. Any
 * other thread (properties, unlock, queries) takes the lock, and
 * references the queue under it to call it without (ref_queue). Never
 * call into the device or the queue with the object lock held: they take
 * their own locks and may wait. */
typedef struct
{
  GstElement *element;          /* the owner; not a reference */
  GstIioDirection direction;

  /* properties */
  gchar *uri;
  gchar *device_id;
  gchar *channels;
  guint buffer_size;
  guint blocks;
  GstIioIoMode io_mode;
  gchar *dma_heap;
  gchar *attributes;
  guint timeout;
  guint rate_prop;
  gboolean xflow_check;
  /* uri, device, channels, attributes or rate changed since open: start
   * re-opens the device so that a change in READY takes effect. */
  gboolean reopen;

  /* READY and up */
  GstIioDevice *device;
  guint rate;
  GstCaps *device_caps;
  /* the attributes written at the last open, as read back (kept after
   * close, like last_stats) */
  GstStructure *applied;

  /* PAUSED and up */
  GstIioQueue *queue;
  /* the AXI status register, where the device has one and xflow-check
   * is on; set by start, freed by stop, used by the streaming thread
   * only in between */
  GstIioXflow *xflow;
  /* output: the stats bytes at which the next read is due (one read a
   * block's worth of data, however small upstream's buffers) */
  guint64 xflow_next_bytes;
  gchar *fallback_reason;       /* why io-mode=auto chose copy */
  GstStructure *last_stats;     /* counters of the last run, after stop */
} GstIioCommon;

void gst_iio_common_init (GstIioCommon * self, GstElement * element,
    GstIioDirection direction);
void gst_iio_common_clear (GstIioCommon * self);

/* Fills @properties[GST_IIO_PROP_URI .. GST_IIO_PROP_LAST - 1] with the
 * shared properties, blurbs for @direction; the element adds its own and
 * installs the array with g_object_class_install_properties(). */
void gst_iio_common_init_properties (GParamSpec ** properties,
    GstIioDirection direction);
/* TRUE when @prop_id is a shared property (handled). */
gboolean gst_iio_common_set_property (GstIioCommon * self, guint prop_id,
    const GValue * value);
gboolean gst_iio_common_get_property (GstIioCommon * self, guint prop_id,
    GValue * value);

/* NULL->READY: opens the device (uri, device), selects the channels,
 * writes the attributes and determines the rate. Posts an element error
 * and returns FALSE on failure. */
gboolean gst_iio_common_open (GstIioCommon * self);
/* READY->NULL */
void gst_iio_common_close (GstIioCommon * self);

/* READY->PAUSED: builds the queue configuration, picks the queue by
 * io-mode and starts it. Posts an element error and returns FALSE on
 * failure. @cyclic: output only. */
gboolean gst_iio_common_start (GstIioCommon * self,
    GstIioQueueNewFunc dmabuf_new, gboolean cyclic);
/* PAUSED->READY: stops the queue (buffers downstream holds stay valid). */
void gst_iio_common_stop (GstIioCommon * self);
/* Interrupts (TRUE) or re-arms (FALSE) every wait of the running queue;
 * safe from any thread (unlock, unlock_stop); nothing when stopped. */
void gst_iio_common_set_flushing (GstIioCommon * self, gboolean flushing);
/* Output: a flush or stop (not a pause) after set_flushing (TRUE): the
 * queue drops what an interrupted render kept; nothing when stopped. */
void gst_iio_common_discard (GstIioCommon * self);

/* A new reference to the device's caps (both media types at the rate),
 * NULL before open. */
GstCaps *gst_iio_common_get_device_caps (GstIioCommon * self);
/* Checks negotiated @caps against the enabled channels; posts a
 * negotiation error that says what the device expects when they differ. */
gboolean gst_iio_common_set_caps (GstIioCommon * self, GstCaps * caps);

/* The stats property value. */
GstStructure *gst_iio_common_get_stats (GstIioCommon * self);

/* Posts @error as an element error: the message is the user text,
 * @debug_fmt the debug text. GST_IIO_ERROR codes become
 * GST_RESOURCE_ERROR ones (UNSUPPORTED -> SETTINGS, the rest -> READ for
 * input, WRITE for output); GStreamer domains are kept. */
#define gst_iio_common_post_error(self, error, ...) \
  gst_iio_common_post_error_full (self, error, __FILE__, GST_FUNCTION, \
      __LINE__, __VA_ARGS__)
/* The caller's location goes into the message, as with GST_ELEMENT_ERROR. */
void gst_iio_common_post_error_full (GstIioCommon * self,
    const GError * error, const gchar * file, const gchar * function,
    gint line, const gchar * debug_fmt, ...) G_GNUC_PRINTF (6, 7);

/* Duration of @samples at @rate. */
GstClockTime gst_iio_common_samples_to_time (guint64 samples, guint rate);

/* Streaming thread, after every completed block (iiosrc: captured;
 * iiosink: after the render that completes a block's worth of bytes
 * since the last read, and the first): reads the AXI status register where there is
 * one, clears and counts its bit (stats hw-overruns or hw-underruns),
 * posts an "iio-xflow" element message (events so far, register, bit,
 * and @offset: the OFFSET of the buffer marked, unless
 * GST_BUFFER_OFFSET_NONE) for each event and a warning on the first
 * block of a burst. TRUE when the bit was set (iiosrc marks the buffer
 * DISCONT). Not under any element lock. */
gboolean gst_iio_common_check_xflow (GstIioCommon * self, guint64 offset);

G_END_DECLS
