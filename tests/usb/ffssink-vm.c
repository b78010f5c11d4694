/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ffssink on the test bed's USB gadget (suite 'vm'): this program owns
 * the function (ep0, tests/vm/usb/gadget) and is the USB host (libusb),
 * and runs pipelines into ffssink endpoint=/dev/ffs-gstiio/ep1:
 *   dmabuf    iiosrc device=sim-adc io-mode=dmabuf ! ffssink: the host
 *             reads 1200 blocks and checks every sample of the ramp;
 *             bytes-copied 0 on both elements, transfers = buffers,
 *             dmabuf-imports = the DMABUFs iiosrc has (8 blocks at most,
 *             at least 1), and EOS only after the host had every byte
 *   copy      filesrc (system memory, 50000-byte buffers: not a multiple
 *             of the packet size, a short packet each) ! ffssink: every
 *             byte of the file, bytes-copied = bytes
 *   audio     audiotestsrc ! ffssink through the sink's DMABUF pool
 *             (bytes-copied 0, dmabuf-imports = the pool's buffers) and,
 *             offer-pool=false, from system memory (bytes-copied = bytes);
 *             the host's bytes equal filesink's of the same source
 *   timeout   the host reads nothing: ffssink timeout=300 fails with its
 *             error (timeouts 1), and NULL comes at once
 *   unlock    the host reads nothing, timeout=60000: NULL comes at once
 *   cycles    20 NULL-PLAYING-EOS-NULL cycles of the dmabuf pipeline (the
 *             host reading): fd count the same after the first and the
 *             last
 *   no-sg     Debian's stock dummy_hcd (no scatter-gather): the error
 *             names the cause, for DMABUF and system memory alike
 * Each case is bounded (bus waits, libusb timeouts, state changes in a
 * thread joined within 10 s). Exit status 0, 1 on the first failure. */

#include "ffscheck.h"
#include "ffsgst.h"

#include <gst/gst.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/utsname.h>

#define EP1 FFS_DIR "/ep1"
#define ADC_BLOCK_SAMPLES 4096
#define ADC_CHANNELS 4
#define ADC_BLOCK_BYTES (ADC_BLOCK_SAMPLES * ADC_CHANNELS * 2)
#define ADC_BLOCKS 1200
#define FILE_BYTES (3 * 1024 * 1024 + 4242)
#define FILE_BLOCK 50000
#define FILE_PATH "/tmp/ffssink-vm.data"

static Peer peer;

/* ---- the host side: a reader thread ---- */

typedef struct
{
  size_t total;                 /* bytes to read */
  gboolean ramp;                /* check sim-adc's ramp, else the file */
  const uint8_t *want;          /* the file's bytes */
  size_t got;
  gchar *problem;               /* the first wrong byte, or a libusb error */
  volatile gint stop;
} Reader;

static void *
reader_run (void *data)
{
  Reader *r = data;
  uint8_t *buf = g_malloc (65536);

  while (r->got < r->total && !g_atomic_int_get (&r->stop)) {
    int actual = 0;
    int len = (int) MIN ((size_t) 65536, r->total - r->got);
    int e = libusb_bulk_transfer (peer.usb, EP_IN_ADDR, buf, len, &actual,
        500);

    if (e == LIBUSB_ERROR_TIMEOUT && actual == 0)
      continue;
    if (e != 0 && e != LIBUSB_ERROR_TIMEOUT) {
      r->problem = g_strdup_printf ("libusb read: %s", libusb_error_name (e));
      break;
    }
    for (int i = 0; i < actual && r->problem == NULL; i++) {
      size_t at = r->got + (size_t) i;
      uint8_t want;

      if (r->ramp) {
        /* sample n, channel c: (int16) (n + 1000 c), little endian */
        size_t n = at / (ADC_CHANNELS * 2);
        unsigned c = (unsigned) (at / 2 % ADC_CHANNELS);
        uint16_t v = (uint16_t) (n + 1000 * c);

        want = at % 2 ? (uint8_t) (v >> 8) : (uint8_t) v;
      } else {
        want = r->want[at];
      }
      if (buf[i] != want)
        r->problem = g_strdup_printf ("byte %zu is 0x%02x, not 0x%02x", at,
            buf[i], want);
    }
    r->got += (size_t) actual;
    if (r->problem)
      break;
  }
  g_free (buf);
  return NULL;
}

#define ADC_PIPELINE "iiosrc name=src device=sim-adc io-mode=dmabuf " \
  "buffer-size=4096 blocks=8 attributes=sampling_frequency=0 rate=1000000 " \
  "num-buffers=%d ! ffssink name=sink endpoint=" EP1

static void
run_dmabuf (int blocks, gboolean check_stats)
{
  gchar *desc = g_strdup_printf (ADC_PIPELINE, blocks);
  GstElement *p = launch (desc);
  Reader r = {.total = (size_t) blocks * ADC_BLOCK_BYTES,.ramp = TRUE };
  pthread_t t;
  guint64 imports;

  CHECK (pthread_create (&t, NULL, reader_run, &r) == 0, "pthread_create");
  expect_eos (play (p), "dmabuf");
  /* EOS came after the drain: every transfer's fence had signalled, so
   * the controller had handed every byte to the host side */
  pthread_join (t, NULL);
  CHECK (r.problem == NULL, "dmabuf: %s", r.problem);
  CHECK (r.got == r.total, "dmabuf: the host read %zu bytes, not %zu",
      r.got, r.total);
  if (check_stats) {
    CHECK (stat_u64 (p, "sink", "transfers") == (guint64) blocks,
        "transfers %" G_GUINT64_FORMAT ", not %d",
        stat_u64 (p, "sink", "transfers"), blocks);
    CHECK (stat_u64 (p, "sink", "bytes") == r.total, "bytes %"
        G_GUINT64_FORMAT, stat_u64 (p, "sink", "bytes"));
    CHECK (stat_u64 (p, "sink", "bytes-copied") == 0, "ffssink copied %"
        G_GUINT64_FORMAT " bytes", stat_u64 (p, "sink", "bytes-copied"));
    CHECK (stat_u64 (p, "src", "bytes-copied") == 0, "iiosrc copied %"
        G_GUINT64_FORMAT " bytes", stat_u64 (p, "src", "bytes-copied"));
    CHECK (stat_u64 (p, "sink", "timeouts") == 0, "timeouts");
    imports = stat_u64 (p, "sink", "dmabuf-imports");
    CHECK (imports >= 1 && imports <= 8, "dmabuf-imports %" G_GUINT64_FORMAT
        ", not 1..8 (iiosrc's blocks)", imports);
    printf ("dmabuf: %d blocks of %d bytes, ramp exact, transfers=%"
        G_GUINT64_FORMAT " bytes-copied=0/0 dmabuf-imports=%"
        G_GUINT64_FORMAT "\n", blocks, ADC_BLOCK_BYTES,
        stat_u64 (p, "sink", "transfers"), imports);
  }
  to_null_bounded (p, "dmabuf");
  gst_object_unref (p);
  g_free (desc);
}

static uint8_t *
make_file (void)
{
  uint8_t *data = g_malloc (FILE_BYTES);
  GError *error = NULL;

  pattern (data, FILE_BYTES & ~(size_t) 3, 7);
  for (size_t i = FILE_BYTES & ~(size_t)3; i < FILE_BYTES; i++)
    data[i] = (uint8_t) i;
  CHECK (g_file_set_contents (FILE_PATH, (const gchar *) data, FILE_BYTES,
          &error), "writing " FILE_PATH ": %s", error->message);
  return data;
}

/* filesrc's system memory, copied: with offer-pool=false, and by default
 * too (ANY caps: the sink offers no pool, since GstBaseSrc leaves a pool
 * buffer's size as it is and filesrc writes blocksize bytes). */
static void
run_copy (const uint8_t * data, gboolean pool)
{
  gchar *desc = g_strdup_printf ("filesrc location=" FILE_PATH
      " blocksize=50000 ! ffssink name=sink offer-pool=%s endpoint=" EP1,
      pool ? "true" : "false");
  GstElement *p = launch (desc);
  Reader r = {.total = FILE_BYTES,.want = data };
  guint64 n = (FILE_BYTES + FILE_BLOCK - 1) / FILE_BLOCK;
  const char *what = pool ? "copy-no-pool" : "copy";
  guint64 want_copied = FILE_BYTES;
  GstMessage *m;
  pthread_t t;

  CHECK (pthread_create (&t, NULL, reader_run, &r) == 0, "pthread_create");
  m = play (p);
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    g_atomic_int_set (&r.stop, 1);
    pthread_join (t, NULL);
    fprintf (stderr, "%s: the host read %zu bytes: %s\n", what, r.got,
        r.problem ? r.problem : "no problem");
  }
  expect_eos (m, what);
  pthread_join (t, NULL);
  CHECK (r.problem == NULL, "%s: %s", what, r.problem);
  CHECK (r.got == r.total, "%s: the host read %zu bytes, not %zu", what,
      r.got, r.total);
  CHECK (stat_u64 (p, "sink", "transfers") == n, "%s: transfers %"
      G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT, what,
      stat_u64 (p, "sink", "transfers"), n);
  CHECK (stat_u64 (p, "sink", "bytes-copied") == want_copied,
      "%s: bytes-copied %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT, what,
      stat_u64 (p, "sink", "bytes-copied"), want_copied);
  CHECK (stat_u64 (p, "sink", "dmabuf-imports") == 0,
      "%s: dmabuf-imports %" G_GUINT64_FORMAT, what, stat_u64 (p, "sink",
          "dmabuf-imports"));
  printf ("%s: %d bytes in %" G_GUINT64_FORMAT " transfers of up to %d, "
      "data exact, bytes-copied=%" G_GUINT64_FORMAT "\n", what, FILE_BYTES, n,
      FILE_BLOCK, want_copied);
  to_null_bounded (p, what);
  gst_object_unref (p);
  g_free (desc);
}

