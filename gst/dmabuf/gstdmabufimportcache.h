/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Foreign DMABUFs (memories of another element's allocator) attached to
 * one device of ours, once per DMABUF, for as long as a memory wrapping
 * it lives. The contract:
 *
 * - Identity is the DMABUF's inode: a second ATTACH of one DMABUF to one
 *   device fails in the kernel, and several GstMemory (shares, or two
 *   exporters' wrappers) may wrap the same DMABUF. The cache attaches a
 *   dup of the fd, so the attachment never depends on the memory's fd.
 * - Tee-safe: one memory may go to several caches (two sinks behind a
 *   tee); each keeps its own attachment. The memory (its root, the
 *   parent of any share) carries a qdata list of links, one per cache.
 * - The attachment lasts until the last memory linked to it is freed
 *   (the qdata's destroy notify, in whatever thread frees it: a
 *   downstream queue, a pool, another element's streaming thread) or the
 *   cache is cleared, whichever comes first. clear() detaches everything
 *   and leaves the memories' links pointing at nobody.
 *
 * Locking: one process-wide lock guards every cache and every memory's
 * links, since a memory is freed in any thread and may link several
 * caches. It is a leaf apart from the attacher, which runs under it (an
 * ioctl; it must take no lock of its own that is held while a memory is
 * freed). The nesting, across elements: a thread may hold its element's
 * own locks and then take this one (a memory dropped under them); never
 * the other way round. */
#pragma once

#include "gstdmabufblockallocator.h"

G_BEGIN_DECLS

#define GST_TYPE_DMABUF_IMPORT_CACHE (gst_dmabuf_import_cache_get_type ())
G_DECLARE_FINAL_TYPE (GstDmabufImportCache, gst_dmabuf_import_cache, GST,
    DMABUF_IMPORT_CACHE, GstObject)

/* @target is not referenced: clear() must come before it goes. */
GstDmabufImportCache *gst_dmabuf_import_cache_new (const GstDmabufAttacher *
    attacher, gpointer target);

/* Makes sure the DMABUF of @mem (a DMABUF memory) is attached, and links
 * the attachment to @mem's lifetime; *@ino (may be NULL) is then the
 * DMABUF's inode number, from the link for a memory seen before (no
 * fstat). FALSE with @error from the attacher (or a failed dup) when it
 * cannot be. */
gboolean gst_dmabuf_import_cache_import (GstDmabufImportCache * self,
    GstMemory * mem, guint64 * ino, GError ** error);

/* DMABUFs attached right now. */
guint gst_dmabuf_import_cache_get_n_attached (GstDmabufImportCache * self);

/* Detaches everything and forgets the links. The cache may be used again
 * after it. */
void gst_dmabuf_import_cache_clear (GstDmabufImportCache * self);


G_END_DECLS
