/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiocommon.h"
#include "gstiioattributes.h"
#include "gstiiocopyqueue.h"
#include "gstdmabufexporter.h"

#include <stdarg.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_common_debug);
#define GST_CAT_DEFAULT gst_iio_common_debug

/* Added to the automatic timeout on top of two block durations: covers
 * the start of a device and a loaded machine. */
#define AUTO_TIMEOUT_SLACK_MS 2000

static void
ensure_debug_category (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_iio_common_debug, "iiocommon", 0,
        "IIO element setup (device, io-mode, queue)");
    g_once_init_leave (&done, 1);
  }
}

void
gst_iio_common_init (GstIioCommon * self, GstElement * element,
    GstIioDirection direction)
{
  ensure_debug_category ();
  memset (self, 0, sizeof (*self));
  self->element = element;
  self->direction = direction;
  self->uri = g_strdup (GST_IIO_DEFAULT_URI);
  self->buffer_size = GST_IIO_DEFAULT_BUFFER_SIZE;
  self->blocks = GST_IIO_DEFAULT_BLOCKS (direction);
  self->io_mode = GST_IIO_IO_MODE_AUTO;
  self->dma_heap = g_strdup (GST_IIO_DEFAULT_DMA_HEAP);
  self->xflow_check = TRUE;
}

void
gst_iio_common_clear (GstIioCommon * self)
{
  gst_iio_common_stop (self);
  gst_iio_common_close (self);
  g_clear_pointer (&self->uri, g_free);
  g_clear_pointer (&self->device_id, g_free);
  g_clear_pointer (&self->channels, g_free);
  g_clear_pointer (&self->dma_heap, g_free);
  g_clear_pointer (&self->attributes, g_free);
  g_clear_pointer (&self->last_stats, gst_structure_free);
  g_clear_pointer (&self->applied, gst_structure_free);
  g_clear_pointer (&self->fallback_reason, g_free);
}

/* ---- properties ---- */

