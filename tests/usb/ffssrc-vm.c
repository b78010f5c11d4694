/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ffssrc on the test bed's USB gadget (suite 'vm'): this program owns
 * the function (ep0, tests/vm/usb/gadget) and is the USB host (libusb,
 * writing the bulk OUT endpoint 0x02), and runs pipelines from
 * ffssrc endpoint=/dev/ffs-gstiio/ep2:
 *   data      ffssrc ! fakesink: the host writes 1200 blocks of 16 KiB,
 *             block k being pattern (k); every byte of every buffer is
 *             checked in fakesink's handoff, each buffer is one DMABUF
 *             memory of 16 KiB; stats: transfers 1200, bytes, bytes-copied
 *             0, dmabuf-imports = blocks (8), timeouts 0
 *   dac       ffssrc caps=audio/x-raw,S16LE,2 ch,1 MHz ! iiosink
 *             device=sim-dac: 300 blocks; after EOS the DAC's
 *             samples_consumed and checksum (FNV-1a 64) are exactly those
 *             of the bytes sent, iiosink copied nothing and imported the
 *             DMABUFs
 *   short     the host sends 10000 bytes (a short packet): the error
 *             names the short transfer, no buffer of stale bytes
 *   timeout   the host writes nothing: timeout=300 fails with an error
 *             naming the endpoint and 300 ms (timeouts 1), NULL at once
 *   unlock    the host writes nothing, timeout=0: NULL comes at once
 *   flush     flush-start/stop while the source waits: the 20 blocks
 *             written after arrive exact, in order
 *   errors    a missing endpoint, the IN endpoint, a bad blocksize,
 *             transfers > blocks: each error names the cause
 *   pause     PLAYING-PAUSED-PLAYING while the host writes 40 blocks:
 *             all arrive exact, in order
 *   cycles    200 NULL-PLAYING-NULL cycles (the host writing nothing):
 *             fd count the same after the first and the last
 *   super     at super speed (1024-byte packets): data again, and a
 *             blocksize of 1.5 packets refused
 *   no-sg     Debian's stock dummy_hcd (no scatter-gather): the error
 *             names the cause
 * Each case is bounded (bus waits, libusb timeouts, state changes in a
 * thread joined within 10 s). Exit status 0, 1 on the first failure. */

#include "ffscheck.h"

#include <gst/gst.h>
#include <gst/allocators/allocators.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/utsname.h>

#define EP2 FFS_DIR "/ep2"
#define BLOCK 16384
#define DATA_BLOCKS 1200
#define DAC_BLOCKS 300
#define DAC_CAPS "audio/x-raw,format=S16LE,channels=2,rate=1000000," \
  "layout=interleaved,channel-mask=(bitmask)0"

static Peer peer;

/* ---- the host side: a writer thread ---- */

typedef struct
{
  guint blocks;                 /* block k is pattern (k) */
  guint sent;
  gchar *problem;
  volatile gint stop;
} Writer;

static void *
writer_run (void *data)
{
  Writer *w = data;
  uint8_t *buf = g_malloc (BLOCK);

  while (w->sent < w->blocks && !g_atomic_int_get (&w->stop)) {
    size_t done = 0;

    pattern (buf, BLOCK, w->sent);
    /* short libusb timeouts to see stop; a timed-out transfer may have
     * moved whole packets, the rest follows */
    while (done < BLOCK && !g_atomic_int_get (&w->stop)) {
      int actual = 0;
      int e = libusb_bulk_transfer (peer.usb, EP_OUT_ADDR, buf + done,
          (int) (BLOCK - done), &actual, 500);

      done += (size_t) actual;
      if (e != 0 && e != LIBUSB_ERROR_TIMEOUT) {
        w->problem = g_strdup_printf ("libusb write: %s",
            libusb_error_name (e));
        goto out;
      }
    }
    if (done == BLOCK)
      w->sent++;
  }
out:
  g_free (buf);
  return NULL;
}

/* ---- pipelines ---- */

