/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-iiosrc
 * @title: iiosrc
 *
 * Captures the scan channels of a Linux IIO device (ADCs, SDR receivers,
 * sensors) as a live stream, one buffer per block of `buffer-size`
 * samples. On Linux 6.11+ with a DMA-type IIO buffer the blocks are
 * DMABUFs that travel downstream without a CPU copy; elsewhere (older
 * kernels, kfifo buffers, ip: and usb: contexts) libiio reads them with
 * one copy.
 *
 * Timestamps: PTS is the running time of the first sample of the block:
 * the clock at the first sample (when the first block completes, minus
 * its duration) plus OFFSET / rate. OFFSET and OFFSET_END are sample
 * positions on the device's timeline. After an overrun (samples lost
 * because downstream did not keep up) the first buffer after the loss has
 * GST_BUFFER_FLAG_DISCONT, OFFSET (and PTS) jump forward by the samples
 * lost, stats counts the overrun and the samples, an "iio-overrun" element
 * message says where and how many, and a warning message is posted (at
 * most one per second).
 *
 * The queues find the losses on the device's sample timeline
 * (gstiiosampletimeline.h): the DMABUF path from its ENQUEUE times and
 * fence times, the fileio copy path from its refill times, exact but for
 * gaps shorter than the driver's completion latency; kfifo buffers and
 * iiod are inferred from the buffering (docs/iiosrc.md, "Lost samples").
 *
 * ## Example
 * |[
 * gst-launch-1.0 iiosrc device=ad9361 attributes=sampling_frequency=1000000 ! \
 *     audioconvert ! wavenc ! filesink location=capture.wav
 * ]|
 */
#include "gstiiosrc.h"
#include "gstiiocaps.h"
#include "gstiiocommon.h"
#include "gstiiodmabufinput.h"

#include <gst/audio/audio.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_src_debug);
#define GST_CAT_DEFAULT gst_iio_src_debug

/* The shared properties only (gstiiocommon.h). */
#define N_PROPS GST_IIO_PROP_LAST

static GParamSpec *properties[N_PROPS];

struct _GstIioSrc
{
  GstPushSrc parent;

  GstIioCommon common;

  /* Set by start() under the object lock (the latency query reads them);
   * the streaming thread reads them freely. */
  guint rate;
  guint block_samples;
  guint n_blocks;

  /* Streaming thread only. */
  GstClockTime base_time;       /* running time of sample 0 */
  guint64 next_offset;
  GstClockTime last_warning;
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_AUDIO_CAPS_MAKE (GST_AUDIO_FORMATS_ALL) "; "
        GST_IIO_CAPS_MEDIA_TYPE ", rate = (int) [ 1, MAX ], "
        "channels = (int) [ 1, MAX ]"));

#define gst_iio_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstIioSrc, gst_iio_src, GST_TYPE_PUSH_SRC,
    GST_DEBUG_CATEGORY_INIT (gst_iio_src_debug, "iiosrc", 0, "IIO source"));
GST_ELEMENT_REGISTER_DEFINE (iiosrc, "iiosrc", GST_RANK_NONE, GST_TYPE_IIO_SRC);

