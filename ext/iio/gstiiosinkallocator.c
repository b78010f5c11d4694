/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiosinkallocator.h"

struct _GstIioSinkAllocator
{
  GstAllocator parent;

  GstIioDmabufOutput *output;   /* strong, immutable */
};

G_DEFINE_TYPE (GstIioSinkAllocator, gst_iio_sink_allocator, GST_TYPE_ALLOCATOR);

/* A block only as the device takes it: from its first byte, no prefix or
 * padding; the page alignment of a DMABUF fits any @params->align. The
 * output decides whether @size fits and waits for a block. */
static GstMemory *
gst_iio_sink_allocator_alloc (GstAllocator * allocator, gsize size,
    GstAllocationParams * params)
{
  GstIioSinkAllocator *self = GST_IIO_SINK_ALLOCATOR (allocator);
  GstMemory *mem = NULL;

  if (size > 0 && params->prefix == 0 && params->padding == 0)
    mem = gst_iio_dmabuf_output_alloc_block (self->output, size);

  return mem ? mem : gst_allocator_alloc (NULL, size, params);
}

/* Never called: blocks belong to their GstDmabufBlockAllocator, the rest
 * is system memory. */
static void
gst_iio_sink_allocator_free (GstAllocator * allocator, GstMemory * mem)
{
  g_return_if_reached ();
}

static void
gst_iio_sink_allocator_finalize (GObject * object)
{
  GstIioSinkAllocator *self = GST_IIO_SINK_ALLOCATOR (object);

  gst_object_unref (self->output);

  G_OBJECT_CLASS (gst_iio_sink_allocator_parent_class)->finalize (object);
}

static void
gst_iio_sink_allocator_class_init (GstIioSinkAllocatorClass * klass)
{
  GstAllocatorClass *allocator_class = GST_ALLOCATOR_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = gst_iio_sink_allocator_finalize;
  allocator_class->alloc = gst_iio_sink_allocator_alloc;
  allocator_class->free = gst_iio_sink_allocator_free;
}

/* Not GST_ALLOCATOR_FLAG_CUSTOM_ALLOC: any producer may use it, for any
 * size. The memories it returns have their own allocators' types. */
static void
gst_iio_sink_allocator_init (GstIioSinkAllocator * self)
{
  GST_ALLOCATOR_CAST (self)->mem_type = "IioSinkBlock";
}

GstAllocator *
gst_iio_sink_allocator_new (GstIioDmabufOutput * output)
{
  GstIioSinkAllocator *self;

  self = g_object_new (GST_TYPE_IIO_SINK_ALLOCATOR, NULL);
  gst_object_ref_sink (self);
  self->output = gst_object_ref (output);

  return GST_ALLOCATOR_CAST (self);
}