typedef struct
{
  GstElement *pipeline;
  GstStateChangeReturn ret;
  gboolean done;
  GMutex lock;
  GCond cond;
} StateJob;

static void *
state_run (void *data)
{
  StateJob *j = data;
  GstStateChangeReturn ret = gst_element_set_state (j->pipeline,
      GST_STATE_NULL);

  g_mutex_lock (&j->lock);
  j->ret = ret;
  j->done = TRUE;
  g_cond_signal (&j->cond);
  g_mutex_unlock (&j->lock);
  return NULL;
}

/* NULL within 10 s, or fail: a wait that unlock cannot break hangs here. */
static void
to_null_bounded (GstElement * pipeline, const char *what)
{
  StateJob j = {.pipeline = pipeline };
  gint64 end = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  pthread_t t;

  g_mutex_init (&j.lock);
  g_cond_init (&j.cond);
  CHECK (pthread_create (&t, NULL, state_run, &j) == 0, "pthread_create");
  g_mutex_lock (&j.lock);
  while (!j.done)
    if (!g_cond_wait_until (&j.cond, &j.lock, end))
      break;
  g_mutex_unlock (&j.lock);
  CHECK (j.done, "%s: the pipeline did not reach NULL within 10 s", what);
  pthread_join (t, NULL);
  CHECK (j.ret == GST_STATE_CHANGE_SUCCESS, "%s: NULL returned %d", what,
      j.ret);
  g_mutex_clear (&j.lock);
  g_cond_clear (&j.cond);
}

static GstElement *
launch (const char *desc)
{
  GError *error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);

  CHECK (p != NULL && error == NULL, "gst_parse_launch '%s': %s", desc,
      error ? error->message : "?");
  return p;
}

/* Plays to EOS or an error (within 120 s); the message, for the caller. */
static GstMessage *
play (GstElement * p)
{
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m;

  gst_element_set_state (p, GST_STATE_PLAYING);
  m = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  CHECK (m != NULL, "neither EOS nor an error within 120 s");
  return m;
}

static void
expect_eos (GstMessage * m, const char *what)
{
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    GError *e = NULL;
    gchar *dbg = NULL;

    gst_message_parse_error (m, &e, &dbg);
    fail (__LINE__, "%s: error from %s: %s (%s)", what,
        GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), e->message, dbg);
  }
  gst_message_unref (m);
}

/* The error message of @m, which must be an error from element "src"
 * containing every one of the NULL-terminated strings. */
static gchar *
expect_error (GstMessage * m, const char *what, ...)
{
  GError *e = NULL;
  gchar *dbg = NULL, *msg;
  const char *want;
  va_list ap;

  CHECK (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR, "%s: %s, not an error",
      what, GST_MESSAGE_TYPE_NAME (m));
  gst_message_parse_error (m, &e, &dbg);
  CHECK (strcmp (GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), "src") == 0,
      "%s: the error came from %s: %s", what,
      GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), e->message);
  va_start (ap, what);
  while ((want = va_arg (ap, const char *)) != NULL)
      CHECK (strstr (e->message, want) != NULL, "%s: error '%s' lacks '%s'",
        what, e->message, want);
  va_end (ap);
  msg = g_strdup (e->message);
  g_error_free (e);
  g_free (dbg);
  gst_message_unref (m);
  return msg;
}

static guint64
stat_u64 (GstElement * p, const char *element, const char *field)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (p), element);
  GstStructure *s = NULL;
  guint64 v = 0;

  CHECK (e != NULL, "no element %s", element);
  g_object_get (e, "stats", &s, NULL);
  CHECK (s != NULL, "%s has no stats", element);
  if (!gst_structure_get_uint64 (s, field, &v)) {
    guint u = 0;

    CHECK (gst_structure_get_uint (s, field, &u), "%s stats have no %s: %s",
        element, field, gst_structure_to_string (s));
    v = u;
  }
  gst_structure_free (s);
  gst_object_unref (e);
  return v;
}

/* ---- data: every byte checked at fakesink ---- */