#define AUDIO_CAPS "audio/x-raw,format=S16LE,channels=2,rate=48000"
#define AUDIO_REF "/tmp/ffssink-vm.audio"
#define AUDIO_BUFFERS 300
#define AUDIO_BYTES (AUDIO_BUFFERS * 1024 * 4)

/* audiotestsrc's 300 buffers of 1024 stereo samples, as filesink writes
 * them: what the host must read (the source is deterministic). */
static uint8_t *
audio_reference (void)
{
  GstElement *p = launch ("audiotestsrc num-buffers=300 samplesperbuffer=1024 "
      "freq=1234 ! " AUDIO_CAPS " ! filesink location=" AUDIO_REF);
  gchar *data = NULL;
  gsize len = 0;

  expect_eos (play (p), "audio reference");
  to_null_bounded (p, "audio reference");
  gst_object_unref (p);
  CHECK (g_file_get_contents (AUDIO_REF, &data, &len, NULL)
      && len == AUDIO_BYTES, "audio reference: %zu bytes, not %d", len,
      AUDIO_BYTES);
  return (uint8_t *) data;
}

/* audiotestsrc ! ffssink: through the sink's pool (audiotestsrc writes
 * into DMABUFs of the sink's, nothing copied) or, offer-pool=false, from
 * audiotestsrc's system memory (copied, counted). */
