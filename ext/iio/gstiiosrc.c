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
 * Clock and timestamps: iiosrc provides the device's clock (provide-clock,
 * default TRUE), whose time advances with the samples the device has
 * produced, at its crystal's real rate. When it is the pipeline clock,
 * PTS is the running time of the block's first sample on it: the sample
 * count, exact. On any other pipeline clock the blocks are re-timestamped
 * against it, contiguous, at the drift measured against it (stats
 * drift-ppm; gstiiofollow.h says how and why not skew). OFFSET and
 * OFFSET_END are sample
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
#include "gstiiodeviceclock.h"
#include "gstiiodmabufinput.h"
#include "gstiiodrift.h"
#include "gstiiofollow.h"

#include <gst/audio/audio.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_src_debug);
#define GST_CAT_DEFAULT gst_iio_src_debug

enum
{
  PROP_PROVIDE_CLOCK = GST_IIO_PROP_LAST,
  N_PROPS
};

#define DEFAULT_PROVIDE_CLOCK TRUE

static GParamSpec *properties[N_PROPS];

struct _GstIioSrc
{
  GstPushSrc parent;

  GstIioCommon common;

  /* The device's clock (gstiiodeviceclock.h), for the element's life. */
  GstClock *clock;
  gboolean provide_clock;       /* object lock */
  /* set_clock: the pipeline runs on self->clock (atomic) */
  gint on_own_clock;

  /* Set by start() under the object lock (the latency query reads them);
   * the streaming thread reads them freely. */
  guint rate;
  guint block_samples;
  guint n_blocks;

  /* Streaming thread only. */
  gboolean started;             /* a block was stamped */
  gint64 sample0_us;            /* monotonic time of sample 0 (estimated) */
  guint64 next_offset;
  GstClockTime last_warning;
  GstIioDrift drift;            /* the device against the clock it is on */
  GstIioFollow follow;          /* PTS on a foreign clock */
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

