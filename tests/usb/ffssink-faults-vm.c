/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ffssink owning the test bed's FunctionFS function (function=
 * /dev/ffs-gstiio: descriptors, ep0 events) and its faults (suite 'vm');
 * this program is the USB host (libusb) and drives the gadget helper:
 *   no-host     no UDC bound: the wait for ENABLE ends at timeout with an
 *               error naming the cause
 *   stall       vendor control requests to the interface (IN and OUT) are
 *               stalled (LIBUSB_ERROR_PIPE), the function stays usable
 *   short       iiosrc io-mode=dmabuf buffer-size=1001 (8008-byte buffers,
 *               not a multiple of the 512-byte packets): every host read
 *               ends with the buffer's short packet, ramp exact, nothing
 *               copied
 *   stopped     the host stops reading: the timeout error, NULL at once
 *   disconnect  the host drops the device mid-stream (authorized 0): the error
 *               names the DISABLE
 *   reconnect   on-disconnect=wait: dropped and taken again; the host
 *               reads on from a buffer boundary to the file's end, EOS,
 *               disconnects 1; the same with the UDC unbound and bound
 *   unbind      the UDC unbound mid-stream: the error names the UNBIND
 *   removed     the function unlinked from the gadget mid-stream: error
 *   src-own     ffssrc function= (a bulk OUT function of its own): the
 *               host's 20 blocks exact in filesink
 *   cycles      200 READY-PLAYING-EOS-READY cycles (the function stays
 *               enumerated) and 10 NULL cycles (ep0 closed, reopened,
 *               bound again), the host reading: fds and DMABUFs of this
 *               process the same after the first and the last
 * Bounded: libusb timeouts, the helper's own bounds, bus waits, NULL in
 * 10 s, the watchdog. Exit status 0, 1 on the first failure. */

#include "ffscheck.h"
#include "ffsgst.h"

#include <inttypes.h>

#define FN "function=" FFS_DIR
#define FILE_BYTES (3 * 1024 * 1024 + 4242)
#define FILE_BLOCK 50000
#define FILE_PATH "/tmp/ffssink-faults-vm.data"
#define ADC_CHANNELS 4
#define SHORT_SAMPLES 1001
#define SHORT_BYTES (SHORT_SAMPLES * ADC_CHANNELS * 2)

static uint8_t *file_data;

/* ---- the host side ---- */

typedef struct
{
  libusb_context *ctx;
  libusb_device_handle *usb;
  unsigned char ep_in;          /* the function's endpoint, IN or OUT */
} Host;

static Host host;

/* Opens the enumerated device, claims its interface and finds the bulk IN
 * endpoint the function's descriptors gave (wMaxPacketSize 512: high
 * speed). */
static void
host_open_dir (int dir)
{
  struct libusb_config_descriptor *cfg = NULL;
  const struct libusb_interface_descriptor *alt;
  int r;

  /* no udevd in the guest: a context sees the devices present when it is
   * made, so one per enumeration */
  r = libusb_init (&host.ctx);
  CHECK (r == 0, "libusb_init: %s", libusb_error_name (r));
  host.usb = libusb_open_device_with_vid_pid (host.ctx, VID, PID);
  CHECK (host.usb != NULL, "libusb: no %04x:%04x", VID, PID);
  r = libusb_get_active_config_descriptor (libusb_get_device (host.usb), &cfg);
  CHECK (r == 0, "libusb_get_active_config_descriptor: %s",
      libusb_error_name (r));
  CHECK (cfg->bNumInterfaces == 1 && cfg->interface[0].num_altsetting == 1,
      "the device has %d interfaces, not 1", cfg->bNumInterfaces);
  alt = &cfg->interface[0].altsetting[0];
  CHECK (alt->bInterfaceClass == LIBUSB_CLASS_VENDOR_SPEC
      && alt->bNumEndpoints == 1, "interface class 0x%02x with %d "
      "endpoints, not vendor-specific with 1", alt->bInterfaceClass,
      alt->bNumEndpoints);
  host.ep_in = alt->endpoint[0].bEndpointAddress;
  CHECK ((host.ep_in & LIBUSB_ENDPOINT_DIR_MASK) == dir
      && (alt->endpoint[0].bmAttributes & 3) == LIBUSB_TRANSFER_TYPE_BULK
      && alt->endpoint[0].wMaxPacketSize == 512, "endpoint 0x%02x, "
      "attributes 0x%02x, %d bytes: not bulk %s of 512", host.ep_in,
      alt->endpoint[0].bmAttributes, alt->endpoint[0].wMaxPacketSize,
      dir == LIBUSB_ENDPOINT_IN ? "IN" : "OUT");
  libusb_free_config_descriptor (cfg);
  r = libusb_claim_interface (host.usb, 0);
  CHECK (r == 0, "libusb_claim_interface: %s", libusb_error_name (r));
}

