/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the tests/usb programs share: failing with a message, the gadget
 * helper (tests/vm/usb/gadget), the function's descriptors (one
 * vendor-specific interface, bulk IN 0x81 and OUT 0x02, full, high and
 * super speed) and strings, ep0's ENABLE, byte patterns, fd counts, and
 * the whole bring-up: gadget, ep0, bind, libusb on the host side. */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#include <libusb.h>

#define NAME "gstiio"
#define FFS_DIR "/dev/ffs-" NAME
#define VID 0x1d6b
#define PID 0x0104
#define EP_IN_ADDR 0x81
#define EP_OUT_ADDR 0x02
/* Bounds on waits that must end at once when the kernel works. */
#define WAIT_MS 10000

/* the path of tests/vm/usb/gadget, from the command line */
static const char *helper;

static inline void
fail (int line, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "FAIL (%s:%d): ", program_invocation_short_name, line);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

#define CHECK(cond, ...) do { if (!(cond)) fail (__LINE__, __VA_ARGS__); } while (0)

/* ---- the gadget helper ---- */

/* Runs `helper ARGS`; its first line of output, if any, into out. */
static inline void
run_helper (const char *args, char *out, size_t out_size)
{
  char cmd[512], line[256] = "";
  FILE *p;
  int st;

  snprintf (cmd, sizeof (cmd), "%s %s", helper, args);
  p = popen (cmd, "r");
  CHECK (p != NULL, "popen %s: %s", cmd, strerror (errno));
  if (fgets (line, sizeof (line), p) == NULL)
    line[0] = '\0';
  while (fgetc (p) != EOF);
  st = pclose (p);
  CHECK (st == 0, "'%s' failed (status %d)", cmd, st);
  line[strcspn (line, "\n")] = '\0';
  if (out)
    snprintf (out, out_size, "%s", line);
}

/* ---- descriptors ---- */

struct fs_hs_set
{
  struct usb_interface_descriptor intf;
  struct usb_endpoint_descriptor_no_audio in;
  struct usb_endpoint_descriptor_no_audio out;
} __attribute__((packed));

struct ss_set
{
  struct usb_interface_descriptor intf;
  struct usb_endpoint_descriptor_no_audio in;
  struct usb_ss_ep_comp_descriptor in_comp;
  struct usb_endpoint_descriptor_no_audio out;
  struct usb_ss_ep_comp_descriptor out_comp;
} __attribute__((packed));

struct descriptors
{
  struct usb_functionfs_descs_head_v2 head;
  __le32 fs_count;
  __le32 hs_count;
  __le32 ss_count;
  struct fs_hs_set fs;
  struct fs_hs_set hs;
  struct ss_set ss;
} __attribute__((packed));

#define STR_INTERFACE "gst-iio FunctionFS DMABUF test"

struct strings
{
  struct usb_functionfs_strings_head head;
  __le16 lang;
  char str[sizeof (STR_INTERFACE)];
} __attribute__((packed));

static inline struct usb_interface_descriptor
intf_desc (void)
{
  struct usb_interface_descriptor d = {
    .bLength = USB_DT_INTERFACE_SIZE,
    .bDescriptorType = USB_DT_INTERFACE,
    .bInterfaceNumber = 0,
    .bNumEndpoints = 2,
    .bInterfaceClass = USB_CLASS_VENDOR_SPEC,
    .iInterface = 1,
  };
  return d;
}

static inline struct usb_endpoint_descriptor_no_audio
ep_desc (uint8_t addr, uint16_t maxpacket)
{
  struct usb_endpoint_descriptor_no_audio d = {
    .bLength = USB_DT_ENDPOINT_SIZE,
    .bDescriptorType = USB_DT_ENDPOINT,
    .bEndpointAddress = addr,
    .bmAttributes = USB_ENDPOINT_XFER_BULK,
    .wMaxPacketSize = htole16 (maxpacket),
  };
  return d;
}

static inline struct usb_ss_ep_comp_descriptor
ss_comp_desc (void)
{
  struct usb_ss_ep_comp_descriptor d = {
    .bLength = USB_DT_SS_EP_COMP_SIZE,
    .bDescriptorType = USB_DT_SS_ENDPOINT_COMP,
  };
  return d;
}