  if (prop_id == PROP_PROVIDE_CLOCK) {
    GST_OBJECT_LOCK (self);
    self->provide_clock = g_value_get_boolean (value);
    if (self->provide_clock)
      GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_PROVIDE_CLOCK);
    else
      GST_OBJECT_FLAG_UNSET (self, GST_ELEMENT_FLAG_PROVIDE_CLOCK);
    GST_OBJECT_UNLOCK (self);
  } else if (!gst_iio_common_set_property (&self->common, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_iio_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstIioSrc *self = GST_IIO_SRC (object);

  if (prop_id == PROP_PROVIDE_CLOCK) {
    GST_OBJECT_LOCK (self);
    g_value_set_boolean (value, self->provide_clock);
    GST_OBJECT_UNLOCK (self);
  } else if (!gst_iio_common_get_property (&self->common, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_iio_src_finalize (GObject * object)
{
  GstIioSrc *self = GST_IIO_SRC (object);

  gst_iio_common_clear (&self->common);
  gst_object_unref (self->clock);

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

  /* As GstAudioBaseSrc: the pipeline picks the clock when it goes to
   * PAUSED and must pick another when the device stops. */
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    gst_iio_device_clock_post_provide (GST_IIO_DEVICE_CLOCK (self->clock),
        element, TRUE);

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_iio_device_clock_post_provide (GST_IIO_DEVICE_CLOCK (self->clock),
        element, FALSE);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    gst_iio_common_close (&self->common);

  return ret;
}

static GstClock *
gst_iio_src_provide_clock (GstElement * element)
{
  GstIioSrc *self = GST_IIO_SRC (element);
  GstClock *clock = NULL;

  GST_OBJECT_LOCK (self);
  if (self->provide_clock)
    clock = gst_object_ref (self->clock);
  GST_OBJECT_UNLOCK (self);

  return clock;
}

static gboolean
gst_iio_src_set_clock (GstElement * element, GstClock * clock)
{
  GstIioSrc *self = GST_IIO_SRC (element);

  g_atomic_int_set (&self->on_own_clock, clock == self->clock);
  GST_DEBUG_OBJECT (self, "pipeline clock %" GST_PTR_FORMAT "%s", clock,
      clock == self->clock ? " (the device's)" : "");

  return GST_ELEMENT_CLASS (parent_class)->set_clock (element, clock);
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
  self->started = FALSE;
  self->last_warning = GST_CLOCK_TIME_NONE;
  self->next_offset = 0;
  /* Windows of eight blocks at least: fileio hands blocks over in bursts
   * of a kernel block, and only the last of a burst is on time. */
  gst_iio_drift_reset_window (&self->drift, MAX (GST_IIO_DRIFT_WINDOW_NS,
          8 * (gint64) gst_util_uint64_scale (common->buffer_size,
              GST_SECOND, common->rate)));
  gst_iio_follow_reset (&self->follow, common->rate);
  gst_iio_device_clock_start (GST_IIO_DEVICE_CLOCK (self->clock), common->rate);

  return TRUE;
}

static gboolean
gst_iio_src_stop (GstBaseSrc * src)
{
  GstIioSrc *self = GST_IIO_SRC (src);

  gst_iio_common_stop (&self->common);
  gst_iio_device_clock_stop (GST_IIO_DEVICE_CLOCK (self->clock));
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

/* The pipeline clock's running time now; NONE without a clock. */
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

/* Running time of sample @offset on the device clock, the pipeline's,
 * with the clock's calibration @cal and the element's @base_time. */
static GstClockTime
running_time_of_sample (GstIioSrc * self, guint64 offset,
    const GstClockTime cal[4], GstClockTime base_time)
{
  GstClockTime internal, external;

  internal = gst_iio_device_clock_sample_time (GST_IIO_DEVICE_CLOCK
      (self->clock), offset);
  external = gst_clock_adjust_with_calibration (self->clock, internal,
      cal[0], cal[1], cal[2], cal[3]);

  return external > base_time ? external - base_time : 0;
}

/* PTS and DURATION of samples @start to @end on the device clock: the
 * calibration and the base time read once for both. */
static void
stamp_on_own_clock (GstIioSrc * self, guint64 start, guint64 end,
    GstClockTime * pts, GstClockTime * duration)
{
  GstClockTime cal[4], base_time;

  gst_clock_get_calibration (self->clock, &cal[0], &cal[1], &cal[2], &cal[3]);
  base_time = gst_element_get_base_time (GST_ELEMENT (self));
  *pts = running_time_of_sample (self, start, cal, base_time);
  *duration = running_time_of_sample (self, end, cal, base_time) - *pts;
}

/* A queue that cannot count what it lost (a libiio buffer replaced after
 * a flush): the timeline moves to where the monotonic clock says the
 * device is, at the measured drift, the block just completed being the
 * newest. Returns the estimated samples lost. */
static guint64
resync_to_monotonic (GstIioSrc * self, gint64 now_us)
{
  gdouble ppm = 0;
  guint64 produced, target;

  gst_iio_drift_get_ppm (&self->drift, &ppm);
  if (now_us <= self->sample0_us)
    return 0;
  produced = (guint64) ((now_us - self->sample0_us) * (self->rate / 1e6) *
      (1.0 + ppm / 1e6));
  if (produced <= self->block_samples)
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

/* The drift against the clock: the monotonic clock when the pipeline
 * runs on the device's own (how fast the crystal really is), else the
 * pipeline clock's running time (how fast against what the element
 * follows). @device_end: the device's position at @observed. */
static void
measure_drift (GstIioSrc * self, guint64 device_end, GstClockTime observed,
    gboolean monotonic)
{
  gdouble ppm;

  if (gst_iio_device_clock_observe (GST_IIO_DEVICE_CLOCK (self->clock),
          &self->drift, gst_util_uint64_scale (device_end, GST_SECOND,
              self->rate), observed, monotonic, &ppm))
    gst_iio_queue_set_drift_ppm (self->common.queue, ppm);
}

/* The queue marks a block after lost samples DISCONT, with the number
 * lost in OFFSET (gstiioqueue.h): the timeline jumps by it.
 *
 * On the device's own clock PTS is where the clock put the block's first
 * sample: exact, the clock being the sample count. On any other clock
 * the block is re-timestamped against it (gstiiofollow.h). Without a
 * clock the monotonic clock since the first block stands in.
 *
 * What the clock and the drift see is the device's progress at the
 * block's completion time (the fence time) where the queue knows it, so
 * a consumer that holds the streaming thread (a sink syncing on this very
 * clock) does not slow the clock down; else the capture itself, a
 * position the device has at least reached. */
static void
stamp_buffer (GstIioSrc * self, GstBuffer * buffer)
{
  gboolean discont = GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT);
  gboolean own = g_atomic_int_get (&self->on_own_clock);
  guint64 lost = GST_BUFFER_OFFSET (buffer), start, end, ahead = 0;
  gint64 now_us = g_get_monotonic_time (), done_ns;
  GstClockTime observed, pts, duration, since_done, rt;
  gboolean progress;
  gdouble ppm = 0;

  progress = gst_iio_queue_take_progress (self->common.queue, &ahead, &done_ns);
  if (!progress || done_ns > now_us * 1000) {
    ahead = 0;
    done_ns = now_us * 1000;
  }
  since_done = now_us * 1000 - done_ns;

  if (!self->started) {
    self->started = TRUE;
    self->sample0_us = done_ns / 1000 - (gint64) gst_util_uint64_scale
        (self->block_samples + ahead, G_USEC_PER_SEC, self->rate);
  } else if (discont && lost == GST_BUFFER_OFFSET_NONE) {
    report_overrun (self, now_us * GST_USECOND,
        resync_to_monotonic (self, now_us), FALSE);
  } else if (discont) {
    self->next_offset += lost;
    report_overrun (self, now_us * GST_USECOND, lost, TRUE);
  }

  start = self->next_offset;
  end = start + self->block_samples;
  gst_iio_device_clock_set_position (GST_IIO_DEVICE_CLOCK (self->clock),
      end + ahead, done_ns / 1000);

  if (own) {
    stamp_on_own_clock (self, start, end, &pts, &duration);
    measure_drift (self, end + ahead, done_ns, TRUE);
  } else {
    rt = running_time_now (self);
    if (!GST_CLOCK_TIME_IS_VALID (rt))
      rt = (now_us - self->sample0_us) * GST_USECOND;
    /* on the pipeline clock: at completion, then back to this block's
     * end (the device got @ahead samples further by then) */
    observed = rt > since_done ? rt - since_done : 0;
    measure_drift (self, end + ahead, observed, FALSE);
    observed -= MIN (observed, gst_util_uint64_scale (ahead, GST_SECOND,
            self->rate));
    gst_iio_drift_get_ppm (&self->drift, &ppm);
    if (gst_iio_follow_block (&self->follow, start, self->block_samples,
            observed, ppm, &pts, &duration))
      GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DISCONT);
  }

  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = duration;
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
  properties[PROP_PROVIDE_CLOCK] = g_param_spec_boolean ("provide-clock",
      "Provide clock", "Offer the device's clock to the pipeline: its time "
      "advances with the samples the device produced (at the crystal's "
      "real rate), and PTS are the sample count on it; FALSE, or another "
      "clock chosen: PTS follow the pipeline clock (stats drift-ppm)",
      DEFAULT_PROVIDE_CLOCK, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (gobject_class, N_PROPS, properties);

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "IIO source",
      "Source/Hardware", "Captures the scan channels of a Linux Industrial "
      "I/O device (ADC, SDR receiver, sensor), zero-copy through DMABUFs "
      "where the kernel allows", GST_IIO_AUTHOR);
  gst_type_mark_as_plugin_api (GST_TYPE_IIO_IO_MODE, 0);

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_iio_src_change_state);
  element_class->provide_clock = GST_DEBUG_FUNCPTR (gst_iio_src_provide_clock);
  element_class->set_clock = GST_DEBUG_FUNCPTR (gst_iio_src_set_clock);

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
  self->clock = gst_iio_device_clock_new ("iio-device-clock");
  self->provide_clock = DEFAULT_PROVIDE_CLOCK;
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_PROVIDE_CLOCK);
}
