/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstIioCopyQueue against the simulator in the test bed (suite 'vm'):
 * exact ramps captured locally, from the kfifo device and through iiod;
 * samples_consumed and checksum of sim-dac after a drain; cyclic output;
 * flush, timeout and hot-unplug errors. Run through tests/vm/run. */
#include <gst/check/gstcheck.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include "gstiiocopyqueue.h"

#define LOCAL "local:"
#define REMOTE "ip:127.0.0.1"
#define FNV_OFFSET G_GUINT64_CONSTANT (0xcbf29ce484222325)
#define FNV_PRIME G_GUINT64_CONSTANT (0x100000001b3)

static GPid iiod_pid;

static GstIioDevice *
open_dev (const gchar * uri, const gchar * name, GstIioDirection dir,
    const gchar * channels, const gchar * attributes)
{
  GError *err = NULL;
  GstIioDevice *dev = gst_iio_device_open (uri, name, dir, &err);

  fail_unless (dev != NULL, "%s", err ? err->message : "");
  fail_unless (gst_iio_device_select_channels (dev, channels, &err), "%s",
      err ? err->message : "");
  fail_unless (gst_iio_device_write_attributes (dev, attributes, &err),
      "%s", err ? err->message : "");
  return dev;
}

static GstIioQueue *
start_queue (GstIioDevice * dev, guint block, guint blocks, gint timeout_ms,
    gboolean cyclic)
{
  GstIioQueueConfig config = { 0, };
  GError *err = NULL;
  GstIioQueue *queue;

  config.direction = gst_iio_device_get_direction (dev);
  config.block_samples = block;
  config.n_blocks = blocks;
  config.sample_size = gst_iio_device_get_sample_size (dev);
  config.timeout_ms = timeout_ms;
  config.cyclic = cyclic;
  queue = gst_iio_copy_queue_new (dev, &config, &err);
  fail_unless (queue != NULL, "%s", err ? err->message : "");
  fail_unless (gst_iio_queue_start (queue, &err), "%s",
      err ? err->message : "");
  return queue;
}

/* @stat as the stats property shows it. */
static guint64
stat_of (GstIioQueue * queue, GstIioQueueStat stat)
{
  GstStructure *s = gst_iio_queue_get_stats (queue);
  const gchar *name = gst_iio_queue_stat_name (stat);
  guint64 v = 0;

  fail_unless (gst_structure_get_uint64 (s, name, &v), "no stat %s", name);
  fail_unless_equals_string (gst_structure_get_string (s,
          gst_iio_queue_stat_name (GST_IIO_QUEUE_STAT_IO_MODE)), "copy");
  fail_unless_equals_int (gst_iio_queue_get_io_mode (queue),
      GST_IIO_IO_MODE_COPY);
  gst_structure_free (s);
  return v;
}

/* The sim's ramp: channel c at sample n is (n + 1000 c) & 0xffff. */
static void
check_ramp (GstBuffer * buf, const guint * chans, guint n_chans,
    guint64 * next)
{
  GstMapInfo map;
  guint64 n;
  gsize i;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  for (i = 0; i < map.size / (2 * n_chans); i++) {
    n = *next + i;
    for (guint c = 0; c < n_chans; c++) {
      guint16 v = GST_READ_UINT16_LE (map.data + 2 * (i * n_chans + c));
      guint16 want = (guint16) (n + 1000 * chans[c]);

      if (v != want)
        fail ("sample %" G_GUINT64_FORMAT " channel %u: %u, wanted %u", n,
            chans[c], v, want);
    }
  }
  *next += i;
  gst_buffer_unmap (buf, &map);
}

