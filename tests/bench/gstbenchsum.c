/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* benchsum: a sink that reads every byte of every buffer, the GStreamer
 * counterpart of iio-bareloop's read mode (the sum of the data as 64-bit
 * words), so that the benchmark's "reading consumer" row measures the
 * element and not the consumer's own arithmetic (level works in double
 * per sample). Test-only: built into the build tree, never installed. */
#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

#define GST_TYPE_BENCH_SUM (gst_bench_sum_get_type ())
G_DECLARE_FINAL_TYPE (GstBenchSum, gst_bench_sum, GST, BENCH_SUM, GstBaseSink)
    GST_ELEMENT_REGISTER_DECLARE (benchsum);
     struct _GstBenchSum
     {
       GstBaseSink parent;

       guint64 sum;             /* streaming thread; read under the lock */
       guint64 bytes;
     };

     enum
     {
       PROP_0,
       PROP_SUM,
       PROP_BYTES,
       N_PROPS
     };

     static GParamSpec *properties[N_PROPS];

G_DEFINE_TYPE (GstBenchSum, gst_bench_sum, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (benchsum, "benchsum", GST_RANK_NONE,
    GST_TYPE_BENCH_SUM);

     static GstStaticPadTemplate sink_template =
         GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* As iio-bareloop's sum_bytes(): whole words, then the tail bytes. */
     static guint64 sum_bytes (const guint8 * p, gsize len)
{
  const guint64 *w = (const guint64 *) p;
  guint64 s = 0;
  gsize i;

  for (i = 0; i < len / 8; i++)
    s += w[i];
  for (i = len / 8 * 8; i < len; i++)
    s += p[i];
  return s;
}

static GstFlowReturn
gst_bench_sum_render (GstBaseSink * sink, GstBuffer * buffer)
{
  GstBenchSum *self = GST_BENCH_SUM (sink);
  GstMapInfo map;
  guint64 s;

  /* a DMABUF memory's map is the DMA_BUF_IOCTL_SYNC bracket, as in the
   * bare loop */
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Could not map a buffer"),
        ("gst_buffer_map failed on %" GST_PTR_FORMAT, buffer));
    return GST_FLOW_ERROR;
  }
  s = sum_bytes (map.data, map.size);
  GST_OBJECT_LOCK (self);
  self->sum += s;
  self->bytes += map.size;
  GST_OBJECT_UNLOCK (self);
  gst_buffer_unmap (buffer, &map);

  return GST_FLOW_OK;
}

static gboolean
gst_bench_sum_start (GstBaseSink * sink)
{
  GstBenchSum *self = GST_BENCH_SUM (sink);

  GST_OBJECT_LOCK (self);
  self->sum = self->bytes = 0;
  GST_OBJECT_UNLOCK (self);

  return TRUE;
}

static void
gst_bench_sum_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstBenchSum *self = GST_BENCH_SUM (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SUM:
      g_value_set_uint64 (value, self->sum);
      break;
    case PROP_BYTES:
      g_value_set_uint64 (value, self->bytes);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_bench_sum_class_init (GstBenchSumClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->get_property = gst_bench_sum_get_property;
  properties[PROP_SUM] = g_param_spec_uint64 ("sum", "Sum",
      "The sum of every buffer's data as 64-bit little-endian words (and "
      "tail bytes), as iio-bareloop's read mode computes it", 0,
      G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_BYTES] = g_param_spec_uint64 ("bytes", "Bytes",
      "Bytes read since start", 0, G_MAXUINT64, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (gobject_class, N_PROPS, properties);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Benchmark byte sum sink", "Sink",
      "Reads every byte of every buffer (the benchmark's reading consumer)",
      "gst-iio developers");

  basesink_class->render = GST_DEBUG_FUNCPTR (gst_bench_sum_render);
  basesink_class->start = GST_DEBUG_FUNCPTR (gst_bench_sum_start);
}

static void
gst_bench_sum_init (GstBenchSum * self)
{
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}

static gboolean
plugin_init (GstPlugin * plugin)
{
  return GST_ELEMENT_REGISTER (benchsum, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, benchsum,
    "gst-iio benchmark helpers (test-only)", plugin_init, VERSION,
    GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