static void
run_audio (const uint8_t * want, gboolean pool)
{
  gchar *desc = g_strdup_printf ("audiotestsrc num-buffers=300 "
      "samplesperbuffer=1024 freq=1234 ! " AUDIO_CAPS " ! ffssink name=sink "
      "offer-pool=%s endpoint=" EP1, pool ? "true" : "false");
  GstElement *p = launch (desc);
  Reader r = {.total = AUDIO_BYTES,.want = want };
  const char *what = pool ? "audio-pool" : "audio-system";
  guint64 copied, imports;
  pthread_t t;

  GstMessage *m;

  CHECK (pthread_create (&t, NULL, reader_run, &r) == 0, "pthread_create");
  m = play (p);
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    /* what the host saw, first */
    g_atomic_int_set (&r.stop, 1);
    pthread_join (t, NULL);
    fprintf (stderr, "%s: the host read %zu bytes: %s\n", what, r.got,
        r.problem ? r.problem : "no problem");
    expect_eos (m, what);
  }
  gst_message_unref (m);
  pthread_join (t, NULL);
  CHECK (r.problem == NULL, "%s: %s", what, r.problem);
  CHECK (r.got == r.total, "%s: the host read %zu bytes, not %zu", what,
      r.got, r.total);
  copied = stat_u64 (p, "sink", "bytes-copied");
  imports = stat_u64 (p, "sink", "dmabuf-imports");
  CHECK (stat_u64 (p, "sink", "transfers") == AUDIO_BUFFERS, "%s: transfers",
      what);
  if (pool)
    /* the pool's buffers: max-transfers (4) + 2 */
    CHECK (copied == 0 && imports >= 1 && imports <= 6, "%s: bytes-copied %"
        G_GUINT64_FORMAT ", dmabuf-imports %" G_GUINT64_FORMAT ", not 0 and "
        "1..6", what, copied, imports);
  else
    CHECK (copied == AUDIO_BYTES && imports == 0, "%s: bytes-copied %"
        G_GUINT64_FORMAT ", dmabuf-imports %" G_GUINT64_FORMAT ", not %d and "
        "0", what, copied, imports, AUDIO_BYTES);
  printf ("%s: %d buffers of 4096 bytes, data exact, bytes-copied=%"
      G_GUINT64_FORMAT " dmabuf-imports=%" G_GUINT64_FORMAT "\n", what,
      AUDIO_BUFFERS, copied, imports);
  to_null_bounded (p, what);
  gst_object_unref (p);
  g_free (desc);
}

