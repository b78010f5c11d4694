/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstIioTransfers with a GstDmabufBlockAllocator attached through it,
 * against the simulator in the test bed (suite 'vm'): a capture in ENQUEUE
 * order with the exact ramp and its re-enqueue hook; a block held across
 * abort_all and close; enqueues after abort_all; abort_all counting what
 * sim-dac never played; ran_dry; cyclic; a timeout that is not sticky and
 * a failed transfer and a refused enqueue that are; two waiters on one
 * transfer; flushing waits in other threads; make_room with one DMABUF twice; a pool waiting while every block is in
 * flight; a kfifo buffer refusing blocks. Run through tests/vm/run. */
/* First: it defines _GNU_SOURCE. */
#include "dmabufcheck.h"
#include <gst/check/gstcheck.h>
#include <gst/allocators/allocators.h>
#include <dirent.h>
#include <errno.h>

#include "gstiiotransfers.h"
#include "gstdmabufexporter.h"

#define LOCAL "local:"
#define FNV_OFFSET G_GUINT64_CONSTANT (0xcbf29ce484222325)
#define FNV_PRIME G_GUINT64_CONSTANT (0x100000001b3)
/* What a wait that must end does within: generous for a loaded TCG guest */
#define DONE_MS 5000
/* How soon a flushed or satisfied waiter in another thread returns */
#define WAKE_MS 2000

/* ---- the bed: device, transfers, blocks ---- */

typedef struct
{
  GstIioDevice *dev;
  GstIioTransfers *xfers;
  GstDmabufExporter *exporter;
  GstDmabufBlockAllocator *alloc;
  gsize block_bytes;
  gboolean has_fault;           /* sim-adc, sim-dac: restored at close */
  gboolean aborted;

  /* the capture's released hook (requeue) */
  GMutex lock;
  guint n_released;
  guint n_requeue_failed;
  GError *requeue_error;
} Bed;

static void
bed_open (Bed * b, const gchar * name, GstIioDirection dir,
    const gchar * channels, const gchar * attributes, guint block_samples,
    guint n_blocks)
{
  GError *err = NULL;

  memset (b, 0, sizeof (*b));
  g_mutex_init (&b->lock);
  b->dev = gst_iio_device_open (LOCAL, name, dir, &err);
  fail_unless (b->dev != NULL, "%s", err ? err->message : "");
  fail_unless (gst_iio_device_select_channels (b->dev, channels, &err) &&
      gst_iio_device_claim (b->dev, &err) &&
      gst_iio_device_write_attributes (b->dev, attributes, &err), "%s",
      err ? err->message : "");
  b->has_fault = !g_str_equal (name, "sim-kfifo");
  b->xfers = gst_iio_transfers_open (b->dev, dir, &err);
  fail_unless (b->xfers != NULL, "%s", err ? err->message : "");
  fail_if (gst_iio_device_buffer_is_enabled (b->dev));
  fail_unless (gst_iio_device_write_scan_elements (b->dev, &err), "%s",
      err ? err->message : "");

  b->exporter = gst_dmabuf_exporter_new (NULL, &err);
  fail_unless (b->exporter != NULL, "%s", err ? err->message : "");
  b->block_bytes = block_samples * gst_iio_device_get_sample_size (b->dev);
  b->alloc = gst_dmabuf_block_allocator_new (b->block_bytes,
      gst_iio_transfers_get_attacher (), b->xfers);
  /* every block attached before the first ENQUEUE (docs/kernel-bugs.md 2) */
  for (guint i = 0; i < n_blocks; i++) {
    gint fd = gst_dmabuf_exporter_alloc (b->exporter, b->block_bytes, &err);

    fail_unless (fd >= 0, "%s", err ? err->message : "");
    fail_unless (gst_dmabuf_block_allocator_add_block (b->alloc, fd, &err),
        "block %u: %s", i, err ? err->message : "");
  }
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_n_blocks (b->alloc),
      n_blocks);
}

static guint
bed_abort (Bed * b, gsize * bytes)
{
  b->aborted = TRUE;
  return gst_iio_transfers_abort_all (b->xfers, bytes);
}

/* The owner's stop order: transfers first, then the blocks, then the
 * buffer (the attacher's target). */
static void
bed_close (Bed * b)
{
  if (!b->aborted)
    bed_abort (b, NULL);
  gst_dmabuf_block_allocator_close (b->alloc);
  gst_object_unref (b->alloc);
  gst_object_unref (b->xfers);
  gst_object_unref (b->exporter);
  if (b->has_fault)
    fail_unless (gst_iio_device_write_attributes (b->dev, "fault=none", NULL));
  gst_clear_object (&b->dev);
  g_clear_error (&b->requeue_error);
  g_mutex_clear (&b->lock);
}

static void
bed_enable (Bed * b)
{
  GError *err = NULL;

  fail_unless (gst_iio_transfers_enable (b->xfers, &err), "%s",
      err ? err->message : "");
  fail_unless (gst_iio_device_buffer_is_enabled (b->dev));
}

static void
bed_write (Bed * b, const gchar * attributes)
{
  GError *err = NULL;

  fail_unless (gst_iio_device_write_attributes (b->dev, attributes, &err),
      "%s", err ? err->message : "");
}

static GstMemory *
bed_acquire (Bed * b)
{
  GstMemory *mem = gst_dmabuf_block_allocator_try_acquire (b->alloc,
      b->block_bytes);

  fail_unless (mem != NULL, "no free block");
  return mem;
}

/* Hands @mem (ours) to the device: the transfer holds it until the device
 * is done, then its release gives it back to the allocator. */