static void
host_open (void)
{
  host_open_dir (LIBUSB_ENDPOINT_IN);
}

static void
host_close (void)
{
  if (host.usb) {
    libusb_release_interface (host.usb, 0);
    libusb_close (host.usb);
  }
  if (host.ctx)
    libusb_exit (host.ctx);
  memset (&host, 0, sizeof (host));
}

/* One bulk read of up to @size bytes; 0 on a libusb timeout with nothing. */
static int
host_read (uint8_t * buf, int size, unsigned timeout_ms)
{
  int actual = 0;
  int e = libusb_bulk_transfer (host.usb, host.ep_in, buf, size, &actual,
      timeout_ms);

  CHECK (e == 0 || e == LIBUSB_ERROR_TIMEOUT, "libusb read: %s",
      libusb_error_name (e));
  return actual;
}

/* ---- bring-up: the element owns ep0 ---- */

/* @p to READY (the element writes the descriptors), the gadget bound and
 * enumerated, the host's side open. */
static void
own_up (GstElement * p)
{
  stage ("READY");
  CHECK (gst_element_set_state (p, GST_STATE_READY) ==
      GST_STATE_CHANGE_SUCCESS, "READY failed (the function's ep0)");
  stage ("bind");
  run_helper ("bind " NAME, NULL, 0);
  host_open ();
}

/* The host's side closed, @p to NULL (ep0 closed: f_fs unbinds the gadget
 * itself) and unreferenced. */
static void
own_down (GstElement * p, const char *what)
{
  host_close ();
  to_null_bounded (p, what);
  gst_object_unref (p);
}

static void
make_file (void)
{
  GError *error = NULL;

  file_data = g_malloc (FILE_BYTES);
  pattern (file_data, FILE_BYTES & ~(size_t) 3, 11);
  for (size_t i = FILE_BYTES & ~(size_t)3; i < FILE_BYTES; i++)
    file_data[i] = (uint8_t) i;
  CHECK (g_file_set_contents (FILE_PATH, (const gchar *) file_data,
          FILE_BYTES, &error), "writing " FILE_PATH ": %s", error->message);
}

/* The file's buffer @k's size. */
static int
file_block (int k)
{
  return (int) MIN ((size_t) FILE_BLOCK, FILE_BYTES - (size_t) k * FILE_BLOCK);
}

/* Reads file buffers @k.. while the host is connected: each read must be
 * one whole buffer (its short packet ends it) with the file's bytes; stops
 * after @count buffers or at the file's end. Returns the next k. */
static int
read_file_blocks (int k, int count, const char *what)
{
  uint8_t *buf = g_malloc (65536);
  int n_blocks = (FILE_BYTES + FILE_BLOCK - 1) / FILE_BLOCK;
  int tries = 0;

  while (count > 0 && k < n_blocks) {
    int got = host_read (buf, 65536, 500);

    if (got == 0) {
      CHECK (++tries < 40, "%s: nothing to read for 20 s (buffer %d)", what, k);
      continue;
    }
    tries = 0;
    CHECK (got == file_block (k), "%s: a host read of %d bytes, not "
        "buffer %d's %d (a short packet ends each)", what, got, k,
        file_block (k));
    CHECK (memcmp (buf, file_data + (size_t) k * FILE_BLOCK, got) == 0,
        "%s: buffer %d's bytes differ", what, k);
    k++;
    count--;
  }
  g_free (buf);
  return k;
}

/* ---- cases ---- */

static void
run_no_host (void)
{
  GstElement *p = launch ("filesrc location=" FILE_PATH " ! ffssink "
      "name=sink timeout=300 " FN);
  gchar *msg;

  msg = expect_error (play (p), "no-host", "sink", "did not enable",
      "300 ms", "not bound to a USB device controller", NULL);
  printf ("no-host: \"%s\"\n", msg);
  g_free (msg);
  to_null_bounded (p, "no-host");
  gst_object_unref (p);
}

