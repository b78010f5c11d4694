/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-iiosink
 * @title: iiosink
 *
 * Plays samples to an IIO output device (a DAC, or the transmit side of a
 * transceiver). The device paces the stream (sync defaults to FALSE): at
 * most `blocks` blocks are queued to it, and render waits for the oldest
 * to be played when they all are.
 *
 * On the DMABUF path (io-mode=auto or dmabuf, Linux 6.11+, local context,
 * DMA-type buffer) upstream buffers of DMABUF memory are played without a
 * copy, an allocator of DMA blocks is offered upstream (propose_allocation:
 * buffers of up to a block are written straight into one), and other
 * memory is copied once. The copy path (io-mode=copy, remote
 * contexts, other buffers) goes through libiio. EOS waits until the
 * device has played every sample; stopping without EOS drops what is
 * queued (and logs how much). PAUSED and NULL return within 5 s whatever
 * the device does (stalled, or an iiod that stopped answering), and a
 * pause keeps the stream's place: PLAYING again loses and repeats
 * nothing (docs/iiosink.md, "Pause and stop bounds").
 *
 * With cyclic=true the first buffer repeats seamlessly until the element
 * stops; later buffers are dropped.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 audiotestsrc num-buffers=100 ! \
 *     audio/x-raw,format=S16LE,channels=2,rate=1000000 ! \
 *     iiosink device=sim-dac
 * gst-launch-1.0 iiosrc device=sim-adc channels=voltage0,voltage1 \
 *     num-buffers=100 ! iiosink device=sim-dac
 * ]|
 */
#include "gstiiosink.h"
#include "gstiiocommon.h"
#include "gstiiodeviceclock.h"
#include "gstiiodmabufoutput.h"
#include "gstiiodrift.h"

GST_DEBUG_CATEGORY_STATIC (gst_iio_sink_debug);
#define GST_CAT_DEFAULT gst_iio_sink_debug

enum
{
  PROP_CYCLIC = GST_IIO_PROP_LAST,
  PROP_PROVIDE_CLOCK,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define DEFAULT_CYCLIC FALSE
#define DEFAULT_PROVIDE_CLOCK FALSE

struct _GstIioSink
{
  GstBaseSink parent;

  /* Properties, device and queue; see gstiiocommon.h for the locking. */
  GstIioCommon common;
  gboolean cyclic;              /* object lock */
  gboolean provide_clock;       /* object lock */
  /* The DAC's clock (gstiiodeviceclock.h), for the element's life, and
   * the drift of what the DAC consumed (streaming thread). */
  GstClock *clock;
  GstIioDrift drift;
  gboolean unlocked;            /* object lock: unlock() cancelled waits */
  /* Streaming thread (start_queue before it runs): the stream failed and
   * its error is posted; render and the EOS drain then fail at once. */
  gboolean failed;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, layout = (string) interleaved; "
        "application/x-iio"));

#define gst_iio_sink_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstIioSink, gst_iio_sink, GST_TYPE_BASE_SINK,
    GST_DEBUG_CATEGORY_INIT (gst_iio_sink_debug, "iiosink", 0, "IIO sink"));
GST_ELEMENT_REGISTER_DEFINE (iiosink, "iiosink", GST_RANK_NONE,
    GST_TYPE_IIO_SINK);

/* ---- caps ---- */

/* The device's caps once it is open. When nothing upstream offers fits
 * the device, upstream's offer is returned as it is: set_caps then says
 * what the device expects, instead of a bare not-negotiated upstream. */
static GstCaps *
gst_iio_sink_get_caps (GstBaseSink * sink, GstCaps * filter)
{
  GstIioSink *self = GST_IIO_SINK (sink);
  GstCaps *caps = gst_iio_common_get_device_caps (&self->common);
  GstCaps *templ = gst_pad_get_pad_template_caps (GST_BASE_SINK_PAD (sink));
  GstCaps *result;

  if (caps == NULL)
    caps = gst_caps_ref (templ);
  if (filter == NULL) {
    gst_caps_unref (templ);
    return caps;
  }

  result = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
  if (gst_caps_is_empty (result)) {
    gst_caps_unref (result);
    result = gst_caps_intersect_full (filter, templ, GST_CAPS_INTERSECT_FIRST);
  }
  gst_caps_unref (caps);
  gst_caps_unref (templ);

  return result;
}

