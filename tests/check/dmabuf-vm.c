/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The internal DMABUF library (gst/dmabuf) against the real kernel of the
 * test bed (suite 'vm'): allocation from the system heap by name and by
 * path and from udmabuf, the errors when a heap or every allocator is
 * missing (a private mount namespace hides /dev), and fence waits on a
 * real device's DMABUF: pending, timed out, cancelled, signalled with
 * data, and signalled with the -EINTR of an abort. Run through
 * tests/vm/run. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* unshare, CLONE_NEWNS */
#endif

#include <gst/check/gstcheck.h>
#include <errno.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "gstdmabufexporter.h"
#include "gstdmabuffence.h"
#include "gstiiodevice.h"
#include "gstiiokernelbuffer.h"

#define SYSTEM_HEAP "/dev/dma_heap/system"

static gsize
page_size (void)
{
  return (gsize) sysconf (_SC_PAGESIZE);
}

static GstDmabufExporter *
exporter (const gchar * heap, const gchar * description)
{
  GError *err = NULL;
  GstDmabufExporter *e = gst_dmabuf_exporter_new (heap, &err);

  fail_unless (e != NULL, "dma-heap=%s: %s", GST_STR_NULL (heap),
      err ? err->message : "");
  fail_unless_equals_string (gst_dmabuf_exporter_get_description (e),
      description);
  return e;
}

static void
exporter_fails (const gchar * heap, const gchar * message)
{
  GError *err = NULL;

  fail_unless (gst_dmabuf_exporter_new (heap, &err) == NULL,
      "dma-heap=%s opened", GST_STR_NULL (heap));
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_FOUND), "%s", err->message);
  fail_unless_equals_string (err->message, message);
  g_error_free (err);
}

static gint
alloc (GstDmabufExporter * e, gsize size)
{
  GError *err = NULL;
  gint fd = gst_dmabuf_exporter_alloc (e, size, &err);

  fail_unless (fd >= 0, "%s", err ? err->message : "");
  return fd;
}

/* A DMABUF's size is what lseek(SEEK_END) says. */
static gsize
dmabuf_size (gint fd)
{
  off_t end = lseek (fd, 0, SEEK_END);

  fail_unless (end >= 0, "lseek: %s", g_strerror (errno));
  return (gsize) end;
}

/* Writes a pattern through one mapping and reads it back through another,
 * inside DMA_BUF_IOCTL_SYNC brackets: the memory is real and shared. */
static void
check_cpu_access (gint fd, gsize size)
{
  GError *err = NULL;
  guint8 *w, *r;
  gsize i;

  w = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  fail_unless (w != MAP_FAILED, "mmap: %s", g_strerror (errno));
  r = mmap (NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  fail_unless (r != MAP_FAILED, "mmap: %s", g_strerror (errno));

  fail_unless (gst_dmabuf_cpu_access_begin (fd, FALSE, TRUE, &err), "%s",
      err ? err->message : "");
  for (i = 0; i < size; i++)
    w[i] = (guint8) (i * 7 + 3);
  fail_unless (gst_dmabuf_cpu_access_end (fd, FALSE, TRUE, &err), "%s",
      err ? err->message : "");

  fail_unless (gst_dmabuf_cpu_access_begin (fd, TRUE, FALSE, &err), "%s",
      err ? err->message : "");
  for (i = 0; i < size; i++)
    fail_unless_equals_int (r[i], (guint8) (i * 7 + 3));
  fail_unless (gst_dmabuf_cpu_access_end (fd, TRUE, FALSE, &err), "%s",
      err ? err->message : "");

  munmap (w, size);
  munmap (r, size);
}

static void
check_allocations (GstDmabufExporter * e)
{
  gsize page = page_size ();
  gint small = alloc (e, 1);
  gint big = alloc (e, 3 * page + 1);

  /* sizes are rounded up to whole pages */
  fail_unless_equals_uint64 (dmabuf_size (small), page);
  fail_unless_equals_uint64 (dmabuf_size (big), 4 * page);
  check_cpu_access (big, 4 * page);
  close (small);
  close (big);
}

GST_START_TEST (test_system_heap)
{
  const gchar *names[] = { NULL, "", "system", SYSTEM_HEAP };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    GstDmabufExporter *e = exporter (names[i], "dma-heap:" SYSTEM_HEAP);

    check_allocations (e);
    gst_object_unref (e);
  }
}

GST_END_TEST;

GST_START_TEST (test_udmabuf)
{
  GstDmabufExporter *e = exporter ("udmabuf", "udmabuf");

  check_allocations (e);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_heap_not_found)
{
  exporter_fails ("nosuch",
      "DMA heap \"nosuch\" not found; available: system, udmabuf");
  exporter_fails ("/dev/dma_heap/nosuch",
      "DMA heap \"/dev/dma_heap/nosuch\" not found; available: system, "
      "udmabuf");
  /* a relative path is neither a name nor a path */
  exporter_fails ("dma_heap/system",
      "DMA heap \"dma_heap/system\" not found; available: system, udmabuf");
}