/* Control requests the function does not define: stalled both ways. */
static void
check_stalls (void)
{
  unsigned char data[4] = { 1, 2, 3, 4 };
  int r;

  /* vendor, recipient interface 0, device to host */
  r = libusb_control_transfer (host.usb, 0xc1, 0x42, 0, 0, data, 4, WAIT_MS);
  CHECK (r == LIBUSB_ERROR_PIPE, "stall: a vendor IN request: %s, not a "
      "stall", r < 0 ? libusb_error_name (r) : "answered");
  /* host to device, with a data stage */
  r = libusb_control_transfer (host.usb, 0x41, 0x43, 0, 0, data, 4, WAIT_MS);
  CHECK (r == LIBUSB_ERROR_PIPE, "stall: a vendor OUT request: %s, not a "
      "stall", r < 0 ? libusb_error_name (r) : "accepted");
  r = libusb_control_transfer (host.usb, 0x41, 0x44, 0, 0, NULL, 0, WAIT_MS);
  CHECK (r == LIBUSB_ERROR_PIPE, "stall: a vendor OUT request without "
      "data: %s, not a stall", r < 0 ? libusb_error_name (r) : "accepted");
}

typedef struct
{
  int blocks;
  char *problem;
} ShortReader;

/* Host reads of sim-adc's ramp in 8008-byte buffers: each read one
 * buffer exactly. */
static void *
short_reader (void *data)
{
  ShortReader *r = data;
  uint8_t *buf = g_malloc (65536);
  size_t at = 0;
  int tries = 0;

  for (int b = 0; b < r->blocks && !r->problem;) {
    int got = host_read (buf, 65536, 500);

    if (got == 0) {
      if (++tries == 40)
        r->problem = g_strdup_printf ("nothing for 20 s at buffer %d", b);
      continue;
    }
    tries = 0;
    if (got != SHORT_BYTES) {
      r->problem = g_strdup_printf ("buffer %d: a host read of %d bytes, "
          "not %d", b, got, SHORT_BYTES);
      break;
    }
    for (int i = 0; i < got; i++, at++) {
      /* sample n, channel c: (int16) (n + 1000 c), little endian */
      size_t n = at / (ADC_CHANNELS * 2);
      unsigned c = (unsigned) (at / 2 % ADC_CHANNELS);
      uint16_t v = (uint16_t) (n + 1000 * c);
      uint8_t want = at % 2 ? (uint8_t) (v >> 8) : (uint8_t) v;

      if (buf[i] != want) {
        r->problem = g_strdup_printf ("byte %zu is 0x%02x, not 0x%02x", at,
            buf[i], want);
        break;
      }
    }
    b++;
  }
  g_free (buf);
  return NULL;
}

#define SHORT_PIPELINE "iiosrc name=src device=sim-adc io-mode=dmabuf " \
  "buffer-size=1001 blocks=8 attributes=sampling_frequency=0 rate=1000000 " \
  "num-buffers=%d ! ffssink name=sink " FN

static void
run_stall_short (void)
{
  gchar *desc = g_strdup_printf (SHORT_PIPELINE, 300);
  GstElement *p = launch (desc);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  ShortReader r = {.blocks = 300 };
  pthread_t t;

  own_up (p);
  check_stalls ();
  printf ("stall: vendor IN, OUT with and without data: all stalled\n");

  CHECK (pthread_create (&t, NULL, short_reader, &r) == 0, "pthread_create");
  expect_eos (play (p), "short");
  pthread_join (t, NULL);
  CHECK (r.problem == NULL, "short: %s", r.problem);
  CHECK (stat_u64 (p, "sink", "bytes") == 300 * SHORT_BYTES, "short: bytes %"
      G_GUINT64_FORMAT, stat_u64 (p, "sink", "bytes"));
  CHECK (stat_u64 (p, "sink", "bytes-copied") == 0
      && stat_u64 (p, "src", "bytes-copied") == 0, "short: bytes copied");
  printf ("short: 300 buffers of %d bytes (15 packets of 512 and one of "
      "%d), each one host read, ramp exact, bytes-copied 0/0\n",
      SHORT_BYTES, SHORT_BYTES % 512);
  gst_object_unref (sink);
  g_free (desc);
  own_down (p, "short");
}

static void
run_stopped (void)
{
  GstElement *p = launch ("filesrc location=" FILE_PATH " blocksize=50000 "
      "! ffssink name=sink timeout=300 max-transfers=2 " FN);
  gchar *msg;

  own_up (p);
  msg = expect_error (play (p), "stopped", "sink", "stopped reading",
      "300 ms", NULL);
  CHECK (stat_u64 (p, "sink", "timeouts") == 1, "stopped: timeouts");
  printf ("stopped: \"%s\"\n", msg);
  g_free (msg);
  own_down (p, "stopped");
}