static void
bed_queue (Bed * b, GstMemory * mem, gsize bytes, gboolean cyclic)
{
  GError *err = NULL;

  gst_dmabuf_block_allocator_mark_queued (b->alloc, mem);
  fail_unless (gst_iio_transfers_enqueue (b->xfers,
          gst_dmabuf_memory_get_fd (mem), bytes, cyclic, mem,
          (GDestroyNotify) gst_memory_unref, &err), "%s",
      err ? err->message : "");
}

static void
count_release (gpointer counter)
{
  g_atomic_int_inc ((gint *) counter);
}

/* A transfer of DMABUF @fd whose payload only counts its release. */
static gboolean
enqueue_counted (Bed * b, gint fd, gsize bytes, gint * released, GError ** err)
{
  return gst_iio_transfers_enqueue (b->xfers, fd, bytes, FALSE, released,
      count_release, err);
}

static GstMemory *
bed_pop (Bed * b, GstIioTransferInfo * info)
{
  GError *err = NULL;
  GstMemory *mem;

  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b->xfers, DONE_MS,
          FALSE, &err), GST_FLOW_OK);
  mem = gst_iio_transfers_pop_oldest (b->xfers, info);
  fail_unless (mem != NULL);
  gst_dmabuf_block_allocator_mark_outstanding (b->alloc, mem);
  return mem;
}

static void
bed_retire (Bed * b)
{
  GError *err = NULL;
  GstFlowReturn ret = gst_iio_transfers_retire_oldest (b->xfers, DONE_MS,
      &err);

  fail_unless_equals_int (ret, GST_FLOW_OK);
  fail_unless (err == NULL);
}

static void
check_counts (Bed * b, guint n_free, guint n_queued, guint n_outstanding)
{
  fail_unless_equals_int (gst_dmabuf_block_allocator_count (b->alloc,
          GST_DMABUF_BLOCK_FREE), n_free);
  fail_unless_equals_int (gst_dmabuf_block_allocator_count (b->alloc,
          GST_DMABUF_BLOCK_QUEUED), n_queued);
  fail_unless_equals_int (gst_dmabuf_block_allocator_count (b->alloc,
          GST_DMABUF_BLOCK_OUTSTANDING), n_outstanding);
}

/* The capture's hook: re-enqueue; once that fails (stopped), give the
 * block back. */
static void
requeue (GstDmabufBlockAllocator * alloc, GstMemory * block, gpointer user_data)
{
  Bed *b = user_data;
  GError *err = NULL;
  gboolean ok;

  gst_dmabuf_block_allocator_mark_queued (alloc, block);
  ok = gst_iio_transfers_enqueue (b->xfers, gst_dmabuf_memory_get_fd (block),
      b->block_bytes, FALSE, block, (GDestroyNotify) gst_memory_unref, &err);
  g_mutex_lock (&b->lock);
  b->n_released++;
  if (!ok) {
    b->n_requeue_failed++;
    if (b->requeue_error == NULL)
      b->requeue_error = g_steal_pointer (&err);
  }
  g_mutex_unlock (&b->lock);
  g_clear_error (&err);
  if (!ok)
    gst_dmabuf_block_allocator_put_free (alloc, block);
}

/* ---- data ---- */

static gchar *
read_attr (Bed * b, const gchar * attr)
{
  gchar buf[64];

  fail_unless (iio_device_attr_read (gst_iio_device_get_iio (b->dev), attr,
          buf, sizeof (buf)) > 0, "reading %s", attr);
  return g_strdup (buf);
}

static guint64
read_attr_u64 (Bed * b, const gchar * attr)
{
  gchar *str = read_attr (b, attr);
  guint64 v = g_ascii_strtoull (str, NULL, 0);

  g_free (str);
  return v;
}

/* sim-adc's voltage0 ramp: sample n is (s16) n. */
static void
check_ramp (Bed * b, GstMemory * mem, guint64 start)
{
  GstMapInfo map;

  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  fail_unless_equals_uint64 (map.size, b->block_bytes);
  for (gsize i = 0; i < map.size / 2; i++) {
    guint16 v = GST_READ_UINT16_LE (map.data + 2 * i);

    if (v != (guint16) (start + i)) {
      gchar *overruns = b->dev ? read_attr (b, "overruns") : g_strdup ("?");

      fail ("sample %" G_GUINT64_FORMAT " is %u, expected %u (sim-adc "
          "overruns: %s)", start + i, v, (guint16) (start + i), overruns);
    }
  }
  gst_memory_unmap (mem, &map);
}

/* FNV-1a 64 of the first @bytes of the pattern @seed, on top of @hash. */
static guint64
fnv_pattern (guint64 hash, guint seed, gsize bytes)
{
  for (gsize i = 0; i < bytes; i++)
    hash = (hash ^ check_pattern_byte (i, seed)) * FNV_PRIME;
  return hash;
}

static void
check_consumed (Bed * b, guint64 samples, guint64 hash)
{
  gchar *want = g_strdup_printf ("0x%016" G_GINT64_MODIFIER "x", hash);
  gchar *got = read_attr (b, "checksum");

  fail_unless_equals_uint64 (read_attr_u64 (b, "samples_consumed"), samples);
  fail_unless_equals_string (got, want);
  g_free (got);
  g_free (want);
}

/* ---- other threads ---- */

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean done;
  GThread *thread;
  /* what to run */
  GstIioTransfers *xfers;
  GstDmabufBlockAllocator *alloc;
  gint timeout_ms;
  gboolean wait_for_enqueue;
  /* what it gave */
  GstFlowReturn ret;
  GError *error;
} Waiter;