static inline void
write_descriptors (int ep0)
{
  struct descriptors d;
  struct strings s;
  ssize_t n;

  memset (&d, 0, sizeof (d));
  d.head.magic = htole32 (FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
  d.head.length = htole32 (sizeof (d));
  d.head.flags = htole32 (FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC |
      FUNCTIONFS_HAS_SS_DESC);
  d.fs_count = htole32 (3);
  d.hs_count = htole32 (3);
  d.ss_count = htole32 (5);
  d.fs.intf = d.hs.intf = d.ss.intf = intf_desc ();
  d.fs.in = ep_desc (EP_IN_ADDR, 64);
  d.fs.out = ep_desc (EP_OUT_ADDR, 64);
  d.hs.in = ep_desc (EP_IN_ADDR, 512);
  d.hs.out = ep_desc (EP_OUT_ADDR, 512);
  d.ss.in = ep_desc (EP_IN_ADDR, 1024);
  d.ss.in_comp = ss_comp_desc ();
  d.ss.out = ep_desc (EP_OUT_ADDR, 1024);
  d.ss.out_comp = ss_comp_desc ();
  n = write (ep0, &d, sizeof (d));
  CHECK (n == (ssize_t) sizeof (d), "writing the descriptors to ep0: %zd "
      "(%s)", n, strerror (errno));

  memset (&s, 0, sizeof (s));
  s.head.magic = htole32 (FUNCTIONFS_STRINGS_MAGIC);
  s.head.length = htole32 (sizeof (s));
  s.head.str_count = htole32 (1);
  s.head.lang_count = htole32 (1);
  s.lang = htole16 (0x0409);
  memcpy (s.str, STR_INTERFACE, sizeof (STR_INTERFACE));
  n = write (ep0, &s, sizeof (s));
  CHECK (n == (ssize_t) sizeof (s), "writing the strings to ep0: %zd (%s)",
      n, strerror (errno));
}

/* Reads ep0's events until ENABLE (the host set the configuration):
 * before it the data endpoints are not enabled. */
static inline void
wait_enable (int ep0)
{
  struct usb_functionfs_event ev[4];
  int waited = 0;

  for (;;) {
    struct pollfd p = {.fd = ep0,.events = POLLIN };
    int r = poll (&p, 1, 100);
    ssize_t n;

    CHECK (r >= 0, "poll ep0: %s", strerror (errno));
    if (r == 0) {
      waited += 100;
      CHECK (waited < WAIT_MS, "no ENABLE event on ep0 within %d ms", WAIT_MS);
      continue;
    }
    n = read (ep0, ev, sizeof (ev));
    CHECK (n > 0 && n % sizeof (ev[0]) == 0, "read ep0: %zd (%s)", n,
        strerror (errno));
    for (size_t i = 0; i < n / sizeof (ev[0]); i++) {
      CHECK (ev[i].type != FUNCTIONFS_SETUP, "unexpected SETUP request on "
          "ep0 (bRequest 0x%02x)", ev[i].u.setup.bRequest);
      if (ev[i].type == FUNCTIONFS_ENABLE)
        return;
    }
  }
}

/* Transfer `seq`'s bytes: no two transfers alike, no byte a constant. */
static inline void
pattern (uint8_t * dst, size_t size, uint32_t seq)
{
  for (size_t i = 0; i < size / 4; i++) {
    uint32_t w = seq * 0x9e3779b9u + (uint32_t) i * 0x01000193u;

    w ^= w >> 15;
    memcpy (dst + 4 * i, &w, 4);
  }
}

static inline int
count_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  int n = 0;

  CHECK (d != NULL, "/proc/self/fd: %s", strerror (errno));
  while ((e = readdir (d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir (d);
  return n - 1;
}

/* ---- progress and a watchdog ---- */

/* What the program is doing next, on stderr with GST_IIO_FFS_TRACE=1
 * (tests/vm/run passes GST_IIO_* into the guest). */
static inline void
stage (const char *name)
{
  if (getenv ("GST_IIO_FFS_TRACE"))
    fprintf (stderr, "stage: %s\n", name);
}

/* A child process that, if this one is still running after @seconds,
 * prints every thread's kernel stack (readable even while a thread sleeps
 * uninterruptibly in the kernel, where no signal handler would run) and
 * kills it: a hang reports where it is, within the test's bound. */
static pid_t watchdog_pid = -1;

static inline void
watchdog_dump (pid_t pid)
{
  char path[320], buf[4096];
  DIR *d;
  struct dirent *e;

  snprintf (path, sizeof (path), "/proc/%d/task", (int) pid);
  d = opendir (path);
  fprintf (stderr, "FAIL: watchdog: process %d still running; its threads' "
      "kernel stacks:\n", (int) pid);
  while (d && (e = readdir (d)) != NULL) {
    FILE *f;
    size_t n;

    if (e->d_name[0] == '.')
      continue;
    snprintf (path, sizeof (path), "/proc/%d/task/%s/stack", (int) pid,
        e->d_name);
    f = fopen (path, "r");
    if (!f)
      continue;
    n = fread (buf, 1, sizeof (buf) - 1, f);
    buf[n] = '\0';
    fclose (f);
    fprintf (stderr, "thread %s:\n%s", e->d_name, buf);
  }
  if (d)
    closedir (d);
  /* and any process asleep in the kernel for good (a helper's rmmod...) */
  d = opendir ("/proc");
  while (d && (e = readdir (d)) != NULL) {
    char st[512] = "", *p;
    FILE *f;
    size_t n;

    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    snprintf (path, sizeof (path), "/proc/%s/stat", e->d_name);
    f = fopen (path, "r");
    if (!f)
      continue;
    n = fread (st, 1, sizeof (st) - 1, f);
    st[n] = '\0';
    fclose (f);
    p = strrchr (st, ')');
    if (!p || p[1] != ' ' || p[2] != 'D')
      continue;
    snprintf (path, sizeof (path), "/proc/%s/stack", e->d_name);
    f = fopen (path, "r");
    n = f ? fread (buf, 1, sizeof (buf) - 1, f) : 0;
    buf[n] = '\0';
    if (f)
      fclose (f);
    fprintf (stderr, "D state: %s\n%s", st, buf);
  }
  if (d)
    closedir (d);
}

static inline void
watchdog_stop (void)
{
  if (watchdog_pid > 0) {
    kill (watchdog_pid, SIGKILL);
    waitpid (watchdog_pid, NULL, 0);
    watchdog_pid = -1;
  }
}

static inline void
watchdog_start (unsigned seconds)
{
  pid_t parent = getpid ();

  fflush (NULL);
  watchdog_pid = fork ();
  CHECK (watchdog_pid >= 0, "fork: %s", strerror (errno));
  if (watchdog_pid == 0) {
    sleep (seconds);
    if (kill (parent, 0) == 0) {
      watchdog_dump (parent);
      kill (parent, SIGKILL);
    }
    _exit (0);
  }
  atexit (watchdog_stop);
}

/* ---- the bring-up ---- */

typedef struct
{
  int ep0;
  libusb_context *usb_ctx;
  libusb_device_handle *usb;
  char node[128];               /* /dev/bus/usb/BBB/DDD */
} Peer;

/* The gadget at @speed (high, super) with the function's descriptors on
 * ep0, bound, enumerated and configured by the host side, the interface
 * claimed through libusb, and ep0's ENABLE read: the endpoint files
 * FFS_DIR/ep1 (IN) and ep2 (OUT) are ready. */
static inline void
peer_up (Peer * p, const char *speed, int want_speed)
{
  char buf[128];
  int cfg = -1, r;

  memset (p, 0, sizeof (*p));
  snprintf (buf, sizeof (buf), "speed %s", speed);
  stage ("helper speed");
  run_helper (buf, NULL, 0);
  stage ("helper setup");
  run_helper ("setup " NAME, buf, sizeof (buf));
  CHECK (strcmp (buf, FFS_DIR) == 0, "the helper mounted functionfs at '%s'"
      ", not " FFS_DIR, buf);
  p->ep0 = open (FFS_DIR "/ep0", O_RDWR | O_CLOEXEC);
  CHECK (p->ep0 >= 0, "open " FFS_DIR "/ep0: %s", strerror (errno));
  write_descriptors (p->ep0);
  stage ("helper bind");
  run_helper ("bind " NAME, p->node, sizeof (p->node));
  stage ("libusb open");

  /* no udevd in the guest: a libusb context sees only the devices
   * present when it is created, so create it after the bind */
  r = libusb_init (&p->usb_ctx);
  CHECK (r == 0, "libusb_init: %s", libusb_error_name (r));
  p->usb = libusb_open_device_with_vid_pid (p->usb_ctx, VID, PID);
  CHECK (p->usb != NULL, "libusb: no %04x:%04x on the host side (bound as "
      "%s)", VID, PID, p->node);
  r = libusb_get_device_speed (libusb_get_device (p->usb));
  CHECK (r == want_speed, "libusb: the device runs at speed %d, not %d (%s)",
      r, want_speed, speed);
  CHECK (libusb_get_configuration (p->usb, &cfg) == 0 && cfg == 1,
      "libusb: configuration %d, not 1 (the kernel sets it)", cfg);
  r = libusb_claim_interface (p->usb, 0);
  CHECK (r == 0, "libusb_claim_interface: %s", libusb_error_name (r));
  stage ("ep0 ENABLE");
  wait_enable (p->ep0);
}

/* Everything peer_up() made, in reverse; the endpoint files must be
 * closed already. */
static inline void
peer_down (Peer * p)
{
  stage ("libusb close");
  libusb_release_interface (p->usb, 0);
  libusb_close (p->usb);
  libusb_exit (p->usb_ctx);
  /* unbind before ep0 goes: closing a bound function's ep0 unregisters
   * the gadget from f_fs's side, racing the helper's own unbind */
  stage ("helper unbind");
  run_helper ("unbind " NAME, NULL, 0);
  stage ("close ep0");
  close (p->ep0);
  stage ("helper teardown");
  run_helper ("teardown " NAME, NULL, 0);
}

/* One bulk transfer by the host side, all @size bytes, within WAIT_MS. */
static inline void
host_bulk_exact (libusb_device_handle * usb, unsigned char ep, uint8_t * data,
    size_t size, const char *what)
{
  int actual = -1;
  int r = libusb_bulk_transfer (usb, ep, data, (int) size, &actual, WAIT_MS);

  CHECK (r == 0, "%s: libusb_bulk_transfer on 0x%02x: %s", what, ep,
      libusb_error_name (r));
  CHECK (actual == (int) size, "%s: the host moved %d bytes, not %zu", what,
      actual, size);
}