typedef struct
{
  volatile guint buffers;
  gchar *problem;
  uint8_t *want;
} Checker;

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer data)
{
  Checker *c = data;
  GstMemory *mem;
  GstMapInfo map;

  if (c->problem)
    return;
  if (gst_buffer_n_memory (buf) != 1) {
    c->problem = g_strdup_printf ("buffer %u has %u memories", c->buffers,
        gst_buffer_n_memory (buf));
    return;
  }
  mem = gst_buffer_peek_memory (buf, 0);
  if (!gst_is_dmabuf_memory (mem)) {
    c->problem = g_strdup_printf ("buffer %u is not DMABUF memory (%s)",
        c->buffers, mem->allocator ? mem->allocator->mem_type : "?");
    return;
  }
  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    c->problem = g_strdup_printf ("buffer %u: map failed", c->buffers);
    return;
  }
  pattern (c->want, BLOCK, c->buffers);
  if (map.size != BLOCK)
    c->problem = g_strdup_printf ("buffer %u has %zu bytes, not %d",
        c->buffers, map.size, BLOCK);
  else
    for (size_t i = 0; i < BLOCK; i++)
      if (map.data[i] != c->want[i]) {
        c->problem = g_strdup_printf ("buffer %u, byte %zu is 0x%02x, not "
            "0x%02x", c->buffers, i, map.data[i], c->want[i]);
        break;
      }
  gst_buffer_unmap (buf, &map);
  g_atomic_int_inc (&c->buffers);
}

static void
run_data (const char *what)
{
  gchar *desc = g_strdup_printf ("ffssrc name=src endpoint=" EP2
      " blocksize=%d num-buffers=%d ! fakesink name=sink signal-handoffs=true",
      BLOCK, DATA_BLOCKS);
  GstElement *p = launch (desc);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  Writer w = {.blocks = DATA_BLOCKS };
  Checker c = {.want = g_malloc (BLOCK) };
  gint64 t0;
  double secs;
  pthread_t t;

  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), &c);
  CHECK (pthread_create (&t, NULL, writer_run, &w) == 0, "pthread_create");
  t0 = g_get_monotonic_time ();
  expect_eos (play (p), what);
  /* a figure for the log, never asserted (the machine is shared) */
  secs = (g_get_monotonic_time () - t0) / 1e6;
  pthread_join (t, NULL);
  CHECK (w.problem == NULL, "%s: %s", what, w.problem);
  CHECK (c.problem == NULL, "%s: %s", what, c.problem);
  CHECK (c.buffers == DATA_BLOCKS, "%s: %u buffers, not %d", what,
      c.buffers, DATA_BLOCKS);
  CHECK (stat_u64 (p, "src", "transfers") == DATA_BLOCKS, "%s: transfers %"
      G_GUINT64_FORMAT, what, stat_u64 (p, "src", "transfers"));
  CHECK (stat_u64 (p, "src", "bytes") == (guint64) DATA_BLOCKS * BLOCK,
      "%s: bytes %" G_GUINT64_FORMAT, what, stat_u64 (p, "src", "bytes"));
  CHECK (stat_u64 (p, "src", "bytes-copied") == 0, "%s: bytes-copied", what);
  CHECK (stat_u64 (p, "src", "dmabuf-imports") == 8, "%s: dmabuf-imports %"
      G_GUINT64_FORMAT ", not 8 (blocks)", what, stat_u64 (p, "src",
          "dmabuf-imports"));
  CHECK (stat_u64 (p, "src", "timeouts") == 0, "%s: timeouts", what);
  printf ("%s: %d blocks of %d bytes, every byte exact, DMABUF memory, "
      "bytes-copied=0 dmabuf-imports=8 (%.1f MB/s with the byte checks)\n",
      what, DATA_BLOCKS, BLOCK, DATA_BLOCKS * (double) BLOCK / secs / 1e6);
  to_null_bounded (p, what);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (c.want);
  g_free (desc);
}

