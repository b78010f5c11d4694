/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * testbed-check: checks the simulated IIO devices of tests/vm/sim against
 * the real kernel, inside the test bed (tests/vm/run).
 *
 *   testbed-check CASE...        run the given cases ("all": every case)
 *   testbed-check list           print the case names
 *   testbed-check verify-ramp NCHANS NSAMPLES
 *                                check that stdin carries exactly NSAMPLES
 *                                channel sets of the sim ramp from n = 0
 *
 * Every case prints "PASS name" or "FAIL name: why"; the last line is the
 * summary "N passed, N failed". Exit status 0 only if every case passed.
 * Every wait is bounded; a case that hangs fails after CASE_TIMEOUT_S.
 *
 * Self-contained on purpose: the IIO DMABUF API is defined here when the
 * system's linux/iio/buffer.h (Debian bookworm: 6.1) lacks it.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/iio/buffer.h>
#include <linux/sync_file.h>
#include <linux/udmabuf.h>

#ifndef IIO_BUFFER_DMABUF_ATTACH_IOCTL
struct iio_dmabuf
{
  __u32 fd;
  __u32 flags;
  __u64 bytes_used;
};
#define IIO_BUFFER_DMABUF_CYCLIC (1 << 0)
#define IIO_BUFFER_DMABUF_ATTACH_IOCTL _IOW('i', 0x92, int)
#define IIO_BUFFER_DMABUF_DETACH_IOCTL _IOW('i', 0x93, int)
#define IIO_BUFFER_DMABUF_ENQUEUE_IOCTL _IOW('i', 0x94, struct iio_dmabuf)
#endif

#define CASE_TIMEOUT_S 120
#define WAIT_MS 5000
#define SYS_IIO "/sys/bus/iio/devices"
#define SIM_DRIVER "/sys/bus/platform/drivers/iio-sim"
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define ADC_CHANS 4
#define ADC_BPD (2 * ADC_CHANS)
#define DAC_BPD 4

static char why[1024];
static const char *current_case;

static int
fail (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (why, sizeof why, fmt, ap);
  va_end (ap);
  return -1;
}

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_ms (int ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

  nanosleep (&ts, NULL);
}

static uint64_t
fnv1a (uint64_t hash, const uint8_t * p, size_t len)
{
  while (len--) {
    hash ^= *p++;
    hash *= FNV_PRIME;
  }
  return hash;
}

/* ---- sysfs ---------------------------------------------------------------- */

static int
write_file (const char *path, const char *value)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return fail ("open %s: %s", path, strerror (errno));
  n = write (fd, value, strlen (value));
  if (n < 0) {
    int e = errno;
    close (fd);
    return fail ("write '%s' to %s: %s", value, path, strerror (e));
  }
  close (fd);
  return 0;
}

static int
read_file (const char *path, char *out, size_t size)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return fail ("open %s: %s", path, strerror (errno));
  n = read (fd, out, size - 1);
  close (fd);
  if (n < 0)
    return fail ("read %s: %s", path, strerror (errno));
  out[n] = '\0';
  out[strcspn (out, "\n")] = '\0';
  return 0;
}

/* ---- devices ---------------------------------------------------------------- */

typedef struct
{
  const char *name;
  char sysdir[300];
  int dev_fd;
  int buf_fd;
} Dev;

static int
dev_find (Dev * d, const char *name)
{
  DIR *dir = opendir (SYS_IIO);
  struct dirent *e;
  char path[600], value[64];

  if (!dir)
    return fail ("opendir %s: %s", SYS_IIO, strerror (errno));
  while ((e = readdir (dir))) {
    if (strncmp (e->d_name, "iio:device", 10))
      continue;
    snprintf (path, sizeof path, SYS_IIO "/%s/name", e->d_name);
    if (read_file (path, value, sizeof value) == 0 && !strcmp (value, name)) {
      snprintf (d->sysdir, sizeof d->sysdir, SYS_IIO "/%s", e->d_name);
      closedir (dir);
      return 0;
    }
  }
  closedir (dir);
  return fail ("no IIO device named %s in %s", name, SYS_IIO);
}

static int
dev_set (Dev * d, const char *attr, const char *value)
{
  char path[600];

  snprintf (path, sizeof path, "%s/%s", d->sysdir, attr);
  return write_file (path, value);
}

static int
dev_get (Dev * d, const char *attr, char *out, size_t size)
{
  char path[600];

  snprintf (path, sizeof path, "%s/%s", d->sysdir, attr);
  return read_file (path, out, size);
}

static int
dev_get_u64 (Dev * d, const char *attr, uint64_t * out)
{
  char value[64], *end;

  if (dev_get (d, attr, value, sizeof value))
    return -1;
  errno = 0;
  *out = strtoull (value, &end, 0);
  if (errno || end == value || *end)
    return fail ("%s/%s: '%s' is not a number", d->sysdir, attr, value);
  return 0;
}

static int
dev_set_u64 (Dev * d, const char *attr, uint64_t v)
{
  char value[32];

  snprintf (value, sizeof value, "%llu", (unsigned long long) v);
  return dev_set (d, attr, value);
}

/* Opens the device and its buffer 0; enables nchans channels, sets length. */
static int
dev_open (Dev * d, const char *name, int nchans, unsigned length,
    uint32_t rate)
{
  const char *dir = strcmp (name, "sim-dac") ? "in" : "out";
  char path[600], attr[64];
  int i, idx = 0;

  memset (d, 0, sizeof *d);
  d->name = name;
  d->dev_fd = d->buf_fd = -1;
  if (dev_find (d, name))
    return -1;
  if (dev_set (d, "buffer0/enable", "0"))
    return -1;
  for (i = 0; i < nchans; i++) {
    snprintf (attr, sizeof attr, "buffer0/%s_voltage%d_en", dir, i);
    if (dev_set (d, attr, "1"))
      return -1;
  }
  if (dev_set_u64 (d, "buffer0/length", length)
      || dev_set_u64 (d, "sampling_frequency", rate))
    return -1;
  snprintf (path, sizeof path, "/dev/%s", strrchr (d->sysdir, '/') + 1);
  d->dev_fd = open (path, O_RDWR | O_CLOEXEC);
  if (d->dev_fd < 0)
    return fail ("open %s: %s", path, strerror (errno));
  d->buf_fd = idx;
  if (ioctl (d->dev_fd, IIO_BUFFER_GET_FD_IOCTL, &d->buf_fd) < 0) {
    d->buf_fd = -1;
    return fail ("IIO_BUFFER_GET_FD_IOCTL on %s: %s", path, strerror (errno));
  }
  return 0;
}

