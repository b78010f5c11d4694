/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memfd_create, F_ADD_SEALS */
#endif

#include "gstdmabufexporter.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

GST_DEBUG_CATEGORY_STATIC (gst_dmabuf_exporter_debug);
#define GST_CAT_DEFAULT gst_dmabuf_exporter_debug

#define DMA_HEAP_DIR "/dev/dma_heap"
#define UDMABUF_DEV "/dev/udmabuf"

struct _GstDmabufExporter
{
  GstObject parent;

  /* The heap device or /dev/udmabuf, opened once; immutable after new(). */
  gint dev_fd;
  gboolean is_udmabuf;
  gchar *description;
};

G_DEFINE_TYPE_WITH_CODE (GstDmabufExporter, gst_dmabuf_exporter,
    GST_TYPE_OBJECT,
    GST_DEBUG_CATEGORY_INIT (gst_dmabuf_exporter_debug, "dmabufexporter", 0,
        "DMABUF allocation from DMA heaps and udmabuf"));

static void
gst_dmabuf_exporter_finalize (GObject * object)
{
  GstDmabufExporter *self = GST_DMABUF_EXPORTER (object);

  if (self->dev_fd >= 0)
    close (self->dev_fd);
  g_free (self->description);

  G_OBJECT_CLASS (gst_dmabuf_exporter_parent_class)->finalize (object);
}

static void
gst_dmabuf_exporter_class_init (GstDmabufExporterClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_dmabuf_exporter_finalize;
}

static void
gst_dmabuf_exporter_init (GstDmabufExporter * self)
{
  self->dev_fd = -1;
}

/* "system, reserved, udmabuf": what a user may put in dma-heap here. */
static gchar *
list_available_heaps (void)
{
  GString *list = g_string_new (NULL);
  GDir *dir = g_dir_open (DMA_HEAP_DIR, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir)))
    g_string_append_printf (list, "%s%s", list->len ? ", " : "", name);
  if (dir)
    g_dir_close (dir);
  if (g_file_test (UDMABUF_DEV, G_FILE_TEST_EXISTS))
    g_string_append_printf (list, "%s%s", list->len ? ", " : "",
        GST_DMABUF_EXPORTER_UDMABUF);
  if (list->len == 0)
    g_string_append (list, "none (no " DMA_HEAP_DIR "/* and no " UDMABUF_DEV
        ")");

  return g_string_free (list, FALSE);
}

static void
set_not_found_error (GError ** error, const gchar * what)
{
  gchar *heaps = list_available_heaps ();

  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "DMA heap \"%s\" not found; available: %s", what, heaps);
  g_free (heaps);
}

static gboolean
open_device (GstDmabufExporter * self, const gchar * path, gboolean udmabuf,
    GError ** error)
{
  self->dev_fd = open (path, O_RDWR | O_CLOEXEC);
  if (self->dev_fd < 0) {
    gint err = errno;

    g_set_error (error, GST_RESOURCE_ERROR,
        err == ENOENT ? GST_RESOURCE_ERROR_NOT_FOUND :
        GST_RESOURCE_ERROR_OPEN_READ_WRITE, "Cannot open %s: %s", path,
        g_strerror (err));
    return FALSE;
  }
  self->is_udmabuf = udmabuf;
  self->description = udmabuf ? g_strdup (GST_DMABUF_EXPORTER_UDMABUF) :
      g_strdup_printf ("dma-heap:%s", path);
  GST_DEBUG_OBJECT (self, "allocating from %s", self->description);

  return TRUE;
}

/* The default heap: the system heap, else udmabuf, since a machine with
 * neither has no way to make a DMABUF from user space. */
static gboolean
open_default (GstDmabufExporter * self, GError ** error)
{
  const gchar *system_heap = DMA_HEAP_DIR "/" GST_DMABUF_EXPORTER_DEFAULT_HEAP;

  if (g_file_test (system_heap, G_FILE_TEST_EXISTS))
    return open_device (self, system_heap, FALSE, error);
  if (g_file_test (UDMABUF_DEV, G_FILE_TEST_EXISTS)) {
    GST_INFO_OBJECT (self, "no %s, falling back to udmabuf", system_heap);
    return open_device (self, UDMABUF_DEV, TRUE, error);
  }
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "No DMA heap: neither %s nor %s exists (kernel options "
      "CONFIG_DMABUF_HEAPS_SYSTEM or CONFIG_UDMABUF)", system_heap,
      UDMABUF_DEV);
  return FALSE;
}