static gpointer
waiter_main (gpointer data)
{
  Waiter *w = data;
  GError *err = NULL;
  GstFlowReturn ret;

  if (w->xfers)
    ret = gst_iio_transfers_wait_oldest (w->xfers, w->timeout_ms,
        w->wait_for_enqueue, &err);
  else
    ret = gst_dmabuf_block_allocator_wait (w->alloc, g_get_monotonic_time ()
        + w->timeout_ms * G_TIME_SPAN_MILLISECOND);
  g_mutex_lock (&w->lock);
  w->ret = ret;
  w->error = err;
  w->done = TRUE;
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
  return NULL;
}

/* Starts a thread in wait_oldest() (@xfers) or the allocator's wait()
 * (@alloc), with @timeout_ms, and gives it 200 ms to get there. */
static void
start_waiter (Waiter * w, GstIioTransfers * xfers,
    GstDmabufBlockAllocator * alloc, gint timeout_ms, gboolean wait_for_enqueue)
{
  memset (w, 0, sizeof (*w));
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  w->xfers = xfers;
  w->alloc = alloc;
  w->timeout_ms = timeout_ms;
  w->wait_for_enqueue = wait_for_enqueue;
  w->thread = g_thread_new ("waiter", waiter_main, w);
  g_usleep (200 * 1000);
}

/* The waiter's result if it returns within @ms; fails otherwise. */
static GstFlowReturn
join_waiter (Waiter * w, gint ms, GError ** error)
{
  gint64 deadline = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;
  gboolean done;

  g_mutex_lock (&w->lock);
  while (!w->done)
    if (!g_cond_wait_until (&w->cond, &w->lock, deadline))
      break;
  done = w->done;
  g_mutex_unlock (&w->lock);
  fail_unless (done, "the waiting thread did not return within %d ms", ms);
  g_thread_join (w->thread);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  if (error)
    *error = w->error;
  else
    g_clear_error (&w->error);
  return w->ret;
}

static gpointer
unref_memory (gpointer mem)
{
  gst_memory_unref (mem);
  return NULL;
}

/* ---- tests ---- */

/* Capture: four blocks queued before the enable, then each popped in
 * ENQUEUE order as it completes, checked and dropped, which re-enqueues
 * it (the hook): eight blocks of the exact ramp from sample 0. Stop: the
 * four in flight come back through the hook, whose re-enqueue fails. */
GST_START_TEST (test_capture)
{
  GstMemory *mems[4];
  GstIioTransferInfo info;
  gint64 last_signal = 0;
  gsize bytes = 0;
  guint n;
  Bed b;

  /* 205 ms a block, three in flight while one is checked: slack enough
   * for a loaded TCG guest */
  bed_open (&b, "sim-adc", GST_IIO_DIRECTION_INPUT, "voltage0",
      "sampling_frequency=20000,waveform=ramp,fault=none", 4096, 4);
  gst_dmabuf_block_allocator_set_released_func (b.alloc, requeue, &b);

  fail_unless (gst_iio_transfers_pop_oldest (b.xfers, NULL) == NULL);
  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, DONE_MS,
          FALSE, NULL), GST_FLOW_CUSTOM_SUCCESS);
  for (guint i = 0; i < 4; i++) {
    mems[i] = bed_acquire (&b);
    bed_queue (&b, mems[i], b.block_bytes, FALSE);
  }
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 4);
  fail_if (gst_iio_transfers_ran_dry (b.xfers));
  check_counts (&b, 0, 4, 0);
  bed_enable (&b);

  for (guint i = 0; i < 8; i++) {
    GstMemory *mem = bed_pop (&b, &info);

    fail_unless (mem == mems[i % 4], "block %u came out as the %uth",
        gst_dmabuf_block_get_index (mem), i);
    fail_unless_equals_int (info.fd, gst_dmabuf_memory_get_fd (mem));
    fail_unless_equals_uint64 (info.bytes, b.block_bytes);
    fail_unless (info.queue_begin_ns > 0 &&
        info.queue_begin_ns <= info.queue_end_ns);
    fail_unless (info.signal_ns >= info.queue_end_ns, "block %u signalled "
        "at %" G_GINT64_FORMAT " ns, before its ENQUEUE ended at %"
        G_GINT64_FORMAT, i, info.signal_ns, info.queue_end_ns);
    fail_unless (info.signal_ns >= last_signal);
    last_signal = info.signal_ns;
    fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 3);

    check_ramp (&b, mem, (guint64) i * 4096);
    /* downstream drops every other block in a thread of its own: the
     * hook re-enqueues there */
    if (i % 2)
      g_thread_join (g_thread_new ("downstream", unref_memory, mem));
    else
      gst_memory_unref (mem);
    fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 4);
  }
  g_mutex_lock (&b.lock);
  fail_unless_equals_int (b.n_released, 8);
  fail_unless_equals_int (b.n_requeue_failed, 0);
  g_mutex_unlock (&b.lock);
  fail_unless_equals_uint64 (read_attr_u64 (&b, "overruns"), 0);

  n = bed_abort (&b, &bytes);
  fail_unless (n <= 4, "%u transfers aborted", n);
  fail_unless_equals_uint64 (bytes, n * b.block_bytes);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 0);
  g_mutex_lock (&b.lock);
  fail_unless_equals_int (b.n_released, 12);
  fail_unless_equals_int (b.n_requeue_failed, 4);
  fail_unless_equals_string (b.requeue_error->message, "The DMABUF queue of "
      "sim-adc (iio:device0) is stopped");
  g_mutex_unlock (&b.lock);
  check_counts (&b, 4, 0, 0);
  bed_close (&b);
}

GST_END_TEST;