static int
dev_enable (Dev * d, bool on)
{
  return dev_set (d, "buffer0/enable", on ? "1" : "0");
}

/* Best effort: the device may be gone (unbind cases). */
static void
dev_close (Dev * d)
{
  char saved[sizeof why];

  memcpy (saved, why, sizeof why);
  if (d->sysdir[0])
    dev_enable (d, false);
  memcpy (why, saved, sizeof why);
  if (d->buf_fd >= 0)
    close (d->buf_fd);
  if (d->dev_fd >= 0)
    close (d->dev_fd);
  d->buf_fd = d->dev_fd = -1;
}

/* ---- DMABUFs ------------------------------------------------------------------ */

typedef struct
{
  int fd;
  size_t size;
  uint8_t *map;
} Dmabuf;

static int
dmabuf_map (Dmabuf * b)
{
  b->map = mmap (NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
  if (b->map == MAP_FAILED) {
    b->map = NULL;
    return fail ("mmap of a %zu-byte DMABUF: %s", b->size, strerror (errno));
  }
  return 0;
}

static int
dmabuf_alloc_heap (Dmabuf * b, size_t size)
{
  struct dma_heap_allocation_data req = {
    .len = size, .fd_flags = O_RDWR | O_CLOEXEC
  };
  int heap = open ("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);

  b->fd = -1;
  b->size = size;
  b->map = NULL;
  if (heap < 0)
    return fail ("open /dev/dma_heap/system: %s", strerror (errno));
  if (ioctl (heap, DMA_HEAP_IOCTL_ALLOC, &req) < 0) {
    int e = errno;
    close (heap);
    return fail ("DMA_HEAP_IOCTL_ALLOC %zu bytes: %s", size, strerror (e));
  }
  close (heap);
  b->fd = req.fd;
  return dmabuf_map (b);
}

static int
dmabuf_alloc_udmabuf (Dmabuf * b, size_t size)
{
  struct udmabuf_create req = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = size };
  int dev, memfd;

  b->fd = -1;
  b->size = size;
  b->map = NULL;
  memfd = memfd_create ("testbed", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (memfd < 0)
    return fail ("memfd_create: %s", strerror (errno));
  if (ftruncate (memfd, size) < 0
      || fcntl (memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
    close (memfd);
    return fail ("memfd ftruncate/seal: %s", strerror (errno));
  }
  dev = open ("/dev/udmabuf", O_RDWR | O_CLOEXEC);
  if (dev < 0) {
    close (memfd);
    return fail ("open /dev/udmabuf: %s", strerror (errno));
  }
  req.memfd = memfd;
  b->fd = ioctl (dev, UDMABUF_CREATE, &req);
  close (dev);
  close (memfd);
  if (b->fd < 0)
    return fail ("UDMABUF_CREATE %zu bytes: %s", size, strerror (errno));
  return dmabuf_map (b);
}

static void
dmabuf_free (Dmabuf * b)
{
  if (b->map)
    munmap (b->map, b->size);
  if (b->fd >= 0)
    close (b->fd);
  b->map = NULL;
  b->fd = -1;
}

static int
dmabuf_sync (Dmabuf * b, uint64_t flags)
{
  struct dma_buf_sync s = { .flags = flags };

  if (ioctl (b->fd, DMA_BUF_IOCTL_SYNC, &s) < 0)
    return fail ("DMA_BUF_IOCTL_SYNC: %s", strerror (errno));
  return 0;
}

/* Waits for the DMABUF's fence: POLLIN for capture, POLLOUT for output. */
static int
dmabuf_wait (Dmabuf * b, short events, int timeout_ms)
{
  struct pollfd p = { .fd = b->fd, .events = events };
  int n = poll (&p, 1, timeout_ms);

  if (n < 0)
    return fail ("poll on a DMABUF: %s", strerror (errno));
  if (n == 0)
    return fail ("DMABUF transfer not done after %d ms", timeout_ms);
  return 0;
}

static int
attach (Dev * d, Dmabuf * b)
{
  int fd = b->fd;

  if (ioctl (d->buf_fd, IIO_BUFFER_DMABUF_ATTACH_IOCTL, &fd) < 0)
    return fail ("DMABUF_ATTACH on %s: %s", d->name, strerror (errno));
  return 0;
}

static int
enqueue (Dev * d, Dmabuf * b, size_t bytes, bool cyclic)
{
  struct iio_dmabuf req = {
    .fd = b->fd, .flags = cyclic ? IIO_BUFFER_DMABUF_CYCLIC : 0,
    .bytes_used = bytes
  };

  if (ioctl (d->buf_fd, IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &req) < 0)
    return fail ("DMABUF_ENQUEUE on %s: %s", d->name, strerror (errno));
  return 0;
}

/* A sync_file of the transfer just enqueued (capture: its write fence). */
static int
export_fence (Dmabuf * b, bool capture)
{
  struct dma_buf_export_sync_file e = {
    .flags = capture ? DMA_BUF_SYNC_READ : DMA_BUF_SYNC_WRITE, .fd = -1
  };

  if (ioctl (b->fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e) < 0)
    return fail ("DMA_BUF_IOCTL_EXPORT_SYNC_FILE: %s", strerror (errno));
  return e.fd;
}

/* Waits for a sync_file; returns its status (1 done, < 0 error) or -1000. */
static int
fence_wait_status (int sync_fd, int timeout_ms)
{
  struct pollfd p = { .fd = sync_fd, .events = POLLIN };
  struct sync_file_info info;

  if (poll (&p, 1, timeout_ms) != 1) {
    fail ("sync_file not signalled after %d ms", timeout_ms);
    return -1000;
  }
  memset (&info, 0, sizeof info);
  if (ioctl (sync_fd, SYNC_IOC_FILE_INFO, &info) < 0) {
    fail ("SYNC_IOC_FILE_INFO: %s", strerror (errno));
    return -1000;
  }
  return info.status;
}

/* ---- the ramp ------------------------------------------------------------------ */

/* Channel c at sample n is (int16_t)((n + 1000 * c) & 0xffff), little endian */
static uint16_t
ramp_at (uint64_t n, int chan)
{
  return (uint16_t) (n + 1000 * chan);
}

static uint16_t
le16_at (const uint8_t * p)
{
  return p[0] | p[1] << 8;
}

/* Checks nsets channel sets of nchans channels, from sample n on. */
static int
check_ramp (const uint8_t * p, size_t nsets, int nchans, uint64_t n,
    const char *what)
{
  size_t k;
  int c;

  for (k = 0; k < nsets; k++, n++)
    for (c = 0; c < nchans; c++, p += 2)
      if (le16_at (p) != ramp_at (n, c))
        return fail ("%s: sample %llu channel %d is %d, expected %d", what,
            (unsigned long long) n, c, (int16_t) le16_at (p),
            (int16_t) ramp_at (n, c));
  return 0;
}

/* Where a block of the ramp starts: its channel 0, unwrapped after prev. */
static uint64_t
ramp_start (const uint8_t * p, uint64_t prev)
{
  return prev + (uint16_t) (le16_at (p) - (uint16_t) prev);
}

/* ---- capture through DMABUFs --------------------------------------------------- */

typedef int (*AllocFunc) (Dmabuf * b, size_t size);

/* Captures nblocks blocks of len sets through nbufs DMABUFs at rate 0. */
static int
capture_exact (AllocFunc alloc, int nbufs, size_t len, int nblocks)
{
  Dev d;
  Dmabuf b[8];
  size_t bytes = len * ADC_BPD;
  int i, ret = -1;

  for (i = 0; i < nbufs; i++)
    b[i].fd = -1, b[i].map = NULL;
  if (dev_open (&d, "sim-adc", ADC_CHANS, 4096, 0))
    goto out;
  /* attach all before the first ENQUEUE (docs/kernel-bugs.md) */
  for (i = 0; i < nbufs; i++)
    if (alloc (&b[i], bytes) || attach (&d, &b[i]))
      goto out;
  for (i = 0; i < nbufs; i++)
    if (enqueue (&d, &b[i], bytes, false))
      goto out;
  if (dev_enable (&d, true))
    goto out;
  for (i = 0; i < nblocks; i++) {
    Dmabuf *cur = &b[i % nbufs];
    if (dmabuf_wait (cur, POLLIN, WAIT_MS)
        || dmabuf_sync (cur, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ)
        || check_ramp (cur->map, len, ADC_CHANS, (uint64_t) i * len, "block")
        || dmabuf_sync (cur, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ))
      goto out;
    if (i + nbufs < nblocks && enqueue (&d, cur, bytes, false))
      goto out;
  }
  ret = 0;
out:
  dev_close (&d);
  for (i = 0; i < nbufs; i++)
    dmabuf_free (&b[i]);
  return ret;
}

static int
case_dmabuf_heap (void)
{
  return capture_exact (dmabuf_alloc_heap, 4, 4096, 64);
}

static int
case_dmabuf_udmabuf (void)
{
  return capture_exact (dmabuf_alloc_udmabuf, 3, 2048, 48);
}

/* ---- fileio --------------------------------------------------------------------- */

/*
 * After DMABUFs were used, the kernel frees them from a workqueue; a buffer
 * enabled before that still counts them and is in DMABUF mode, where read()
 * and poll() on it crash 6.12 (docs/kernel-bugs.md). Enable, then prove
 * fileio mode: ATTACH is refused with EBUSY only in fileio mode.
 */
static int
enable_fileio (Dev * d)
{
  Dmabuf probe;
  int i, fd, e;

  if (dmabuf_alloc_heap (&probe, 4096))
    return -1;
  for (i = 0; i < 50; i++) {
    if (dev_enable (d, true))
      break;
    fd = probe.fd;
    if (ioctl (d->buf_fd, IIO_BUFFER_DMABUF_ATTACH_IOCTL, &fd) < 0) {
      e = errno;
      dmabuf_free (&probe);
      if (e == EBUSY)
        return 0;
      return fail ("probing fileio mode: ATTACH gave %s, expected EBUSY",
          strerror (e));
    }
    ioctl (d->buf_fd, IIO_BUFFER_DMABUF_DETACH_IOCTL, &fd);
    dev_enable (d, false);
    sleep_ms (20);
  }
  dmabuf_free (&probe);
  return fail ("%s stayed in DMABUF mode after its DMABUFs were closed",
      d->name);
}

/* Reads exactly len bytes with bounded waits (the buffer fd is O_NONBLOCK). */
static int
read_exact (Dev * d, uint8_t * p, size_t len)
{
  struct pollfd pf = { .fd = d->buf_fd, .events = POLLIN };
  ssize_t n;

  while (len) {
    n = read (d->buf_fd, p, len);
    if (n > 0) {
      p += n;
      len -= n;
      continue;
    }
    if (n == 0)
      return fail ("read() on %s returned 0", d->name);
    if (errno != EAGAIN)
      return fail ("read() on %s: %s", d->name, strerror (errno));
    if (poll (&pf, 1, WAIT_MS) != 1)
      return fail ("no data from %s within %d ms", d->name, WAIT_MS);
  }
  return 0;
}

static int
write_exact (Dev * d, const uint8_t * p, size_t len)
{
  struct pollfd pf = { .fd = d->buf_fd, .events = POLLOUT };
  ssize_t n;

  while (len) {
    n = write (d->buf_fd, p, len);
    if (n > 0) {
      p += n;
      len -= n;
      continue;
    }
    if (n < 0 && errno != EAGAIN)
      return fail ("write() on %s: %s", d->name, strerror (errno));
    if (poll (&pf, 1, WAIT_MS) != 1)
      return fail ("%s took no data within %d ms", d->name, WAIT_MS);
  }
  return 0;
}

/* One fileio session on sim-adc: reads nsets sets, checks the ramp from 0. */
static int
fileio_session (Dev * d, size_t nsets, const char *what)
{
  size_t bytes = nsets * ADC_BPD;
  uint8_t *data = malloc (bytes);
  int ret = -1;

  if (!data)
    return fail ("out of memory");
  if (enable_fileio (d) == 0 && read_exact (d, data, bytes) == 0)
    ret = check_ramp (data, nsets, ADC_CHANS, 0, what);
  free (data);
  dev_enable (d, false);
  return ret;
}

static int
open_fileio (Dev * d, const char *name, int nchans, unsigned length,
    uint32_t rate)
{
  if (dev_open (d, name, nchans, length, rate))
    return -1;
  if (fcntl (d->buf_fd, F_SETFL, O_NONBLOCK) < 0)
    return fail ("fcntl O_NONBLOCK: %s", strerror (errno));
  return 0;
}

static int
case_fileio_read (void)
{
  Dev d;
  int ret;

  /* length 1024: two kernel blocks of 512 sets; read 40 of them */
  ret = open_fileio (&d, "sim-adc", ADC_CHANS, 1024, 0);
  if (ret == 0)
    ret = fileio_session (&d, 512 * 40, "read()");
  dev_close (&d);
  return ret;
}

/* The next_dequeue workaround: a session after an odd number of blocks. */
static int
case_fileio_second_session (void)
{
  Dev d;
  int ret;

  ret = open_fileio (&d, "sim-adc", ADC_CHANS, 1024, 0);
  if (ret == 0)
    ret = fileio_session (&d, 512 * 3, "first session (3 blocks)");
  if (ret == 0)
    ret = fileio_session (&d, 512 * 4, "second session");
  dev_close (&d);
  return ret;
}

/* ---- output ---------------------------------------------------------------------- */

/* Deterministic, non-repeating test pattern. */
static void
pattern_fill (uint8_t * p, size_t len, uint32_t * state)
{
  uint32_t x = *state;

  while (len--) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *p++ = x >> 24;
  }
  *state = x;
}

/* Waits until sim-dac reports want sets consumed. */
static int
dac_wait_consumed (Dev * d, uint64_t want)
{
  uint64_t got = 0;
  int i;

  for (i = 0; i < WAIT_MS / 10; i++) {
    if (dev_get_u64 (d, "samples_consumed", &got))
      return -1;
    if (got >= want)
      return 0;
    sleep_ms (10);
  }
  return fail ("sim-dac consumed %llu of %llu sets within %d ms",
      (unsigned long long) got, (unsigned long long) want, WAIT_MS);
}

static int
dac_check (Dev * d, uint64_t sets, uint64_t hash)
{
  uint64_t consumed, checksum;

  if (dev_get_u64 (d, "samples_consumed", &consumed)
      || dev_get_u64 (d, "checksum", &checksum))
    return -1;
  if (consumed != sets)
    return fail ("samples_consumed %llu, wrote %llu sets",
        (unsigned long long) consumed, (unsigned long long) sets);
  if (checksum != hash)
    return fail ("checksum 0x%016llx, FNV-1a of the written bytes 0x%016llx",
        (unsigned long long) checksum, (unsigned long long) hash);
  return 0;
}

static int
case_dac_dmabuf (void)
{
  const size_t len = 3000, bytes = len * DAC_BPD;
  const int nbufs = 3, nblocks = 20;
  uint64_t hash = FNV_OFFSET;
  uint32_t state = 1;
  Dev d;
  Dmabuf b[3];
  int i, ret = -1;

  for (i = 0; i < nbufs; i++)
    b[i].fd = -1, b[i].map = NULL;
  if (dev_open (&d, "sim-dac", 2, 4096, 0))
    goto out;
  for (i = 0; i < nbufs; i++)
    if (dmabuf_alloc_heap (&b[i], bytes) || attach (&d, &b[i]))
      goto out;
  if (dev_enable (&d, true))
    goto out;
  for (i = 0; i < nblocks; i++) {
    Dmabuf *cur = &b[i % nbufs];
    if (i >= nbufs && dmabuf_wait (cur, POLLOUT, WAIT_MS))
      goto out;
    if (dmabuf_sync (cur, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE))
      goto out;
    pattern_fill (cur->map, bytes, &state);
    hash = fnv1a (hash, cur->map, bytes);
    if (dmabuf_sync (cur, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE)
        || enqueue (&d, cur, bytes, false))
      goto out;
  }
  /* disabling aborts queued blocks: wait for all of them first */
  for (i = 0; i < nbufs; i++)
    if (dmabuf_wait (&b[i], POLLOUT, WAIT_MS))
      goto out;
  ret = dac_check (&d, (uint64_t) nblocks * len, hash);
out:
  dev_close (&d);
  for (i = 0; i < nbufs; i++)
    dmabuf_free (&b[i]);
  return ret;
}

static int
case_dac_fileio (void)
{
  /* length 1024: the kernel hands whole blocks of 512 sets to the device */
  const size_t block = 512 * DAC_BPD, nblocks = 16;
  uint8_t *data = malloc (block * nblocks);
  uint32_t state = 7;
  Dev d;
  int ret = -1;

  if (!data)
    return fail ("out of memory");
  pattern_fill (data, block * nblocks, &state);
  if (open_fileio (&d, "sim-dac", 2, 1024, 0) || enable_fileio (&d)
      || write_exact (&d, data, block * nblocks)
      || dac_wait_consumed (&d, nblocks * 512))
    goto out;
  ret = dac_check (&d, nblocks * 512, fnv1a (FNV_OFFSET, data,
          block * nblocks));
out:
  dev_close (&d);
  free (data);
  return ret;
}

static int
case_cyclic (void)
{
  const size_t len = 1000, bytes = len * DAC_BPD;
  uint64_t consumed, checksum, hash = FNV_OFFSET, k;
  uint32_t state = 3;
  Dev d;
  Dmabuf b = { .fd = -1 };
  int ret = -1;

  if (dev_open (&d, "sim-dac", 2, 4096, 100000)
      || dmabuf_alloc_heap (&b, bytes) || attach (&d, &b))
    goto out;
  pattern_fill (b.map, bytes, &state);
  if (dev_enable (&d, true) || enqueue (&d, &b, bytes, true)
      || dac_wait_consumed (&d, 5 * len))
    goto out;
  /* disabling aborts the cyclic block and freezes the counters */
  if (dev_enable (&d, false)
      || dev_get_u64 (&d, "samples_consumed", &consumed)
      || dev_get_u64 (&d, "checksum", &checksum))
    goto out;
  if (consumed % len) {
    fail ("cyclic: samples_consumed %llu is not a multiple of the block (%zu)",
        (unsigned long long) consumed, len);
    goto out;
  }
  for (k = 0; k < consumed / len; k++)
    hash = fnv1a (hash, b.map, bytes);
  if (checksum != hash) {
    fail ("cyclic: checksum 0x%016llx, block repeated %llu times: 0x%016llx",
        (unsigned long long) checksum, (unsigned long long) (consumed / len),
        (unsigned long long) hash);
    goto out;
  }
  ret = 0;
out:
  dev_close (&d);
  dmabuf_free (&b);
  return ret;
}

/* ---- pacing, overruns, faults ----------------------------------------------------- */

/*
 * sim-adc at 100 kHz for about 0.5 s: the sample index reached at a
 * completion must match the time elapsed since enable (+-20%: TCG is
 * noisy). A completion is seen late, never early, so the best estimate is
 * the highest rate over all completions.
 */
static int
case_pacing (void)
{
  const size_t len = 1000, bytes = len * ADC_BPD;
  const uint32_t rate = 100000;
  Dev d;
  Dmabuf b[8];
  uint64_t end = 0;
  double t0, t = 0, best = 0;
  int i, ret = -1;

  for (i = 0; i < 8; i++)
    b[i].fd = -1, b[i].map = NULL;
  if (dev_open (&d, "sim-adc", ADC_CHANS, 4096, rate))
    goto out;
  for (i = 0; i < 8; i++)
    if (dmabuf_alloc_heap (&b[i], bytes) || attach (&d, &b[i]))
      goto out;
  for (i = 0; i < 8; i++)
    if (enqueue (&d, &b[i], bytes, false))
      goto out;
  t0 = now_s ();
  if (dev_enable (&d, true))
    goto out;
  for (i = 0; t - t0 < 0.5; i++) {
    Dmabuf *cur = &b[i % 8];
    if (dmabuf_wait (cur, POLLIN, WAIT_MS))
      goto out;
    t = now_s ();
    end = ramp_start (cur->map, end) + len;
    if (end / (t - t0) > best)
      best = end / (t - t0);
    if (enqueue (&d, cur, bytes, false))
      goto out;
  }
  printf ("pacing: %llu sets in %.3f s, best %.0f Hz (set %u Hz)\n",
      (unsigned long long) end, t - t0, best, rate);
  if (best < 0.8 * rate || best > 1.2 * rate) {
    fail ("sim-adc set to %u Hz ran at %.0f Hz (+-20%% allowed)", rate, best);
    goto out;
  }
  ret = 0;
out:
  dev_close (&d);
  for (i = 0; i < 8; i++)
    dmabuf_free (&b[i]);
  return ret;
}

/*
 * A enqueued before enable starts at 0; B is enqueued 50 ms after A
 * completed, so the samples in between are lost: B's start - A's end must
 * equal overruns. C (10 s long) keeps the queue busy while overruns is read.
 */
static int
case_overruns (void)
{
  const size_t len = 1000, bytes = len * ADC_BPD, clen = 1000000;
  Dev d;
  Dmabuf a = { .fd = -1 }, b = { .fd = -1 }, c = { .fd = -1 };
  uint64_t overruns, bstart;
  int ret = -1;

  if (dev_open (&d, "sim-adc", ADC_CHANS, 4096, 100000)
      || dmabuf_alloc_heap (&a, bytes) || dmabuf_alloc_heap (&b, bytes)
      || dmabuf_alloc_heap (&c, clen * ADC_BPD) || attach (&d, &a)
      || attach (&d, &b) || attach (&d, &c) || enqueue (&d, &a, bytes, false)
      || dev_enable (&d, true) || dmabuf_wait (&a, POLLIN, WAIT_MS))
    goto out;
  if (check_ramp (a.map, len, ADC_CHANS, 0, "block A"))
    goto out;
  sleep_ms (50);
  if (enqueue (&d, &b, bytes, false) || enqueue (&d, &c, clen * ADC_BPD, false)
      || dmabuf_wait (&b, POLLIN, WAIT_MS)
      || dev_get_u64 (&d, "overruns", &overruns))
    goto out;
  bstart = ramp_start (b.map, len);
  if (check_ramp (b.map, len, ADC_CHANS, bstart, "block B"))
    goto out;
  printf ("overruns: gap %llu sets, overruns %llu\n",
      (unsigned long long) (bstart - len), (unsigned long long) overruns);
  if (overruns == 0 || overruns != bstart - len) {
    fail ("ramp gap between A and B is %llu sets but overruns is %llu",
        (unsigned long long) (bstart - len), (unsigned long long) overruns);
    goto out;
  }
  ret = 0;
out:
  dev_close (&d);
  dmabuf_free (&a);
  dmabuf_free (&b);
  dmabuf_free (&c);
  return ret;
}

/*
 * fault=error: the next block's fence signals an error (-EINTR in 6.12).
 * At 1 kHz a block lasts 1 s: its sync_file is exported long before.
 */
static int
case_fault_error (void)
{
  const size_t len = 1000, bytes = len * ADC_BPD;
  Dev d;
  Dmabuf a = { .fd = -1 }, b = { .fd = -1 };
  int sa = -1, sb = -1, st, ret = -1;
  char fault[32];

  if (dev_open (&d, "sim-adc", ADC_CHANS, 4096, 1000)
      || dmabuf_alloc_heap (&a, bytes) || dmabuf_alloc_heap (&b, bytes)
      || attach (&d, &a) || attach (&d, &b) || dev_enable (&d, true)
      || dev_set (&d, "fault", "error") || enqueue (&d, &a, bytes, false)
      || (sa = export_fence (&a, true)) < 0 || enqueue (&d, &b, bytes, false)
      || (sb = export_fence (&b, true)) < 0)
    goto out;
  st = fence_wait_status (sa, WAIT_MS);
  if (st == -1000)
    goto out;
  if (st >= 0) {
    fail ("fault=error: the block's fence status is %d, expected an error",
        st);
    goto out;
  }
  printf ("fault-error: fence status %d (%s)\n", st, strerror (-st));
  st = fence_wait_status (sb, WAIT_MS);
  if (st == -1000 || dev_get (&d, "fault", fault, sizeof fault))
    goto out;
  if (st != 1 || strcmp (fault, "none")) {
    fail ("after the failed block: next fence status %d (expected 1), "
        "fault '%s' (expected none)", st, fault);
    goto out;
  }
  ret = check_ramp (b.map, len, ADC_CHANS, ramp_start (b.map, 0), "block B");
out:
  if (sa >= 0)
    close (sa);
  if (sb >= 0)
    close (sb);
  dev_close (&d);
  dmabuf_free (&a);
  dmabuf_free (&b);
  return ret;
}

/* fault=error on sim-dac: the block fails unconsumed, the next one plays. */
static int
case_dac_fault_error (void)
{
  const size_t len = 1000, bytes = len * DAC_BPD;
  uint32_t state = 9;
  Dev d;
  Dmabuf a = { .fd = -1 }, b = { .fd = -1 };
  int sa = -1, sb = -1, st, ret = -1;

  if (dev_open (&d, "sim-dac", 2, 4096, 1000)
      || dmabuf_alloc_heap (&a, bytes) || dmabuf_alloc_heap (&b, bytes)
      || attach (&d, &a) || attach (&d, &b))
    goto out;
  pattern_fill (a.map, bytes, &state);
  pattern_fill (b.map, bytes, &state);
  if (dev_enable (&d, true) || dev_set (&d, "fault", "error")
      || enqueue (&d, &a, bytes, false) || (sa = export_fence (&a, false)) < 0
      || enqueue (&d, &b, bytes, false) || (sb = export_fence (&b, false)) < 0)
    goto out;
  st = fence_wait_status (sa, WAIT_MS);
  if (st == -1000)
    goto out;
  if (st >= 0) {
    fail ("fault=error: the output block's fence status is %d, expected an "
        "error", st);
    goto out;
  }
  st = fence_wait_status (sb, WAIT_MS);
  if (st == -1000)
    goto out;
  if (st != 1) {
    fail ("the block after the failed one: fence status %d, expected 1", st);
    goto out;
  }
  /* only B was consumed */
  ret = dac_check (&d, len, fnv1a (FNV_OFFSET, b.map, bytes));
out:
  if (sa >= 0)
    close (sa);
  if (sb >= 0)
    close (sb);
  dev_close (&d);
  dmabuf_free (&a);
  dmabuf_free (&b);
  return ret;
}

/*
 * fault=stall: nothing completes; back to none, the block completes and
 * starts where the clock is (overruns = the samples skipped meanwhile).
 */
static int
case_fault_stall (void)
{
  const size_t len = 100, bytes = len * ADC_BPD, blen = 100000;
  Dev d;
  Dmabuf a = { .fd = -1 }, b = { .fd = -1 };
  uint64_t overruns, start;
  int ret = -1;

  if (dev_open (&d, "sim-adc", ADC_CHANS, 4096, 10000)
      || dmabuf_alloc_heap (&a, bytes) || dmabuf_alloc_heap (&b, blen * ADC_BPD)
      || attach (&d, &a) || attach (&d, &b) || dev_set (&d, "fault", "stall")
      || enqueue (&d, &a, bytes, false) || enqueue (&d, &b, blen * ADC_BPD,
          false) || dev_enable (&d, true))
    goto out;
  if (dmabuf_wait (&a, POLLIN, 300) == 0) {
    fail ("fault=stall: a 10 ms block completed anyway");
    goto out;
  }
  if (dev_set (&d, "fault", "none") || dmabuf_wait (&a, POLLIN, WAIT_MS)
      || dev_get_u64 (&d, "overruns", &overruns))
    goto out;
  start = ramp_start (a.map, 0);
  if (check_ramp (a.map, len, ADC_CHANS, start, "block after the stall"))
    goto out;
  if (start == 0 || overruns != start) {
    fail ("after the stall the block starts at %llu, overruns %llu "
        "(expected equal and > 0)", (unsigned long long) start,
        (unsigned long long) overruns);
    goto out;
  }
  ret = 0;
out:
  dev_close (&d);
  dmabuf_free (&a);
  dmabuf_free (&b);
  return ret;
}

/* ---- sim-kfifo ------------------------------------------------------------------- */

static int
case_kfifo_eperm (void)
{
  Dev d;
  Dmabuf b = { .fd = -1 };
  int fd, ret = -1;

  if (dev_open (&d, "sim-kfifo", 2, 4096, 0) || dmabuf_alloc_heap (&b, 4096))
    goto out;
  fd = b.fd;
  if (ioctl (d.buf_fd, IIO_BUFFER_DMABUF_ATTACH_IOCTL, &fd) == 0)
    fail ("DMABUF_ATTACH on sim-kfifo succeeded, expected EPERM");
  else if (errno != EPERM)
    fail ("DMABUF_ATTACH on sim-kfifo: %s, expected EPERM", strerror (errno));
  else
    ret = 0;
out:
  dev_close (&d);
  dmabuf_free (&b);
  return ret;
}

static int
case_kfifo_read (void)
{
  const size_t nsets = 20000;
  uint8_t *data = malloc (nsets * 4);
  Dev d;
  int ret = -1;

  if (!data)
    return fail ("out of memory");
  /* rate 0: the fifo is refilled every tick and nothing is lost */
  if (open_fileio (&d, "sim-kfifo", 2, 8192, 0) == 0
      && dev_enable (&d, true) == 0 && read_exact (&d, data, nsets * 4) == 0)
    ret = check_ramp (data, nsets, 2, 0, "sim-kfifo read()");
  dev_close (&d);
  free (data);
  return ret;
}

/* ---- device loss ------------------------------------------------------------------ */

static int
sim_rebind (const char *name)
{
  Dev d;
  int i;

  if (write_file (SIM_DRIVER "/bind", name))
    return -1;
  for (i = 0; i < 100; i++) {
    if (dev_find (&d, name) == 0)
      return 0;
    sleep_ms (20);
  }
  return fail ("%s did not come back after bind", name);
}

static int
case_unbind_dmabuf (void)
{
  const size_t len = 1000, bytes = len * ADC_BPD;
  Dev d;
  Dmabuf b[3];
  int sf[3] = { -1, -1, -1 }, i, st, ret = -1, unbound = 0;

  for (i = 0; i < 3; i++)
    b[i].fd = -1, b[i].map = NULL;
  if (dev_open (&d, "sim-adc", ADC_CHANS, 4096, 1000))
    goto out;
  for (i = 0; i < 3; i++)
    if (dmabuf_alloc_heap (&b[i], bytes) || attach (&d, &b[i]))
      goto out;
  if (dev_enable (&d, true))
    goto out;
  for (i = 0; i < 3; i++)
    if (enqueue (&d, &b[i], bytes, false)
        || (sf[i] = export_fence (&b[i], true)) < 0)
      goto out;
  sleep_ms (100);
  if (write_file (SIM_DRIVER "/unbind", "sim-adc"))
    goto out;
  unbound = 1;
  d.sysdir[0] = '\0';
  for (i = 0; i < 3; i++) {
    st = fence_wait_status (sf[i], WAIT_MS);
    if (st == -1000)
      goto out;
    if (st >= 0) {
      fail ("after unbind, transfer %d's fence status is %d, expected an "
          "error", i, st);
      goto out;
    }
  }
  if (enqueue (&d, &b[0], bytes, false) == 0) {
    fail ("ENQUEUE after unbind succeeded");
    goto out;
  }
  printf ("unbind-dmabuf: fences aborted; %s\n", why);
  ret = 0;
out:
  for (i = 0; i < 3; i++)
    if (sf[i] >= 0)
      close (sf[i]);
  dev_close (&d);
  for (i = 0; i < 3; i++)
    dmabuf_free (&b[i]);
  if (unbound && sim_rebind ("sim-adc"))
    ret = -1;
  return ret;
}

typedef struct
{
  int fd;
  size_t bytes;
  int err;
  bool done;
} Reader;

/*
 * Reads like libiio does: poll() with a timeout, then a non-blocking read().
 * A blocking read() is not safe here: 6.12 can oops when the device goes
 * while read() sleeps, and poll() on a removed device reports no event
 * (docs/kernel-bugs.md). Stops at the first error and records it.
 */
static void *
reader_thread (void *data)
{
  Reader *r = data;
  struct pollfd pf = { .fd = r->fd, .events = POLLIN };
  static uint8_t buf[4096];
  ssize_t n;
  int i;

  for (i = 0; i < 2 * CASE_TIMEOUT_S * 10; i++) {
    poll (&pf, 1, 100);
    n = read (r->fd, buf, sizeof buf);
    if (n > 0)
      r->bytes += n;
    else if (n < 0 && errno != EAGAIN)
      break;
  }
  r->err = errno;
  __atomic_store_n (&r->done, true, __ATOMIC_SEQ_CST);
  return NULL;
}

static bool
reader_done (Reader * r)
{
  return __atomic_load_n (&r->done, __ATOMIC_SEQ_CST);
}

/* A reader streaming from a device when it goes gets ENODEV. */
static int
unbind_while_reading (const char *name, int nchans, unsigned length,
    uint32_t rate)
{
  Dev d;
  Reader r = { 0 };
  pthread_t th;
  int i, ret = -1, unbound = 0, started = 0;

  if (open_fileio (&d, name, nchans, length, rate))
    goto out;
  if (strcmp (name, "sim-kfifo") ? enable_fileio (&d) : dev_enable (&d, true))
    goto out;
  r.fd = d.buf_fd;
  if (pthread_create (&th, NULL, reader_thread, &r)) {
    fail ("pthread_create failed");
    goto out;
  }
  started = 1;
  sleep_ms (300);
  if (write_file (SIM_DRIVER "/unbind", name))
    goto out;
  unbound = 1;
  d.sysdir[0] = '\0';
  for (i = 0; i < WAIT_MS / 10 && !reader_done (&r); i++)
    sleep_ms (10);
  if (!reader_done (&r)) {
    fail ("the reader of %s still runs %d ms after unbind", name, WAIT_MS);
    goto out;
  }
  printf ("%s: %zu bytes read before the unbind, then: %s\n", name, r.bytes,
      strerror (r.err));
  if (r.bytes == 0)
    fail ("no data was read from %s before the unbind", name);
  else if (r.err != ENODEV)
    fail ("read() after unbind: %s, expected ENODEV", strerror (r.err));
  else
    ret = 0;
out:
  if (started && reader_done (&r))
    pthread_join (th, NULL);
  dev_close (&d);
  if (unbound && sim_rebind (name))
    ret = -1;
  return ret;
}

static int
case_unbind_read (void)
{
  /* 100 kHz, kernel blocks of 1000 sets: a block every 10 ms */
  return unbind_while_reading ("sim-adc", ADC_CHANS, 2000, 100000);
}

static int
case_unbind_kfifo (void)
{
  return unbind_while_reading ("sim-kfifo", 2, 8192, 100000);
}

/* A cyclic output block playing when sim-dac goes: its fence errors. */
static int
case_unbind_dac (void)
{
  const size_t bytes = 1000 * DAC_BPD;
  uint32_t state = 5;
  Dev d;
  Dmabuf b = { .fd = -1 };
  int sf = -1, st, ret = -1, unbound = 0;

  if (dev_open (&d, "sim-dac", 2, 4096, 100000)
      || dmabuf_alloc_heap (&b, bytes) || attach (&d, &b))
    goto out;
  pattern_fill (b.map, bytes, &state);
  if (dev_enable (&d, true) || enqueue (&d, &b, bytes, true)
      || (sf = export_fence (&b, false)) < 0 || dac_wait_consumed (&d, 3000))
    goto out;
  if (write_file (SIM_DRIVER "/unbind", "sim-dac"))
    goto out;
  unbound = 1;
  d.sysdir[0] = '\0';
  st = fence_wait_status (sf, WAIT_MS);
  if (st == -1000)
    goto out;
  if (st >= 0) {
    fail ("after unbind, the cyclic transfer's fence status is %d, "
        "expected an error", st);
    goto out;
  }
  ret = 0;
out:
  if (sf >= 0)
    close (sf);
  dev_close (&d);
  dmabuf_free (&b);
  if (unbound && sim_rebind ("sim-dac"))
    ret = -1;
  return ret;
}

/* ---- verify-ramp (stdin) ----------------------------------------------------------- */

static int
verify_ramp_stdin (int nchans, size_t nsets)
{
  size_t want = nsets * nchans * 2, got = 0;
  uint8_t *data = malloc (want + 1);
  ssize_t n;

  if (!data)
    return fail ("out of memory");
  while ((n = read (0, data + got, want + 1 - got)) > 0 && got + n <= want)
    got += n;
  if (n > 0)
    got += n;
  if (n < 0) {
    free (data);
    return fail ("reading stdin: %s", strerror (errno));
  }
  if (got != want) {
    free (data);
    return fail ("stdin has %s bytes, expected %zu (%zu sets of %d "
        "channels)", got > want ? "more" : "fewer", want, nsets, nchans);
  }
  n = check_ramp (data, nsets, nchans, 0, "stdin");
  free (data);
  return n;
}

/* ---- main ------------------------------------------------------------------------ */

typedef struct
{
  const char *name;
  int (*func) (void);
} Case;

static const Case cases[] = {
  {"dmabuf-heap", case_dmabuf_heap},
  {"dmabuf-udmabuf", case_dmabuf_udmabuf},
  {"fileio-read", case_fileio_read},
  {"fileio-second-session", case_fileio_second_session},
  {"dac-dmabuf", case_dac_dmabuf},
  {"dac-fileio", case_dac_fileio},
  {"cyclic", case_cyclic},
  {"pacing", case_pacing},
  {"overruns", case_overruns},
  {"fault-error", case_fault_error},
  {"dac-fault-error", case_dac_fault_error},
  {"fault-stall", case_fault_stall},
  {"kfifo-eperm", case_kfifo_eperm},
  {"kfifo-read", case_kfifo_read},
  {"unbind-dmabuf", case_unbind_dmabuf},
  {"unbind-read", case_unbind_read},
  {"unbind-kfifo", case_unbind_kfifo},
  {"unbind-dac", case_unbind_dac},
};

static void
on_alarm (int sig)
{
  char msg[200];
  int n;

  (void) sig;
  n = snprintf (msg, sizeof msg, "FAIL %s: no result after %d s\n",
      current_case, CASE_TIMEOUT_S);
  if (write (1, msg, n) < 0)
    _exit (2);
  _exit (1);
}

static bool
run_case (const Case * c)
{
  int ret;

  current_case = c->name;
  why[0] = '\0';
  alarm (CASE_TIMEOUT_S);
  ret = c->func ();
  alarm (0);
  if (ret == 0)
    printf ("PASS %s\n", c->name);
  else
    printf ("FAIL %s: %s\n", c->name, why[0] ? why : "(no reason given)");
  fflush (stdout);
  return ret == 0;
}

static const Case *
find_case (const char *name)
{
  size_t i;

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (!strcmp (cases[i].name, name))
      return &cases[i];
  return NULL;
}

static int
usage (void)
{
  size_t i;

  fprintf (stderr, "usage: testbed-check CASE... | all | list | "
      "verify-ramp NCHANS NSAMPLES\ncases:");
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
    fprintf (stderr, " %s", cases[i].name);
  fprintf (stderr, "\n");
  return 2;
}

static int
main_verify_ramp (int argc, char **argv)
{
  int nchans = argc == 4 ? atoi (argv[2]) : 0;
  long nsets = argc == 4 ? atol (argv[3]) : 0;

  if (nchans < 1 || nchans > ADC_CHANS || nsets < 1)
    return usage ();
  current_case = "verify-ramp";
  if (verify_ramp_stdin (nchans, nsets)) {
    printf ("FAIL verify-ramp: %s\n", why);
    return 1;
  }
  printf ("PASS verify-ramp (%ld sets of %d channels)\n", nsets, nchans);
  return 0;
}

int
main (int argc, char **argv)
{
  int i, passed = 0, failed = 0;
  size_t k;

  setvbuf (stdout, NULL, _IOLBF, 0);
  signal (SIGALRM, on_alarm);
  if (argc < 2)
    return usage ();
  if (!strcmp (argv[1], "verify-ramp"))
    return main_verify_ramp (argc, argv);
  if (!strcmp (argv[1], "list")) {
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++)
      printf ("%s\n", cases[k].name);
    return 0;
  }
  for (i = 1; i < argc; i++)
    if (strcmp (argv[i], "all") && !find_case (argv[i])) {
      fprintf (stderr, "testbed-check: unknown case '%s'\n", argv[i]);
      return usage ();
    }
  for (i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "all")) {
      for (k = 0; k < sizeof cases / sizeof cases[0]; k++)
        run_case (&cases[k]) ? passed++ : failed++;
    } else {
      run_case (find_case (argv[i])) ? passed++ : failed++;
    }
  }
  printf ("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