/* ffssink's element messages seen, by pop_noting() */
static gboolean saw_disconnected, saw_reconnected;

/* The next error or EOS within @timeout (NULL if none), noting the
 * element messages on the way (gst_bus_timed_pop_filtered drops what
 * does not match). */
static GstMessage *
pop_noting (GstBus * bus, GstClockTime timeout)
{
  GstMessage *m;

  while ((m = gst_bus_timed_pop_filtered (bus, timeout, GST_MESSAGE_ERROR
              | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT)) != NULL) {
    const GstStructure *st;

    if (GST_MESSAGE_TYPE (m) != GST_MESSAGE_ELEMENT)
      return m;
    st = gst_message_get_structure (m);
    saw_disconnected |= gst_structure_has_name (st, "ffssink-disconnected");
    saw_reconnected |= gst_structure_has_name (st, "ffssink-reconnected");
    gst_message_unref (m);
  }
  return NULL;
}

/* Waits (bounded) until the sink's stats field reaches @want. */
static void
wait_stat (GstElement * p, const char *field, guint64 want, const char *what)
{
  GstBus *bus = gst_element_get_bus (p);

  for (int i = 0; stat_u64 (p, "sink", field) < want; i++) {
    GstMessage *m = pop_noting (bus, 10 * GST_MSECOND);

    if (m) {
      gchar *msg = expect_error (m, what, "sink", NULL);
      fail (__LINE__, "%s: %s before %s reached %" G_GUINT64_FORMAT, what,
          msg, field, want);
    }
    CHECK (i < 2000, "%s: %s not %" G_GUINT64_FORMAT " within 20 s", what,
        field, want);
  }
  gst_object_unref (bus);
}

/* The host reads 20 buffers, then @fault (a helper command) while the sink
 * is blocked on the host: the error must say each of @needles. */
static void
run_fault (const char *fault, const char *what, const char *n1, const char *n2)
{
  GstElement *p = launch ("filesrc location=" FILE_PATH " blocksize=50000 "
      "! ffssink name=sink timeout=20000 " FN);
  gchar *msg;

  own_up (p);
  CHECK (gst_element_set_state (p, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE, "%s: PLAYING failed", what);
  read_file_blocks (0, 20, what);
  /* the sink has queued max-transfers more and waits for the host */
  wait_stat (p, "transfers", 24, what);
  stage (fault);
  run_helper (fault, NULL, 0);
  {
    GstBus *bus = gst_element_get_bus (p);
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 15 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);

    CHECK (m != NULL, "%s: no error within 15 s (timeout is 20 s)", what);
    msg = expect_error (m, what, "sink", n1, n2, NULL);
    gst_object_unref (bus);
  }
  CHECK (stat_u64 (p, "sink", "timeouts") == 0, "%s: a timeout", what);
  printf ("%s: \"%s\"\n", what, msg);
  g_free (msg);
  own_down (p, what);
}