/* ---- dac: into iiosink, the DAC's checksum ---- */

static gchar *
iio_dir (const char *name)
{
  GDir *d = g_dir_open ("/sys/bus/iio/devices", 0, NULL);
  const gchar *e;
  gchar *found = NULL;

  CHECK (d != NULL, "no /sys/bus/iio/devices");
  while (!found && (e = g_dir_read_name (d)) != NULL) {
    gchar *path = g_strdup_printf ("/sys/bus/iio/devices/%s/name", e);
    gchar *n = NULL;

    if (g_file_get_contents (path, &n, NULL, NULL)
        && strcmp (g_strstrip (n), name) == 0)
      found = g_strdup_printf ("/sys/bus/iio/devices/%s", e);
    g_free (n);
    g_free (path);
  }
  g_dir_close (d);
  CHECK (found != NULL, "no IIO device %s", name);
  return found;
}

static gchar *
read_attr (const char *dir, const char *attr)
{
  gchar *path = g_build_filename (dir, attr, NULL), *v = NULL;

  CHECK (g_file_get_contents (path, &v, NULL, NULL), "cannot read %s", path);
  g_free (path);
  return g_strstrip (v);
}

static void
write_attr (const char *dir, const char *attr, const char *value)
{
  gchar *path = g_build_filename (dir, attr, NULL);
  FILE *f = fopen (path, "w");

  CHECK (f != NULL && fputs (value, f) >= 0 && fclose (f) == 0,
      "cannot write %s", path);
  g_free (path);
}

static void
run_dac (void)
{
  gchar *dac = iio_dir ("sim-dac");
  gchar *desc = g_strdup_printf ("ffssrc name=src endpoint=" EP2
      " blocksize=%d num-buffers=%d caps=\"" DAC_CAPS "\" ! iiosink "
      "name=sink device=sim-dac", BLOCK, DAC_BLOCKS);
  GstElement *p;
  Writer w = {.blocks = DAC_BLOCKS };
  uint8_t *buf = g_malloc (BLOCK);
  guint64 h = 0xcbf29ce484222325ull, consumed, checksum;
  gchar *v;
  pthread_t t;

  write_attr (dac, "fault", "none");
  write_attr (dac, "sampling_frequency", "1000000");
  for (guint k = 0; k < DAC_BLOCKS; k++) {
    pattern (buf, BLOCK, k);
    for (size_t i = 0; i < BLOCK; i++)
      h = (h ^ buf[i]) * 0x100000001b3ull;
  }
  p = launch (desc);
  CHECK (pthread_create (&t, NULL, writer_run, &w) == 0, "pthread_create");
  expect_eos (play (p), "dac");
  pthread_join (t, NULL);
  CHECK (w.problem == NULL, "dac: %s", w.problem);
  CHECK (stat_u64 (p, "sink", "bytes-copied") == 0, "dac: iiosink copied %"
      G_GUINT64_FORMAT " bytes", stat_u64 (p, "sink", "bytes-copied"));
  CHECK (stat_u64 (p, "sink", "dmabuf-imports") >= 1, "dac: iiosink "
      "imported no DMABUF");
  CHECK (stat_u64 (p, "src", "transfers") == DAC_BLOCKS, "dac: transfers");
  to_null_bounded (p, "dac");
  v = read_attr (dac, "samples_consumed");
  consumed = g_ascii_strtoull (v, NULL, 10);
  g_free (v);
  v = read_attr (dac, "checksum");
  checksum = g_ascii_strtoull (v, NULL, 16);
  g_free (v);
  CHECK (consumed == (guint64) DAC_BLOCKS * BLOCK / 4, "dac: the DAC "
      "played %" G_GUINT64_FORMAT " samples, %d were sent", consumed,
      DAC_BLOCKS * BLOCK / 4);
  CHECK (checksum == h, "dac: DAC checksum 0x%016" G_GINT64_MODIFIER "x, the "
      "bytes sent 0x%016" G_GINT64_MODIFIER "x", checksum, h);
  printf ("dac: %d blocks, samples_consumed=%" G_GUINT64_FORMAT
      " checksum=0x%016" G_GINT64_MODIFIER "x exact, iiosink bytes-copied=0 "
      "dmabuf-imports=%" G_GUINT64_FORMAT "\n", DAC_BLOCKS, consumed,
      checksum, stat_u64 (p, "sink", "dmabuf-imports"));
  gst_object_unref (p);
  g_free (buf);
  g_free (desc);
  g_free (dac);
}