/* Upstream's latency (GstBaseSink's answer) plus the DAC's queue: a
 * sample waits for its block to fill (min one block) and then behind
 * every block queued (max `blocks`). Only a live, syncing sink has a
 * latency (GstBaseSink's rule): sync=false reports none. GstBaseSink
 * answers the element query itself (the pipeline asks its sinks so),
 * not through its query vfunc: hence the element's. */
static gboolean
gst_iio_sink_element_query (GstElement * element, GstQuery * query)
{
  GstIioSink *self = GST_IIO_SINK (element);
  GstClockTime min, max, block;
  gboolean live;
  guint blocks;

  if (!GST_ELEMENT_CLASS (parent_class)->query (element, query))
    return FALSE;
  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return TRUE;
  gst_query_parse_latency (query, &live, &min, &max);
  GST_OBJECT_LOCK (self);
  block = gst_iio_common_samples_to_time (self->common.buffer_size,
      self->common.rate);
  blocks = self->common.blocks;
  GST_OBJECT_UNLOCK (self);
  if (!live || !GST_CLOCK_TIME_IS_VALID (block))
    return TRUE;

  min += block;
  if (GST_CLOCK_TIME_IS_VALID (max))
    max += block * blocks;
  gst_query_set_latency (query, live, min, max);
  GST_DEBUG_OBJECT (self, "latency min %" GST_TIME_FORMAT " max %"
      GST_TIME_FORMAT, GST_TIME_ARGS (min), GST_TIME_ARGS (max));

  return TRUE;
}

/* Any caps of the template are accepted, so that caps the device cannot
 * play reach set_caps and its error rather than failing silently here. */
static gboolean
gst_iio_sink_query (GstBaseSink * sink, GstQuery * query)
{
  GstCaps *caps, *templ;
  gboolean accept;

  if (GST_QUERY_TYPE (query) != GST_QUERY_ACCEPT_CAPS)
    return GST_BASE_SINK_CLASS (parent_class)->query (sink, query);

  gst_query_parse_accept_caps (query, &caps);
  templ = gst_pad_get_pad_template_caps (GST_BASE_SINK_PAD (sink));
  accept = gst_caps_is_subset (caps, templ);
  gst_caps_unref (templ);
  gst_query_set_accept_caps_result (query, accept);

  return TRUE;
}

/* ---- the DAC's clock ---- */

static GstClock *
gst_iio_sink_provide_clock (GstElement * element)
{
  GstIioSink *self = GST_IIO_SINK (element);
  GstClock *clock = NULL;

  GST_OBJECT_LOCK (self);
  if (self->provide_clock)
    clock = gst_object_ref (self->clock);
  GST_OBJECT_UNLOCK (self);

  return clock;
}

/* After a render: what the DAC consumed, and when (a retired block's
 * fence; fileio: a lower bound at the push), drives the clock and the
 * drift against the monotonic clock. */
static void
follow_device (GstIioSink * self)
{
  GstIioQueue *queue = self->common.queue;
  guint64 consumed;
  gint64 ns;
  gdouble ppm;

  if (!gst_iio_queue_take_consumed (queue, &consumed, &ns))
    return;
  gst_iio_device_clock_set_position (GST_IIO_DEVICE_CLOCK (self->clock),
      consumed, ns / 1000);
  if (gst_iio_device_clock_observe (GST_IIO_DEVICE_CLOCK (self->clock),
          &self->drift, gst_util_uint64_scale (consumed, GST_SECOND,
              self->common.rate), ns, TRUE, &ppm))
    gst_iio_queue_set_drift_ppm (queue, ppm);
}

static gboolean
gst_iio_sink_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  return gst_iio_common_set_caps (&GST_IIO_SINK (sink)->common, caps);
}

/* ---- allocation ---- */

/* Offers the queue's DMA blocks (already attached to the device) through
 * an allocator, not a pool: a producer allocates the size it writes (a
 * pool's fixed size is not what GstBaseSrc subclasses such as audiotestsrc
 * write, see gstiiosinkallocator.h). What fits a block is written straight
 * into it and nothing is copied; larger buffers are system memory, copied
 * across blocks. */
static gboolean
gst_iio_sink_propose_allocation (GstBaseSink * sink, GstQuery * query)
{
  GstIioSink *self = GST_IIO_SINK (sink);
  GstIioQueue *queue = self->common.queue;
  GstAllocationParams params;
  GstAllocator *allocator;
  GstCaps *caps;

  if (queue == NULL)
    return FALSE;
  gst_query_parse_allocation (query, &caps, NULL);
  allocator = gst_iio_queue_get_allocator (queue, caps);
  if (allocator == NULL)
    return TRUE;

  gst_allocation_params_init (&params);
  gst_query_add_allocation_param (query, allocator, &params);
  GST_DEBUG_OBJECT (self, "proposed an allocator of %u DMA blocks of %"
      G_GSIZE_FORMAT " bytes", gst_iio_queue_get_config (queue)->n_blocks,
      gst_iio_queue_get_block_bytes (queue));
  gst_object_unref (allocator);

  return TRUE;
}