static gboolean
open_named (GstDmabufExporter * self, const gchar * heap, GError ** error)
{
  gchar *path;
  gboolean ret;

  if (g_str_equal (heap, GST_DMABUF_EXPORTER_UDMABUF)) {
    if (!g_file_test (UDMABUF_DEV, G_FILE_TEST_EXISTS)) {
      set_not_found_error (error, heap);
      return FALSE;
    }
    return open_device (self, UDMABUF_DEV, TRUE, error);
  }
  if (g_path_is_absolute (heap))
    path = g_strdup (heap);
  else if (strchr (heap, '/') == NULL)
    path = g_build_filename (DMA_HEAP_DIR, heap, NULL);
  else
    path = NULL;

  if (path == NULL || !g_file_test (path, G_FILE_TEST_EXISTS)) {
    set_not_found_error (error, heap);
    g_free (path);
    return FALSE;
  }
  ret = open_device (self, path, FALSE, error);
  g_free (path);

  return ret;
}

GstDmabufExporter *
gst_dmabuf_exporter_new (const gchar * heap, GError ** error)
{
  GstDmabufExporter *self = g_object_new (GST_TYPE_DMABUF_EXPORTER, NULL);
  gboolean ok;

  gst_object_ref_sink (self);
  if (heap == NULL || heap[0] == '\0'
      || g_str_equal (heap, GST_DMABUF_EXPORTER_DEFAULT_HEAP))
    ok = open_default (self, error);
  else
    ok = open_named (self, heap, error);

  if (!ok)
    gst_clear_object (&self);

  return self;
}

static gint
alloc_from_heap (GstDmabufExporter * self, gsize size, GError ** error)
{
  struct dma_heap_allocation_data data = {
    .len = size,
    .fd_flags = O_RDWR | O_CLOEXEC,
  };
  gint ret;

  do
    ret = ioctl (self->dev_fd, DMA_HEAP_IOCTL_ALLOC, &data);
  while (ret < 0 && errno == EINTR);

  if (ret < 0) {
    gint err = errno;

    g_set_error (error, GST_RESOURCE_ERROR,
        err == ENOMEM ? GST_RESOURCE_ERROR_NO_SPACE_LEFT :
        GST_RESOURCE_ERROR_FAILED,
        "DMA_HEAP_IOCTL_ALLOC of %" G_GSIZE_FORMAT " bytes from %s failed: %s",
        size, self->description, g_strerror (err));
    return -1;
  }

  return (gint) data.fd;
}

/* A memfd sealed against shrinking is what udmabuf requires: the pages it
 * pins can then never go away under the device. */
static gint
create_sealed_memfd (gsize size, GError ** error)
{
  const gchar *call;
  gint err;
  gint fd = memfd_create ("gst-dmabuf", MFD_ALLOW_SEALING | MFD_CLOEXEC);

  if (fd < 0) {
    call = "memfd_create";
    goto failed;
  }
  if (ftruncate (fd, size) < 0) {
    call = "ftruncate";
    goto failed;
  }
  if (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
    call = "fcntl (F_ADD_SEALS, F_SEAL_SHRINK)";
    goto failed;
  }
  return fd;

failed:
  err = errno;
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
      "%s for a %" G_GSIZE_FORMAT "-byte udmabuf failed: %s", call, size,
      g_strerror (err));
  if (fd >= 0)
    close (fd);
  return -1;
}

static gint
alloc_from_udmabuf (GstDmabufExporter * self, gsize size, GError ** error)
{
  struct udmabuf_create create = {
    .flags = UDMABUF_FLAGS_CLOEXEC,
    .offset = 0,
    .size = size,
  };
  gint memfd, ret, err;

  memfd = create_sealed_memfd (size, error);
  if (memfd < 0)
    return -1;
  create.memfd = memfd;

  do
    ret = ioctl (self->dev_fd, UDMABUF_CREATE, &create);
  while (ret < 0 && errno == EINTR);
  err = errno;
  /* The DMABUF keeps the pages; the memfd is no longer needed. */
  close (memfd);

  if (ret < 0) {
    g_set_error (error, GST_RESOURCE_ERROR,
        err == ENOMEM ? GST_RESOURCE_ERROR_NO_SPACE_LEFT :
        GST_RESOURCE_ERROR_FAILED,
        "UDMABUF_CREATE of %" G_GSIZE_FORMAT " bytes failed: %s (the udmabuf "
        "module limits one buffer to size_limit_mb)", size, g_strerror (err));
    return -1;
  }

  return ret;
}

gint
gst_dmabuf_exporter_alloc (GstDmabufExporter * self, gsize size,
    GError ** error)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  gint fd;

  g_return_val_if_fail (GST_IS_DMABUF_EXPORTER (self), -1);
  g_return_val_if_fail (size > 0, -1);

  size = (size + page - 1) / page * page;
  if (self->is_udmabuf)
    fd = alloc_from_udmabuf (self, size, error);
  else
    fd = alloc_from_heap (self, size, error);

  if (fd >= 0)
    GST_LOG_OBJECT (self, "allocated DMABUF fd %d of %" G_GSIZE_FORMAT
        " bytes", fd, size);

  return fd;
}

const gchar *
gst_dmabuf_exporter_get_description (GstDmabufExporter * self)
{
  g_return_val_if_fail (GST_IS_DMABUF_EXPORTER (self), NULL);

  return self->description;
}