static GParamSpec *
string_spec (const gchar * name, const gchar * nick, const gchar * blurb,
    const gchar * def)
{
  return g_param_spec_string (name, nick, blurb, def,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
}

static GParamSpec *
uint_spec (const gchar * name, const gchar * nick, const gchar * blurb,
    guint min, guint max, guint def)
{
  return g_param_spec_uint (name, nick, blurb, min, max, def,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
}

static void
init_device_properties (GParamSpec ** properties, gboolean input)
{
  properties[GST_IIO_PROP_URI] = string_spec ("uri", "Context URI",
      "libiio context: local: (this machine), ip:HOST (iiod on a network "
      "board), usb:[BUS.DEV.INTF] or xml:FILE", GST_IIO_DEFAULT_URI);
  properties[GST_IIO_PROP_DEVICE] = string_spec ("device", "Device",
      input ? "IIO device: id (iio:device0), name (e.g. cf-ad9361-lpc) or "
      "label. Default: the only device with input scan channels (an error "
      "lists them when there are several)" :
      "IIO device: id (iio:device0), name (e.g. cf-ad9361-dds-core-lpc) or "
      "label. Default: the only device with output scan channels (an error "
      "lists them when there are several)", NULL);
  properties[GST_IIO_PROP_CHANNELS] = string_spec ("channels", "Channels",
      input ? "Comma-separated input channel ids to capture, e.g. "
      "\"voltage0,voltage1\". Default: every input scan channel except the "
      "timestamp" : "Comma-separated output channel ids to play to, e.g. "
      "\"voltage0,voltage1\". Default: every output scan channel", NULL);
  properties[GST_IIO_PROP_ATTRIBUTES] = g_param_spec_string ("attributes",
      "Attributes", "Attributes written in this order when the device is "
      "opened, and at once when set while streaming (PAUSED and up; an "
      "iio-attribute element message tells what the drivers set and the "
      "sample offset), every item checked first: name=value and "
      "channel.name=value "
      "on this element's device; DEVICE:name=value, "
      "[DEVICE:]in:CHANNEL:name=value, [DEVICE:]out:CHANNEL:name=value, "
      "[DEVICE:]buffer:name=value, [DEVICE:]debug:name=value on any device "
      "of the context (DEVICE: id, name or label), e.g. "
      "\"sampling_frequency=1000000,ad9361-phy:out:altvoltage0:frequency="
      "2400000000\"", NULL,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  properties[GST_IIO_PROP_RATE] = uint_spec ("rate", "Rate",
      "Sample rate in Hz for caps and timestamps; 0 reads the device's "
      "sampling_frequency attribute (an error if it has none)", 0, G_MAXINT, 0);
}

static void
init_queue_properties (GParamSpec ** properties, gboolean input)
{
  properties[GST_IIO_PROP_BUFFER_SIZE] = uint_spec ("buffer-size",
      "Buffer size", input ? "Samples (one value of every channel) per "
      "block; each output GstBuffer is one block" : "Samples (one value of "
      "every channel) per block handed to the device", 1, G_MAXINT,
      GST_IIO_DEFAULT_BUFFER_SIZE);
  properties[GST_IIO_PROP_BLOCKS] = uint_spec ("blocks", "Blocks",
      input ? "Blocks the device fills in turn. Two stay with the kernel; "
      "when downstream holds all the others, blocks are copied out (see "
      "bytes-copied in stats) instead of starving the device. More blocks "
      "let downstream keep buffers zero-copy and ride out longer stalls, "
      "at the cost of memory and maximum latency" :
      "Blocks queued to the device at once: more blocks ride out longer "
      "stalls upstream before the device runs dry, at the cost of memory "
      "and latency", 1, GST_IIO_MAX_BLOCKS,
      input ? GST_IIO_DEFAULT_SRC_BLOCKS : GST_IIO_DEFAULT_SINK_BLOCKS);
  properties[GST_IIO_PROP_IO_MODE] = g_param_spec_enum ("io-mode",
      "I/O mode", "How samples move between the device and GStreamer: "
      "auto, dmabuf (zero-copy) or copy (libiio)", GST_TYPE_IIO_IO_MODE,
      GST_IIO_IO_MODE_AUTO,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[GST_IIO_PROP_DMA_HEAP] = string_spec ("dma-heap", "DMA heap",
      "Where DMABUF blocks are allocated: a heap name in /dev/dma_heap "
      "(system; a CMA heap for devices without scatter-gather DMA), a path "
      "to a heap device, or udmabuf. \"system\" falls back to udmabuf when "
      "there is no system heap", GST_IIO_DEFAULT_DMA_HEAP);
  properties[GST_IIO_PROP_TIMEOUT] = uint_spec ("timeout", "Timeout",
      "Milliseconds one block may take before the element fails with an "
      "error; 0 = automatic (2 block durations + 2 s)", 0, G_MAXINT, 0);
  properties[GST_IIO_PROP_XFLOW_CHECK] = g_param_spec_boolean ("xflow-check",
      "Check the AXI xflow register", input ?
      "Where the device has ADI's AXI status register (0x80000088 through "
      "debugfs direct_reg_access, local or remote), read it after every "
      "block and count its ADC overflow bit (2) in stats hw-overruns, "
      "marking the next buffer DISCONT; FALSE: never touch the register" :
      "Where the device has ADI's AXI status register (0x80000088 through "
      "debugfs direct_reg_access, local or remote), read it after every "
      "block and count its DAC underflow bit (0) in stats hw-underruns; "
      "FALSE: never touch the register", TRUE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
}

#define STATS_BLURB "Counters of the running or last stream: io-mode " \
  "(dmabuf, copy, none), blocks, block-bytes, buffers, bytes, " \
  "bytes-copied (by the CPU), overruns (input: times samples were " \
  "lost), samples-lost (input: how many, as far as the path can tell), " \
  "underruns (output: times the device ran dry), hw-overruns and " \
  "hw-underruns (events of the AXI status register, xflow-check), " \
  "dmabuf-imports, drift-ppm (how much faster than its nominal rate the " \
  "device runs against the clock it is measured on, 0 until known), and " \
  "fallback-reason when io-mode=auto chose copy"

void
gst_iio_common_init_properties (GParamSpec ** properties,
    GstIioDirection direction)
{
  gboolean input = direction == GST_IIO_DIRECTION_INPUT;

  init_device_properties (properties, input);
  init_queue_properties (properties, input);
  properties[GST_IIO_PROP_STATS] = g_param_spec_boxed ("stats",
      "Statistics", input ? STATS_BLURB : STATS_BLURB "; GstBaseSink's "
      "average-rate, dropped and rendered too", GST_TYPE_STRUCTURE,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[GST_IIO_PROP_APPLIED_ATTRIBUTES] =
      g_param_spec_boxed ("applied-attributes", "Applied attributes",
      "The attributes items written at the last open, each field named as "
      "the item (the part before '=') holding the value read back from the "
      "driver after the write (drivers round: it may differ from the value "
      "written); NULL before the first open", GST_TYPE_STRUCTURE,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static void
replace_string (GstIioCommon * self, gchar ** field, const GValue * value,
    gboolean reopen)
{
  g_free (*field);
  *field = g_value_dup_string (value);
  if (reopen)
    self->reopen = TRUE;
}

static void apply_live (GstIioCommon * self, GstIioDevice * device,
    const gchar * attributes);
static GstIioQueue *ref_queue (GstIioCommon * self);

gboolean
gst_iio_common_set_property (GstIioCommon * self, guint prop_id,
    const GValue * value)
{
  gboolean handled = TRUE;
  GstIioDevice *live = NULL;
  gchar *attributes = NULL;

  GST_OBJECT_LOCK (self->element);
  switch (prop_id) {
    case GST_IIO_PROP_URI:
      replace_string (self, &self->uri, value, TRUE);
      break;
    case GST_IIO_PROP_DEVICE:
      replace_string (self, &self->device_id, value, TRUE);
      break;
    case GST_IIO_PROP_CHANNELS:
      replace_string (self, &self->channels, value, TRUE);
      break;
    case GST_IIO_PROP_ATTRIBUTES:
      /* Streaming (PAUSED and up): written now, a retune, and the device
       * keeps them (no reopen). Otherwise at the next open, which also
       * reads the rate again (READY re-opens at start). */
      replace_string (self, &self->attributes, value, self->queue == NULL);
      if (self->queue && self->device) {
        live = gst_object_ref (self->device);
        attributes = g_strdup (self->attributes);
      }
      break;
    case GST_IIO_PROP_DMA_HEAP:
      replace_string (self, &self->dma_heap, value, FALSE);
      break;
    case GST_IIO_PROP_BUFFER_SIZE:
      self->buffer_size = g_value_get_uint (value);
      break;
    case GST_IIO_PROP_BLOCKS:
      self->blocks = g_value_get_uint (value);
      break;
    case GST_IIO_PROP_IO_MODE:
      self->io_mode = g_value_get_enum (value);
      break;
    case GST_IIO_PROP_TIMEOUT:
      self->timeout = g_value_get_uint (value);
      break;
    case GST_IIO_PROP_RATE:
      self->rate_prop = g_value_get_uint (value);
      self->reopen = TRUE;
      break;
    case GST_IIO_PROP_XFLOW_CHECK:
      self->xflow_check = g_value_get_boolean (value);
      break;
    default:
      handled = FALSE;
      break;
  }
  GST_OBJECT_UNLOCK (self->element);

  /* Outside the object lock, in the caller's thread: the streaming
   * thread never waits for it. */
  if (live) {
    apply_live (self, live, attributes);
    gst_object_unref (live);
    g_free (attributes);
  }

  return handled;
}

static gboolean
get_string_or_uint (GstIioCommon * self, guint prop_id, GValue * value)
{
  switch (prop_id) {
    case GST_IIO_PROP_URI:
      g_value_set_string (value, self->uri);
      break;
    case GST_IIO_PROP_DEVICE:
      g_value_set_string (value, self->device_id);
      break;
    case GST_IIO_PROP_CHANNELS:
      g_value_set_string (value, self->channels);
      break;
    case GST_IIO_PROP_ATTRIBUTES:
      g_value_set_string (value, self->attributes);
      break;
    case GST_IIO_PROP_DMA_HEAP:
      g_value_set_string (value, self->dma_heap);
      break;
    case GST_IIO_PROP_BUFFER_SIZE:
      g_value_set_uint (value, self->buffer_size);
      break;
    case GST_IIO_PROP_BLOCKS:
      g_value_set_uint (value, self->blocks);
      break;
    case GST_IIO_PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout);
      break;
    case GST_IIO_PROP_RATE:
      g_value_set_uint (value, self->rate_prop);
      break;
    case GST_IIO_PROP_XFLOW_CHECK:
      g_value_set_boolean (value, self->xflow_check);
      break;
    default:
      return FALSE;
  }

  return TRUE;
}

gboolean
gst_iio_common_get_property (GstIioCommon * self, guint prop_id, GValue * value)
{
  gboolean handled = TRUE;

  if (prop_id == GST_IIO_PROP_STATS) {
    /* Not under the object lock: the queue takes its own. */
    g_value_take_boxed (value, gst_iio_common_get_stats (self));
    return TRUE;
  }

  GST_OBJECT_LOCK (self->element);
  if (prop_id == GST_IIO_PROP_IO_MODE)
    g_value_set_enum (value, self->io_mode);
  else if (prop_id == GST_IIO_PROP_APPLIED_ATTRIBUTES)
    g_value_set_boxed (value, self->applied);
  else
    handled = get_string_or_uint (self, prop_id, value);
  GST_OBJECT_UNLOCK (self->element);

  return handled;
}

/* ---- errors ---- */

static gint
resource_code_for (GstIioCommon * self, gint queue_code)
{
  gboolean input = self->direction == GST_IIO_DIRECTION_INPUT;

  switch (queue_code) {
    case GST_IIO_ERROR_UNSUPPORTED:
      return GST_RESOURCE_ERROR_SETTINGS;
    case GST_IIO_ERROR_TIMEOUT:
    case GST_IIO_ERROR_DEVICE_LOST:
    case GST_IIO_ERROR_FAILED:
    default:
      return input ? GST_RESOURCE_ERROR_READ : GST_RESOURCE_ERROR_WRITE;
  }
}

static gboolean
is_gst_error_domain (GQuark domain)
{
  return domain == GST_CORE_ERROR || domain == GST_LIBRARY_ERROR ||
      domain == GST_RESOURCE_ERROR || domain == GST_STREAM_ERROR;
}

void
gst_iio_common_post_error_full (GstIioCommon * self, const GError * error,
    const gchar * file, const gchar * function, gint line,
    const gchar * debug_fmt, ...)
{
  GQuark domain = GST_RESOURCE_ERROR;
  gint code = GST_RESOURCE_ERROR_FAILED;
  gchar *debug = NULL;
  va_list args;

  if (error->domain == GST_IIO_ERROR) {
    code = resource_code_for (self, error->code);
  } else if (is_gst_error_domain (error->domain)) {
    domain = error->domain;
    code = error->code;
  }
  if (debug_fmt) {
    va_start (args, debug_fmt);
    /* gst_info_ knows GST_PTR_FORMAT; g_strdup_vprintf would print "%pA" */
    debug = gst_info_strdup_vprintf (debug_fmt, args);
    va_end (args);
  }
  GST_WARNING_OBJECT (self->element, "error: %s (%s)", error->message,
      GST_STR_NULL (debug));
  gst_element_message_full (self->element, GST_MESSAGE_ERROR, domain, code,
      g_strdup (error->message), debug, file, function, line);
}

/* GNU indent breaks the functions after an attribute it cannot parse. */
/* *INDENT-OFF* */
static void
post_settings_error (GstIioCommon * self, const gchar * debug,
    const gchar * format, ...) G_GNUC_PRINTF (3, 4);
/* *INDENT-ON* */

static void
post_settings_error (GstIioCommon * self, const gchar * debug,
    const gchar * format, ...)
{
  GError *error;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, format, args);
  va_end (args);
  gst_iio_common_post_error (self, error, "%s", debug);
  g_error_free (error);
}

GstClockTime
gst_iio_common_samples_to_time (guint64 samples, guint rate)
{
  if (rate == 0)
    return GST_CLOCK_TIME_NONE;
  return gst_util_uint64_scale (samples, GST_SECOND, rate);
}

/* ---- attributes while open ---- */

/* The OFFSET of the next buffer, as far as the queue's counters tell:
 * samples handed over so far (plus, for input, the samples lost); 0
 * before streaming. */
static guint64
next_offset (GstIioCommon * self, GstIioDevice * device)
{
  GstIioQueue *queue = ref_queue (self);
  gsize sample = gst_iio_device_get_sample_size (device);
  guint64 offset = 0;

  if (!queue)
    return 0;
  if (sample > 0)
    offset = gst_iio_queue_get_stat (queue, GST_IIO_QUEUE_STAT_BYTES) / sample;
  if (self->direction == GST_IIO_DIRECTION_INPUT)
    offset += gst_iio_queue_get_stat (queue, GST_IIO_QUEUE_STAT_SAMPLES_LOST);
  gst_object_unref (queue);
  return offset;
}

static gboolean
merge_field (GQuark field, const GValue * value, gpointer user_data)
{
  gst_structure_id_set_value (user_data, field, value);
  return TRUE;
}

/* A new attributes value while the device is open: written at once. A
 * mistake is a warning, not an error: the stream goes on with the values
 * the devices had (nothing is written when an item does not resolve). */
static void
apply_live (GstIioCommon * self, GstIioDevice * device,
    const gchar * attributes)
{
  GstStructure *applied = NULL, *s;
  GError *error = NULL;
  /* Taken before the write: every buffer before this offset was complete
   * before the new values reached the driver, so the first buffer that
   * can have them is at or after it (how far after depends on the blocks
   * the device already filled). */
  guint64 offset = next_offset (self, device);

  if (!gst_iio_attributes_write (device, attributes, &applied, &error)) {
    GST_ELEMENT_WARNING (self->element, RESOURCE, SETTINGS, ("%s",
            error->message), ("attributes=%s set while open; the devices "
            "keep their previous values from the failed item on", attributes));
    g_error_free (error);
    return;
  }
  GST_INFO_OBJECT (self->element, "attributes %s written at offset %"
      G_GUINT64_FORMAT ": %" GST_PTR_FORMAT, attributes, offset, applied);

  GST_OBJECT_LOCK (self->element);
  if (self->applied)
    gst_structure_foreach (applied, merge_field, self->applied);
  else
    self->applied = gst_structure_copy (applied);
  GST_OBJECT_UNLOCK (self->element);

  s = gst_structure_new ("iio-attribute", "attributes", G_TYPE_STRING,
      attributes, "applied", GST_TYPE_STRUCTURE, applied, "offset",
      G_TYPE_UINT64, offset, NULL);
  gst_structure_free (applied);
  gst_element_post_message (self->element,
      gst_message_new_element (GST_OBJECT (self->element), s));
}

/* ---- NULL <-> READY ---- */

static gboolean
determine_rate (GstIioCommon * self, GstIioDevice * device, guint rate_prop,
    guint * rate)
{
  if (rate_prop > 0) {
    *rate = rate_prop;
    return TRUE;
  }
  if (gst_iio_device_read_rate (device, rate) && *rate > 0)
    return TRUE;

  post_settings_error (self, "rate=0 and no sampling_frequency attribute",
      "IIO device %s has no sampling_frequency attribute: set the rate "
      "property to its sample rate in Hz",
      gst_iio_device_get_display_name (device));
  return FALSE;
}

/* Opens, selects channels, writes attributes; posts the error itself. */
static GstIioDevice *
open_device (GstIioCommon * self, const gchar * uri, const gchar * device_id,
    const gchar * channels, const gchar * attributes, GstStructure ** applied)
{
  GstIioDevice *device;
  GError *error = NULL;
  const gchar *step = "gst_iio_device_open";

  device = gst_iio_device_open (uri, device_id, self->direction, &error);
  if (device == NULL)
    goto failed;
  /* Before anything is written: a device another program streams from is
   * refused untouched (its sampling_frequency is not ours to change). */
  step = "gst_iio_device_claim";
  if (!gst_iio_device_claim (device, &error))
    goto failed;
  step = "gst_iio_device_select_channels";
  if (!gst_iio_device_select_channels (device, channels, &error))
    goto failed;
  step = "gst_iio_attributes_write";
  if (!gst_iio_attributes_write (device, attributes, applied, &error))
    goto failed;

  return device;

failed:
  gst_iio_common_post_error (self, error, "%s (uri=%s, device=%s, "
      "channels=%s, attributes=%s)", step, GST_STR_NULL (uri),
      GST_STR_NULL (device_id), GST_STR_NULL (channels),
      GST_STR_NULL (attributes));
  g_error_free (error);
  gst_clear_object (&device);
  return NULL;
}

gboolean
gst_iio_common_open (GstIioCommon * self)
{
  gchar *uri, *device_id, *channels, *attributes;
  GstIioDevice *device;
  GstCaps *caps = NULL;
  GstStructure *applied = NULL;
  guint rate_prop, rate = 0;

  GST_OBJECT_LOCK (self->element);
  uri = g_strdup (self->uri);
  device_id = g_strdup (self->device_id);
  channels = g_strdup (self->channels);
  attributes = g_strdup (self->attributes);
  rate_prop = self->rate_prop;
  self->reopen = FALSE;
  GST_OBJECT_UNLOCK (self->element);

  device = open_device (self, uri, device_id, channels, attributes, &applied);
  if (device && !determine_rate (self, device, rate_prop, &rate))
    gst_clear_object (&device);
  if (device) {
    caps = gst_iio_device_get_caps (device, rate);
    GST_INFO_OBJECT (self->element, "opened %s at %u Hz, caps %"
        GST_PTR_FORMAT, gst_iio_device_get_display_name (device), rate, caps);
  }

  GST_OBJECT_LOCK (self->element);
  self->device = device;
  self->rate = rate;
  self->device_caps = caps;
  g_clear_pointer (&self->applied, gst_structure_free);
  self->applied = applied;
  GST_OBJECT_UNLOCK (self->element);

  g_free (uri);
  g_free (device_id);
  g_free (channels);
  g_free (attributes);

  return device != NULL;
}

void
gst_iio_common_close (GstIioCommon * self)
{
  GstIioDevice *device;
  GstCaps *caps;

  GST_OBJECT_LOCK (self->element);
  device = g_steal_pointer (&self->device);
  caps = g_steal_pointer (&self->device_caps);
  self->rate = 0;
  GST_OBJECT_UNLOCK (self->element);

  /* Buffers downstream may keep a queue, and with it the device, alive
   * past NULL: the device is free for others from now on all the same. */
  if (device)
    gst_iio_device_release (device);
  gst_clear_object (&device);
  gst_clear_caps (&caps);
}

/* The running queue, referenced under the lock so that it can be called
 * without it (the queue may wait); NULL when stopped. */
static GstIioQueue *
ref_queue (GstIioCommon * self)
{
  GstIioQueue *queue = NULL;

  GST_OBJECT_LOCK (self->element);
  if (self->queue)
    queue = gst_object_ref (self->queue);
  GST_OBJECT_UNLOCK (self->element);

  return queue;
}

void
gst_iio_common_set_flushing (GstIioCommon * self, gboolean flushing)
{
  GstIioQueue *queue = ref_queue (self);

  if (queue) {
    gst_iio_queue_set_flushing (queue, flushing);
    gst_object_unref (queue);
  }
}

void
gst_iio_common_discard (GstIioCommon * self)
{
  GstIioQueue *queue = ref_queue (self);

  if (queue) {
    gst_iio_queue_discard (queue);
    gst_object_unref (queue);
  }
}

GstCaps *
gst_iio_common_get_device_caps (GstIioCommon * self)
{
  GstCaps *caps = NULL;

  GST_OBJECT_LOCK (self->element);
  if (self->device_caps)
    caps = gst_caps_ref (self->device_caps);
  GST_OBJECT_UNLOCK (self->element);

  return caps;
}

gboolean
gst_iio_common_set_caps (GstIioCommon * self, GstCaps * caps)
{
  GError *error = NULL;

  /* The streaming thread alone uses the device between start and stop. */
  if (self->device == NULL) {
    GST_WARNING_OBJECT (self->element, "caps before the device was opened");
    return FALSE;
  }
  if (!gst_iio_device_check_caps (self->device, caps, &error)) {
    gst_iio_common_post_error (self, error, "caps %" GST_PTR_FORMAT, caps);
    g_error_free (error);
    return FALSE;
  }
  GST_INFO_OBJECT (self->element, "negotiated %" GST_PTR_FORMAT, caps);

  return TRUE;
}

/* ---- READY <-> PAUSED ---- */

static gint
compute_timeout_ms (guint timeout, guint block_samples, guint rate)
{
  guint64 ms;

  if (timeout > 0)
    return (gint) MIN (timeout, (guint) G_MAXINT);

  ms = gst_util_uint64_scale_ceil (2 * (guint64) block_samples, 1000, rate);
  return (gint) MIN (ms + AUTO_TIMEOUT_SLACK_MS, (guint64) G_MAXINT);
}

/* Fills @config from the properties; FALSE (error posted) when a block
 * would not fit the kernel's and GStreamer's size types. */
static gboolean
build_config (GstIioCommon * self, gboolean cyclic,
    GstIioQueueConfig * config, gchar ** dma_heap, GstIioIoMode * io_mode)
{
  gsize sample_size = gst_iio_device_get_sample_size (self->device);
  guint timeout;

  memset (config, 0, sizeof (*config));
  GST_OBJECT_LOCK (self->element);
  config->block_samples = self->buffer_size;
  config->n_blocks = self->blocks;
  timeout = self->timeout;
  *dma_heap = g_strdup (self->dma_heap);
  *io_mode = self->io_mode;
  GST_OBJECT_UNLOCK (self->element);

  config->direction = self->direction;
  config->sample_size = sample_size;
  config->rate = self->rate;
  config->cyclic = cyclic;
  config->dma_heap = *dma_heap;
  config->timeout_ms = compute_timeout_ms (timeout, config->block_samples,
      self->rate);

  if (sample_size == 0 ||
      (guint64) config->block_samples * sample_size > (guint64) G_MAXINT) {
    post_settings_error (self, "buffer-size x sample size > G_MAXINT",
        "buffer-size=%u is too large: blocks of %u samples x %" G_GSIZE_FORMAT
        " bytes exceed 2 GiB; the largest is %" G_GSIZE_FORMAT " samples",
        config->block_samples, config->block_samples, sample_size,
        sample_size ? (gsize) G_MAXINT / sample_size : 0);
    return FALSE;
  }

  return TRUE;
}

static GstIioQueue *
new_and_start (GstIioQueueNewFunc queue_new, GstIioDevice * device,
    const GstIioQueueConfig * config, GError ** error)
{
  GstIioQueue *queue = queue_new (device, config, error);

  if (queue && !gst_iio_queue_start (queue, error))
    gst_clear_object (&queue);

  return queue;
}

static GstIioQueue *
start_dmabuf (GstIioCommon * self, const GstIioQueueConfig * config,
    GstIioQueueNewFunc dmabuf_new, GError ** error)
{
  if (!gst_iio_device_is_local (self->device)) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
        "the context is not local: DMABUFs work only on the machine that "
        "has the device (uri=local:)");
    return NULL;
  }
  if (dmabuf_new == NULL) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
        "this element has no DMABUF path");
    return NULL;
  }

  return new_and_start (dmabuf_new, self->device, config, error);
}

static void
post_start_error (GstIioCommon * self, GError * error,
    GstIioIoMode io_mode, const GstIioQueueConfig * config)
{
  if (io_mode == GST_IIO_IO_MODE_DMABUF &&
      g_error_matches (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED))
    g_prefix_error (&error, "io-mode=dmabuf is not possible with %s: ",
        gst_iio_device_get_display_name (self->device));

  gst_iio_common_post_error (self, error, "starting the %s queue "
      "(buffer-size=%u, blocks=%u, sample size %" G_GSIZE_FORMAT ", "
      "dma-heap=%s, timeout %d ms)", io_mode == GST_IIO_IO_MODE_COPY ?
      "copy" : "DMABUF", config->block_samples, config->n_blocks,
      config->sample_size, GST_STR_NULL (config->dma_heap), config->timeout_ms);
  g_error_free (error);
}

static GstIioQueue *
choose_and_start_queue (GstIioCommon * self, GstIioIoMode io_mode,
    const GstIioQueueConfig * config, GstIioQueueNewFunc dmabuf_new)
{
  GstIioQueue *queue;
  GError *error = NULL;

  if (io_mode != GST_IIO_IO_MODE_COPY) {
    queue = start_dmabuf (self, config, dmabuf_new, &error);
    if (queue)
      return queue;
    if (io_mode == GST_IIO_IO_MODE_DMABUF || !g_error_matches (error,
            GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED)) {
      post_start_error (self, error, io_mode, config);
      return NULL;
    }
    GST_INFO_OBJECT (self->element, "io-mode=auto: using copy, DMABUF is "
        "not possible: %s", error->message);
    GST_OBJECT_LOCK (self->element);
    g_free (self->fallback_reason);
    self->fallback_reason = g_strdup (error->message);
    GST_OBJECT_UNLOCK (self->element);
    g_clear_error (&error);
  }

  queue = new_and_start (gst_iio_copy_queue_new, self->device, config, &error);
  if (queue == NULL)
    post_start_error (self, error, GST_IIO_IO_MODE_COPY, config);

  return queue;
}

/* A heap the user named must exist in every io-mode (docs/iiosrc.md):
 * otherwise a typo passes unnoticed with io-mode=copy, or with auto on a
 * device that falls back to copy, and only fails on the next board. Only
 * a missing heap is refused here; one that cannot be opened is the
 * DMABUF path's to report, and of no concern to the copy path. */
static gboolean
check_dma_heap (GstIioCommon * self, const gchar * heap)
{
  GstDmabufExporter *exporter;
  GError *error = NULL;

  if (heap == NULL || heap[0] == '\0' ||
      g_str_equal (heap, GST_DMABUF_EXPORTER_DEFAULT_HEAP))
    return TRUE;

  exporter = gst_dmabuf_exporter_new (heap, &error);
  if (exporter) {
    gst_object_unref (exporter);
    return TRUE;
  }
  if (!g_error_matches (error, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_FOUND)) {
    GST_INFO_OBJECT (self->element, "dma-heap=%s: %s", heap, error->message);
    g_error_free (error);
    return TRUE;
  }
  gst_iio_common_post_error (self, error, "dma-heap=%s (checked in every "
      "io-mode)", heap);
  g_error_free (error);

  return FALSE;
}

gboolean
gst_iio_common_start (GstIioCommon * self, GstIioQueueNewFunc dmabuf_new,
    gboolean cyclic)
{
  GstIioQueueConfig config;
  GstIioIoMode io_mode;
  GstIioQueue *queue = NULL;
  gchar *dma_heap = NULL;
  gboolean reopen, xflow_check;

  GST_OBJECT_LOCK (self->element);
  reopen = self->device == NULL || self->reopen;
  xflow_check = self->xflow_check;
  g_clear_pointer (&self->fallback_reason, g_free);
  GST_OBJECT_UNLOCK (self->element);

  if (reopen) {
    gst_iio_common_close (self);
    if (!gst_iio_common_open (self))
      return FALSE;
  }

  /* Before the buffer is enabled: a bit left set by an earlier stream
   * is cleared, not counted. */
  g_clear_pointer (&self->xflow, gst_iio_xflow_free);
  self->xflow_next_bytes = 0;
  if (xflow_check)
    self->xflow = gst_iio_xflow_probe (self->device);
  GST_INFO_OBJECT (self->element, "xflow-check=%s: %s",
      xflow_check ? "true" : "false", self->xflow ? "reading the AXI status "
      "register after every block" : "no AXI status register in use");

  if (build_config (self, cyclic, &config, &dma_heap, &io_mode) &&
      check_dma_heap (self, dma_heap))
    queue = choose_and_start_queue (self, io_mode, &config, dmabuf_new);
  g_free (dma_heap);
  if (queue == NULL) {
    g_clear_pointer (&self->xflow, gst_iio_xflow_free);
    return FALSE;
  }

  GST_INFO_OBJECT (self->element, "started %" GST_PTR_FORMAT, queue);
  GST_OBJECT_LOCK (self->element);
  self->queue = queue;
  g_clear_pointer (&self->last_stats, gst_structure_free);
  GST_OBJECT_UNLOCK (self->element);

  return TRUE;
}

static GstStructure *
queue_stats (GstIioQueue * queue, const gchar * fallback_reason)
{
  GstStructure *s = gst_iio_queue_get_stats (queue);

  if (fallback_reason)
    gst_structure_set (s,
        gst_iio_queue_stat_name (GST_IIO_QUEUE_STAT_FALLBACK_REASON),
        G_TYPE_STRING, fallback_reason, NULL);

  return s;
}

void
gst_iio_common_stop (GstIioCommon * self)
{
  GstIioQueue *queue = self->queue;
  GstStructure *stats;

  g_clear_pointer (&self->xflow, gst_iio_xflow_free);
  if (queue == NULL)
    return;

  /* Stays published while it stops, so stats keep counting. The state
   * thread is the only writer of fallback_reason. */
  gst_iio_queue_stop (queue);
  stats = queue_stats (queue, self->fallback_reason);

  GST_OBJECT_LOCK (self->element);
  self->queue = NULL;
  if (self->last_stats)
    gst_structure_free (self->last_stats);
  self->last_stats = stats;
  GST_OBJECT_UNLOCK (self->element);

  /* Buffers downstream still holds keep their own references. */
  gst_object_unref (queue);
}

gboolean
gst_iio_common_check_xflow (GstIioCommon * self, guint64 offset)
{
  gboolean input = self->direction == GST_IIO_DIRECTION_INPUT;
  GstIioQueueStat stat = input ? GST_IIO_QUEUE_STAT_HW_OVERRUNS :
      GST_IIO_QUEUE_STAT_HW_UNDERRUNS;
  GstIioXflowState state;
  GstStructure *s;
  guint64 events;

  if (self->xflow == NULL)
    return FALSE;
  if (!input) {
    guint64 bytes = gst_iio_queue_get_stat (self->queue,
        GST_IIO_QUEUE_STAT_BYTES);

    if (bytes < self->xflow_next_bytes)
      return FALSE;
    self->xflow_next_bytes = bytes +
        gst_iio_queue_get_block_bytes (self->queue);
  }
  state = gst_iio_xflow_poll (self->xflow);
  if (state == GST_IIO_XFLOW_CLEAR)
    return FALSE;

  gst_iio_queue_add_stat (self->queue, stat, 1);
  events = gst_iio_queue_get_stat (self->queue, stat);
  /* Every event: applications that track the timeline learn which
   * buffer it marked (a message only when the bit was set). */
  s = gst_structure_new ("iio-xflow", "events", G_TYPE_UINT64, events,
      "register", G_TYPE_UINT, GST_IIO_XFLOW_REG,
      "bit", G_TYPE_UINT, gst_iio_xflow_get_bit (self->xflow), NULL);
  if (offset != GST_BUFFER_OFFSET_NONE)
    gst_structure_set (s, "offset", G_TYPE_UINT64, offset, NULL);
  gst_element_post_message (self->element,
      gst_message_new_element (GST_OBJECT (self->element), s));
  if (state != GST_IIO_XFLOW_BURST)
    return TRUE;

  /* One warning a burst: blocks that find the bit set again and again
   * count each, but say nothing new. */
  if (input)
    GST_ELEMENT_WARNING (self->element, RESOURCE, READ,
        ("Hardware overflow: %s dropped samples because the pipeline did "
            "not keep up (AXI status register 0x%08x, bit 2; %"
            G_GUINT64_FORMAT " so far)",
            gst_iio_device_get_display_name (self->device),
            GST_IIO_XFLOW_REG, events),
        ("the ADC's FIFO overflowed since the last block; the next buffer "
            "is DISCONT; consider more blocks or a larger buffer-size"));
  else
    GST_ELEMENT_WARNING (self->element, RESOURCE, WRITE,
        ("Hardware underflow: %s ran out of samples because upstream did "
            "not keep up (AXI status register 0x%08x, bit 0; %"
            G_GUINT64_FORMAT " so far)",
            gst_iio_device_get_display_name (self->device),
            GST_IIO_XFLOW_REG, events),
        ("the DAC's FIFO ran dry since the last block; consider more "
            "blocks or a larger buffer-size"));

  return TRUE;
}

GstStructure *
gst_iio_common_get_stats (GstIioCommon * self)
{
  GstIioQueue *queue = NULL;
  GstStructure *stats = NULL;
  gchar *reason;

  GST_OBJECT_LOCK (self->element);
  if (self->queue)
    queue = gst_object_ref (self->queue);
  else if (self->last_stats)
    stats = gst_structure_copy (self->last_stats);
  reason = g_strdup (self->fallback_reason);
  GST_OBJECT_UNLOCK (self->element);

  if (queue) {
    stats = queue_stats (queue, reason);
    gst_object_unref (queue);
  }
  g_free (reason);

  return stats ? stats : gst_iio_queue_get_empty_stats ();
}