/* ---- data ---- */

/* One error per stream: after a failed render upstream pushes EOS (as
 * GstBaseSrc does after its flow error), and a drain of the same broken
 * device would wait out the timeout again and post it twice. */
static GstFlowReturn
post_flow_error (GstIioSink * self, GError * error, const gchar * step)
{
  if (error == NULL)
    return GST_FLOW_FLUSHING;
  gst_iio_common_post_error (&self->common, error, "%s", step);
  g_error_free (error);
  self->failed = TRUE;

  return GST_FLOW_ERROR;
}

/* Render, drain and every wait in them return FLUSHING once unlock()
 * interrupted them: a flush, a stop, or a pause (PLAYING to PAUSED, which
 * a bin going to NULL passes through as well, so unlock cannot tell them
 * apart). Called with the preroll lock held, as render and wait_event
 * are: like GstAudioBaseSink, wait in preroll; GST_FLOW_OK means PLAYING
 * again, and the interrupted call resumes where it stopped (the queue
 * kept its place); anything else (a flush, READY, NULL) ends render. */
static GstFlowReturn
wait_after_interrupt (GstIioSink * self)
{
  GstBaseSink *sink = GST_BASE_SINK (self);
  gboolean unlocked;

  if (sink->flushing)
    return GST_FLOW_FLUSHING;
  GST_OBJECT_LOCK (self);
  unlocked = self->unlocked;
  GST_OBJECT_UNLOCK (self);
  /* Only unlock() makes the queue return FLUSHING, and unlock_stop(),
   * which needs the preroll lock we hold, has not run yet: were it not
   * so, nothing would wake the preroll wait. */
  if (!unlocked)
    return GST_FLOW_FLUSHING;

  GST_DEBUG_OBJECT (self, "interrupted: waiting in preroll (a pause?)");
  return gst_base_sink_wait_preroll (sink);
}

static GstFlowReturn
gst_iio_sink_render (GstBaseSink * sink, GstBuffer * buffer)
{
  GstIioSink *self = GST_IIO_SINK (sink);
  GError *error = NULL;
  GstFlowReturn ret;

  if (self->failed)
    return GST_FLOW_ERROR;
  do {
    ret = gst_iio_queue_render (self->common.queue, buffer, &error);
    if (ret == GST_FLOW_ERROR)
      return post_flow_error (self, error, "render");
    if (ret == GST_FLOW_OK) {
      gst_iio_common_check_xflow (&self->common, GST_BUFFER_OFFSET_NONE);
      follow_device (self);
    }
    g_clear_error (&error);
    if (ret != GST_FLOW_FLUSHING)
      return ret;
    ret = wait_after_interrupt (self);
  } while (ret == GST_FLOW_OK);

  return ret;
}

/* EOS: once prerolled and PLAYING (the parent's wait), play everything
 * out; EOS is posted only after the device played the last sample. A
 * pause during the drain resumes it when PLAYING again. */
