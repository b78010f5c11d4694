/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstdmabufimportcache.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_dmabuf_import_cache_debug);
#define GST_CAT_DEFAULT gst_dmabuf_import_cache_debug

/* One DMABUF attached through one cache. */
typedef struct
{
  guint64 ino;                  /* the key */
  gint fd;                      /* our dup, for DETACH */
  guint n_links;                /* memories that use this attachment */
} Import;

/* That a memory uses one cache's attachment. In the memory's qdata list,
 * and in the cache's list until the cache is cleared. */
typedef struct
{
  GstDmabufImportCache *cache;  /* NULL once the cache was cleared */
  guint64 ino;
} Link;

/* The qdata on a memory's root: one link per cache that imported it. */
typedef struct
{
  GSList *links;
} MemLinks;

struct _GstDmabufImportCache
{
  GstObject parent;

  /* Immutable after new(). */
  GstDmabufAttacher attacher;
  gpointer target;

  /* Under imports_lock. */
  GHashTable *imports;          /* &ino -> Import * */
  GSList *links;                /* Link * in memories' qdata */
};

/* Guards every cache's imports and links and every memory's MemLinks:
 * see the header for why it is process-wide and how it nests. */
static GMutex imports_lock;
static GQuark links_quark;

G_DEFINE_TYPE_WITH_CODE (GstDmabufImportCache, gst_dmabuf_import_cache,
    GST_TYPE_OBJECT,
    GST_DEBUG_CATEGORY_INIT (gst_dmabuf_import_cache_debug,
        "dmabufimportcache", 0, "Foreign DMABUFs attached to a device");
    links_quark = g_quark_from_static_string ("GstDmabufImportLinks"));

/* Under imports_lock: the last memory using @import went. */
static void
import_release (GstDmabufImportCache * self, Import * import)
{
  if (self->attacher.detach)
    self->attacher.detach (self->target, import->fd);
  GST_LOG_OBJECT (self, "detached DMABUF ino %" G_GUINT64_FORMAT, import->ino);
  close (import->fd);
  g_hash_table_remove (self->imports, &import->ino);
}

/* qdata destroy notify: the memory is being freed, in any thread. */
static void
mem_links_free (MemLinks * ml)
{
  GstDmabufImportCache *cache;
  Import *import;
  Link *link;
  GSList *l;

  g_mutex_lock (&imports_lock);
  for (l = ml->links; l; l = l->next) {
    link = l->data;
    cache = link->cache;
    if (cache) {
      cache->links = g_slist_remove (cache->links, link);
      import = g_hash_table_lookup (cache->imports, &link->ino);
      if (import && --import->n_links == 0)
        import_release (cache, import);
    }
    g_free (link);
  }
  g_mutex_unlock (&imports_lock);
  g_slist_free (ml->links);
  g_free (ml);
}

/* Under imports_lock: the attachment of DMABUF @fd, made if needed. */
static Import *
import_get (GstDmabufImportCache * self, gint fd, GError ** error)
{
  guint64 ino = gst_dmabuf_get_ino (fd);
  Import *import = g_hash_table_lookup (self->imports, &ino);
  gint dup_fd;

  if (import)
    return import;
  dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (dup_fd < 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "dup of DMABUF fd %d failed: %s", fd, g_strerror (errno));
    return NULL;
  }
  if (self->attacher.attach &&
      !self->attacher.attach (self->target, dup_fd, error)) {
    close (dup_fd);
    return NULL;
  }
  import = g_new0 (Import, 1);
  import->ino = ino;
  import->fd = dup_fd;
  g_hash_table_insert (self->imports, &import->ino, import);
  GST_DEBUG_OBJECT (self, "attached DMABUF ino %" G_GUINT64_FORMAT, ino);

  return import;
}

gboolean
gst_dmabuf_import_cache_import (GstDmabufImportCache * self, GstMemory * mem,
    guint64 * ino, GError ** error)
{
  GstMiniObject *root = GST_MINI_OBJECT_CAST (mem);
  Import *import = NULL;
  MemLinks *ml;
  Link *link;
  GSList *l;

  while (GST_MEMORY_CAST (root)->parent)
    root = GST_MINI_OBJECT_CAST (GST_MEMORY_CAST (root)->parent);

  g_mutex_lock (&imports_lock);
  ml = gst_mini_object_get_qdata (root, links_quark);
  for (l = ml ? ml->links : NULL; l; l = l->next)
    if (((Link *) l->data)->cache == self)
      break;
  if (l && ino)
    *ino = ((Link *) l->data)->ino;
  if (l == NULL)
    import = import_get (self, gst_dmabuf_memory_get_fd (mem), error);
  if (import) {
    if (ino)
      *ino = import->ino;
    import->n_links++;
    link = g_new0 (Link, 1);
    link->cache = self;
    link->ino = import->ino;
    self->links = g_slist_prepend (self->links, link);
    if (ml == NULL) {
      ml = g_new0 (MemLinks, 1);
      gst_mini_object_set_qdata (root, links_quark, ml,
          (GDestroyNotify) mem_links_free);
    }
    ml->links = g_slist_prepend (ml->links, link);
  }
  g_mutex_unlock (&imports_lock);

  return l != NULL || import != NULL;
}

guint
gst_dmabuf_import_cache_get_n_attached (GstDmabufImportCache * self)
{
  guint n;

  g_mutex_lock (&imports_lock);
  n = g_hash_table_size (self->imports);
  g_mutex_unlock (&imports_lock);

  return n;
}

void
gst_dmabuf_import_cache_clear (GstDmabufImportCache * self)
{
  GHashTableIter iter;
  Import *import;
  GSList *l;

  g_mutex_lock (&imports_lock);
  for (l = self->links; l; l = l->next)
    ((Link *) l->data)->cache = NULL;
  g_clear_pointer (&self->links, g_slist_free);
  g_hash_table_iter_init (&iter, self->imports);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & import)) {
    if (self->attacher.detach)
      self->attacher.detach (self->target, import->fd);
    close (import->fd);
    g_hash_table_iter_remove (&iter);
  }
  g_mutex_unlock (&imports_lock);
}

static void
gst_dmabuf_import_cache_finalize (GObject * object)
{
  GstDmabufImportCache *self = GST_DMABUF_IMPORT_CACHE (object);

  gst_dmabuf_import_cache_clear (self);
  g_hash_table_unref (self->imports);

  G_OBJECT_CLASS (gst_dmabuf_import_cache_parent_class)->finalize (object);
}

static void
gst_dmabuf_import_cache_class_init (GstDmabufImportCacheClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_dmabuf_import_cache_finalize;
}

static void
gst_dmabuf_import_cache_init (GstDmabufImportCache * self)
{
  self->imports = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
      g_free);
}

GstDmabufImportCache *
gst_dmabuf_import_cache_new (const GstDmabufAttacher * attacher,
    gpointer target)
{
  GstDmabufImportCache *self;

  self = g_object_new (GST_TYPE_DMABUF_IMPORT_CACHE, NULL);
  gst_object_ref_sink (self);
  if (attacher)
    self->attacher = *attacher;
  self->target = target;

  return self;
}