/* A block popped and held (in a buffer, as downstream holds it) while
 * abort_all and close run and the transfers go: it still reads its
 * samples, dropping it afterwards is safe, and every fd is closed then. */
GST_START_TEST (test_release_after_stop)
{
  guint fds0 = check_count_fds ();
  GstBuffer *held;
  gsize bytes = 0;
  guint n;
  Bed b;

  bed_open (&b, "sim-adc", GST_IIO_DIRECTION_INPUT, "voltage0",
      "sampling_frequency=20000,waveform=ramp,fault=none", 4096, 4);
  for (guint i = 0; i < 4; i++)
    bed_queue (&b, bed_acquire (&b), b.block_bytes, FALSE);
  bed_enable (&b);
  held = gst_buffer_new ();
  gst_buffer_append_memory (held, bed_pop (&b, NULL));
  check_counts (&b, 0, 3, 1);

  n = bed_abort (&b, &bytes);
  fail_unless (n <= 3, "%u transfers aborted", n);
  fail_unless_equals_uint64 (bytes, n * b.block_bytes);
  /* no hook: the released payloads went to the free list */
  check_counts (&b, 3, 0, 1);
  fail_if (gst_iio_device_buffer_is_enabled (b.dev));
  bed_close (&b);

  check_ramp (&b, gst_buffer_peek_memory (held, 0), 0);
  gst_buffer_unref (held);
  fail_unless_equals_int (check_count_fds (), fds0);
}

GST_END_TEST;

/* After abort_all: enqueue fails with an error and leaves the payload to
 * the caller, waits are FLUSHING, and a capture's hook that tries to
 * re-enqueue gives the block back instead. */
GST_START_TEST (test_reenqueue_failure)
{
  GstMemory *mem;
  GError *err = NULL;
  gint released = 0;
  Bed b;

  bed_open (&b, "sim-adc", GST_IIO_DIRECTION_INPUT, "voltage0",
      "sampling_frequency=20000,waveform=ramp,fault=none", 4096, 2);
  bed_queue (&b, bed_acquire (&b), b.block_bytes, FALSE);
  bed_queue (&b, bed_acquire (&b), b.block_bytes, FALSE);
  bed_enable (&b);
  mem = bed_pop (&b, NULL);
  bed_abort (&b, NULL);
  check_counts (&b, 1, 0, 1);

  fail_if (enqueue_counted (&b, gst_dmabuf_memory_get_fd (mem),
          b.block_bytes, &released, &err));
  fail_unless (g_error_matches (err, GST_IIO_ERROR, GST_IIO_ERROR_FAILED),
      "%s", err ? err->message : "no error");
  fail_unless_equals_string (err->message, "The DMABUF queue of sim-adc "
      "(iio:device0) is stopped");
  g_clear_error (&err);
  fail_unless_equals_int (released, 0);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 0);
  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, DONE_MS,
          TRUE, &err), GST_FLOW_FLUSHING);
  fail_unless (err == NULL);

  gst_dmabuf_block_allocator_set_released_func (b.alloc, requeue, &b);
  gst_memory_unref (mem);
  g_mutex_lock (&b.lock);
  fail_unless_equals_int (b.n_released, 1);
  fail_unless_equals_int (b.n_requeue_failed, 1);
  g_mutex_unlock (&b.lock);
  check_counts (&b, 2, 0, 0);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 0);
  bed_close (&b);
}

GST_END_TEST;

/* sim-dac at 100 Hz: one sample's transfer completes, three whole blocks
 * (10 s each) do not: abort_all says 3 and their bytes, releases all
 * four, and the DAC consumed exactly the one sample. */
GST_START_TEST (test_abort_counting)
{
  GstMemory *mems[4];
  gsize bytes = 0;
  Bed b;

  bed_open (&b, "sim-dac", GST_IIO_DIRECTION_OUTPUT, NULL,
      "sampling_frequency=100,fault=none", 1024, 4);
  for (guint i = 0; i < 4; i++) {
    mems[i] = bed_acquire (&b);
    check_fill_pattern (mems[i], i);
  }
  bed_queue (&b, mems[0], 4, FALSE);
  for (guint i = 1; i < 4; i++)
    bed_queue (&b, mems[i], b.block_bytes, FALSE);
  bed_enable (&b);
  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, DONE_MS,
          FALSE, NULL), GST_FLOW_OK);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 4);
  fail_if (gst_iio_transfers_ran_dry (b.xfers));

  fail_unless_equals_int (bed_abort (&b, &bytes), 3);
  fail_unless_equals_uint64 (bytes, 3 * b.block_bytes);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 0);
  check_counts (&b, 4, 0, 0);
  check_consumed (&b, 1, fnv_pattern (FNV_OFFSET, 0, 4));
  /* a second stop finds nothing */
  fail_unless_equals_int (gst_iio_transfers_abort_all (b.xfers, &bytes), 0);
  fail_unless_equals_uint64 (bytes, 0);
  bed_close (&b);
}

GST_END_TEST;

/* ran_dry: nothing queued; every transfer completed (still in the FIFO);
 * not right after an enqueue on a slow DAC. */
