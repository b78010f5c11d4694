/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iio-bareloop: the bare IIO DMABUF loop, the limit the elements are
 * measured against. No GStreamer, no libiio: the kernel uapi only.
 *
 *   iio-bareloop [--dac] [--mode none|sync|read|memcpy] [--device NAME]
 *       [--block-size BYTES] [--buffers B] [--count N] [--seconds T]
 *       [--channels C] [--heap system|udmabuf] [--attr NAME=VALUE]...
 *       [--no-verify] [--cpu N] [--fence]
 *
 * Capture (default, sim-adc): B DMABUFs of BYTES each from the DMA heap
 * (or udmabuf), all attached to the device's buffer 0, all enqueued, the
 * buffer enabled; then the oldest is polled (POLLIN on the DMABUF fd),
 * touched as MODE says and enqueued again, until N blocks completed or T
 * seconds passed. Modes: none (no touch), sync (DMA_BUF_IOCTL_SYNC start
 * and end), read (sync, then every byte read: on sim-adc with fill 1 and
 * the ramp, each sample is checked against the ramp, otherwise summed),
 * memcpy (sync, then the block copied out into a malloc'd buffer).
 *
 * --fence: the elements' completion protocol instead of a poll on the
 * DMABUF: right after each ENQUEUE a sync_file is exported
 * (DMA_BUF_IOCTL_EXPORT_SYNC_FILE: only one taken then carries the
 * transfer's error status), the wait polls it, SYNC_IOC_FILE_INFO reads the
 * status and signal time (a failed block fails the run) and it is closed:
 * what the elements pay per block for lost-block detection, so that the
 * elements can be compared with the same kernel work.
 *
 * --dac (sim-dac): the mirror. The blocks are filled once with the ramp
 * (block i holds samples i*L..(i+1)*L-1 of channel c at n = n + 1000 c),
 * enqueued, and each is enqueued again once the device consumed it (POLLOUT),
 * touched first as MODE says (none, sync, memcpy: the block's own content
 * copied back in from a malloc'd copy). The loop ends with every enqueued
 * block consumed; sim-dac's checksum must then be the FNV-1a 64 of the
 * blocks in the order they were enqueued.
 *
 * Before the first enqueue: the buffer is disabled, each --attr is written
 * to the device's sysfs dir (e.g. sampling_frequency=0, fill=0, fast=1),
 * channels voltage0..C-1 are enabled (all by default), the rest disabled.
 * The clock starts at the enable (setup excluded). --cpu pins the loop to
 * one CPU (the simulator's unbound worker then mostly runs on another).
 *
 * Output, one line on stdout:
 *   result dir=in|out device=NAME mode=MODE block_bytes=S buffers=B
 *   blocks=N bytes=N*S wall_s=... cpu_s=... sys_cpu_s=... blocks_per_s=...
 *   mib_per_s=... cpu_s_per_gib=... sys_cpu_s_per_gib=... fill=0|1|n/a
 *   fast=0|1|n/a fill_ns=... sim_blocks=... and, capture: ramp=ok|bad|n/a
 *   gap_samples=G (plus sum=0x... in read mode without the ramp check:
 *   the 64-bit sum of the data, 0 for fresh DMABUFs never filled); output: checksum=ok|bad|off|n/a samples_consumed=...
 *   underruns=...
 * cpu_s is this process (getrusage), sys_cpu_s every CPU of the machine
 * (/proc/stat, the simulator's kernel worker included). Values that the
 * device does not report are "n/a". Exit status: 0, 1 when a check failed
 * (ramp or checksum wrong, count short), 2 on bad arguments, 3 when the
 * device or the kernel refused (the message says why).
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/iio/buffer.h>
#include <linux/sync_file.h>
#include <linux/udmabuf.h>

/* The IIO DMABUF uapi (6.11) when the system header predates it */
#ifndef IIO_BUFFER_DMABUF_ATTACH_IOCTL
struct iio_dmabuf
{
  __u32 fd;
  __u32 flags;
  __u64 bytes_used;
};
#define IIO_BUFFER_DMABUF_ATTACH_IOCTL _IOW('i', 0x92, int)
#define IIO_BUFFER_DMABUF_DETACH_IOCTL _IOW('i', 0x93, int)
#define IIO_BUFFER_DMABUF_ENQUEUE_IOCTL _IOW('i', 0x94, struct iio_dmabuf)
#endif

#define SYS_IIO "/sys/bus/iio/devices"
/* A block that takes longer than this to complete is an error */
#define WAIT_MS 5000
#define MAX_BUFFERS 64
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define EXIT_CHECK 1
#define EXIT_USAGE 2
#define EXIT_REFUSED 3

enum
{ MODE_NONE, MODE_SYNC, MODE_READ, MODE_MEMCPY };
static const char *const mode_names[] = { "none", "sync", "read", "memcpy" };

typedef struct
{
  int fd;
  uint8_t *map;
  uint8_t *copy;                /* memcpy mode: the malloc'd side */
  int sync_fd;                  /* --fence: exported at ENQUEUE, or -1 */
} Block;

typedef struct
{
  /* options */
  bool dac;
  int mode;
  const char *device;
  size_t block_bytes;
  unsigned nbufs;
  uint64_t count;
  double seconds;
  int channels;
  bool udmabuf;
  bool verify;
  int cpu;                      /* pinned to this CPU, or -1 */
  bool fence;
  char **attrs;
  int nattrs;

  /* the device */
  char sysdir[600];
  char devpath[300];
  int dev_fd, buf_fd;
  unsigned nchans;
  size_t bpd;
  bool is_sim;
  Block b[MAX_BUFFERS];

  /* capture checks */
  bool ramp_checked, ramp_bad;
  uint64_t next_n, gap;
} Loop;

static const char *prog = "iio-bareloop";
/* The device's sysfs dir while its buffer is enabled by us: die() disables
 * it, so a failed run leaves the device as it found it. */
static const char *enabled_sysdir;

static int sysfs_write (const char *dir, const char *attr, const char *value);

static void
die (int code, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "%s: error: ", prog);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  if (enabled_sysdir)
    sysfs_write (enabled_sysdir, "buffer0/enable", "0");
  exit (code);
}

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
proc_cpu_s (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
      ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Busy CPU seconds of the whole machine (every CPU, kernel threads too). */
static double
system_cpu_s (void)
{
  unsigned long long v[10] = { 0 }, busy = 0;
  FILE *f = fopen ("/proc/stat", "r");
  int i, n;

  if (!f)
    return 0;
  n = fscanf (f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
      &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose (f);
  /* everything but idle (3) and iowait (4) */
  for (i = 0; i < n; i++)
    if (i != 3 && i != 4)
      busy += v[i];
  return (double) busy / sysconf (_SC_CLK_TCK);
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

/* ---- sysfs ------------------------------------------------------------- */

/* 0, or errno (the file is missing or refused the value) */
static int
sysfs_write (const char *dir, const char *attr, const char *value)
{
  char path[600];
  int fd, err = 0;

  snprintf (path, sizeof path, "%s/%s", dir, attr);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  if (write (fd, value, strlen (value)) < 0)
    err = errno;
  close (fd);
  return err;
}

/* The attribute's first line, or false when it cannot be read. */
static bool
sysfs_read (const char *dir, const char *attr, char *out, size_t size)
{
  char path[600];
  ssize_t n;
  int fd;

  snprintf (path, sizeof path, "%s/%s", dir, attr);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  n = read (fd, out, size - 1);
  close (fd);
  if (n < 0)
    return false;
  out[n] = '\0';
  out[strcspn (out, "\n")] = '\0';
  return true;
}

static bool
sysfs_read_u64 (const char *dir, const char *attr, uint64_t * out)
{
  char value[64], *end;

  if (!sysfs_read (dir, attr, value, sizeof value))
    return false;
  errno = 0;
  *out = strtoull (value, &end, 0);
  return !errno && end != value && !*end;
}

static void
find_device (Loop * l)
{
  DIR *dir = opendir (SYS_IIO);
  struct dirent *e;
  char path[300], name[64];

  if (!dir)
    die (EXIT_REFUSED, "no IIO devices (%s: %s)", SYS_IIO, strerror (errno));
  while ((e = readdir (dir))) {
    if (strncmp (e->d_name, "iio:device", 10))
      continue;
    snprintf (path, sizeof path, SYS_IIO "/%s", e->d_name);
    if (sysfs_read (path, "name", name, sizeof name)
        && !strcmp (name, l->device)) {
      snprintf (l->sysdir, sizeof l->sysdir, "%s", path);
      snprintf (l->devpath, sizeof l->devpath, "/dev/%s", e->d_name);
      closedir (dir);
      return;
    }
  }
  closedir (dir);
  die (EXIT_REFUSED, "no IIO device named '%s' in %s", l->device, SYS_IIO);
}

static void
set_enable (Loop * l, bool on)
{
  int err = sysfs_write (l->sysdir, "buffer0/enable", on ? "1" : "0");

  if (err)
    die (EXIT_REFUSED, "%s: writing %d to buffer0/enable failed: %s",
        l->device, on, strerror (err));
  enabled_sysdir = on ? l->sysdir : NULL;
}

/* Channels voltage0..C-1 of the direction on, the others off. */
static void
set_channels (Loop * l)
{
  const char *dir = l->dac ? "out" : "in";
  char attr[80], type[64];
  unsigned i, bits;
  int err;

  for (i = 0;; i++) {
    bool on = l->channels < 0 || (int) i < l->channels;
    snprintf (attr, sizeof attr, "buffer0/%s_voltage%u_en", dir, i);
    err = sysfs_write (l->sysdir, attr, on ? "1" : "0");
    if (err == ENOENT)
      break;
    if (err)
      die (EXIT_REFUSED, "%s: writing %s failed: %s", l->device, attr,
          strerror (err));
    if (!on)
      continue;
    snprintf (attr, sizeof attr, "buffer0/%s_voltage%u_type", dir, i);
    /* e.g. le:s16/16>>0: storage bits after the slash */
    if (!sysfs_read (l->sysdir, attr, type, sizeof type)
        || sscanf (strchr (type, '/') ? strchr (type, '/') : "", "/%u",
            &bits) != 1)
      die (EXIT_REFUSED, "%s: cannot read %s", l->device, attr);
    l->bpd += bits / 8;
    l->nchans++;
  }
  if (l->channels > (int) l->nchans)
    die (EXIT_USAGE, "%s has %u %sput voltage channels, not %d", l->device,
        l->nchans, dir, l->channels);
  if (!l->nchans)
    die (EXIT_REFUSED, "%s has no %s_voltageN channels in buffer0",
        l->device, dir);
}

static void
setup_device (Loop * l)
{
  int i, err;

  find_device (l);
  set_enable (l, false);
  for (i = 0; i < l->nattrs; i++) {
    char *eq = strchr (l->attrs[i], '=');
    *eq = '\0';
    err = sysfs_write (l->sysdir, l->attrs[i], eq + 1);
    if (err)
      die (EXIT_REFUSED, "%s: writing '%s' to %s failed: %s", l->device,
          eq + 1, l->attrs[i], strerror (err));
    *eq = '=';
  }
  set_channels (l);
  if (l->block_bytes % l->bpd)
    die (EXIT_USAGE, "a block of %zu bytes is not a whole number of %zu-byte "
        "samples of %s", l->block_bytes, l->bpd, l->device);
  {
    char v[16];
    l->is_sim = sysfs_read (l->sysdir, "fill", v, sizeof v);
  }

  l->dev_fd = open (l->devpath, O_RDWR | O_CLOEXEC);
  if (l->dev_fd < 0)
    die (EXIT_REFUSED, "cannot open %s (%s): %s%s", l->devpath, l->device,
        strerror (errno), errno == EBUSY ?
        " (another program holds the device)" : "");
  l->buf_fd = 0;
  if (ioctl (l->dev_fd, IIO_BUFFER_GET_FD_IOCTL, &l->buf_fd) < 0)
    die (EXIT_REFUSED, "IIO_BUFFER_GET_FD_IOCTL on %s: %s%s", l->devpath,
        strerror (errno), errno == ENOTTY || errno == EINVAL ?
        " (the kernel has no multi-buffer API, Linux 5.11 or newer needed)"
        : "");
}

/* ---- DMABUFs ------------------------------------------------------------- */

static int
alloc_heap (size_t size)
{
  struct dma_heap_allocation_data req = {
    .len = size,.fd_flags = O_RDWR | O_CLOEXEC
  };
  int heap = open ("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);

  if (heap < 0)
    die (EXIT_REFUSED, "cannot open /dev/dma_heap/system: %s (a kernel with "
        "CONFIG_DMABUF_HEAPS_SYSTEM, or --heap udmabuf)", strerror (errno));
  if (ioctl (heap, DMA_HEAP_IOCTL_ALLOC, &req) < 0)
    die (EXIT_REFUSED, "DMA_HEAP_IOCTL_ALLOC of %zu bytes: %s", size,
        strerror (errno));
  close (heap);
  return req.fd;
}

static int
alloc_udmabuf (size_t size)
{
  struct udmabuf_create req = {.flags = UDMABUF_FLAGS_CLOEXEC,.size = size };
  int dev, memfd, fd;

  memfd = memfd_create ("iio-bareloop", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (memfd < 0 || ftruncate (memfd, size) < 0
      || fcntl (memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
    die (EXIT_REFUSED, "memfd for a udmabuf: %s", strerror (errno));
  dev = open ("/dev/udmabuf", O_RDWR | O_CLOEXEC);
  if (dev < 0)
    die (EXIT_REFUSED, "cannot open /dev/udmabuf: %s (a kernel with "
        "CONFIG_UDMABUF, or --heap system)", strerror (errno));
  req.memfd = memfd;
  fd = ioctl (dev, UDMABUF_CREATE, &req);
  if (fd < 0)
    die (EXIT_REFUSED, "UDMABUF_CREATE of %zu bytes: %s (size must be a "
        "multiple of the page size)", size, strerror (errno));
  close (dev);
  close (memfd);
  return fd;
}

static const char *
attach_reason (int err)
{
  switch (err) {
    case ENOTTY:
    case EINVAL:
      return " (the kernel has no IIO DMABUF API: Linux 6.11 or newer)";
    case EPERM:
      return " (the device's buffer is not DMA-type: a kfifo buffer cannot "
          "take DMABUFs)";
    case EBUSY:
      return " (the buffer is enabled in read()/write() mode by another "
          "program)";
    default:
      return "";
  }
}

static void
setup_blocks (Loop * l)
{
  unsigned i;

  /* attach every DMABUF before the first enqueue (docs/kernel-bugs.md, 2) */
  for (i = 0; i < l->nbufs; i++) {
    Block *b = &l->b[i];
    int fd;

    b->fd = l->udmabuf ? alloc_udmabuf (l->block_bytes) :
        alloc_heap (l->block_bytes);
    b->map = mmap (NULL, l->block_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
        b->fd, 0);
    if (b->map == MAP_FAILED)
      die (EXIT_REFUSED, "mmap of a %zu-byte DMABUF: %s", l->block_bytes,
          strerror (errno));
    if (l->mode == MODE_MEMCPY && !(b->copy = malloc (l->block_bytes)))
      die (EXIT_REFUSED, "out of memory");
    fd = b->fd;
    if (ioctl (l->buf_fd, IIO_BUFFER_DMABUF_ATTACH_IOCTL, &fd) < 0)
      die (EXIT_REFUSED, "IIO_BUFFER_DMABUF_ATTACH_IOCTL on %s: %s%s",
          l->device, strerror (errno), attach_reason (errno));
  }
}

static void
block_sync (Loop * l, Block * b, uint64_t flags)
{
  struct dma_buf_sync s = {.flags = flags |
        (l->dac ? DMA_BUF_SYNC_WRITE : DMA_BUF_SYNC_READ)
  };

  if (ioctl (b->fd, DMA_BUF_IOCTL_SYNC, &s) < 0)
    die (EXIT_REFUSED, "DMA_BUF_IOCTL_SYNC: %s", strerror (errno));
}

static void
enqueue (Loop * l, Block * b)
{
  struct iio_dmabuf req = {.fd = b->fd,.bytes_used = l->block_bytes };

  if (ioctl (l->buf_fd, IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &req) < 0)
    die (EXIT_REFUSED, "IIO_BUFFER_DMABUF_ENQUEUE_IOCTL on %s: %s",
        l->device, strerror (errno));
  if (l->fence) {
    struct dma_buf_export_sync_file e = {
      .flags = l->dac ? DMA_BUF_SYNC_WRITE : DMA_BUF_SYNC_READ,.fd = -1
    };

    if (ioctl (b->fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e) < 0)
      die (EXIT_REFUSED, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE: %s",
          strerror (errno));
    b->sync_fd = e.fd;
  }
}

/* --fence: the status and latest signal time of the block's fences */
static void
fence_done (Loop * l, Block * b)
{
  struct sync_fence_info fences[4];
  struct sync_file_info info = {.num_fences = 4,
    .sync_fence_info = (uint64_t) (uintptr_t) fences
  };

  memset (fences, 0, sizeof fences);
  if (ioctl (b->sync_fd, SYNC_IOC_FILE_INFO, &info) < 0)
    die (EXIT_REFUSED, "SYNC_IOC_FILE_INFO: %s", strerror (errno));
  if (info.status != 1)
    die (EXIT_REFUSED, "%s: a block's fence ended with status %d (%s)",
        l->device, info.status, info.status < 0 ? strerror (-info.status) :
        "still pending after poll");
  close (b->sync_fd);
  b->sync_fd = -1;
}

static void
wait_block (Loop * l, Block * b)
{
  struct pollfd p = {.fd = b->fd,.events = l->dac ? POLLOUT : POLLIN };
  int n;

  /* a sync_file is ready (POLLIN) once its fences signalled */
  if (l->fence)
    p = (struct pollfd) {.fd = b->sync_fd,.events = POLLIN };

  do
    n = poll (&p, 1, WAIT_MS);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    die (EXIT_REFUSED, "poll on a DMABUF: %s", strerror (errno));
  if (n == 0)
    die (EXIT_REFUSED, "%s: no block completed within %d ms (device "
        "stalled?)", l->device, WAIT_MS);
  if (l->fence)
    fence_done (l, b);
}

/* ---- the ramp -------------------------------------------------------------- */

/* The simulator's ramp: channel c at sample n is (n + 1000 c) & 0xffff */
static void
ramp_fill (uint8_t * p, size_t nsets, unsigned nchans, uint64_t n)
{
  size_t k;
  unsigned c;

  for (k = 0; k < nsets; k++, n++)
    for (c = 0; c < nchans; c++, p += 2) {
      uint16_t v = (uint16_t) (n + 1000 * c);
      p[0] = v & 0xff;
      p[1] = v >> 8;
    }
}

/* Reads every sample, checks it is the ramp from the block's first one on;
 * a block starting later than the previous one ended is a gap (overrun). */
static void
ramp_check (Loop * l, const uint8_t * p)
{
  size_t k, nsets = l->block_bytes / l->bpd;
  uint16_t first = p[0] | p[1] << 8;
  uint64_t n = l->next_n + (uint16_t) (first - (uint16_t) l->next_n);
  unsigned c;
  bool bad = false;

  l->gap += n - l->next_n;
  l->next_n = n + nsets;
  for (k = 0; k < nsets; k++, n++)
    for (c = 0; c < l->nchans; c++, p += 2)
      bad |= (uint16_t) (p[0] | p[1] << 8) != (uint16_t) (n + 1000 * c);
  l->ramp_bad |= bad;
}

static uint64_t
sum_bytes (const uint8_t * p, size_t len)
{
  const uint64_t *w = (const uint64_t *) p;
  uint64_t s = 0;
  size_t i;

  for (i = 0; i < len / 8; i++)
    s += w[i];
  for (i = len / 8 * 8; i < len; i++)
    s += p[i];
  return s;
}

/* ---- the loop ------------------------------------------------------------- */

/* read mode without the ramp check: the sum of every byte's 64-bit words */
static uint64_t sum;

static void
touch_capture (Loop * l, Block * b)
{
  if (l->mode == MODE_NONE)
    return;
  block_sync (l, b, DMA_BUF_SYNC_START);
  if (l->mode == MODE_READ) {
    if (l->ramp_checked)
      ramp_check (l, b->map);
    else
      sum += sum_bytes (b->map, l->block_bytes);
  } else if (l->mode == MODE_MEMCPY) {
    memcpy (b->copy, b->map, l->block_bytes);
    /* the copy counts: keep the compiler from dropping it */
    __asm__ __volatile__ (""::"r" (b->copy):"memory");
  }
  block_sync (l, b, DMA_BUF_SYNC_END);
}

static void
touch_output (Loop * l, Block * b)
{
  if (l->mode == MODE_NONE)
    return;
  block_sync (l, b, DMA_BUF_SYNC_START);
  if (l->mode == MODE_MEMCPY)
    memcpy (b->map, b->copy, l->block_bytes);
  block_sync (l, b, DMA_BUF_SYNC_END);
}

static bool
sim_flag (Loop * l, const char *attr, char *out, size_t size)
{
  if (!sysfs_read (l->sysdir, attr, out, size))
    snprintf (out, size, "n/a");
  return strcmp (out, "n/a") != 0;
}

static void
sim_u64 (Loop * l, const char *attr, char *out, size_t size)
{
  uint64_t v;

  if (sysfs_read_u64 (l->sysdir, attr, &v))
    snprintf (out, size, "%" PRIu64, v);
  else
    snprintf (out, size, "n/a");
}

static int
run (Loop * l)
{
  char fill[16], fast[16], wave[16], fill_ns[32], sim_blocks[32];
  char consumed[32], underruns[32], checksum[32];
  size_t nsets = l->block_bytes / l->bpd;
  uint64_t done = 0, queued = 0, sim_done = 0;
  double t0, c0, s0, wall, cpu, sys, gib;
  bool more = true;
  unsigned i;
  int rc = 0;

  sim_flag (l, "fill", fill, sizeof fill);
  sim_flag (l, "fast", fast, sizeof fast);
  /* the ramp is only there with fill 1 and waveform ramp */
  l->ramp_checked = !l->dac && l->verify && l->mode == MODE_READ
      && !strcmp (fill, "1") && sim_flag (l, "waveform", wave, sizeof wave)
      && !strcmp (wave, "ramp");

  if (l->dac)
    for (i = 0; i < l->nbufs; i++) {
      block_sync (l, &l->b[i], DMA_BUF_SYNC_START);
      ramp_fill (l->b[i].map, nsets, l->nchans, (uint64_t) i * nsets);
      block_sync (l, &l->b[i], DMA_BUF_SYNC_END);
      if (l->b[i].copy)
        memcpy (l->b[i].copy, l->b[i].map, l->block_bytes);
    }
  for (i = 0; i < l->nbufs && (!l->count || queued < l->count); i++, queued++)
    enqueue (l, &l->b[i]);

  t0 = now_s ();
  c0 = proc_cpu_s ();
  s0 = system_cpu_s ();
  set_enable (l, true);
  /* the DAC drains what it was given; capture stops at once */
  while (l->dac ? done < queued : more) {
    Block *b = &l->b[done % l->nbufs];

    wait_block (l, b);
    done++;
    if (l->dac)
      touch_output (l, b);
    else
      touch_capture (l, b);
    more = l->count ? done < l->count : now_s () - t0 < l->seconds;
    if (l->count && l->seconds > 0 && now_s () - t0 >= l->seconds)
      more = false;
    if (more && (!l->count || queued < l->count)) {
      enqueue (l, b);
      queued++;
    }
  }
  wall = now_s () - t0;
  cpu = proc_cpu_s () - c0;
  sys = system_cpu_s () - s0;

  /* the device's own counts, before the disable aborts what is left */
  sim_u64 (l, "fill_ns", fill_ns, sizeof fill_ns);
  sim_u64 (l, "blocks_done", sim_blocks, sizeof sim_blocks);
  if (l->dac) {
    sim_u64 (l, "samples_consumed", consumed, sizeof consumed);
    sim_u64 (l, "underruns", underruns, sizeof underruns);
    if (!sim_flag (l, "checksum", checksum, sizeof checksum))
      snprintf (checksum, sizeof checksum, "n/a");
  }
  set_enable (l, false);
  sysfs_read_u64 (l->sysdir, "blocks_done", &sim_done);

  gib = l->block_bytes * (double) done / (1 << 30);
  printf ("result dir=%s device=%s mode=%s fence=%d block_bytes=%zu buffers=%u "
      "blocks=%" PRIu64 " bytes=%" PRIu64 " wall_s=%.6f cpu_s=%.6f "
      "sys_cpu_s=%.6f blocks_per_s=%.1f mib_per_s=%.2f cpu_s_per_gib=%.4f "
      "sys_cpu_s_per_gib=%.4f fill=%s fast=%s fill_ns=%s sim_blocks=%s",
      l->dac ? "out" : "in", l->device, mode_names[l->mode], l->fence,
      l->block_bytes,
      l->nbufs, done, done * l->block_bytes, wall, cpu, sys, done / wall,
      gib * 1024 / wall, cpu / gib, sys / gib, fill, fast, fill_ns, sim_blocks);

  if (l->dac) {
    const char *verdict = "n/a";
    if (l->verify && !strncmp (checksum, "0x", 2)) {
      uint64_t h = FNV_OFFSET, k;
      for (k = 0; k < done; k++)
        h = fnv1a (h, l->b[k % l->nbufs].map, l->block_bytes);
      verdict = strtoull (checksum, NULL, 16) == h ? "ok" : "bad";
      if (*verdict == 'b') {
        fprintf (stderr, "%s: %s checksum %s, expected 0x%016" PRIx64 "\n",
            prog, l->device, checksum, h);
        rc = EXIT_CHECK;
      }
    } else if (!strcmp (checksum, "off")) {
      verdict = "off";
    }
    printf (" checksum=%s samples_consumed=%s underruns=%s\n", verdict,
        consumed, underruns);
    if (strcmp (consumed, "n/a")
        && strtoull (consumed, NULL, 10) != done * nsets) {
      fprintf (stderr, "%s: %s consumed %s samples, %" PRIu64 " enqueued\n",
          prog, l->device, consumed, done * nsets);
      rc = EXIT_CHECK;
    }
  } else {
    printf (" ramp=%s gap_samples=%" PRIu64, !l->ramp_checked ? "n/a" :
        l->ramp_bad ? "bad" : "ok", l->gap);
    if (l->mode == MODE_READ && !l->ramp_checked)
      printf (" sum=0x%016" PRIx64, sum);
    printf ("\n");
    if (l->ramp_checked && l->ramp_bad) {
      fprintf (stderr, "%s: %s data is not the ramp\n", prog, l->device);
      rc = EXIT_CHECK;
    }
  }
  /* the device completed at least what this loop saw complete */
  if (strcmp (sim_blocks, "n/a") && sim_done < done) {
    fprintf (stderr, "%s: %s reports %" PRIu64 " blocks done, the loop saw "
        "%" PRIu64 "\n", prog, l->device, sim_done, done);
    rc = EXIT_CHECK;
  }
  return rc;
}

/* ---- options --------------------------------------------------------------- */

static void
usage (FILE * f)
{
  fprintf (f, "usage: %s [--dac] [--mode none|sync|read|memcpy] "
      "[--device NAME]\n"
      "    [--block-size BYTES] [--buffers B] [--count N] [--seconds T]\n"
      "    [--channels C] [--heap system|udmabuf] [--attr NAME=VALUE]... "
      "[--no-verify]\n    [--cpu N] [--fence]\n"
      "defaults: sim-adc (sim-dac with --dac), mode none, 65536 bytes, 4 "
      "buffers,\n1000 blocks (with --seconds only: until T seconds), every "
      "channel, heap system\n", prog);
}

static uint64_t
parse_u64 (const char *opt, const char *s, uint64_t min, uint64_t max)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull (s, &end, 0);
  if (errno || end == s || *end || *s == '-' || v < min || v > max) {
    fprintf (stderr, "%s: error: %s '%s' is not a number in %" PRIu64
        "..%" PRIu64 "\n", prog, opt, s, min, max);
    exit (EXIT_USAGE);
  }
  return v;
}

static int
parse_mode (const char *s)
{
  unsigned i;

  for (i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
    if (!strcmp (s, mode_names[i]))
      return i;
  fprintf (stderr, "%s: error: unknown mode '%s' (valid: none, sync, read, "
      "memcpy)\n", prog, s);
  exit (EXIT_USAGE);
}

static void
parse_args (Loop * l, int argc, char **argv)
{
  static const struct option opts[] = {
    {"dac", no_argument, NULL, 'D'},
    {"mode", required_argument, NULL, 'm'},
    {"device", required_argument, NULL, 'd'},
    {"block-size", required_argument, NULL, 's'},
    {"buffers", required_argument, NULL, 'b'},
    {"count", required_argument, NULL, 'n'},
    {"seconds", required_argument, NULL, 't'},
    {"channels", required_argument, NULL, 'c'},
    {"heap", required_argument, NULL, 'H'},
    {"attr", required_argument, NULL, 'a'},
    {"no-verify", no_argument, NULL, 'V'},
    {"cpu", required_argument, NULL, 'C'},
    {"fence", no_argument, NULL, 'F'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}
  };
  bool count_given = false;
  int c;

  l->block_bytes = 65536;
  l->nbufs = 4;
  l->count = 1000;
  l->channels = -1;
  l->verify = true;
  l->cpu = -1;
  l->attrs = calloc (argc, sizeof *l->attrs);
  while ((c = getopt_long (argc, argv, "m:d:s:b:n:t:c:a:h", opts, NULL)) != -1) {
    switch (c) {
      case 'D':
        l->dac = true;
        break;
      case 'm':
        l->mode = parse_mode (optarg);
        break;
      case 'd':
        l->device = optarg;
        break;
      case 's':
        l->block_bytes = parse_u64 ("--block-size", optarg, 1, 1ULL << 32);
        break;
      case 'b':
        l->nbufs = parse_u64 ("--buffers", optarg, 1, MAX_BUFFERS);
        break;
      case 'n':
        l->count = parse_u64 ("--count", optarg, 0, UINT64_MAX / 2);
        count_given = true;
        break;
      case 't':
        l->seconds = parse_u64 ("--seconds", optarg, 1, 3600);
        break;
      case 'c':
        l->channels = parse_u64 ("--channels", optarg, 1, 64);
        break;
      case 'H':
        if (strcmp (optarg, "system") && strcmp (optarg, "udmabuf")) {
          fprintf (stderr, "%s: error: unknown heap '%s' (valid: system, "
              "udmabuf)\n", prog, optarg);
          exit (EXIT_USAGE);
        }
        l->udmabuf = !strcmp (optarg, "udmabuf");
        break;
      case 'a':
        if (!strchr (optarg, '=') || *optarg == '=') {
          fprintf (stderr, "%s: error: --attr '%s' is not NAME=VALUE\n",
              prog, optarg);
          exit (EXIT_USAGE);
        }
        l->attrs[l->nattrs++] = optarg;
        break;
      case 'V':
        l->verify = false;
        break;
      case 'C':
        l->cpu = parse_u64 ("--cpu", optarg, 0, CPU_SETSIZE - 1);
        break;
      case 'F':
        l->fence = true;
        break;
      case 'h':
        usage (stdout);
        exit (0);
      default:
        usage (stderr);
        exit (EXIT_USAGE);
    }
  }
  if (optind < argc) {
    fprintf (stderr, "%s: error: unexpected argument '%s'\n", prog,
        argv[optind]);
    usage (stderr);
    exit (EXIT_USAGE);
  }
  if (!l->device)
    l->device = l->dac ? "sim-dac" : "sim-adc";
  if (l->dac && l->mode == MODE_READ) {
    fprintf (stderr, "%s: error: mode read is capture only (valid with "
        "--dac: none, sync, memcpy)\n", prog);
    exit (EXIT_USAGE);
  }
  /* --seconds alone: run for that long; with --count: whichever first */
  if (l->seconds > 0 && !count_given)
    l->count = 0;
  if (!l->count && l->seconds <= 0) {
    fprintf (stderr, "%s: error: --count 0 needs --seconds\n", prog);
    exit (EXIT_USAGE);
  }
}

int
main (int argc, char **argv)
{
  Loop l = {.dev_fd = -1,.buf_fd = -1 };

  parse_args (&l, argc, argv);
  if (l.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO (&set);
    CPU_SET (l.cpu, &set);
    /* where the loop runs decides whether each completion crosses CPUs */
    if (sched_setaffinity (0, sizeof set, &set) < 0)
      die (EXIT_REFUSED, "cannot run on CPU %d: %s", l.cpu, strerror (errno));
  }
  setup_device (&l);
  setup_blocks (&l);
  /* closing the buffer fd detaches every DMABUF */
  return run (&l);
}