/* ---- faults ---- */

static void
run_short (void)
{
  GstElement *p = launch ("ffssrc name=src endpoint=" EP2 " blocksize=16384 "
      "transfers=1 blocks=2 ! fakesink");
  uint8_t *buf = g_malloc (10000);
  gchar *msg;

  pattern (buf, 10000, 99);
  gst_element_set_state (p, GST_STATE_PLAYING);
  /* 10000 is no multiple of 512: its last packet is short */
  host_bulk_exact (peer.usb, EP_OUT_ADDR, buf, 10000, "short");
  msg = expect_error (play (p), "short", "shorter than blocksize",
      "16384 bytes", EP2, NULL);
  printf ("short: \"%s\"\n", msg);
  g_free (msg);
  to_null_bounded (p, "short");
  gst_object_unref (p);
  g_free (buf);
}

static void
run_timeout (void)
{
  GstElement *p = launch ("ffssrc name=src timeout=300 endpoint=" EP2
      " ! fakesink async=false");
  gchar *msg = expect_error (play (p), "timeout", EP2, "300 ms", NULL);

  CHECK (stat_u64 (p, "src", "timeouts") == 1, "timeout: timeouts %"
      G_GUINT64_FORMAT, stat_u64 (p, "src", "timeouts"));
  printf ("timeout: \"%s\"\n", msg);
  g_free (msg);
  to_null_bounded (p, "timeout");
  gst_object_unref (p);
}

/* PLAYING reached (within 10 s), the source waiting on the host. */
static void
to_playing (GstElement * p, const char *what)
{
  GstState st = GST_STATE_NULL;
  GstStateChangeReturn ret;

  gst_element_set_state (p, GST_STATE_PLAYING);
  ret = gst_element_get_state (p, &st, NULL, 10 * GST_SECOND);
  CHECK ((ret == GST_STATE_CHANGE_SUCCESS || ret == GST_STATE_CHANGE_NO_PREROLL)
      && st == GST_STATE_PLAYING, "%s: not PLAYING within 10 s (%d)", what,
      ret);
}