GST_START_TEST (test_ran_dry)
{
  GstMemory *a, *c;
  gsize bytes = 0;
  Bed b;

  bed_open (&b, "sim-dac", GST_IIO_DIRECTION_OUTPUT, NULL,
      "sampling_frequency=1000,fault=none", 1024, 2);
  fail_unless (gst_iio_transfers_ran_dry (b.xfers));
  a = bed_acquire (&b);
  c = bed_acquire (&b);
  check_fill_pattern (a, 1);
  check_fill_pattern (c, 2);
  bed_queue (&b, a, 4, FALSE);
  bed_enable (&b);
  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, DONE_MS,
          FALSE, NULL), GST_FLOW_OK);
  fail_unless (gst_iio_transfers_ran_dry (b.xfers));
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 1);

  /* a second of samples at 1 kHz */
  bed_queue (&b, c, b.block_bytes, FALSE);
  fail_if (gst_iio_transfers_ran_dry (b.xfers));
  bed_retire (&b);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 1);
  fail_if (gst_iio_transfers_ran_dry (b.xfers));
  check_counts (&b, 1, 1, 0);

  fail_unless_equals_int (bed_abort (&b, &bytes), 1);
  fail_unless_equals_uint64 (bytes, b.block_bytes);
  fail_unless (gst_iio_transfers_ran_dry (b.xfers));
  bed_close (&b);
}

GST_END_TEST;

/* A cyclic transfer never completes: waits see none, it counts as
 * queued; abort_all does not count it as never played (the device played
 * it until then); sim-dac played whole copies of it. */
GST_START_TEST (test_cyclic)
{
  GstMemory *mem;
  gsize bytes = 0;
  guint64 consumed, hash = FNV_OFFSET;
  Bed b;

  bed_open (&b, "sim-dac", GST_IIO_DIRECTION_OUTPUT, NULL,
      "sampling_frequency=100000,fault=none", 1024, 1);
  mem = bed_acquire (&b);
  check_fill_pattern (mem, 7);
  bed_queue (&b, mem, b.block_bytes, TRUE);
  bed_enable (&b);
  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, DONE_MS,
          FALSE, NULL), GST_FLOW_CUSTOM_SUCCESS);
  fail_unless_equals_int (gst_iio_transfers_retire_oldest (b.xfers, DONE_MS,
          NULL), GST_FLOW_CUSTOM_SUCCESS);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 1);

  for (guint i = 0; i < 1000 && read_attr_u64 (&b, "samples_consumed") <
      10 * 1024; i++)
    g_usleep (10 * 1000);
  bytes = 1;
  fail_unless_equals_int (bed_abort (&b, &bytes), 0);
  fail_unless_equals_uint64 (bytes, 0);
  check_counts (&b, 1, 0, 0);

  consumed = read_attr_u64 (&b, "samples_consumed");
  fail_unless (consumed >= 10 * 1024, "consumed %" G_GUINT64_FORMAT, consumed);
  fail_unless_equals_int (consumed % 1024, 0);
  for (guint64 i = 0; i < consumed / 1024; i++)
    hash = fnv_pattern (hash, 7, b.block_bytes);
  check_consumed (&b, consumed, hash);
  bed_close (&b);
}

GST_END_TEST;

static void
check_timeout (GError * err, const gchar * message)
{
  fail_unless (g_error_matches (err, GST_IIO_ERROR, GST_IIO_ERROR_TIMEOUT),
      "%s", err ? err->message : "no error");
  fail_unless_equals_string (err->message, message);
}

/* A stalled DAC: the timeout is an error with its text, every time, but
 * not sticky: enqueues still work, and when the DAC plays again so do
 * waits, and both blocks are played. */
GST_START_TEST (test_timeout_not_sticky)
{
  static const gchar *message = "Timed out after 300 ms waiting for sim-dac "
      "(iio:device1) to consume a block";
  GstMemory *a, *c;
  GError *err = NULL;
  gint64 t0, waited;
  Bed b;

  bed_open (&b, "sim-dac", GST_IIO_DIRECTION_OUTPUT, NULL,
      "sampling_frequency=1000000,fault=stall", 1024, 2);
  a = bed_acquire (&b);
  c = bed_acquire (&b);
  check_fill_pattern (a, 3);
  check_fill_pattern (c, 4);
  bed_queue (&b, a, b.block_bytes, FALSE);
  bed_enable (&b);

  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, 300, FALSE,
          &err), GST_FLOW_ERROR);
  check_timeout (err, message);
  g_clear_error (&err);
  /* it waits again, it does not repeat a stored error */
  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_iio_transfers_retire_oldest (b.xfers, 300,
          &err), GST_FLOW_ERROR);
  waited = (g_get_monotonic_time () - t0) / 1000;
  check_timeout (err, message);
  g_clear_error (&err);
  fail_unless (waited >= 300, "the second timeout came after %"
      G_GINT64_FORMAT " ms", waited);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 1);

  bed_queue (&b, c, b.block_bytes, FALSE);
  bed_write (&b, "fault=none");
  bed_retire (&b);
  bed_retire (&b);
  fail_unless_equals_int (gst_iio_transfers_retire_oldest (b.xfers, DONE_MS,
          NULL), GST_FLOW_CUSTOM_SUCCESS);
  check_counts (&b, 2, 0, 0);
  check_consumed (&b, 2048, fnv_pattern (fnv_pattern (FNV_OFFSET, 3,
              b.block_bytes), 4, b.block_bytes));
  bed_close (&b);
}

GST_END_TEST;

/* Two threads waiting on the oldest transfer at once (a sink's streaming
 * thread and its upstream's, in an allocation): both see it complete;
 * a wait does not retire it. */