static void
gst_iio_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstIioSrc *self = GST_IIO_SRC (object);

  if (!gst_iio_common_set_property (&self->common, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_iio_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstIioSrc *self = GST_IIO_SRC (object);

  if (!gst_iio_common_get_property (&self->common, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_iio_src_finalize (GObject * object)
{
  GstIioSrc *self = GST_IIO_SRC (object);

  gst_iio_common_clear (&self->common);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---- states ---- */

static GstStateChangeReturn
gst_iio_src_change_state (GstElement * element, GstStateChange transition)
{
  GstIioSrc *self = GST_IIO_SRC (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY &&
      !gst_iio_common_open (&self->common))
    return GST_STATE_CHANGE_FAILURE;

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    gst_iio_common_close (&self->common);

  return ret;
}

static gboolean
gst_iio_src_start (GstBaseSrc * src)
{
  GstIioSrc *self = GST_IIO_SRC (src);
  GstIioCommon *common = &self->common;

  if (!gst_iio_common_start (common, gst_iio_dmabuf_input_new, FALSE))
    return FALSE;

  GST_OBJECT_LOCK (self);
  self->rate = common->rate;
  self->block_samples = common->buffer_size;
  self->n_blocks = common->blocks;
  GST_OBJECT_UNLOCK (self);
  self->base_time = GST_CLOCK_TIME_NONE;
  self->last_warning = GST_CLOCK_TIME_NONE;
  self->next_offset = 0;

  return TRUE;
}

static gboolean
gst_iio_src_stop (GstBaseSrc * src)
{
  GstIioSrc *self = GST_IIO_SRC (src);

  gst_iio_common_stop (&self->common);
  GST_OBJECT_LOCK (self);
  self->rate = 0;
  GST_OBJECT_UNLOCK (self);

  return TRUE;
}

static gboolean
gst_iio_src_unlock (GstBaseSrc * src)
{
  gst_iio_common_set_flushing (&GST_IIO_SRC (src)->common, TRUE);
  return TRUE;
}

static gboolean
gst_iio_src_unlock_stop (GstBaseSrc * src)
{
  gst_iio_common_set_flushing (&GST_IIO_SRC (src)->common, FALSE);
  return TRUE;
}

/* ---- caps and queries ---- */

static GstCaps *
gst_iio_src_get_caps (GstBaseSrc * src, GstCaps * filter)
{
  GstIioSrc *self = GST_IIO_SRC (src);
  GstCaps *caps = gst_iio_common_get_device_caps (&self->common);
  GstCaps *result;

  if (caps == NULL)
    caps = gst_pad_get_pad_template_caps (GST_BASE_SRC_PAD (src));
  if (filter == NULL)
    return caps;

  result = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
  gst_caps_unref (caps);

  return result;
}

static gboolean
gst_iio_src_set_caps (GstBaseSrc * src, GstCaps * caps)
{
  return gst_iio_common_set_caps (&GST_IIO_SRC (src)->common, caps);
}

/* "4 channels of S16LE at 1000000 Hz" from the device's first caps. */
static gchar *
describe_device_caps (GstCaps * caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *format = gst_structure_get_string (s, "format");
  gint channels = 0, rate = 0;

  gst_structure_get_int (s, "channels", &channels);
  gst_structure_get_int (s, "rate", &rate);

  return g_strdup_printf ("%d channels of %s at %d Hz", channels,
      format ? format : gst_structure_get_name (s), rate);
}

/* basesrc only says "not-negotiated": say what the device offers. */
static gboolean
gst_iio_src_negotiate (GstBaseSrc * src)
{
  GstIioSrc *self = GST_IIO_SRC (src);
  GstCaps *mine, *peer;
  gchar *what;

  if (GST_BASE_SRC_CLASS (parent_class)->negotiate (src))
    return TRUE;

  mine = gst_iio_common_get_device_caps (&self->common);
  peer = gst_pad_peer_query_caps (GST_BASE_SRC_PAD (src), NULL);
  if (mine && peer && !gst_caps_can_intersect (mine, peer)) {
    what = describe_device_caps (mine);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Downstream accepts no format of %s (%s)",
            gst_iio_device_get_display_name (self->common.device), what),
        ("the device offers %" GST_PTR_FORMAT "; downstream accepts %"
            GST_PTR_FORMAT, mine, peer));
    g_free (what);
  }
  gst_clear_caps (&mine);
  gst_clear_caps (&peer);

  return FALSE;
}

static gboolean
gst_iio_src_query (GstBaseSrc * src, GstQuery * query)
{
  GstIioSrc *self = GST_IIO_SRC (src);
  GstClockTime block;
  guint n_blocks;

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return GST_BASE_SRC_CLASS (parent_class)->query (src, query);

  GST_OBJECT_LOCK (self);
  block = gst_iio_common_samples_to_time (self->block_samples, self->rate);
  n_blocks = self->n_blocks;
  GST_OBJECT_UNLOCK (self);
  if (!GST_CLOCK_TIME_IS_VALID (block))
    return FALSE;

  /* A block leaves when it is full; up to all of them can be waiting. */
  gst_query_set_latency (query, TRUE, block, block * n_blocks);
  GST_DEBUG_OBJECT (self, "latency min %" GST_TIME_FORMAT " max %"
      GST_TIME_FORMAT, GST_TIME_ARGS (block), GST_TIME_ARGS (block * n_blocks));

  return TRUE;
}

/* ---- timing ---- */

static GstClockTime
running_time_now (GstIioSrc * self)
{
  GstClock *clock = NULL;
  GstClockTime now = GST_CLOCK_TIME_NONE, base_time = 0, t;

  GST_OBJECT_LOCK (self);
  if (GST_ELEMENT_CLOCK (self))
    clock = gst_object_ref (GST_ELEMENT_CLOCK (self));
  base_time = GST_ELEMENT_CAST (self)->base_time;
  GST_OBJECT_UNLOCK (self);

  if (clock) {
    t = gst_clock_get_time (clock);
    now = t > base_time ? t - base_time : 0;
    gst_object_unref (clock);
  }

  return now;
}

/* Samples the device produced from sample 0 until @now. */
static guint64
samples_at (GstIioSrc * self, GstClockTime now)
{
  if (now <= self->base_time)
    return 0;
  return gst_util_uint64_scale (now - self->base_time, self->rate, GST_SECOND);
}

/* A queue that cannot count what it lost (a libiio buffer replaced after
 * a flush): the timeline moves to the clock, the block just completed
 * being the newest. Returns the estimated samples lost. */
static guint64
resync_to_clock (GstIioSrc * self, GstClockTime now)
{
  guint64 produced = samples_at (self, now);
  guint64 target;

  if (!GST_CLOCK_TIME_IS_VALID (now) || produced <= self->block_samples)
    return 0;
  target = produced - self->block_samples;
  if (target <= self->next_offset)
    return 0;

  target -= self->next_offset;
  self->next_offset += target;
  return target;
}

/* Every loss gets an element message (for applications that track the
 * timeline: where and how many); the warning is at most one a second. */
static void
report_overrun (GstIioSrc * self, GstClockTime now, guint64 lost,
    gboolean counted)
{
  GstStructure *s;
  guint64 overruns;

  s = gst_structure_new ("iio-overrun",
      "offset", G_TYPE_UINT64, self->next_offset,
      "lost", G_TYPE_UINT64, lost, "counted", G_TYPE_BOOLEAN, counted, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));

  if (GST_CLOCK_TIME_IS_VALID (self->last_warning) &&
      GST_CLOCK_TIME_IS_VALID (now) && now < self->last_warning + GST_SECOND)
    return;
  self->last_warning = now;

  overruns = gst_iio_queue_get_stat (self->common.queue,
      GST_IIO_QUEUE_STAT_OVERRUNS);
  GST_ELEMENT_WARNING (self, RESOURCE, READ,
      ("Overrun: %s lost samples because the pipeline did not keep up "
          "(%" G_GUINT64_FORMAT " overruns so far)",
          gst_iio_device_get_display_name (self->common.device), overruns),
      ("%s%" G_GUINT64_FORMAT " samples lost before sample %" G_GUINT64_FORMAT
          "; consider more blocks or a larger buffer-size", counted ? "" :
          "about ", lost, self->next_offset));
}

/* The queue marks a block after lost samples DISCONT, with the number
 * lost in OFFSET (gstiioqueue.h): the timeline jumps by it. */
static void
stamp_buffer (GstIioSrc * self, GstBuffer * buffer)
{
  GstClockTime now = GST_CLOCK_TIME_NONE, block;
  gboolean discont = GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT);
  guint64 lost = GST_BUFFER_OFFSET (buffer), start, end;

  /* The clock only for the first block and a loss: not a lock and two
   * object refs every block. */
  if (!GST_CLOCK_TIME_IS_VALID (self->base_time) || discont)
    now = running_time_now (self);
  if (!GST_CLOCK_TIME_IS_VALID (self->base_time)) {
    block = gst_iio_common_samples_to_time (self->block_samples, self->rate);
    /* The first block just completed: its first sample was one block
     * duration ago. */
    self->base_time = GST_CLOCK_TIME_IS_VALID (now) && now > block ?
        now - block : 0;
    GST_DEBUG_OBJECT (self, "sample 0 at running time %" GST_TIME_FORMAT,
        GST_TIME_ARGS (self->base_time));
  } else if (discont && lost == GST_BUFFER_OFFSET_NONE) {
    report_overrun (self, now, resync_to_clock (self, now), FALSE);
  } else if (discont) {
    self->next_offset += lost;
    report_overrun (self, now, lost, TRUE);
  }

  start = self->next_offset;
  end = start + self->block_samples;
  GST_BUFFER_PTS (buffer) = self->base_time +
      gst_iio_common_samples_to_time (start, self->rate);
  GST_BUFFER_DURATION (buffer) = self->base_time +
      gst_iio_common_samples_to_time (end, self->rate) -
      GST_BUFFER_PTS (buffer);
  GST_BUFFER_OFFSET (buffer) = start;
  GST_BUFFER_OFFSET_END (buffer) = end;
  self->next_offset = end;
}

/* Once: the device delivered samples much faster than the rate, so the
 * timeline's gaps were not losses; detection is off from here on. */
static void
warn_measured_rate (GstIioSrc * self, guint hz)
{
  GST_ELEMENT_WARNING (self, RESOURCE, READ,
      ("%s delivers samples at about %u Hz, well above the rate of %u Hz: "
          "lost samples are no longer detected",
          gst_iio_device_get_display_name (self->common.device), hz,
          self->rate), ("set the rate property (or the device's "
          "sampling_frequency) to the rate the device really runs at"));
}

static GstFlowReturn
gst_iio_src_create (GstPushSrc * src, GstBuffer ** buffer)
{
  GstIioSrc *self = GST_IIO_SRC (src);
  GstIioQueue *queue = self->common.queue;
  GError *error = NULL;
  GstFlowReturn ret;

  ret = gst_iio_queue_capture (queue, buffer, &error);
  if (ret == GST_FLOW_OK) {
    guint measured = gst_iio_queue_take_measured_rate (queue);

    if (G_UNLIKELY (measured))
      warn_measured_rate (self, measured);
    stamp_buffer (self, *buffer);
    /* After stamp_buffer: a hardware overflow does not say how many
     * samples, so OFFSET is not a count of lost samples here. */
    if (gst_iio_common_check_xflow (&self->common, GST_BUFFER_OFFSET (*buffer)))
      GST_BUFFER_FLAG_SET (*buffer, GST_BUFFER_FLAG_DISCONT);
    GST_LOG_OBJECT (self, "%" GST_PTR_FORMAT, *buffer);
  } else if (ret == GST_FLOW_ERROR) {
    gst_iio_common_post_error (&self->common, error, "capturing from %s",
        gst_iio_device_get_display_name (self->common.device));
    g_error_free (error);
  }

  return ret;
}

/* ---- class ---- */

static void
gst_iio_src_class_init (GstIioSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = GST_DEBUG_FUNCPTR (gst_iio_src_set_property);
  gobject_class->get_property = GST_DEBUG_FUNCPTR (gst_iio_src_get_property);
  gobject_class->finalize = GST_DEBUG_FUNCPTR (gst_iio_src_finalize);

  gst_iio_common_init_properties (properties, GST_IIO_DIRECTION_INPUT);
  g_object_class_install_properties (gobject_class, N_PROPS, properties);

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "IIO source",
      "Source/Hardware", "Captures the scan channels of a Linux Industrial "
      "I/O device (ADC, SDR receiver, sensor), zero-copy through DMABUFs "
      "where the kernel allows", GST_IIO_AUTHOR);
  gst_type_mark_as_plugin_api (GST_TYPE_IIO_IO_MODE, 0);

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_iio_src_change_state);

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_iio_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_iio_src_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_iio_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_iio_src_unlock_stop);
  basesrc_class->get_caps = GST_DEBUG_FUNCPTR (gst_iio_src_get_caps);
  basesrc_class->set_caps = GST_DEBUG_FUNCPTR (gst_iio_src_set_caps);
  basesrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_iio_src_negotiate);
  basesrc_class->query = GST_DEBUG_FUNCPTR (gst_iio_src_query);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_iio_src_create);
}

static void
gst_iio_src_init (GstIioSrc * self)
{
  gst_iio_common_init (&self->common, GST_ELEMENT (self),
      GST_IIO_DIRECTION_INPUT);
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  self->base_time = GST_CLOCK_TIME_NONE;
}