static void
capture_ramp (const gchar * uri, const gchar * name, const gchar * channels,
    const guint * chans, guint n_chans, guint block, guint n_blocks,
    const gchar * attributes)
{
  GstIioDevice *dev = open_dev (uri, name, GST_IIO_DIRECTION_INPUT, channels,
      attributes);
  /* 16 blocks: the DMA buffer's two fileio blocks are 8 of ours each,
   * slack for a loaded TCG guest and for iiod. */
  GstIioQueue *queue = start_queue (dev, block, 16, 5000, FALSE);
  gsize bytes = block * gst_iio_device_get_sample_size (dev);
  guint64 next = 0;
  GError *err = NULL;

  for (guint i = 0; i < n_blocks; i++) {
    GstBuffer *buf = NULL;

    fail_unless_equals_int (gst_iio_queue_capture (queue, &buf, &err),
        GST_FLOW_OK);
    fail_unless_equals_int (gst_buffer_get_size (buf), bytes);
    check_ramp (buf, chans, n_chans, &next);
    gst_buffer_unref (buf);
  }
  fail_unless_equals_int (next, (guint64) block * n_blocks);
  fail_unless_equals_int (stat_of (queue, GST_IIO_QUEUE_STAT_BUFFERS),
      n_blocks);
  fail_unless_equals_int (stat_of (queue, GST_IIO_QUEUE_STAT_BYTES),
      bytes * n_blocks);
  fail_unless_equals_int (stat_of (queue, GST_IIO_QUEUE_STAT_BYTES_COPIED),
      bytes * n_blocks);
  gst_iio_queue_stop (queue);
  gst_object_unref (queue);
  gst_object_unref (dev);
}

GST_START_TEST (test_capture_local)
{
  static const guint all[] = { 0, 1, 2, 3 }, some[] = { 1, 3 };

  /* A rate a loaded TCG guest keeps up with without losing samples. */
  capture_ramp (LOCAL, "sim-adc", NULL, all, 4, 4096, 60,
      "sampling_frequency=50000,waveform=ramp,fault=none");
  capture_ramp (LOCAL, "sim-adc", "voltage3,voltage1", some, 2, 2000, 50,
      "sampling_frequency=50000,waveform=ramp,fault=none");
}

GST_END_TEST;

GST_START_TEST (test_capture_kfifo)
{
  static const guint all[] = { 0, 1 };

  capture_ramp (LOCAL, "sim-kfifo", NULL, all, 2, 1024, 40,
      "sampling_frequency=20000");
}

GST_END_TEST;

GST_START_TEST (test_capture_remote)
{
  static const guint all[] = { 0, 1, 2, 3 };

  capture_ramp (REMOTE, "sim-adc", NULL, all, 4, 4096, 40,
      "sampling_frequency=50000,waveform=ramp,fault=none");
}

GST_END_TEST;

static guint64
fnv1a (guint64 hash, const guint8 * data, gsize size)
{
  for (gsize i = 0; i < size; i++)
    hash = (hash ^ data[i]) * FNV_PRIME;
  return hash;
}

static gchar *
read_attr (GstIioDevice * dev, const gchar * attr)
{
  gchar buf[64];

  fail_unless (iio_device_attr_read (gst_iio_device_get_iio (dev), attr, buf,
          sizeof (buf)) > 0, "reading %s", attr);
  return g_strdup (buf);
}

static guint64
read_attr_u64 (GstIioDevice * dev, const gchar * attr)
{
  gchar *str = read_attr (dev, attr);
  guint64 v = g_ascii_strtoull (str, NULL, 0);

  g_free (str);
  return v;
}

/* Random S16 pairs, rendered in chunks of @chunk samples, then drained:
 * the DAC consumed exactly what was sent, padded to whole blocks with the
 * last sample (gstiiocopyqueue.c). Checked before stop: the drain alone
 * must guarantee it. */
static void
render_and_drain (const gchar * uri, guint block, guint n_samples,
    guint chunk)
{
  GstIioDevice *dev = open_dev (uri, "sim-dac", GST_IIO_DIRECTION_OUTPUT,
      NULL, "sampling_frequency=1000000");
  GstIioQueue *queue = start_queue (dev, block, 4, 5000, FALSE);
  guint padded = (n_samples + block - 1) / block * block;
  guint8 *data = g_malloc (4 * (gsize) padded);
  GRand *rand = g_rand_new_with_seed (n_samples);
  GError *err = NULL;
  gchar *want;

  for (guint i = 0; i < 4 * n_samples; i++)
    data[i] = g_rand_int (rand);
  for (guint i = n_samples; i < padded; i++)
    memcpy (data + 4 * i, data + 4 * (n_samples - 1), 4);

  for (guint pos = 0; pos < n_samples; pos += chunk) {
    guint n = MIN (chunk, n_samples - pos);
    GstBuffer *buf = gst_buffer_new_memdup (data + 4 * pos, 4 * n);

    fail_unless_equals_int (gst_iio_queue_render (queue, buf, &err),
        GST_FLOW_OK);
    gst_buffer_unref (buf);
  }
  fail_unless (gst_iio_queue_drain (queue, &err), "%s",
      err ? err->message : "");

  want = g_strdup_printf ("0x%016" G_GINT64_MODIFIER "x", fnv1a (FNV_OFFSET,
          data, 4 * (gsize) padded));
  fail_unless_equals_int (read_attr_u64 (dev, "samples_consumed"), padded);
  fail_unless_equals_string (read_attr (dev, "checksum"), want);
  fail_unless_equals_int (stat_of (queue, GST_IIO_QUEUE_STAT_BYTES),
      4 * n_samples);
  fail_unless_equals_int (stat_of (queue, GST_IIO_QUEUE_STAT_BYTES_COPIED),
      4 * n_samples);
  gst_iio_queue_stop (queue);
  fail_unless_equals_int (read_attr_u64 (dev, "samples_consumed"), padded);

  g_free (want);
  g_rand_free (rand);
  g_free (data);
  gst_object_unref (queue);
  gst_object_unref (dev);
}