GST_START_TEST (test_two_waiters)
{
  GError *err = NULL;
  Waiter w1, w2;
  Bed b;

  bed_open (&b, "sim-dac", GST_IIO_DIRECTION_OUTPUT, NULL,
      "sampling_frequency=1000000,fault=stall", 1024, 1);
  bed_queue (&b, bed_acquire (&b), b.block_bytes, FALSE);
  bed_enable (&b);
  start_waiter (&w1, b.xfers, NULL, 10000, FALSE);
  start_waiter (&w2, b.xfers, NULL, 10000, FALSE);
  bed_write (&b, "fault=none");
  fail_unless_equals_int (join_waiter (&w1, DONE_MS, &err), GST_FLOW_OK);
  fail_unless (err == NULL, "%s", err->message);
  fail_unless_equals_int (join_waiter (&w2, DONE_MS, &err), GST_FLOW_OK);
  fail_unless (err == NULL, "%s", err->message);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 1);
  bed_retire (&b);
  check_counts (&b, 1, 0, 0);
  bed_close (&b);
}

GST_END_TEST;

/* The capture direction's timeout text. */
GST_START_TEST (test_timeout_capture)
{
  GError *err = NULL;
  Bed b;

  bed_open (&b, "sim-adc", GST_IIO_DIRECTION_INPUT, "voltage0",
      "sampling_frequency=1000000,fault=stall", 4096, 1);
  bed_queue (&b, bed_acquire (&b), b.block_bytes, FALSE);
  bed_enable (&b);
  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, 300, FALSE,
          &err), GST_FLOW_ERROR);
  check_timeout (err, "Timed out after 300 ms waiting for a block from "
      "sim-adc (iio:device0)");
  g_clear_error (&err);
  bed_close (&b);
}

GST_END_TEST;

/* fault=error: the first transfer's fence signals -EINTR. wait_oldest
 * reports it once (FAILED, the transfer retired), then the next wait and
 * enqueue fail with a copy of it at once although the DAC works again. */
GST_START_TEST (test_error_sticky)
{
  GstMemory *a, *c, *d;
  GError *failed = NULL, *err = NULL;
  gint released = 0;
  Bed b;

  bed_open (&b, "sim-dac", GST_IIO_DIRECTION_OUTPUT, NULL,
      "sampling_frequency=1000000,fault=error", 1024, 3);
  a = bed_acquire (&b);
  c = bed_acquire (&b);
  d = bed_acquire (&b);
  bed_queue (&b, a, b.block_bytes, FALSE);
  bed_queue (&b, c, b.block_bytes, FALSE);
  bed_enable (&b);

  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, DONE_MS,
          FALSE, &failed), GST_FLOW_ERROR);
  fail_unless (g_error_matches (failed, GST_IIO_ERROR, GST_IIO_ERROR_FAILED),
      "%s", failed ? failed->message : "no error");
  fail_unless_equals_string (failed->message, "Device sim-dac "
      "(iio:device1) aborted a block it was playing (the driver reported a "
      "transfer error)");
  /* the failed transfer was retired, its block given back */
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 1);
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_state (b.alloc, a),
      GST_DMABUF_BLOCK_FREE);

  /* the second block plays fine (fault is none again): the error stays */
  g_usleep (100 * 1000);
  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, DONE_MS,
          FALSE, &err), GST_FLOW_ERROR);
  fail_unless (g_error_matches (err, failed->domain, failed->code));
  fail_unless_equals_string (err->message, failed->message);
  g_clear_error (&err);
  fail_unless_equals_int (gst_iio_transfers_retire_oldest (b.xfers, DONE_MS,
          &err), GST_FLOW_ERROR);
  fail_unless_equals_string (err ? err->message : "", failed->message);
  g_clear_error (&err);

  fail_if (enqueue_counted (&b, gst_dmabuf_memory_get_fd (d), b.block_bytes,
          &released, &err));
  fail_unless (g_error_matches (err, failed->domain, failed->code));
  fail_unless_equals_string (err->message, failed->message);
  g_clear_error (&err);
  fail_unless_equals_int (released, 0);

  gst_memory_unref (d);
  g_error_free (failed);
  bed_close (&b);
}

GST_END_TEST;

/* set_flushing(TRUE) ends a wait in another thread within 2 s, on a
 * stalled transfer and on an empty FIFO (wait_for_enqueue); waits are
 * FLUSHING until FALSE; an enqueue from another thread ends a
 * wait_for_enqueue. */
GST_START_TEST (test_flushing)
{
  GError *err = NULL;
  GstMemory *mem;
  Waiter w;
  Bed b;

  bed_open (&b, "sim-adc", GST_IIO_DIRECTION_INPUT, "voltage0",
      "sampling_frequency=20000,waveform=ramp,fault=stall", 4096, 1);
  bed_queue (&b, bed_acquire (&b), b.block_bytes, FALSE);
  bed_enable (&b);

  start_waiter (&w, b.xfers, NULL, 60000, FALSE);
  gst_iio_transfers_set_flushing (b.xfers, TRUE);
  fail_unless_equals_int (join_waiter (&w, WAKE_MS, &err), GST_FLOW_FLUSHING);
  fail_unless (err == NULL, "%s", err->message);
  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, 60000,
          FALSE, &err), GST_FLOW_FLUSHING);
  fail_unless_equals_int (gst_iio_transfers_retire_oldest (b.xfers, 60000,
          &err), GST_FLOW_FLUSHING);
  fail_unless (err == NULL);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 1);

  gst_iio_transfers_set_flushing (b.xfers, FALSE);
  bed_write (&b, "fault=none");
  mem = bed_pop (&b, NULL);

  /* nothing in flight: a capture whose blocks are all downstream */
  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, 60000,
          FALSE, &err), GST_FLOW_CUSTOM_SUCCESS);
  start_waiter (&w, b.xfers, NULL, 60000, TRUE);
  gst_iio_transfers_set_flushing (b.xfers, TRUE);
  fail_unless_equals_int (join_waiter (&w, WAKE_MS, &err), GST_FLOW_FLUSHING);
  fail_unless (err == NULL, "%s", err->message);
  gst_iio_transfers_set_flushing (b.xfers, FALSE);

  /* the block comes back: the waiter sees it complete (205 ms) */
  start_waiter (&w, b.xfers, NULL, 60000, TRUE);
  bed_queue (&b, mem, b.block_bytes, FALSE);
  fail_unless_equals_int (join_waiter (&w, DONE_MS, &err), GST_FLOW_OK);
  fail_unless (err == NULL, "%s", err->message);
  bed_close (&b);
}