/* on-disconnect=wait: @down then @up (helper commands) mid-stream. */
static void
run_reconnect (const char *down, const char *up, const char *what)
{
  GstElement *p = launch ("filesrc location=" FILE_PATH " blocksize=50000 "
      "! ffssink name=sink timeout=20000 on-disconnect=wait "
      "reconnect-timeout=30000 " FN);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m;
  int k, resumed = -1, n_blocks = (FILE_BYTES + FILE_BLOCK - 1) / FILE_BLOCK;
  uint8_t *buf = g_malloc (65536);

  saw_disconnected = saw_reconnected = FALSE;
  own_up (p);
  CHECK (gst_element_set_state (p, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE, "%s: PLAYING failed", what);
  k = read_file_blocks (0, 20, what);
  wait_stat (p, "transfers", 24, what);
  run_helper (down, NULL, 0);
  host_close ();
  wait_stat (p, "disconnects", 1, what);
  run_helper (up, NULL, 0);
  host_open ();
  /* the first buffer after the reconnect: a whole one, at or after the
   * first the host had not read (those queued at the disconnect are
   * lost) */
  for (int tries = 0; resumed < 0; tries++) {
    int got = host_read (buf, 65536, 500);

    CHECK (tries < 40, "%s: nothing read for 20 s after the reconnect", what);
    if (got == 0)
      continue;
    for (int j = k; j < n_blocks && resumed < 0; j++)
      if (got == file_block (j)
          && memcmp (buf, file_data + (size_t) j * FILE_BLOCK, got) == 0)
        resumed = j;
    CHECK (resumed >= 0, "%s: the first %d bytes after the reconnect are "
        "no whole buffer from %d on", what, got, k);
  }
  k = read_file_blocks (resumed + 1, n_blocks, what);
  CHECK (k == n_blocks, "%s: stopped at buffer %d", what, k);
  m = pop_noting (bus, 20 * GST_SECOND);
  CHECK (m != NULL, "%s: no EOS within 20 s", what);
  expect_eos (m, what);
  CHECK (saw_disconnected && saw_reconnected, "%s: element messages "
      "ffssink-disconnected %d, ffssink-reconnected %d", what,
      saw_disconnected, saw_reconnected);
  CHECK (stat_u64 (p, "sink", "disconnects") == 1, "%s: disconnects", what);
  printf ("%s: resumed at buffer %d after buffer 19 (%d lost at the "
      "disconnect), the rest to EOS exact, disconnects=1\n", what, resumed,
      resumed - 20);
  g_free (buf);
  gst_object_unref (bus);
  own_down (p, what);
}

typedef struct
{
  int blocks;
  int block_bytes;
  char *problem;
} CountReader;

static void *
count_reader (void *data)
{
  CountReader *r = data;
  uint8_t *buf = g_malloc (65536);
  size_t want = (size_t) r->blocks * r->block_bytes, got = 0;
  int tries = 0;

  while (got < want) {
    int n = host_read (buf, (int) MIN ((size_t) 65536, want - got), 500);

    if (n == 0 && ++tries == 40) {
      r->problem = g_strdup_printf ("%zu of %zu bytes in 20 s", got, want);
      break;
    }
    got += (size_t) n;
  }
  g_free (buf);
  return NULL;
}

static int
count_dmabufs (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  int n = 0;

  CHECK (d != NULL, "/proc/self/fd: %s", strerror (errno));
  while ((e = readdir (d)) != NULL) {
    char path[300], target[256];
    ssize_t len;

    snprintf (path, sizeof (path), "/proc/self/fd/%s", e->d_name);
    len = readlink (path, target, sizeof (target) - 1);
    if (len <= 0)
      continue;
    target[len] = '\0';
    if (g_str_has_prefix (target, "/dmabuf:")
        || g_str_has_prefix (target, "anon_inode:dmabuf"))
      n++;
  }
  closedir (d);
  return n;
}

#define CYCLE_PIPELINE "iiosrc name=src device=sim-adc io-mode=dmabuf " \
  "buffer-size=4096 blocks=8 attributes=sampling_frequency=0 rate=1000000 " \
  "num-buffers=4 ! ffssink name=sink " FN

static void
cycle_once (GstElement * p, const char *what)
{
  CountReader r = {.blocks = 4,.block_bytes = 4096 * ADC_CHANNELS * 2 };
  pthread_t t;

  CHECK (pthread_create (&t, NULL, count_reader, &r) == 0, "pthread_create");
  expect_eos (play (p), what);
  pthread_join (t, NULL);
  CHECK (r.problem == NULL, "%s: %s", what, r.problem);
}

static void
run_cycles (void)
{
  GstElement *p = launch (CYCLE_PIPELINE);
  int fds_first = 0, dmabufs_first = 0, play_fds = 0, play_dmabufs = 0;

  own_up (p);
  for (int i = 0; i < 200; i++) {
    cycle_once (p, "cycles");
    /* at EOS: iiosrc's blocks and the sink's imports are live */
    if (i == 0) {
      play_fds = count_fds ();
      play_dmabufs = count_dmabufs ();
      CHECK (play_dmabufs > 0, "cycles: no DMABUF fd at EOS");
    }
    CHECK (count_fds () == play_fds && count_dmabufs () == play_dmabufs,
        "cycles: at EOS of cycle %d fds %d, DMABUFs %d; %d, %d in the first",
        i + 1, count_fds (), count_dmabufs (), play_fds, play_dmabufs);
    CHECK (gst_element_set_state (p, GST_STATE_READY) ==
        GST_STATE_CHANGE_SUCCESS, "cycles: READY failed");
    if (i == 0) {
      fds_first = count_fds ();
      dmabufs_first = count_dmabufs ();
    }
  }
  CHECK (count_fds () == fds_first && count_dmabufs () == dmabufs_first,
      "cycles: fds %d, DMABUFs %d after the first READY cycle; %d, %d after "
      "the 200th", fds_first, dmabufs_first, count_fds (), count_dmabufs ());
  printf ("cycles: 200 READY-PLAYING-EOS-READY, at every EOS fds %d and "
      "DMABUFs %d, in READY after the first and the last fds %d/%d, DMABUFs "
      "%d/%d\n", play_fds, play_dmabufs, fds_first, count_fds (),
      dmabufs_first, count_dmabufs ());
  own_down (p, "cycles");

  for (int i = 0; i < 10; i++) {
    p = launch (CYCLE_PIPELINE);
    own_up (p);
    cycle_once (p, "null-cycles");
    own_down (p, "null-cycles");
    if (i == 0) {
      fds_first = count_fds ();
      dmabufs_first = count_dmabufs ();
    }
  }
  CHECK (count_fds () == fds_first && count_dmabufs () == dmabufs_first,
      "null-cycles: fds %d, DMABUFs %d after the first; %d, %d after the "
      "10th", fds_first, dmabufs_first, count_fds (), count_dmabufs ());
  printf ("null-cycles: 10 NULL-PLAYING-EOS-NULL (ep0 closed and owned "
      "again, bound again), fds %d/%d, DMABUFs %d/%d\n", fds_first,
      count_fds (), dmabufs_first, count_dmabufs ());
}

/* ffssrc function=: the element owns a bulk OUT function the same way;
 * the host writes 20 blocks, filesink gets them exact. */
#define SRC_BLOCK 16384
#define SRC_BLOCKS 20
#define SRC_OUT "/tmp/ffssink-faults-vm.src"

static void
run_src_own (void)
{
  GstElement *p = launch ("ffssrc name=src function=" FFS_DIR " blocksize="
      G_STRINGIFY (SRC_BLOCK) " num-buffers=" G_STRINGIFY (SRC_BLOCKS)
      " ! filesink location=" SRC_OUT);
  uint8_t *want = g_malloc ((size_t) SRC_BLOCK * SRC_BLOCKS);
  gchar *got = NULL;
  gsize len = 0;
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m;

  pattern (want, (size_t) SRC_BLOCK * SRC_BLOCKS, 5);
  CHECK (gst_element_set_state (p, GST_STATE_READY) ==
      GST_STATE_CHANGE_SUCCESS, "src-own: READY failed (the function's ep0)");
  run_helper ("bind " NAME, NULL, 0);
  host_open_dir (LIBUSB_ENDPOINT_OUT);
  CHECK (gst_element_set_state (p, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE, "src-own: PLAYING failed");
  for (int i = 0; i < SRC_BLOCKS; i++)
    host_bulk_exact (host.usb, host.ep_in, want + (size_t) i * SRC_BLOCK,
        SRC_BLOCK, "src-own");
  m = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND,
      GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  CHECK (m != NULL, "src-own: no EOS within 20 s");
  expect_eos (m, "src-own");
  gst_object_unref (bus);
  CHECK (g_file_get_contents (SRC_OUT, &got, &len, NULL)
      && len == (gsize) SRC_BLOCK * SRC_BLOCKS
      && memcmp (got, want, len) == 0, "src-own: %s has %zu bytes, not the "
      "host's %d exact", SRC_OUT, len, SRC_BLOCK * SRC_BLOCKS);
  CHECK (stat_u64 (p, "src", "bytes-copied") == 0, "src-own: copied");
  printf ("src-own: ffssrc function=: the host's %d blocks of %d bytes "
      "exact, bytes-copied 0\n", SRC_BLOCKS, SRC_BLOCK);
  g_free (got);
  g_free (want);
  own_down (p, "src-own");
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s tests/vm/usb/gadget\n", argv[0]);
    return 2;
  }
  helper = argv[1];
  watchdog_start (500);
  gst_init (NULL, NULL);
  make_file ();
  run_helper ("speed high", NULL, 0);
  run_helper ("setup " NAME, NULL, 0);

  run_no_host ();
  run_stall_short ();
  run_stopped ();
  run_fault ("disconnect " NAME, "disconnect", "disconnected from", "DISABLE");
  run_reconnect ("disconnect " NAME, "connect " NAME, "reconnect");
  run_reconnect ("unbind " NAME, "bind " NAME, "reconnect-unbind");
  run_fault ("unbind " NAME, "unbind", "disconnected from", "UNBIND");
  run_cycles ();
  run_src_own ();
  run_fault ("remove-function " NAME, "removed", "disconnected from", "UNBIND");

  run_helper ("teardown " NAME, NULL, 0);
  g_free (file_data);
  printf ("ok\n");
  return 0;
}