static void
run_timeout (void)
{
  GstElement *p = launch ("filesrc location=" FILE_PATH " blocksize=50000 "
      "! ffssink name=sink timeout=300 max-transfers=2 endpoint=" EP1);
  GstMessage *m = play (p);
  GError *e = NULL;
  gchar *dbg = NULL;

  CHECK (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR, "timeout: EOS, though "
      "the host read nothing");
  gst_message_parse_error (m, &e, &dbg);
  CHECK (strcmp (GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), "sink") == 0,
      "timeout: the error came from %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)));
  CHECK (strstr (e->message, "stopped reading") != NULL
      && strstr (e->message, "300 ms") != NULL, "timeout: error '%s'",
      e->message);
  CHECK (stat_u64 (p, "sink", "timeouts") == 1, "timeout: timeouts %"
      G_GUINT64_FORMAT, stat_u64 (p, "sink", "timeouts"));
  printf ("timeout: \"%s\"\n", e->message);
  g_error_free (e);
  g_free (dbg);
  gst_message_unref (m);
  to_null_bounded (p, "timeout");
  gst_object_unref (p);
}

static void
run_unlock (void)
{
  GstElement *p = launch ("filesrc location=" FILE_PATH " blocksize=50000 "
      "! ffssink name=sink timeout=60000 max-transfers=2 endpoint=" EP1);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m;

  CHECK (gst_element_set_state (p, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE, "unlock: PLAYING failed");
  /* the sink blocks on its third buffer: the host reads nothing */
  for (int i = 0; stat_u64 (p, "sink", "transfers") < 2; i++) {
    CHECK (i < 1000, "unlock: 2 transfers not queued within 10 s");
    m = gst_bus_timed_pop_filtered (bus, 10 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    CHECK (m == NULL, "unlock: %s before the sink blocked",
        GST_MESSAGE_TYPE_NAME (m));
  }
  to_null_bounded (p, "unlock");
  CHECK (stat_u64 (p, "sink", "timeouts") == 0, "unlock: a timeout");
  gst_object_unref (bus);
  gst_object_unref (p);
  printf ("unlock: NULL with 2 transfers the host never read\n");
}

/* The error of a pipeline into ffssink on a UDC without scatter-gather. */
static void
expect_no_sg (const char *desc, const char *what)
{
  GstElement *p = launch (desc);
  GstMessage *m = play (p);
  GError *e = NULL;
  gchar *dbg = NULL;

  CHECK (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR, "%s: EOS on a UDC "
      "without scatter-gather", what);
  gst_message_parse_error (m, &e, &dbg);
  CHECK (strcmp (GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), "sink") == 0,
      "%s: the error came from %s", what,
      GST_OBJECT_NAME (GST_MESSAGE_SRC (m)));
  CHECK (strstr (e->message, "no scatter-gather support") != NULL,
      "%s: error '%s'", what, e->message);
  printf ("no-sg %s: \"%s\"\n", what, e->message);
  g_error_free (e);
  g_free (dbg);
  gst_message_unref (m);
  to_null_bounded (p, what);
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
  cmd = g_strdup_printf (ADC_PIPELINE, 4);
  expect_no_sg (cmd, "dmabuf");
  g_free (cmd);
  expect_no_sg ("filesrc location=" FILE_PATH " blocksize=50000 ! ffssink "
      "name=sink endpoint=" EP1, "copy");
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
  uint8_t *data;
  int fds_first, fds_last = -1;

  if (argc != 2) {
    fprintf (stderr, "usage: %s tests/vm/usb/gadget\n", argv[0]);
    return 2;
  }
  helper = argv[1];
  watchdog_start (300);
  gst_init (NULL, NULL);
  data = make_file ();
  peer_up (&peer, "high", LIBUSB_SPEED_HIGH);

  run_dmabuf (ADC_BLOCKS, TRUE);
  run_copy (data, FALSE);
  run_copy (data, TRUE);
  {
    uint8_t *audio = audio_reference ();

    run_audio (audio, TRUE);
    run_audio (audio, FALSE);
    g_free (audio);
  }
  /* the host reads nothing from here on: what the sink queued and the
   * cancel dropped must not reach the next case's reader */
  run_timeout ();
  run_unlock ();

  fds_first = count_fds ();
  for (int i = 0; i < 20; i++) {
    run_dmabuf (16, FALSE);
    if (i == 0)
      fds_first = count_fds ();
    fds_last = count_fds ();
  }
  CHECK (fds_last == fds_first, "cycles: %d fds after the first, %d after "
      "the last", fds_first, fds_last);
  printf ("cycles: 20, fds %d/%d\n", fds_first, fds_last);

  peer_down (&peer);
  run_no_sg ();
  g_free (data);
  printf ("ok\n");
  return 0;
}