GST_END_TEST;

/* make_room with one DMABUF twice: an import of a DMABUF still in flight
 * (a second ENQUEUE of it would fail with EBUSY: test_enqueue_error_sticky)
 * retires its transfer first; room under @max retires the oldest; the DAC
 * plays each transfer once, in order. */
GST_START_TEST (test_make_room)
{
  gint r[5] = { 0, };
  GstMemory *a, *c;
  GError *err = NULL;
  gint fa, fc;
  guint64 hash = FNV_OFFSET;
  Bed b;

  /* 102 ms a block */
  bed_open (&b, "sim-dac", GST_IIO_DIRECTION_OUTPUT, NULL,
      "sampling_frequency=10000,fault=none", 1024, 2);
  a = bed_acquire (&b);
  c = bed_acquire (&b);
  check_fill_pattern (a, 5);
  check_fill_pattern (c, 6);
  fa = gst_dmabuf_memory_get_fd (a);
  fc = gst_dmabuf_memory_get_fd (c);

  fail_unless (enqueue_counted (&b, fa, b.block_bytes, &r[0], &err), "%s",
      err ? err->message : "");
  bed_enable (&b);
  /* room for 3 more, but DMABUF a is in flight: it is retired */
  fail_unless_equals_int (gst_iio_transfers_make_room (b.xfers, 4, fa, 0,
          DONE_MS, &err), GST_FLOW_OK);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 0);
  fail_unless_equals_int (r[0], 1);

  fail_unless (enqueue_counted (&b, fa, b.block_bytes, &r[1], &err), "%s",
      err ? err->message : "");
  fail_unless (enqueue_counted (&b, fc, b.block_bytes, &r[2], &err), "%s",
      err ? err->message : "");
  /* a is the oldest: retiring it is enough */
  fail_unless_equals_int (gst_iio_transfers_make_room (b.xfers, 4, fa, 0,
          DONE_MS, &err), GST_FLOW_OK);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 1);
  fail_unless (r[1] == 1 && r[2] == 0);
  /* fewer than 1 in flight */
  fail_unless_equals_int (gst_iio_transfers_make_room (b.xfers, 1, fa, 0,
          DONE_MS, &err), GST_FLOW_OK);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 0);
  fail_unless_equals_int (r[2], 1);
  /* nothing to do */
  fail_unless_equals_int (gst_iio_transfers_make_room (b.xfers, 4, fa, 0,
          DONE_MS, &err), GST_FLOW_OK);
  fail_unless (err == NULL);

  /* the same DMABUF again, once more through make_room */
  fail_unless (enqueue_counted (&b, fa, b.block_bytes, &r[3], &err), "%s",
      err ? err->message : "");
  fail_unless_equals_int (gst_iio_transfers_make_room (b.xfers, 4, fa, 0,
          DONE_MS, &err), GST_FLOW_OK);
  fail_unless (enqueue_counted (&b, fa, b.block_bytes, &r[4], &err), "%s",
      err ? err->message : "");
  bed_retire (&b);
  fail_unless (r[3] == 1 && r[4] == 1);

  /* played: a, a, c, a, a */
  hash = fnv_pattern (hash, 5, b.block_bytes);
  hash = fnv_pattern (hash, 5, b.block_bytes);
  hash = fnv_pattern (hash, 6, b.block_bytes);
  hash = fnv_pattern (hash, 5, b.block_bytes);
  hash = fnv_pattern (hash, 5, b.block_bytes);
  check_consumed (&b, 5 * 1024, hash);

  gst_memory_unref (a);
  gst_memory_unref (c);
  bed_close (&b);
}

GST_END_TEST;

/* An enqueue the kernel refuses (a second ENQUEUE of a DMABUF in flight:
 * EBUSY) fails with the ioctl's error, leaves the payload to the caller,
 * and is sticky: the next wait and enqueue fail with a copy at once,
 * although the device plays on. */
GST_START_TEST (test_enqueue_error_sticky)
{
  gint r[3] = { 0, };
  GstMemory *a, *c;
  GError *failed = NULL, *err = NULL;
  Bed b;

  bed_open (&b, "sim-dac", GST_IIO_DIRECTION_OUTPUT, NULL,
      "sampling_frequency=10000,fault=none", 1024, 2);
  a = bed_acquire (&b);
  c = bed_acquire (&b);
  fail_unless (enqueue_counted (&b, gst_dmabuf_memory_get_fd (a),
          b.block_bytes, &r[0], &err), "%s", err ? err->message : "");
  bed_enable (&b);

  fail_if (enqueue_counted (&b, gst_dmabuf_memory_get_fd (a), b.block_bytes,
          &r[1], &failed));
  fail_unless (g_error_matches (failed, GST_IIO_ERROR, GST_IIO_ERROR_FAILED),
      "%s", failed ? failed->message : "no error");
  fail_unless_equals_string (failed->message, "IIO_BUFFER_DMABUF_ENQUEUE_IOCTL "
      "on /dev/iio:device1 failed: Device or resource busy");
  fail_unless_equals_int (r[1], 0);
  fail_unless_equals_int (gst_iio_transfers_get_n_queued (b.xfers), 1);

  /* the first transfer completes (102 ms): the error stays */
  g_usleep (300 * 1000);
  fail_unless_equals_int (gst_iio_transfers_wait_oldest (b.xfers, DONE_MS,
          FALSE, &err), GST_FLOW_ERROR);
  fail_unless (g_error_matches (err, failed->domain, failed->code));
  fail_unless_equals_string (err->message, failed->message);
  g_clear_error (&err);
  fail_if (enqueue_counted (&b, gst_dmabuf_memory_get_fd (c), b.block_bytes,
          &r[2], &err));
  fail_unless_equals_string (err ? err->message : "", failed->message);
  g_clear_error (&err);
  fail_unless_equals_int (r[2], 0);

  fail_unless_equals_int (bed_abort (&b, NULL), 0);
  fail_unless_equals_int (r[0], 1);
  fail_unless_equals_int (r[1] + r[2], 0);
  gst_memory_unref (a);
  gst_memory_unref (c);
  g_error_free (failed);
  bed_close (&b);
}

