/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Allocates DMABUFs from a DMA heap, or from udmabuf (a sealed memfd) when
 * no heap is there. Knows nothing about IIO. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_DMABUF_EXPORTER (gst_dmabuf_exporter_get_type ())
G_DECLARE_FINAL_TYPE (GstDmabufExporter, gst_dmabuf_exporter, GST,
    DMABUF_EXPORTER, GstObject)

/* The default heap name; when it is missing the exporter falls back to
 * udmabuf. */
#define GST_DMABUF_EXPORTER_DEFAULT_HEAP "system"
/* Heap name that selects udmabuf explicitly. */
#define GST_DMABUF_EXPORTER_UDMABUF "udmabuf"

/* @heap: NULL or "" (the default heap, udmabuf fallback), a heap name
 * looked up in /dev/dma_heap/, an absolute path to a heap device, or
 * "udmabuf". A heap named explicitly that does not exist is an error
 * (GST_RESOURCE_ERROR_NOT_FOUND) whose message lists the heaps present. */
GstDmabufExporter *gst_dmabuf_exporter_new (const gchar * heap,
    GError ** error);

/* Returns a new DMABUF fd of at least @size bytes (rounded up to the page
 * size), or -1 with @error set naming the failing call and errno. */
gint gst_dmabuf_exporter_alloc (GstDmabufExporter * self, gsize size,
    GError ** error);

/* "dma-heap:/dev/dma_heap/system" or "udmabuf", for logs and stats. */
const gchar *gst_dmabuf_exporter_get_description (GstDmabufExporter * self);

G_END_DECLS