static GstFlowReturn
gst_iio_sink_wait_event (GstBaseSink * sink, GstEvent * event)
{
  GstIioSink *self = GST_IIO_SINK (sink);
  GError *error = NULL;
  GstFlowReturn ret;

  ret = GST_BASE_SINK_CLASS (parent_class)->wait_event (sink, event);
  if (ret != GST_FLOW_OK || GST_EVENT_TYPE (event) != GST_EVENT_EOS
      || self->common.queue == NULL)
    return ret;
  /* The error is on the bus already: no second one, and no EOS. */
  if (self->failed)
    return GST_FLOW_ERROR;

  while (!gst_iio_queue_drain (self->common.queue, &error)) {
    if (error)
      return post_flow_error (self, error, "draining at EOS");
    /* Cut short by unlock(). The preroll lock, held here, guards the
     * flushing field. */
    ret = wait_after_interrupt (self);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  GST_DEBUG_OBJECT (self, "drained: the device played everything");

  return GST_FLOW_OK;
}

/* Interrupts every wait of the queue, whatever the state change: render
 * then waits in preroll (see wait_after_interrupt), so PLAYING to PAUSED
 * never waits for the device, stalled or not. */
static gboolean
gst_iio_sink_unlock (GstBaseSink * sink)
{
  GstIioSink *self = GST_IIO_SINK (sink);

  GST_OBJECT_LOCK (self);
  self->unlocked = TRUE;
  GST_OBJECT_UNLOCK (self);
  gst_iio_common_set_flushing (&self->common, TRUE);

  return TRUE;
}

/* With the preroll lock held: after a flush or on the way to READY the
 * parent set flushing first, and what an interrupted render kept is
 * dropped; after a pause it is kept for the resume. */
static gboolean
gst_iio_sink_unlock_stop (GstBaseSink * sink)
{
  GstIioSink *self = GST_IIO_SINK (sink);
  gboolean unlocked;

  GST_OBJECT_LOCK (self);
  unlocked = self->unlocked;
  self->unlocked = FALSE;
  GST_OBJECT_UNLOCK (self);
  if (!unlocked)
    return TRUE;

  if (sink->flushing)
    gst_iio_common_discard (&self->common);
  gst_iio_common_set_flushing (&self->common, FALSE);

  return TRUE;
}

/* ---- states ---- */

/* READY to PAUSED, before the parent's: caps and allocation queries
 * during preroll need the device's queue. */
static gboolean
gst_iio_sink_start_queue (GstIioSink * self)
{
  gboolean cyclic;

  GST_OBJECT_LOCK (self);
  cyclic = self->cyclic;
  self->unlocked = FALSE;
  GST_OBJECT_UNLOCK (self);
  self->failed = FALSE;

  if (!gst_iio_common_start (&self->common, gst_iio_dmabuf_output_new, cyclic))
    return FALSE;
  /* Windows of eight blocks at least: a retired block tells when it was
   * played only when a render waited for it. */
  gst_iio_drift_reset_window (&self->drift, MAX (GST_IIO_DRIFT_WINDOW_NS,
          8 * (gint64) gst_iio_common_samples_to_time
          (self->common.buffer_size, self->common.rate)));
  gst_iio_device_clock_start (GST_IIO_DEVICE_CLOCK (self->clock),
      self->common.rate);
  return TRUE;
}

/* PAUSED to READY, after the parent's (the streaming thread is out):
 * without EOS this drops what the device has not played. */
static void
gst_iio_sink_stop_queue (GstIioSink * self)
{
  gst_iio_common_stop (&self->common);
  gst_iio_device_clock_stop (GST_IIO_DEVICE_CLOCK (self->clock));
}

/* As GstAudioBaseSink: the pipeline picks the clock when the sink goes
 * to PAUSED and must pick another when the device stops. */
static void
post_clock_messages (GstIioSink * self, gboolean provide)
{
  gboolean provides;

  GST_OBJECT_LOCK (self);
  provides = self->provide_clock;
  GST_OBJECT_UNLOCK (self);
  if (provides)
    gst_iio_device_clock_post_provide (GST_IIO_DEVICE_CLOCK (self->clock),
        GST_ELEMENT (self), provide);
}

static GstStateChangeReturn
gst_iio_sink_change_state (GstElement * element, GstStateChange transition)
{
  GstIioSink *self = GST_IIO_SINK (element);
  GstStateChangeReturn ret;

  /* Device and queue follow iiosrc's lifetime (not GstBaseSink's
   * start/stop at NULL<->READY): opened in READY, streaming from PAUSED. */
  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_iio_common_open (&self->common))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!gst_iio_sink_start_queue (self))
        return GST_STATE_CHANGE_FAILURE;
      post_clock_messages (self, TRUE);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_iio_sink_stop_queue (self);
      post_clock_messages (self, FALSE);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_iio_common_close (&self->common);
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (ret == GST_STATE_CHANGE_FAILURE)
        gst_iio_sink_stop_queue (self);
      break;
    default:
      break;
  }

  return ret;
}

/* ---- GObject ---- */

static gboolean
add_missing_field (GQuark field, const GValue * value, gpointer user_data)
{
  GstStructure *stats = user_data;

  if (!gst_structure_id_has_field (stats, field))
    gst_structure_id_set_value (stats, field, value);

  return TRUE;
}

/* Our stats property hides GstBaseSink's: its fields (average-rate,
 * dropped, rendered) are added to the queue's. */
static GstStructure *
gst_iio_sink_get_stats (GstIioSink * self)
{
  GstStructure *stats = gst_iio_common_get_stats (&self->common);
  GstStructure *base = gst_base_sink_get_stats (GST_BASE_SINK (self));

  gst_structure_foreach (base, add_missing_field, stats);
  gst_structure_free (base);

  return stats;
}