GST_END_TEST;

/* A pool acquire while every block is in flight: the allocator's wait()
 * in another thread returns OK at once (the blocks are QUEUED: the owner
 * can end a transfer); retiring the oldest frees its block, which
 * try_acquire then gives. */
GST_START_TEST (test_pool_in_flight)
{
  GstMemory *a, *c, *again;
  Waiter w;
  Bed b;

  bed_open (&b, "sim-dac", GST_IIO_DIRECTION_OUTPUT, NULL,
      "sampling_frequency=10000,fault=none", 1024, 2);
  a = bed_acquire (&b);
  c = bed_acquire (&b);
  check_fill_pattern (a, 8);
  check_fill_pattern (c, 9);
  bed_queue (&b, a, b.block_bytes, FALSE);
  bed_queue (&b, c, b.block_bytes, FALSE);
  bed_enable (&b);
  check_counts (&b, 0, 2, 0);
  fail_unless (gst_dmabuf_block_allocator_try_acquire (b.alloc,
          b.block_bytes) == NULL, "a block in flight was handed out");

  start_waiter (&w, NULL, b.alloc, 10000, FALSE);
  fail_unless_equals_int (join_waiter (&w, WAKE_MS, NULL), GST_FLOW_OK);

  bed_retire (&b);
  check_counts (&b, 1, 1, 0);
  again = bed_acquire (&b);
  fail_unless (again == a, "got block %u, not the retired one",
      gst_dmabuf_block_get_index (again));
  bed_retire (&b);
  check_counts (&b, 1, 0, 1);
  check_consumed (&b, 2048, fnv_pattern (fnv_pattern (FNV_OFFSET, 8,
              b.block_bytes), 9, b.block_bytes));

  gst_memory_unref (again);
  check_counts (&b, 2, 0, 0);
  bed_close (&b);
}

GST_END_TEST;

/* sim-kfifo's buffer takes no DMABUF: add_block fails with the reason,
 * adds nothing, leaks no fd. */
GST_START_TEST (test_kfifo_refused)
{
  guint fds0 = check_count_fds ();
  GError *err = NULL;
  gint fd;
  Bed b;

  bed_open (&b, "sim-kfifo", GST_IIO_DIRECTION_INPUT, "voltage0",
      "sampling_frequency=100000", 4096, 0);
  fd = gst_dmabuf_exporter_alloc (b.exporter, b.block_bytes, &err);
  fail_unless (fd >= 0, "%s", err ? err->message : "");
  fail_if (gst_dmabuf_block_allocator_add_block (b.alloc, fd, &err));
  fail_unless (g_error_matches (err, GST_IIO_ERROR,
          GST_IIO_ERROR_UNSUPPORTED), "%s", err ? err->message : "");
  fail_unless_equals_string (err->message, "Cannot attach DMABUFs to "
      "/dev/iio:device2: the device's buffer is not DMA-type (a kfifo "
      "buffer cannot take DMABUFs) (IIO_BUFFER_DMABUF_ATTACH_IOCTL: "
      "Operation not permitted)");
  g_clear_error (&err);
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_n_blocks (b.alloc), 0);
  bed_close (&b);
  fail_unless_equals_int (check_count_fds (), fds0);
}

GST_END_TEST;

static Suite *
iiotransfers_vm_suite (void)
{
  Suite *s = suite_create ("iiotransfers-vm");
  TCase *capture = tcase_create ("capture");
  TCase *output = tcase_create ("output");
  TCase *errors = tcase_create ("errors");

  suite_add_tcase (s, capture);
  tcase_set_timeout (capture, 120);
  tcase_add_test (capture, test_capture);
  tcase_add_test (capture, test_release_after_stop);
  tcase_add_test (capture, test_reenqueue_failure);
  tcase_add_test (capture, test_flushing);

  suite_add_tcase (s, output);
  tcase_set_timeout (output, 120);
  tcase_add_test (output, test_abort_counting);
  tcase_add_test (output, test_ran_dry);
  tcase_add_test (output, test_cyclic);
  tcase_add_test (output, test_make_room);
  tcase_add_test (output, test_pool_in_flight);

  suite_add_tcase (s, errors);
  tcase_set_timeout (errors, 120);
  tcase_add_test (errors, test_timeout_not_sticky);
  tcase_add_test (errors, test_timeout_capture);
  tcase_add_test (errors, test_two_waiters);
  tcase_add_test (errors, test_error_sticky);
  tcase_add_test (errors, test_enqueue_error_sticky);
  tcase_add_test (errors, test_kfifo_refused);

  return s;
}

GST_CHECK_MAIN (iiotransfers_vm);