GST_START_TEST (test_render_local)
{
  /* whole blocks, then a partial last block, then odd chunk sizes */
  render_and_drain (LOCAL, 4096, 8 * 4096, 1024);
  render_and_drain (LOCAL, 4096, 10 * 4096 + 1234, 4096);
  render_and_drain (LOCAL, 1000, 20000 + 1, 777);
}

GST_END_TEST;

GST_START_TEST (test_render_remote)
{
  render_and_drain (REMOTE, 4096, 8 * 4096, 1024);
  render_and_drain (REMOTE, 4096, 10 * 4096 + 1234, 3000);
}

GST_END_TEST;

/* The first buffer repeats until stop: sim-dac consumes whole copies. */
static void
render_cyclic (const gchar * uri)
{
  GstIioDevice *dev = open_dev (uri, "sim-dac", GST_IIO_DIRECTION_OUTPUT,
      NULL, "sampling_frequency=1000000");
  GstIioQueue *queue = start_queue (dev, 4096, 4, 5000, TRUE);
  guint8 cycle[4 * 1000], other[4 * 1000] = { 0, };
  GstBuffer *buf;
  GError *err = NULL;
  guint64 consumed, hash = FNV_OFFSET;
  gchar *want;

  for (guint i = 0; i < sizeof (cycle); i++)
    cycle[i] = i * 7 + 3;
  buf = gst_buffer_new_memdup (cycle, sizeof (cycle));
  fail_unless_equals_int (gst_iio_queue_render (queue, buf, &err),
      GST_FLOW_OK);
  gst_buffer_unref (buf);
  /* later buffers do not replace the first */
  buf = gst_buffer_new_memdup (other, sizeof (other));
  fail_unless_equals_int (gst_iio_queue_render (queue, buf, &err),
      GST_FLOW_OK);
  gst_buffer_unref (buf);
  fail_unless (gst_iio_queue_drain (queue, &err));

  for (guint i = 0; i < 2000 && read_attr_u64 (dev, "samples_consumed")
      < 20000; i++)
    g_usleep (10000);
  gst_iio_queue_stop (queue);

  consumed = read_attr_u64 (dev, "samples_consumed");
  fail_unless (consumed >= 20000, "consumed %" G_GUINT64_FORMAT, consumed);
  fail_unless_equals_int (consumed % 1000, 0);
  for (guint64 i = 0; i < consumed / 1000; i++)
    hash = fnv1a (hash, cycle, sizeof (cycle));
  want = g_strdup_printf ("0x%016" G_GINT64_MODIFIER "x", hash);
  fail_unless_equals_string (read_attr (dev, "checksum"), want);
  fail_unless_equals_int (stat_of (queue, GST_IIO_QUEUE_STAT_BUFFERS),
      1);
  g_free (want);
  gst_object_unref (queue);
  gst_object_unref (dev);
}

GST_START_TEST (test_cyclic_local)
{
  render_cyclic (LOCAL);
}

GST_END_TEST;

GST_START_TEST (test_cyclic_remote)
{
  render_cyclic (REMOTE);
}

GST_END_TEST;

static gpointer
flush_later (gpointer queue)
{
  g_usleep (200 * 1000);
  gst_iio_queue_set_flushing (queue, TRUE);
  return NULL;
}

/* A refill that would take seconds returns FLUSHING as soon as
 * set_flushing(TRUE) is called; afterwards capture works again and the
 * first block is DISCONT. */
