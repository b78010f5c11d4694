/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstFfsPool: a buffer pool of DMABUFs from a heap (GstDmabufExporter),
 * each buffer one DMABUF memory at offset 0, that ffssink offers upstream
 * in propose_allocation: a CPU producer (audiotestsrc, appsrc...) writes
 * straight into DMABUFs the sink sends as they are (attached once each
 * through its import cache), nothing copied. A buffer comes back to the
 * pool only when the sink released it, after its transfer's fence. */
#pragma once

#include <gst/gst.h>

#include "gstdmabufexporter.h"

G_BEGIN_DECLS

#define GST_TYPE_FFS_POOL (gst_ffs_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstFfsPool, gst_ffs_pool, GST, FFS_POOL, GstBufferPool)

/* @exporter is referenced. */
GstBufferPool *gst_ffs_pool_new (GstDmabufExporter * exporter);

G_END_DECLS