static void
run_unlock (void)
{
  GstElement *p = launch ("ffssrc name=src timeout=0 endpoint=" EP2
      " ! fakesink async=false");
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m;

  to_playing (p, "unlock");
  /* a while in the wait: an error would come now */
  m = gst_bus_timed_pop_filtered (bus, 500 * GST_MSECOND,
      GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  CHECK (m == NULL, "unlock: %s while the host wrote nothing",
      GST_MESSAGE_TYPE_NAME (m));
  to_null_bounded (p, "unlock");
  CHECK (stat_u64 (p, "src", "timeouts") == 0, "unlock: a timeout");
  gst_object_unref (bus);
  gst_object_unref (p);
  printf ("unlock: NULL from a wait without timeout\n");
}

/* flush-start/flush-stop while the source waits for the host: the
 * transfers stay queued, and every block after arrives exact, in order */
static void
run_flush (void)
{
  GstElement *p = launch ("ffssrc name=src timeout=0 endpoint=" EP2
      " blocksize=16384 ! fakesink name=sink async=false "
      "signal-handoffs=true");
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstBus *bus = gst_element_get_bus (p);
  Writer w = {.blocks = 20 };
  Checker c = {.want = g_malloc (BLOCK) };
  GstMessage *m;
  pthread_t t;

  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), &c);
  to_playing (p, "flush");
  m = gst_bus_timed_pop_filtered (bus, 300 * GST_MSECOND,
      GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  CHECK (m == NULL, "flush: %s while the host wrote nothing",
      GST_MESSAGE_TYPE_NAME (m));
  CHECK (gst_element_send_event (src, gst_event_new_flush_start ()),
      "flush: flush-start refused");
  CHECK (gst_element_send_event (src, gst_event_new_flush_stop (TRUE)),
      "flush: flush-stop refused");
  CHECK (pthread_create (&t, NULL, writer_run, &w) == 0, "pthread_create");
  /* no num-buffers: GstBaseSrc counts the create() the flush interrupted */
  for (int i = 0; g_atomic_int_get (&c.buffers) < 20; i++) {
    CHECK (i < 12000, "flush: %u of 20 buffers within 120 s", c.buffers);
    m = gst_bus_timed_pop_filtered (bus, 10 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    if (m)
      expect_eos (m, "flush");
    CHECK (m == NULL, "flush: EOS");
  }
  pthread_join (t, NULL);
  CHECK (w.problem == NULL, "flush: %s", w.problem);
  CHECK (c.problem == NULL, "flush: %s", c.problem);
  CHECK (c.buffers == 20, "flush: %u buffers, not 20", c.buffers);
  printf ("flush: 20 blocks exact after a flush\n");
  to_null_bounded (p, "flush");
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (p);
  g_free (c.want);
}

/* PLAYING-PAUSED-PLAYING while the host writes: a live source produces
 * nothing in PAUSED, and after it nothing is lost or repeated */
static void
run_pause (void)
{
  GstElement *p = launch ("ffssrc name=src endpoint=" EP2
      " blocksize=16384 ! fakesink name=sink async=false "
      "signal-handoffs=true");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstBus *bus = gst_element_get_bus (p);
  Writer w = {.blocks = 40 };
  Checker c = {.want = g_malloc (BLOCK) };
  GstMessage *m;
  GstState st;
  pthread_t t;

  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), &c);
  to_playing (p, "pause");
  CHECK (pthread_create (&t, NULL, writer_run, &w) == 0, "pthread_create");
  for (int i = 0; g_atomic_int_get (&c.buffers) < 10; i++) {
    CHECK (i < 12000, "pause: %u of 10 buffers within 120 s", c.buffers);
    m = gst_bus_timed_pop_filtered (bus, 10 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    if (m)
      expect_eos (m, "pause");
    CHECK (m == NULL, "pause: EOS");
  }
  gst_element_set_state (p, GST_STATE_PAUSED);
  CHECK (gst_element_get_state (p, &st, NULL, 10 * GST_SECOND) !=
      GST_STATE_CHANGE_FAILURE && st == GST_STATE_PAUSED,
      "pause: not PAUSED within 10 s");
  to_playing (p, "pause");
  for (int i = 0; g_atomic_int_get (&c.buffers) < 40; i++) {
    CHECK (i < 12000, "pause: %u of 40 buffers within 120 s", c.buffers);
    m = gst_bus_timed_pop_filtered (bus, 10 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    if (m)
      expect_eos (m, "pause");
    CHECK (m == NULL, "pause: EOS");
  }
  pthread_join (t, NULL);
  CHECK (w.problem == NULL, "pause: %s", w.problem);
  CHECK (c.problem == NULL, "pause: %s", c.problem);
  printf ("pause: 40 blocks exact across PLAYING-PAUSED-PLAYING\n");
  to_null_bounded (p, "pause");
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (c.want);
}

static void
error_case (const char *props, const char *what, const char *want1,
    const char *want2)
{
  gchar *desc = g_strdup_printf ("ffssrc name=src %s ! fakesink", props);
  GstElement *p = launch (desc);
  gchar *msg = expect_error (play (p), what, want1, want2, NULL);

  printf ("errors %s: \"%s\"\n", what, msg);
  g_free (msg);
  to_null_bounded (p, what);
  gst_object_unref (p);
  g_free (desc);
}

static void
run_errors (void)
{
  error_case ("endpoint=" FFS_DIR "/ep9", "missing",
      "Cannot open the FunctionFS endpoint " FFS_DIR "/ep9", "No such file");
  error_case ("endpoint=" FFS_DIR "/ep1", "IN endpoint",
      "is not a bulk OUT endpoint", "bulk IN");
  error_case ("endpoint=" EP2 " blocksize=1000", "blocksize",
      "blocksize 1000", "multiples of the endpoint's max packet size 512");
  error_case ("endpoint=" EP2 " transfers=9 blocks=8", "transfers",
      "transfers (9) cannot exceed blocks (8)", "1 to 8");
  error_case ("", "no endpoint", "No endpoint given", "");
}

static void
run_cycles (void)
{
  GstElement *p = launch ("ffssrc name=src timeout=0 endpoint=" EP2
      " ! fakesink async=false");
  int first = -1, last = -1;

  for (int i = 0; i < 200; i++) {
    to_playing (p, "cycles");
    to_null_bounded (p, "cycles");
    if (i == 0)
      first = count_fds ();
    last = count_fds ();
  }
  CHECK (first == last, "cycles: %d fds after the first, %d after the last",
      first, last);
  printf ("cycles: 200, fds %d/%d\n", first, last);
  gst_object_unref (p);
}

/* Debian's own dummy_hcd.ko of the test bed's kernel, beside the patched
 * one in the cache (GST_IIO_VM_DUMMY_HCD: CACHE/ABI/modules/usb/). */
static void
run_no_sg (void)
{
  const char *patched = g_getenv ("GST_IIO_VM_DUMMY_HCD");
  gchar *kdir, *stock, *cmd;
  struct utsname u;

  CHECK (patched != NULL, "GST_IIO_VM_DUMMY_HCD is not set");
  CHECK (uname (&u) == 0, "uname");
  kdir = g_path_get_dirname (patched);
  stock = g_strdup_printf ("%s/../../root/lib/modules/%s/kernel/drivers/usb/"
      "gadget/udc/dummy_hcd.ko.xz", kdir, u.release);
  CHECK (g_file_test (stock, G_FILE_TEST_EXISTS), "no %s", stock);
  cmd = g_strdup_printf ("rmmod dummy_hcd && insmod %s", stock);
  CHECK (system (cmd) == 0, "'%s' failed", cmd);
  g_free (cmd);

  peer_up (&peer, "high", LIBUSB_SPEED_HIGH);
  error_case ("endpoint=" EP2, "no-sg", "Cannot attach a DMABUF to " EP2,
      "no scatter-gather support");
  peer_down (&peer);

  cmd = g_strdup_printf ("rmmod dummy_hcd && insmod %s", patched);
  CHECK (system (cmd) == 0, "'%s' failed", cmd);
  g_free (cmd);
  g_free (stock);
  g_free (kdir);
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s tests/vm/usb/gadget\n", argv[0]);
    return 2;
  }
  helper = argv[1];
  watchdog_start (420);
  gst_init (NULL, NULL);
  peer_up (&peer, "high", LIBUSB_SPEED_HIGH);

  stage ("data");
  run_data ("data");
  stage ("dac");
  run_dac ();
  stage ("errors");
  run_errors ();
  stage ("timeout");
  run_timeout ();
  stage ("unlock");
  run_unlock ();
  stage ("flush");
  run_flush ();
  stage ("pause");
  run_pause ();
  stage ("cycles");
  run_cycles ();
  /* last with the host: its short transfer fails the stream */
  stage ("short");
  run_short ();

  peer_down (&peer);

  /* super speed: 1024-byte packets */
  peer_up (&peer, "super", LIBUSB_SPEED_SUPER);
  stage ("data super");
  run_data ("data super");
  error_case ("endpoint=" EP2 " blocksize=1536", "blocksize super",
      "blocksize 1536", "multiples of the endpoint's max packet size 1024");
  peer_down (&peer);

  stage ("no-sg");
  run_no_sg ();
  printf ("ok\n");
  return 0;
}