static void
flush_capture (const gchar * uri)
{
  GstIioDevice *dev = open_dev (uri, "sim-adc", GST_IIO_DIRECTION_INPUT,
      "voltage0", "sampling_frequency=500,fault=none,waveform=ramp");
  GstIioQueue *queue = start_queue (dev, 4096, 4, -1, FALSE);
  GstBuffer *buf = NULL;
  GError *err = NULL;
  GThread *thread;
  static const guint chan0[] = { 0 };
  guint64 next = 0;

  thread = g_thread_new ("flush", flush_later, queue);
  fail_unless_equals_int (gst_iio_queue_capture (queue, &buf, &err),
      GST_FLOW_FLUSHING);
  fail_unless (buf == NULL && err == NULL);
  g_thread_join (thread);
  fail_unless_equals_int (gst_iio_queue_capture (queue, &buf, &err),
      GST_FLOW_FLUSHING);

  gst_iio_queue_set_flushing (queue, FALSE);
  fail_unless (gst_iio_device_write_attributes (dev,
          "sampling_frequency=1000000", NULL));
  fail_unless_equals_int (gst_iio_queue_capture (queue, &buf, &err),
      GST_FLOW_OK);
  fail_unless (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  check_ramp (buf, chan0, 1, &next);
  gst_buffer_unref (buf);
  gst_iio_queue_stop (queue);
  gst_object_unref (queue);
  gst_object_unref (dev);
}

GST_START_TEST (test_flush_local)
{
  flush_capture (LOCAL);
}

GST_END_TEST;

GST_START_TEST (test_flush_remote)
{
  flush_capture (REMOTE);
}

GST_END_TEST;

GST_START_TEST (test_timeout)
{
  GstIioDevice *dev = open_dev (LOCAL, "sim-adc", GST_IIO_DIRECTION_INPUT,
      NULL, "sampling_frequency=1000000,fault=stall");
  GstIioQueue *queue = start_queue (dev, 4096, 4, 300, FALSE);
  GstBuffer *buf = NULL;
  GError *err = NULL;

  fail_unless_equals_int (gst_iio_queue_capture (queue, &buf, &err),
      GST_FLOW_ERROR);
  fail_unless (g_error_matches (err, GST_IIO_ERROR,
          GST_IIO_ERROR_TIMEOUT));
  fail_unless_equals_string (err->message, "Timed out after 300 ms waiting "
      "for a block from sim-adc (iio:device0)");
  g_clear_error (&err);
  gst_iio_queue_stop (queue);
  fail_unless (gst_iio_device_write_attributes (dev, "fault=none", NULL));
  gst_object_unref (queue);
  gst_object_unref (dev);
}

GST_END_TEST;

/* What only a real context can say: attribute values, rejected writes,
 * scan_elements and paths. */
GST_START_TEST (test_device_local)
{
  GstIioDevice *dev = open_dev (LOCAL, "sim-adc", GST_IIO_DIRECTION_INPUT,
      "voltage1,voltage2", "sampling_frequency=250000,fault=none");
  GError *err = NULL;
  guint rate = 0;
  gchar *en;

  fail_unless (gst_iio_device_is_local (dev));
  fail_unless_equals_string (gst_iio_device_get_sysfs_path (dev),
      "/sys/bus/iio/devices/iio:device0");
  fail_unless_equals_string (gst_iio_device_get_dev_path (dev),
      "/dev/iio:device0");
  fail_unless (gst_iio_device_read_rate (dev, &rate));
  fail_unless_equals_int (rate, 250000);

  fail_if (gst_iio_device_write_attributes (dev, "sampling_frequency=fast",
          &err));
  fail_unless_equals_string (err->message, "Could not write \"fast\" to "
      "attribute sampling_frequency of sim-adc (iio:device0): Invalid "
      "argument");
  g_clear_error (&err);

  fail_unless (gst_iio_device_write_scan_elements (dev, &err), "%s",
      err ? err->message : "");
  for (guint c = 0; c < 4; c++) {
    gchar *path = g_strdup_printf ("/sys/bus/iio/devices/iio:device0/"
        "scan_elements/in_voltage%u_en", c);

    fail_unless (g_file_get_contents (path, &en, NULL, NULL));
    fail_unless_equals_string (g_strstrip (en), (c == 1 || c == 2) ? "1" :
        "0");
    g_free (en);
    g_free (path);
  }
  fail_unless (gst_iio_device_write_attributes (dev,
          "sampling_frequency=1000000", NULL));
  gst_object_unref (dev);
}

GST_END_TEST;

static void
write_file (const gchar * path, const gchar * value)
{
  FILE *f = fopen (path, "w");

  fail_unless (f != NULL, "%s: %s", path, g_strerror (errno));
  fputs (value, f);
  fail_unless (fclose (f) == 0, "%s: %s", path, g_strerror (errno));
}

static gpointer
unbind_later (gpointer data)
{
  g_usleep (300 * 1000);
  write_file ("/sys/bus/platform/drivers/iio-sim/unbind", "sim-adc");
  return NULL;
}

/* Hot-unplug while capturing: an error naming the device, no hang. The
 * fileio read() just stops (poll never wakes), so it shows after the
 * timeout. */
GST_START_TEST (test_unplug)
{
  GstIioDevice *dev = open_dev (LOCAL, "sim-adc", GST_IIO_DIRECTION_INPUT,
      NULL, "sampling_frequency=100000,fault=none");
  GstIioQueue *queue = start_queue (dev, 4096, 4, 1000, FALSE);
  GThread *thread = g_thread_new ("unplug", unbind_later, NULL);
  GstFlowReturn ret = GST_FLOW_OK;
  GError *err = NULL;

  for (guint i = 0; ret == GST_FLOW_OK && i < 100000; i++) {
    GstBuffer *buf = NULL;

    ret = gst_iio_queue_capture (queue, &buf, &err);
    gst_clear_buffer (&buf);
  }
  g_thread_join (thread);
  fail_unless_equals_int (ret, GST_FLOW_ERROR);
  fail_unless (g_error_matches (err, GST_IIO_ERROR,
          GST_IIO_ERROR_DEVICE_LOST), "%s", err->message);
  fail_unless_equals_string (err->message, "Device sim-adc (iio:device0) "
      "disappeared (iio_buffer_refill timed out after 1000 ms and "
      "/sys/bus/iio/devices/iio:device0 is gone)");
  g_clear_error (&err);
  gst_iio_queue_stop (queue);
  gst_object_unref (queue);
  gst_object_unref (dev);
  write_file ("/sys/bus/platform/drivers/iio-sim/bind", "sim-adc");
}

GST_END_TEST;

/* iiod serves the local context on 127.0.0.1 for the remote cases. */
static void
start_iiod (void)
{
  gchar *argv[] = { (gchar *) "/usr/sbin/iiod", NULL };
  GError *err = NULL;
  struct iio_context *ctx = NULL;

  /* An unchecked fixture: check's asserts need a running test. */
  if (!g_spawn_async (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
          G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
          NULL, &iiod_pid, &err))
    g_error ("iiod: %s", err->message);
  for (guint i = 0; i < 200 && !ctx; i++) {
    ctx = iio_create_context_from_uri (REMOTE);
    if (!ctx)
      g_usleep (50 * 1000);
  }
  if (!ctx)
    g_error ("iiod did not answer on " REMOTE);
  iio_context_destroy (ctx);
}

static void
stop_iiod (void)
{
  if (iiod_pid) {
    kill (iiod_pid, SIGTERM);
    waitpid (iiod_pid, NULL, 0);
    iiod_pid = 0;
  }
}

static Suite *
iiocopyqueue_vm_suite (void)
{
  Suite *s = suite_create ("iiocopyqueue-vm");
  TCase *local = tcase_create ("local");
  TCase *remote = tcase_create ("remote");
  TCase *unplug = tcase_create ("unplug");

  suite_add_tcase (s, local);
  tcase_set_timeout (local, 120);
  tcase_add_test (local, test_device_local);
  tcase_add_test (local, test_capture_local);
  tcase_add_test (local, test_capture_kfifo);
  tcase_add_test (local, test_render_local);
  tcase_add_test (local, test_cyclic_local);
  tcase_add_test (local, test_flush_local);
  tcase_add_test (local, test_timeout);

  suite_add_tcase (s, remote);
  tcase_set_timeout (remote, 120);
  tcase_add_unchecked_fixture (remote, start_iiod, stop_iiod);
  tcase_add_test (remote, test_capture_remote);
  tcase_add_test (remote, test_render_remote);
  tcase_add_test (remote, test_cyclic_remote);
  tcase_add_test (remote, test_flush_remote);

  /* last: the device is rebound afterwards, but under a new id maybe */
  suite_add_tcase (s, unplug);
  tcase_set_timeout (unplug, 60);
  tcase_add_test (unplug, test_unplug);

  return s;
}

GST_CHECK_MAIN (iiocopyqueue_vm);