GST_END_TEST;

/* Mounts an empty tmpfs over @dir in a mount namespace of this process
 * only (check runs every test in a child process of its own). */
static void
hide (const gchar * dir)
{
  fail_if (g_strcmp0 (g_getenv ("CK_FORK"), "no") == 0,
      "hiding %s needs check's fork mode (CK_FORK=no is set)", dir);
  fail_unless (unshare (CLONE_NEWNS) == 0, "unshare: %s", g_strerror (errno));
  fail_unless (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
      "mount --make-rprivate /: %s", g_strerror (errno));
  fail_unless (mount ("none", dir, "tmpfs", 0, NULL) == 0,
      "mount tmpfs on %s: %s", dir, g_strerror (errno));
}

GST_START_TEST (test_udmabuf_fallback)
{
  GstDmabufExporter *e;

  hide ("/dev/dma_heap");
  e = exporter (NULL, "udmabuf");
  check_allocations (e);
  gst_object_unref (e);
  exporter_fails ("linux,cma",
      "DMA heap \"linux,cma\" not found; available: udmabuf");
}

GST_END_TEST;

GST_START_TEST (test_no_allocator)
{
  hide ("/dev");
  exporter_fails (NULL, "No DMA heap: neither " SYSTEM_HEAP " nor "
      "/dev/udmabuf exists (kernel options CONFIG_DMABUF_HEAPS_SYSTEM or "
      "CONFIG_UDMABUF)");
  exporter_fails ("udmabuf", "DMA heap \"udmabuf\" not found; available: "
      "none (no /dev/dma_heap/* and no /dev/udmabuf)");
}

GST_END_TEST;

/* ---- fences ---- */

GST_START_TEST (test_fence_idle)
{
  GstDmabufExporter *e = exporter (NULL, "dma-heap:" SYSTEM_HEAP);
  GError *err = NULL;
  gint fd = alloc (e, page_size ());
  gint sync_file = gst_dmabuf_fence_export (fd, TRUE, &err);

  /* no device ever touched it: nothing to wait for */
  fail_unless (sync_file >= 0, "%s", err ? err->message : "");
  fail_unless_equals_int (gst_dmabuf_fence_get_status (sync_file), 1);
  fail_unless_equals_int (gst_dmabuf_fence_wait (sync_file, -1, 0, &err),
      GST_DMABUF_FENCE_SIGNALED);
  fail_unless_equals_int (gst_dmabuf_fence_wait (fd, -1, 0, &err),
      GST_DMABUF_FENCE_SIGNALED);
  close (sync_file);
  close (fd);
  gst_object_unref (e);
}

GST_END_TEST;

/* One DMABUF of @samples samples of sim-adc's voltage0, attached and
 * enqueued before the enable (so it holds the ramp from sample 0), then
 * the buffer enabled: its write fence is the device's. */
typedef struct
{
  GstIioDevice *dev;
  GstIioKernelBuffer *kbuf;
  GstDmabufExporter *exporter;
  gint fd;
  gint sync_file;
  gsize size;
} Capture;

static void
capture_start (Capture * c, const gchar * attributes, guint samples)
{
  GError *err = NULL;

  c->dev = gst_iio_device_open ("local:", "sim-adc", GST_IIO_DIRECTION_INPUT,
      &err);
  fail_unless (c->dev != NULL, "%s", err ? err->message : "");
  fail_unless (gst_iio_device_select_channels (c->dev, "voltage0", &err) &&
      gst_iio_device_write_attributes (c->dev, attributes, &err), "%s",
      err ? err->message : "");
  c->kbuf = gst_iio_kernel_buffer_open (-1,
      gst_iio_device_get_dev_path (c->dev),
      gst_iio_device_get_sysfs_path (c->dev), 0, &err);
  fail_unless (c->kbuf != NULL, "%s", err ? err->message : "");
  /* an earlier test that failed half-way may have left it enabled */
  if (gst_iio_kernel_buffer_is_enabled (c->kbuf))
    fail_unless (gst_iio_kernel_buffer_set_enabled (c->kbuf, FALSE, &err),
        "%s", err ? err->message : "");
  fail_unless (gst_iio_device_write_scan_elements (c->dev, &err), "%s",
      err ? err->message : "");

  c->exporter = exporter (NULL, "dma-heap:" SYSTEM_HEAP);
  c->size = samples * gst_iio_device_get_sample_size (c->dev);
  c->fd = alloc (c->exporter, c->size);
  fail_unless (gst_iio_kernel_buffer_attach (c->kbuf, c->fd, &err) &&
      gst_iio_kernel_buffer_enqueue (c->kbuf, c->fd, c->size, FALSE, &err),
      "%s", err ? err->message : "");
  /* taken right after the enqueue, while the fence is pending: only such
   * a sync_file carries the fence's error status */
  c->sync_file = gst_dmabuf_fence_export (c->fd, FALSE, &err);
  fail_unless (c->sync_file >= 0, "%s", err ? err->message : "");
  fail_unless (gst_iio_kernel_buffer_set_enabled (c->kbuf, TRUE, &err), "%s",
      err ? err->message : "");
}

