/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iio-capture: captures COUNT buffers from an IIO device through
 * iiosrc ! appsink, says whether they arrive as DMABUF memory (the
 * zero-copy path), prints the first samples of each channel and, at the
 * end, the element's stats.
 *
 *   iio-capture DEVICE COUNT [URI]
 *   iio-capture sim-adc 100                    (the test bed)
 *   iio-capture cf-ad9361-lpc 50 ip:192.168.2.1   (a Pluto, through iiod)
 */
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/allocators/allocators.h>
#include <gst/audio/audio.h>

#include <stdlib.h>

/* Bounds every wait: a stalled device must end the program, not hang it
 * (iiosrc's own timeout posts an error well before). The bus is read
 * between pulls of at most POLL each. */
#define PULL_TIMEOUT (10 * GST_SECOND)
#define POLL (100 * GST_MSECOND)
#define SHOW_SAMPLES 4

typedef struct
{
  guint64 buffers;
  guint64 dmabuf;
  guint64 discont;
  guint64 bytes;
} Counts;

/* One sample of an integer audio format, sign-extended. */
static gint64
read_value (const guint8 * p, const GstAudioFormatInfo * f)
{
  gboolean le = GST_AUDIO_FORMAT_INFO_IS_LITTLE_ENDIAN (f);
  guint64 v;
  gint shift;

  switch (GST_AUDIO_FORMAT_INFO_WIDTH (f)) {
    case 8:
      v = p[0];
      break;
    case 16:
      v = le ? GST_READ_UINT16_LE (p) : GST_READ_UINT16_BE (p);
      break;
    case 24:
      v = le ? GST_READ_UINT24_LE (p) : GST_READ_UINT24_BE (p);
      break;
    default:
      v = le ? GST_READ_UINT32_LE (p) : GST_READ_UINT32_BE (p);
      break;
  }
  /* Only the low `depth` bits are the sample (S24_32 has 24 of 32). */
  shift = 64 - GST_AUDIO_FORMAT_INFO_DEPTH (f);
  if (GST_AUDIO_FORMAT_INFO_IS_SIGNED (f))
    return ((gint64) (v << shift)) >> shift;
  return (gint64) ((v << shift) >> shift);
}

/* audio/x-raw: the first samples as numbers, one line per channel. */
static void
print_audio_samples (const GstAudioInfo * info, const GstMapInfo * map)
{
  guint frames = MIN (SHOW_SAMPLES, map->size / GST_AUDIO_INFO_BPF (info));
  guint c, n;

  for (c = 0; c < (guint) GST_AUDIO_INFO_CHANNELS (info); c++) {
    g_print ("  channel %u:", c);
    for (n = 0; n < frames; n++)
      g_print (" %" G_GINT64_FORMAT, read_value (map->data +
              n * GST_AUDIO_INFO_BPF (info) + c * GST_AUDIO_INFO_BPS (info),
              info->finfo));
    g_print ("\n");
  }
}

/* Prints the caps, the memory type and the first samples. */
static void
describe_first (GstSample * sample, GstBuffer * buffer)
{
  GstCaps *caps = gst_sample_get_caps (sample);
  GstMemory *mem = gst_buffer_peek_memory (buffer, 0);
  GstAudioInfo info;
  GstMapInfo map;
  gchar *str = gst_caps_to_string (caps);
  guint i;

  g_print ("caps: %s\n", str);
  g_free (str);
  if (gst_is_dmabuf_memory (mem))
    g_print ("memory: DMABUF (fd %d): zero copy\n",
        gst_dmabuf_memory_get_fd (mem));
  else
    g_print ("memory: system memory (%s): copy path\n",
        mem->allocator ? mem->allocator->mem_type : "?");

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    g_printerr ("cannot map the first buffer\n");
    return;
  }
  g_print ("first samples:\n");
  if (gst_audio_info_from_caps (&info, caps) &&
      GST_AUDIO_INFO_IS_INTEGER (&info)) {
    print_audio_samples (&info, &map);
  } else {
    /* application/x-iio: the raw bytes of the first sample. */
    g_print ("  bytes:");
    for (i = 0; i < MIN (map.size, 16); i++)
      g_print (" %02x", map.data[i]);
    g_print ("\n");
  }
  gst_buffer_unmap (buffer, &map);
}

static void
count_buffer (Counts * counts, GstBuffer * buffer)
{
  if (gst_is_dmabuf_memory (gst_buffer_peek_memory (buffer, 0)))
    counts->dmabuf++;
  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT))
    counts->discont++;
  counts->bytes += gst_buffer_get_size (buffer);
  counts->buffers++;
}

/* Prints the warnings (overruns) and the first error on the bus; TRUE if
 * there was an error. */