static void
gst_iio_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstIioSink *self = GST_IIO_SINK (object);

  if (gst_iio_common_set_property (&self->common, prop_id, value))
    return;

  switch (prop_id) {
    case PROP_CYCLIC:
      GST_OBJECT_LOCK (self);
      self->cyclic = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_PROVIDE_CLOCK:
      GST_OBJECT_LOCK (self);
      self->provide_clock = g_value_get_boolean (value);
      if (self->provide_clock)
        GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_PROVIDE_CLOCK);
      else
        GST_OBJECT_FLAG_UNSET (self, GST_ELEMENT_FLAG_PROVIDE_CLOCK);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_iio_sink_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstIioSink *self = GST_IIO_SINK (object);

  /* Not under the object lock: the queue and GstBaseSink take it. */
  if (prop_id == GST_IIO_PROP_STATS) {
    g_value_take_boxed (value, gst_iio_sink_get_stats (self));
    return;
  }
  if (gst_iio_common_get_property (&self->common, prop_id, value))
    return;

  switch (prop_id) {
    case PROP_CYCLIC:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->cyclic);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_PROVIDE_CLOCK:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->provide_clock);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_iio_sink_finalize (GObject * object)
{
  GstIioSink *self = GST_IIO_SINK (object);

  gst_iio_common_clear (&self->common);
  gst_object_unref (self->clock);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_iio_sink_class_init (GstIioSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = GST_DEBUG_FUNCPTR (gst_iio_sink_set_property);
  gobject_class->get_property = GST_DEBUG_FUNCPTR (gst_iio_sink_get_property);
  gobject_class->finalize = GST_DEBUG_FUNCPTR (gst_iio_sink_finalize);

  gst_iio_common_init_properties (properties, GST_IIO_DIRECTION_OUTPUT);
  properties[PROP_CYCLIC] = g_param_spec_boolean ("cyclic", "Cyclic",
      "Play the first buffer over and over, seamlessly, until the element "
      "stops (a signal generator); later buffers are dropped. On the DMABUF "
      "path the device repeats it with no CPU work", DEFAULT_CYCLIC,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_PROVIDE_CLOCK] = g_param_spec_boolean ("provide-clock",
      "Provide clock", "Offer the DAC's clock to the pipeline: its time "
      "advances with the samples the device consumed (at its crystal's "
      "real rate; stats drift-ppm). GstPipeline prefers a live source's "
      "clock (iiosrc's) over it", DEFAULT_PROVIDE_CLOCK,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_properties (gobject_class, N_PROPS, properties);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "IIO sink",
      "Sink/Hardware", "Plays samples to a Linux IIO output device (DAC), "
      "zero-copy with DMABUFs on Linux 6.11+", GST_IIO_AUTHOR);
  gst_type_mark_as_plugin_api (GST_TYPE_IIO_IO_MODE, 0);

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_iio_sink_change_state);
  element_class->provide_clock = GST_DEBUG_FUNCPTR (gst_iio_sink_provide_clock);

  sink_class->get_caps = GST_DEBUG_FUNCPTR (gst_iio_sink_get_caps);
  sink_class->set_caps = GST_DEBUG_FUNCPTR (gst_iio_sink_set_caps);
  sink_class->query = GST_DEBUG_FUNCPTR (gst_iio_sink_query);
  element_class->query = GST_DEBUG_FUNCPTR (gst_iio_sink_element_query);
  sink_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_iio_sink_propose_allocation);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_iio_sink_render);
  sink_class->wait_event = GST_DEBUG_FUNCPTR (gst_iio_sink_wait_event);
  sink_class->unlock = GST_DEBUG_FUNCPTR (gst_iio_sink_unlock);
  sink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_iio_sink_unlock_stop);
}

static void
gst_iio_sink_init (GstIioSink * self)
{
  gst_iio_common_init (&self->common, GST_ELEMENT (self),
      GST_IIO_DIRECTION_OUTPUT);
  self->cyclic = DEFAULT_CYCLIC;
  self->provide_clock = DEFAULT_PROVIDE_CLOCK;
  self->clock = gst_iio_device_clock_new ("iio-dac-clock");
  /* The device's sample clock paces the stream: waiting for the pipeline
   * clock as well would starve the device's queue. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  /* The last sample would pin one of the few DMA blocks (ours, or
   * upstream's) after it was played. */
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}
