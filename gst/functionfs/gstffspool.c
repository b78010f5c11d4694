/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstFfsPool: DMABUF buffers for CPU producers upstream of ffssink. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstffspool.h"

#include <unistd.h>

#include <gst/allocators/allocators.h>

GST_DEBUG_CATEGORY_STATIC (gst_ffs_pool_debug);
#define GST_CAT_DEFAULT gst_ffs_pool_debug

struct _GstFfsPool
{
  GstBufferPool parent;

  GstDmabufExporter *exporter;
  GstAllocator *allocator;
  guint size;
};

#define gst_ffs_pool_parent_class parent_class
G_DEFINE_TYPE (GstFfsPool, gst_ffs_pool, GST_TYPE_BUFFER_POOL);

static gboolean
gst_ffs_pool_set_config (GstBufferPool * pool, GstStructure * config)
{
  GstFfsPool *self = GST_FFS_POOL (pool);
  GstCaps *caps;
  guint size, min, max;

  if (!gst_buffer_pool_config_get_params (config, &caps, &size, &min, &max)
      || size == 0) {
    GST_WARNING_OBJECT (self, "no buffer size in the configuration");
    return FALSE;
  }
  self->size = size;
  return GST_BUFFER_POOL_CLASS (parent_class)->set_config (pool, config);
}

static GstFlowReturn
gst_ffs_pool_alloc_buffer (GstBufferPool * pool, GstBuffer ** buffer,
    GstBufferPoolAcquireParams * params)
{
  GstFfsPool *self = GST_FFS_POOL (pool);
  GError *error = NULL;
  gint fd = gst_dmabuf_exporter_alloc (self->exporter, self->size, &error);

  if (fd < 0) {
    GST_ERROR_OBJECT (self, "a DMABUF of %u bytes from %s: %s", self->size,
        gst_dmabuf_exporter_get_description (self->exporter), error->message);
    g_clear_error (&error);
    return GST_FLOW_ERROR;
  }
  *buffer = gst_buffer_new ();
  gst_buffer_append_memory (*buffer,
      gst_dmabuf_allocator_alloc (self->allocator, fd, self->size));
  return GST_FLOW_OK;
}

static void
gst_ffs_pool_finalize (GObject * object)
{
  GstFfsPool *self = GST_FFS_POOL (object);

  gst_clear_object (&self->exporter);
  gst_clear_object (&self->allocator);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_ffs_pool_class_init (GstFfsPoolClass * klass)
{
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = gst_ffs_pool_finalize;
  pool_class->set_config = gst_ffs_pool_set_config;
  pool_class->alloc_buffer = gst_ffs_pool_alloc_buffer;
  GST_DEBUG_CATEGORY_INIT (gst_ffs_pool_debug, "ffspool", 0,
      "ffssink's DMABUF pool");
}

static void
gst_ffs_pool_init (GstFfsPool * self)
{
  self->allocator = gst_dmabuf_allocator_new ();
}

GstBufferPool *
gst_ffs_pool_new (GstDmabufExporter * exporter)
{
  GstFfsPool *self = g_object_new (GST_TYPE_FFS_POOL, NULL);

  self->exporter = gst_object_ref (exporter);
  return GST_BUFFER_POOL (gst_object_ref_sink (self));
}
