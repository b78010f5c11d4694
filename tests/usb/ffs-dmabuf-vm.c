/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* FunctionFS DMABUF round trips on the test bed's USB gadget (suite
 * 'vm', run by tests/vm/run): the kernel interface that ffssink and
 * ffssrc are built on, with no GStreamer.
 *
 * For each speed (high, then super: tests/vm/usb/gadget reloads the
 * patched dummy_hcd), it sets up the gadget (tests/vm/usb/gadget setup),
 * writes one vendor-specific interface with a bulk IN and a bulk OUT
 * endpoint (full, high and super speed descriptors) and its strings to
 * ep0, binds the gadget to dummy_hcd's UDC, and opens the device on the
 * host side of the same guest with libusb. Then, with DMABUFs from the
 * system DMA heap and from udmabuf, in several sizes:
 *   - the refusals: TRANSFER or DETACH of a DMABUF not attached (EPERM),
 *     a length of 0 or past the DMABUF, an unknown flag (EINVAL); a
 *     DETACH with a transfer queued cancels it (the DMABUF writable at
 *     once; its status is not read: docs/kernel-bugs.md 15);
 *   - rounds of ATTACH, iterations, DETACH. An iteration queues a
 *     TRANSFER of every DMABUF on IN, each filled with its own pattern,
 *     checks that each fence is still pending (POLLOUT not ready) while
 *     the host has read nothing, lets the host read each back and checks
 *     every byte, and waits on each fence explicitly (a sync file from
 *     DMA_BUF_IOCTL_EXPORT_SYNC_FILE taken right after the TRANSFER:
 *     pending until the host moved the data, then signalled, status 1,
 *     no error).
 *     Then OUT: the DMABUFs are cleared, a TRANSFER queued on each, each
 *     fence is pending for a reader (POLLIN not ready, and the sync file
 *     exported for reading is active: the write fence is where readers
 *     look, fix 0145e7acd298, docs/kernel-bugs.md 13), the host writes a
 *     pattern into each, and after the explicit fence wait every byte of
 *     every DMABUF is checked.
 *   - the copy path the elements fall back to: write() on IN and read()
 *     on OUT of more than a page (f_fs queues those as scatterlists too
 *     once the UDC has sg_supported), every byte checked;
 *   - the process's fd count is the same before the DMABUFs and after
 *     them, and before the gadget and after its teardown.
 * Exit status 0, 1 on the first wrong byte, count or errno (named). */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <linux/udmabuf.h>
#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#include <libusb.h>

#include "gstffsuapi.h"
#include "ffscheck.h"

#define ROUNDS 3
#define ITERATIONS 8

/* ---- DMABUFs ---- */

typedef struct
{
  const char *kind;
  int fd;
  size_t size;
  uint8_t *map;
} Buf;