static gboolean
print_bus_messages (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;
  gboolean failed = FALSE;
  GError *err;
  gchar *debug;

  while (!failed && (msg = gst_bus_pop_filtered (bus,
              GST_MESSAGE_WARNING | GST_MESSAGE_ERROR))) {
    failed = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;
    if (failed)
      gst_message_parse_error (msg, &err, &debug);
    else
      gst_message_parse_warning (msg, &err, &debug);
    g_printerr ("%s: %s\n  (%s)\n", failed ? "error" : "warning",
        err->message, debug ? debug : "");
    g_error_free (err);
    g_free (debug);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);

  return failed;
}

/* Pulls until EOS (num-buffers) or an error; FALSE on an error. */
static gboolean
capture (GstElement * pipeline, GstAppSink * sink, Counts * counts)
{
  GstClockTime idle = 0;
  GstSample *sample;
  GstBuffer *buffer;

  for (;;) {
    sample = gst_app_sink_try_pull_sample (sink, POLL);
    if (print_bus_messages (pipeline)) {
      g_clear_pointer (&sample, gst_sample_unref);
      return FALSE;
    }
    if (sample == NULL && gst_app_sink_is_eos (sink))
      return TRUE;
    if (sample == NULL) {
      idle += POLL;
      if (idle < PULL_TIMEOUT)
        continue;
      g_printerr ("error: no buffer within %" GST_TIME_FORMAT "\n",
          GST_TIME_ARGS (PULL_TIMEOUT));
      return FALSE;
    }
    idle = 0;
    buffer = gst_sample_get_buffer (sample);
    if (counts->buffers == 0)
      describe_first (sample, buffer);
    count_buffer (counts, buffer);
    /* Unref at once: a DMABUF block held here is one the device cannot
     * fill. */
    gst_sample_unref (sample);
  }
}

static void
print_stats (GstElement * src, const Counts * counts)
{
  GstStructure *stats = NULL;
  gchar *str;

  g_print ("captured %" G_GUINT64_FORMAT " buffers, %" G_GUINT64_FORMAT
      " bytes: %" G_GUINT64_FORMAT " DMABUF, %" G_GUINT64_FORMAT
      " DISCONT\n", counts->buffers, counts->bytes, counts->dmabuf,
      counts->discont);
  g_object_get (src, "stats", &stats, NULL);
  str = gst_structure_to_string (stats);
  g_print ("stats: %s\n", str);
  g_free (str);
  gst_structure_free (stats);
}

static gint
usage (const gchar * problem)
{
  g_printerr ("%s\nusage: iio-capture DEVICE COUNT [URI]\n"
      "  DEVICE  IIO device id, name or label (e.g. sim-adc)\n"
      "  COUNT   buffers to capture (1 or more)\n"
      "  URI     libiio context, default local: (ip:HOST, usb:...)\n",
      problem);
  return 2;
}

int
main (int argc, char **argv)
{
  GstElement *pipeline, *src, *sink;
  Counts counts = { 0, };
  gboolean ok;
  gchar *end = NULL;
  gint64 count;

  gst_init (&argc, &argv);
  if (argc < 3 || argc > 4)
    return usage ("wrong number of arguments");
  count = g_ascii_strtoll (argv[2], &end, 10);
  if (end == argv[2] || *end != '\0' || count < 1 || count > G_MAXINT)
    return usage ("COUNT must be a whole number from 1 to 2147483647");

  src = gst_element_factory_make ("iiosrc", "src");
  sink = gst_element_factory_make ("appsink", "sink");
  if (!src || !sink) {
    g_printerr ("error: no %s element: is GST_PLUGIN_PATH set to the "
        "gst-iio plugins?\n", src ? "appsink" : "iiosrc");
    return 1;
  }
  g_object_set (src, "device", argv[1], "num-buffers", (gint) count,
      "uri", argc > 3 ? argv[3] : "local:", NULL);
  /* Keep at most 2 buffers queued in the appsink, fewer than the
   * source's blocks (4), and do not wait for the clock. */
  g_object_set (sink, "sync", FALSE, "max-buffers", 2, NULL);

  pipeline = gst_pipeline_new ("capture");
  gst_bin_add_many (GST_BIN (pipeline), src, sink, NULL);
  gst_element_link (src, sink);

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    ok = FALSE;
    if (!print_bus_messages (pipeline))
      g_printerr ("error: the pipeline did not start\n");
  } else {
    ok = capture (pipeline, GST_APP_SINK (sink), &counts);
  }

  gst_element_set_state (pipeline, GST_STATE_NULL);
  /* The stats of the last run stay readable after the stop. */
  if (ok)
    print_stats (src, &counts);
  gst_object_unref (pipeline);

  return ok ? 0 : 1;
}