static void
capture_stop (Capture * c)
{
  GError *err = NULL;

  if (gst_iio_kernel_buffer_is_enabled (c->kbuf))
    fail_unless (gst_iio_kernel_buffer_set_enabled (c->kbuf, FALSE, &err),
        "%s", err ? err->message : "");
  fail_unless (gst_iio_device_write_attributes (c->dev, "fault=none", &err),
      "%s", err ? err->message : "");
  /* closing the buffer fd detaches the DMABUF */
  gst_object_unref (c->kbuf);
  close (c->sync_file);
  close (c->fd);
  gst_object_unref (c->exporter);
  gst_object_unref (c->dev);
}

GST_START_TEST (test_fence_data)
{
  Capture c;
  GError *err = NULL;
  const gint16 *samples;
  guint i;

  capture_start (&c, "sampling_frequency=1000000,fault=none", 4096);
  fail_unless_equals_int (gst_dmabuf_fence_wait (c.sync_file, -1, 5000,
          &err), GST_DMABUF_FENCE_SIGNALED);
  fail_unless_equals_int (gst_dmabuf_fence_get_status (c.sync_file), 1);
  /* the DMABUF fd itself polls readable too */
  fail_unless_equals_int (gst_dmabuf_fence_wait (c.fd, -1, 0, &err),
      GST_DMABUF_FENCE_SIGNALED);

  /* the block is the ramp from sample 0 */
  samples = mmap (NULL, c.size, PROT_READ, MAP_SHARED, c.fd, 0);
  fail_unless (samples != MAP_FAILED, "mmap: %s", g_strerror (errno));
  fail_unless (gst_dmabuf_cpu_access_begin (c.fd, TRUE, FALSE, &err), "%s",
      err ? err->message : "");
  for (i = 0; i < 4096; i++)
    fail_unless_equals_int (samples[i], (gint16) i);
  fail_unless (gst_dmabuf_cpu_access_end (c.fd, TRUE, FALSE, &err), "%s",
      err ? err->message : "");
  munmap ((gpointer) samples, c.size);
  capture_stop (&c);
}

GST_END_TEST;

GST_START_TEST (test_fence_timeout_cancel_abort)
{
  Capture c;
  GError *err = NULL;
  gint64 t0, waited_ms;
  gint cancel = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  guint64 one = 1;

  fail_unless (cancel >= 0, "eventfd: %s", g_strerror (errno));
  /* a stalled device never completes the block */
  capture_start (&c, "sampling_frequency=1000000,fault=stall", 4096);
  fail_unless_equals_int (gst_dmabuf_fence_get_status (c.sync_file), 0);

  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_dmabuf_fence_wait (c.sync_file, cancel, 300,
          &err), GST_DMABUF_FENCE_TIMEOUT);
  waited_ms = (g_get_monotonic_time () - t0) / 1000;
  fail_unless (waited_ms >= 300, "timed out after %" G_GINT64_FORMAT
      " ms, before the 300 ms asked for", waited_ms);
  fail_unless_equals_int (gst_dmabuf_fence_get_status (c.sync_file), 0);

  /* a cancel ends a wait that would otherwise have lasted a minute */
  fail_unless (write (cancel, &one, sizeof (one)) == sizeof (one));
  fail_unless_equals_int (gst_dmabuf_fence_wait (c.sync_file, cancel, 60000,
          &err), GST_DMABUF_FENCE_CANCELLED);
  fail_unless_equals_int (gst_dmabuf_fence_get_status (c.sync_file), 0);

  /* disabling the buffer aborts the transfer: the fence signals -EINTR */
  fail_unless (gst_iio_kernel_buffer_set_enabled (c.kbuf, FALSE, &err),
      "%s", err ? err->message : "");
  fail_unless_equals_int (gst_dmabuf_fence_wait (c.sync_file, -1, 5000,
          &err), GST_DMABUF_FENCE_SIGNALED);
  fail_unless_equals_int (gst_dmabuf_fence_get_status (c.sync_file), -EINTR);

  capture_stop (&c);
  close (cancel);
}

GST_END_TEST;

static Suite *
dmabuf_vm_suite (void)
{
  Suite *s = suite_create ("dmabuf-vm");
  TCase *alloc_tc = tcase_create ("exporter");
  TCase *fence_tc = tcase_create ("fence");

  suite_add_tcase (s, alloc_tc);
  tcase_add_test (alloc_tc, test_system_heap);
  tcase_add_test (alloc_tc, test_udmabuf);
  tcase_add_test (alloc_tc, test_heap_not_found);
  tcase_add_test (alloc_tc, test_udmabuf_fallback);
  tcase_add_test (alloc_tc, test_no_allocator);

  suite_add_tcase (s, fence_tc);
  tcase_add_test (fence_tc, test_fence_idle);
  tcase_add_test (fence_tc, test_fence_data);
  tcase_add_test (fence_tc, test_fence_timeout_cancel_abort);

  return s;
}

GST_CHECK_MAIN (dmabuf_vm);