static int
heap_alloc (size_t size)
{
  struct dma_heap_allocation_data d = {.len = size,
    .fd_flags = O_RDWR | O_CLOEXEC
  };
  int heap = open ("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);

  CHECK (heap >= 0, "open /dev/dma_heap/system: %s", strerror (errno));
  CHECK (ioctl (heap, DMA_HEAP_IOCTL_ALLOC, &d) == 0, "DMA_HEAP_IOCTL_ALLOC "
      "%zu: %s", size, strerror (errno));
  close (heap);
  return (int) d.fd;
}

static int
udmabuf_alloc (size_t size)
{
  struct udmabuf_create c = {.flags = UDMABUF_FLAGS_CLOEXEC,.size = size };
  int memfd = memfd_create ("ffs-dmabuf-vm", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  int dev, fd;

  CHECK (memfd >= 0, "memfd_create: %s", strerror (errno));
  CHECK (ftruncate (memfd, (off_t) size) == 0, "ftruncate: %s",
      strerror (errno));
  CHECK (fcntl (memfd, F_ADD_SEALS, F_SEAL_SHRINK) == 0, "F_SEAL_SHRINK: %s",
      strerror (errno));
  dev = open ("/dev/udmabuf", O_RDWR | O_CLOEXEC);
  CHECK (dev >= 0, "open /dev/udmabuf: %s", strerror (errno));
  c.memfd = (uint32_t) memfd;
  fd = ioctl (dev, UDMABUF_CREATE, &c);
  CHECK (fd >= 0, "UDMABUF_CREATE %zu: %s", size, strerror (errno));
  close (dev);
  close (memfd);
  return fd;
}

static Buf
buf_new (const char *kind, size_t size)
{
  Buf b = {.kind = kind,.size = size };

  b.fd = strcmp (kind, "heap") == 0 ? heap_alloc (size) : udmabuf_alloc (size);
  b.map = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
  CHECK (b.map != MAP_FAILED, "mmap %s DMABUF: %s", kind, strerror (errno));
  return b;
}

static void
buf_free (Buf * b)
{
  munmap (b->map, b->size);
  close (b->fd);
}

static void
cpu_sync (const Buf * b, uint64_t flags)
{
  struct dma_buf_sync s = {.flags = flags };

  CHECK (ioctl (b->fd, DMA_BUF_IOCTL_SYNC, &s) == 0, "DMA_BUF_IOCTL_SYNC: %s",
      strerror (errno));
}


static void
check_bytes (const uint8_t * got, const uint8_t * want, size_t size,
    const char *what)
{
  for (size_t i = 0; i < size; i++)
    CHECK (got[i] == want[i], "%s: byte %zu of %zu is 0x%02x, not 0x%02x",
        what, i, size, got[i], want[i]);
}

/* A sync file with the fences that an access (DMA_BUF_SYNC_READ: the
 * writers; DMA_BUF_SYNC_WRITE: all) must wait for; its status: 1
 * signalled, 0 pending, < 0 signalled with that error. */
static int
export_fence (const Buf * b, uint32_t flags)
{
  struct dma_buf_export_sync_file e = {.flags = flags,.fd = -1 };

  CHECK (ioctl (b->fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e) == 0,
      "DMA_BUF_IOCTL_EXPORT_SYNC_FILE: %s", strerror (errno));
  return e.fd;
}

static int
fence_status (int sync_fd)
{
  struct sync_file_info info;

  memset (&info, 0, sizeof (info));
  CHECK (ioctl (sync_fd, SYNC_IOC_FILE_INFO, &info) == 0,
      "SYNC_IOC_FILE_INFO: %s", strerror (errno));
  return info.status;
}

/* Waits explicitly, within WAIT_MS, on sf (every fence of a transfer,
 * exported right after its TRANSFER: only a sync file taken while the
 * fence is pending carries its error), checks the transfer ended without
 * error, and closes sf. */
static void
wait_fence (int sf, const char *what)
{
  struct pollfd p = {.fd = sf,.events = POLLIN };
  int r = poll (&p, 1, WAIT_MS);
  int st;

  CHECK (r == 1, "%s: the fence did not signal within %d ms (poll %d)",
      what, WAIT_MS, r);
  st = fence_status (sf);
  CHECK (st == 1, "%s: fence status %d (%s)", what, st,
      st < 0 ? strerror (-st) : "pending");
  close (sf);
}

static bool
poll_ready (const Buf * b, short events)
{
  struct pollfd p = {.fd = b->fd,.events = events };
  int r = poll (&p, 1, 0);

  CHECK (r >= 0, "poll DMABUF: %s", strerror (errno));
  return r == 1 && (p.revents & events);
}


/* ---- FunctionFS ioctls ---- */

static int
ffs_ioctl (int ep, unsigned long code, void *arg)
{
  return ioctl (ep, code, arg) == 0 ? 0 : errno;
}

static int
ffs_transfer (int ep, int fd, uint64_t length, uint32_t flags)
{
  struct usb_ffs_dmabuf_transfer_req r = {.fd = fd,.flags = flags,
    .length = length
  };

  return ffs_ioctl (ep, FUNCTIONFS_DMABUF_TRANSFER, &r);
}

#define CHECK_ERRNO(call, want, what) do { \
    int e_ = (call); \
    CHECK (e_ == (want), "%s: %s (%d), expected %s (%d)", what, \
        e_ ? strerror (e_) : "success", e_, \
        (want) ? strerror (want) : "success", (want)); \
  } while (0)

/* ---- the round trips ---- */

typedef struct
{
  int ep_in, ep_out;
  int fence[16];                /* a sync file per DMABUF in flight */
  libusb_device_handle *usb;
  uint32_t seq;
  uint64_t in_transfers, out_transfers, in_bytes, out_bytes;
  uint8_t *host;                /* the host side's buffer */
  uint8_t *want;
} Ctx;

static void
host_bulk (Ctx * c, unsigned char ep, uint8_t * data, size_t size,
    const char *what)
{
  host_bulk_exact (c->usb, ep, data, size, what);
}

static void
round_in (Ctx * c, Buf * bufs, size_t n)
{
  uint32_t first = c->seq;
  char what[96];

  for (size_t i = 0; i < n; i++) {
    cpu_sync (&bufs[i], DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    pattern (bufs[i].map, bufs[i].size, c->seq++);
    cpu_sync (&bufs[i], DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
  }
  for (size_t i = 0; i < n; i++) {
    CHECK_ERRNO (ffs_transfer (c->ep_in, bufs[i].fd, bufs[i].size, 0), 0,
        "TRANSFER on IN");
    c->fence[i] = export_fence (&bufs[i], DMA_BUF_SYNC_WRITE);
  }
  /* nothing read yet: every IN fence pending, a writer must wait */
  for (size_t i = 0; i < n; i++) {
    CHECK (!poll_ready (&bufs[i], POLLOUT), "IN DMABUF %zu (%s, %zu bytes) "
        "writable before the host read it", i, bufs[i].kind, bufs[i].size);
    CHECK (fence_status (c->fence[i]) == 0, "IN DMABUF %zu: its fence is "
        "not pending before the host read", i);
  }
  for (size_t i = 0; i < n; i++) {
    snprintf (what, sizeof (what), "IN transfer %u (%s, %zu bytes)",
        first + (uint32_t) i, bufs[i].kind, bufs[i].size);
    host_bulk (c, EP_IN_ADDR, c->host, bufs[i].size, what);
    pattern (c->want, bufs[i].size, first + (uint32_t) i);
    check_bytes (c->host, c->want, bufs[i].size, what);
    wait_fence (c->fence[i], what);
    c->in_transfers++;
    c->in_bytes += bufs[i].size;
  }
}

static void
round_out (Ctx * c, Buf * bufs, size_t n)
{
  uint32_t first = c->seq;
  char what[96];

  for (size_t i = 0; i < n; i++) {
    cpu_sync (&bufs[i], DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    memset (bufs[i].map, 0xee, bufs[i].size);
    cpu_sync (&bufs[i], DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
  }
  for (size_t i = 0; i < n; i++) {
    CHECK_ERRNO (ffs_transfer (c->ep_out, bufs[i].fd, bufs[i].size, 0), 0,
        "TRANSFER on OUT");
    c->fence[i] = export_fence (&bufs[i], DMA_BUF_SYNC_WRITE);
  }
  /* nothing written yet: a reader must wait, implicitly (POLLIN) and
   * explicitly (the sync file for reading holds the OUT fence) */
  for (size_t i = 0; i < n; i++) {
    int sf = export_fence (&bufs[i], DMA_BUF_SYNC_READ);

    CHECK (!poll_ready (&bufs[i], POLLIN), "OUT DMABUF %zu (%s, %zu bytes) "
        "readable before the host wrote it", i, bufs[i].kind, bufs[i].size);
    CHECK (fence_status (sf) == 0, "OUT DMABUF %zu: the fence a reader gets "
        "is not pending before the host wrote (status %d)", i,
        fence_status (sf));
    CHECK (fence_status (c->fence[i]) == 0, "OUT DMABUF %zu: its fence is "
        "not pending before the host wrote", i);
    close (sf);
  }
  for (size_t i = 0; i < n; i++) {
    snprintf (what, sizeof (what), "OUT transfer %u (%s, %zu bytes)",
        first + (uint32_t) i, bufs[i].kind, bufs[i].size);
    pattern (c->host, bufs[i].size, c->seq++);
    host_bulk (c, EP_OUT_ADDR, c->host, bufs[i].size, what);
  }
  for (size_t i = 0; i < n; i++) {
    snprintf (what, sizeof (what), "OUT transfer %u (%s, %zu bytes)",
        first + (uint32_t) i, bufs[i].kind, bufs[i].size);
    wait_fence (c->fence[i], what);
    pattern (c->want, bufs[i].size, first + (uint32_t) i);
    cpu_sync (&bufs[i], DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    check_bytes (bufs[i].map, c->want, bufs[i].size, what);
    cpu_sync (&bufs[i], DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    c->out_transfers++;
    c->out_bytes += bufs[i].size;
  }
}

/* ---- the copy path: write() and read() on the endpoint files ---- */

typedef struct
{
  int ep;
  uint8_t *data;
  size_t size;
  ssize_t done;
  int err;
} Io;

static void *
io_write (void *data)
{
  Io *io = data;

  io->done = write (io->ep, io->data, io->size);
  io->err = errno;
  return NULL;
}

static void *
io_read (void *data)
{
  Io *io = data;

  io->done = read (io->ep, io->data, io->size);
  io->err = errno;
  return NULL;
}

/* A blocking write() or read() returns when the host has moved the
 * data: the gadget side runs in a thread of its own. */
static void
copy_path (Ctx * c, size_t size)
{
  uint8_t *gadget = malloc (size);
  Io io = {.data = gadget,.size = size };
  pthread_t t;
  char what[64];

  CHECK (gadget != NULL, "malloc");
  snprintf (what, sizeof (what), "write() of %zu bytes on IN", size);
  pattern (gadget, size, c->seq++);
  io.ep = c->ep_in;
  CHECK (pthread_create (&t, NULL, io_write, &io) == 0, "pthread_create");
  host_bulk (c, EP_IN_ADDR, c->host, size, what);
  pthread_join (t, NULL);
  CHECK (io.done == (ssize_t) size, "%s: returned %zd (%s)", what, io.done,
      strerror (io.err));
  check_bytes (c->host, gadget, size, what);

  snprintf (what, sizeof (what), "read() of %zu bytes on OUT", size);
  memset (gadget, 0xee, size);
  pattern (c->host, size, c->seq++);
  io.ep = c->ep_out;
  io.done = -1;
  CHECK (pthread_create (&t, NULL, io_read, &io) == 0, "pthread_create");
  host_bulk (c, EP_OUT_ADDR, c->host, size, what);
  pthread_join (t, NULL);
  CHECK (io.done == (ssize_t) size, "%s: returned %zd (%s)", what, io.done,
      strerror (io.err));
  check_bytes (gadget, c->host, size, what);
  free (gadget);
}

static const struct
{
  const char *kind;
  size_t size;
} buf_specs[] = {
  {"heap", 4096}, {"heap", 65536}, {"heap", 69632}, {"heap", 262144},
  {"udmabuf", 65536}, {"udmabuf", 131072},
};

#define N_BUFS (sizeof (buf_specs) / sizeof (buf_specs[0]))
_Static_assert (N_BUFS <= 16, "Ctx.fence holds 16");

static void
run_speed (const char *speed, int want_speed)
{
  Peer peer;
  Ctx c;
  Buf bufs[N_BUFS];
  int fds_gadget, fds_bufs;

  memset (&c, 0, sizeof (c));
  fds_gadget = count_fds ();
  peer_up (&peer, speed, want_speed);
  c.usb = peer.usb;

  c.ep_in = open (FFS_DIR "/ep1", O_RDWR | O_CLOEXEC);
  CHECK (c.ep_in >= 0, "open " FFS_DIR "/ep1: %s", strerror (errno));
  c.ep_out = open (FFS_DIR "/ep2", O_RDWR | O_CLOEXEC);
  CHECK (c.ep_out >= 0, "open " FFS_DIR "/ep2: %s", strerror (errno));
  c.host = malloc (262144);
  c.want = malloc (262144);
  CHECK (c.host && c.want, "malloc");

  stage ("copy path");
  copy_path (&c, 512);
  copy_path (&c, 65536);
  copy_path (&c, 200704);

  fds_bufs = count_fds ();
  for (size_t i = 0; i < N_BUFS; i++)
    bufs[i] = buf_new (buf_specs[i].kind, buf_specs[i].size);

  stage ("refusals");
  /* the refusals, on a DMABUF that is not attached, then on one that is */
  CHECK_ERRNO (ffs_transfer (c.ep_in, bufs[0].fd, bufs[0].size, 0), EPERM,
      "TRANSFER of a DMABUF not attached");
  CHECK_ERRNO (ffs_ioctl (c.ep_in, FUNCTIONFS_DMABUF_DETACH, &bufs[0].fd),
      EPERM, "DETACH of a DMABUF not attached");
  CHECK_ERRNO (ffs_ioctl (c.ep_in, FUNCTIONFS_DMABUF_ATTACH, &bufs[0].fd), 0,
      "ATTACH");
  CHECK_ERRNO (ffs_transfer (c.ep_in, bufs[0].fd, 0, 0), EINVAL,
      "TRANSFER of 0 bytes");
  CHECK_ERRNO (ffs_transfer (c.ep_in, bufs[0].fd, bufs[0].size + 1, 0),
      EINVAL, "TRANSFER past the DMABUF's end");
  CHECK_ERRNO (ffs_transfer (c.ep_in, bufs[0].fd, bufs[0].size, 1), EINVAL,
      "TRANSFER with an unknown flag");
  /* a DETACH cancels the DMABUF's queued transfer: its fence signals
   * (the DMABUF is writable at once, the host read nothing), and the
   * endpoint goes on (the rounds below). The sync file is closed unpolled
   * and its status never read after the DETACH: the fence's lock lives in
   * the attachment, which the DETACH frees (docs/kernel-bugs.md 15) */
  CHECK_ERRNO (ffs_transfer (c.ep_in, bufs[0].fd, bufs[0].size, 0), 0,
      "TRANSFER before a cancel");
  c.fence[0] = export_fence (&bufs[0], DMA_BUF_SYNC_WRITE);
  CHECK (fence_status (c.fence[0]) == 0, "fence not pending before the "
      "cancel");
  CHECK (!poll_ready (&bufs[0], POLLOUT), "DMABUF writable before the "
      "cancel");
  CHECK_ERRNO (ffs_ioctl (c.ep_in, FUNCTIONFS_DMABUF_DETACH, &bufs[0].fd), 0,
      "DETACH");
  {
    struct pollfd p = {.fd = bufs[0].fd,.events = POLLOUT };

    CHECK (poll (&p, 1, WAIT_MS) == 1, "the cancelled transfer's fence did "
        "not signal within %d ms", WAIT_MS);
    close (c.fence[0]);
  }

  for (int round = 0; round < ROUNDS; round++) {
    for (size_t i = 0; i < N_BUFS; i++) {
      CHECK_ERRNO (ffs_ioctl (c.ep_in, FUNCTIONFS_DMABUF_ATTACH,
              &bufs[i].fd), 0, "ATTACH on IN");
      CHECK_ERRNO (ffs_ioctl (c.ep_out, FUNCTIONFS_DMABUF_ATTACH,
              &bufs[i].fd), 0, "ATTACH on OUT");
    }
    for (int it = 0; it < ITERATIONS; it++) {
      stage ("round IN");
      round_in (&c, bufs, N_BUFS);
      stage ("round OUT");
      round_out (&c, bufs, N_BUFS);
    }
    for (size_t i = 0; i < N_BUFS; i++) {
      CHECK_ERRNO (ffs_ioctl (c.ep_in, FUNCTIONFS_DMABUF_DETACH,
              &bufs[i].fd), 0, "DETACH on IN");
      CHECK_ERRNO (ffs_ioctl (c.ep_out, FUNCTIONFS_DMABUF_DETACH,
              &bufs[i].fd), 0, "DETACH on OUT");
    }
  }
  /* detached means gone: a TRANSFER is refused again */
  CHECK_ERRNO (ffs_transfer (c.ep_out, bufs[1].fd, bufs[1].size, 0), EPERM,
      "TRANSFER after DETACH");

  for (size_t i = 0; i < N_BUFS; i++)
    buf_free (&bufs[i]);
  CHECK (count_fds () == fds_bufs, "%d fds open after the DMABUFs were "
      "freed, %d before them", count_fds (), fds_bufs);
  CHECK (c.in_transfers == (uint64_t) ROUNDS * ITERATIONS * N_BUFS
      && c.out_transfers == c.in_transfers, "%" PRIu64 " IN and %" PRIu64
      " OUT transfers, not %d each", c.in_transfers, c.out_transfers,
      (int) (ROUNDS * ITERATIONS * N_BUFS));
  printf ("speed=%s rounds=%d iterations=%d dmabufs=%zu in_transfers=%"
      PRIu64 " in_bytes=%" PRIu64 " out_transfers=%" PRIu64 " out_bytes=%"
      PRIu64 " data=exact fds=%d/%d\n", speed, ROUNDS, ITERATIONS, N_BUFS,
      c.in_transfers, c.in_bytes, c.out_transfers, c.out_bytes, fds_bufs,
      count_fds ());
  fflush (stdout);

  free (c.host);
  free (c.want);
  stage ("close the endpoints");
  close (c.ep_in);
  close (c.ep_out);
  peer_down (&peer);
  CHECK (count_fds () == fds_gadget, "%d fds open after the gadget's "
      "teardown, %d before its setup", count_fds (), fds_gadget);
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s tests/vm/usb/gadget\n", argv[0]);
    return 2;
  }
  helper = argv[1];
  /* far below the test's bound: a hang reports where it is */
  watchdog_start (300);
  run_speed ("high", LIBUSB_SPEED_HIGH);
  run_speed ("super", LIBUSB_SPEED_SUPER);
  run_speed ("high", LIBUSB_SPEED_HIGH);
  printf ("ok\n");
  return 0;
}
