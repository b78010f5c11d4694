/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiodmabufoutput.h"
#include "gstiiodmabufpool.h"
#include "gstiiokernelbuffer.h"
#include "gstdmabufexporter.h"
#include "gstdmabuffence.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gst/allocators/allocators.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_dmabuf_output_debug);
#define GST_CAT_DEFAULT gst_iio_dmabuf_output_debug

/* How long stop waits, in all, for the fences of aborted transfers:
 * disabling the buffer signals them at once, so this only bounds a
 * broken driver (docs/iiosink.md states the NULL bound it makes). */
#define STOP_FENCE_WAIT_MS 1000

/* One transfer handed to the kernel. Referenced by the in-flight queue
 * and by a thread waiting on its fence (several threads may wait on the
 * oldest: the streaming thread and upstream's, in a pool acquisition). */
typedef struct
{
  gint refcount;
  GstBuffer *buffer;            /* the data stays alive until the fence */
  gint fence_fd;                /* sync_file taken right after ENQUEUE */
  guint64 ino;                  /* the DMABUF's identity (inode number) */
  gsize bytes;
  gboolean cyclic;
} Entry;

/* Foreign DMABUFs attached to one output's kernel buffer, by inode: the
 * kernel refuses a second ATTACH of one DMABUF to one buffer, and several
 * GstMemory may wrap the same DMABUF. */
typedef struct
{
  guint64 ino;                  /* the key */
  gint fd;                      /* our dup, for DETACH; keeps it unique */
  guint n_links;                /* memories that use this attachment */
} Import;

/* That a foreign memory is attached to one output. Lives in the memory's
 * qdata list, and in the owner's list until the owner stops. */
typedef struct
{
  GstIioDmabufOutput *owner;    /* NULL once the owner stopped */
  guint64 ino;
} ImportLink;

/* The qdata on a foreign memory: one link per output that imported it,
 * so two sinks behind a tee each keep their own attachment. */
typedef struct
{
  GSList *links;
} MemImports;

/* Guards every MemImports, ImportLink, and the imports/links of every
 * output: memories are freed in any thread. Leaf lock apart from the
 * ATTACH/DETACH ioctls made under it. */
static GMutex imports_lock;
static GQuark imports_quark;
/* Set while the streaming thread acquires a block of its own pool: the
 * pool's reclaim then runs under the preroll lock and must return on an
 * interrupt rather than wait for the pause to end. */
static GPrivate owner_acquiring;

struct _GstIioDmabufOutput
{
  GstIioQueue parent;

  /* start() to stop(), state thread; the streaming thread and the pool
   * use them in between. */
  GstDmabufExporter *exporter;
  GstIioKernelBuffer *kbuf;
  GstIioDmabufPool *pool;
  gint cancel_fd;               /* eventfd, readable while flushing */
  GstIioDmabufOutputErrorFunc error_func;
  gpointer error_data;

  /* Streaming thread only. */
  GstMemory *pending;           /* our block being filled by copies */
  GstMapInfo pending_map;
  gsize pending_fill;
  gsize resume;                 /* bytes of an interrupted buffer copied */
  gboolean cyclic_queued;
  gboolean cyclic_drop_logged;
  gboolean import_failure_logged;
  guint64 n_enqueued;

  /* Leaf lock: nothing is called or unreffed under it but the fence
   * status ioctl. */
  GMutex lock;
  GCond cond;                   /* flushing ended, a discard, or stop */
  GQueue inflight;              /* Entry *, oldest first */
  gboolean flushing;
  gboolean discard_pending;     /* a flush began: drop the partial block */
  guint discards;               /* counts discard() calls */
  gboolean stopped;             /* stop() to start() */

  /* Under imports_lock. */
  GHashTable *imports;          /* &ino -> Import * */
  GSList *links;                /* ImportLink * in memories' qdata */
};

G_DEFINE_TYPE_WITH_CODE (GstIioDmabufOutput, gst_iio_dmabuf_output,
    GST_TYPE_IIO_QUEUE,
    GST_DEBUG_CATEGORY_INIT (gst_iio_dmabuf_output_debug, "iiodmabufoutput",
        0, "IIO output DMABUF queue");
    imports_quark = g_quark_from_static_string ("GstIioDmabufOutputImports"));

/* ---- helpers ---- */

static const gchar *
device_name (GstIioDmabufOutput * self)
{
  return gst_iio_device_get_display_name (gst_iio_queue_get_device
      (GST_IIO_QUEUE (self)));
}

static const GstIioQueueConfig *
config_of (GstIioDmabufOutput * self)
{
  return gst_iio_queue_get_config (GST_IIO_QUEUE (self));
}

/* The inode number identifies a DMABUF: unique per buffer, whatever fd or
 * GstMemory refers to it. */
static guint64
dmabuf_ino (gint fd)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return 0;
  return st.st_ino;
}

static Entry *
entry_new (GstBuffer * buffer, gint fence_fd, guint64 ino, gsize bytes,
    gboolean cyclic)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->refcount = 1;
  entry->buffer = gst_buffer_ref (buffer);
  entry->fence_fd = fence_fd;
  entry->ino = ino;
  entry->bytes = bytes;
  entry->cyclic = cyclic;

  return entry;
}

static Entry *
entry_ref (Entry * entry)
{
  g_atomic_int_inc (&entry->refcount);
  return entry;
}

/* The last unref releases the data to its owner (upstream's pool, or our
 * pool for our blocks): never call it under a lock. */
static void
entry_unref (Entry * entry)
{
  if (!g_atomic_int_dec_and_test (&entry->refcount))
    return;
  if (entry->fence_fd >= 0)
    close (entry->fence_fd);
  gst_buffer_unref (entry->buffer);
  g_free (entry);
}

static void
post_async_error (GstIioDmabufOutput * self, const GError * error)
{
  GstIioDmabufOutputErrorFunc func;
  gpointer data;

  GST_OBJECT_LOCK (self);
  func = self->error_func;
  data = self->error_data;
  GST_OBJECT_UNLOCK (self);

  if (func)
    func (error, data);
}

void
gst_iio_dmabuf_output_set_error_func (GstIioDmabufOutput * self,
    GstIioDmabufOutputErrorFunc func, gpointer user_data)
{
  GST_OBJECT_LOCK (self);
  self->error_func = func;
  self->error_data = user_data;
  GST_OBJECT_UNLOCK (self);
}

/* ---- waiting for the device ---- */

/* The device was unbound (hot-unplug) if its sysfs directory went. */
static gboolean
device_is_gone (GstIioDmabufOutput * self)
{
  const gchar *path = gst_iio_device_get_sysfs_path (gst_iio_queue_get_device
      (GST_IIO_QUEUE (self)));

  return path != NULL && !g_file_test (path, G_FILE_TEST_EXISTS);
}

/* The buffer went disabled while we play and do not stop (stop sets
 * flushing before it disables): another program did it, e.g. libiio's
 * open writing buffer/enable=0 before it finds the device busy. */
static gboolean
disabled_by_other (GstIioDmabufOutput * self, GError ** error)
{
  gboolean flushing;

  g_mutex_lock (&self->lock);
  flushing = self->flushing;
  g_mutex_unlock (&self->lock);

  return !flushing &&
      gst_iio_device_explain_disabled (gst_iio_queue_get_device (GST_IIO_QUEUE (self)), error);
}

static void
set_fence_error (GstIioDmabufOutput * self, gint status, GError ** error)
{
  if (status == -ENODEV || device_is_gone (self))
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_DEVICE_LOST,
        "Device %s disappeared", device_name (self));
  else if (status == -EINTR)
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "Device %s aborted a block it was playing (the driver reported a "
        "transfer error)", device_name (self));
  else
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "Device %s failed to play a block: %s", device_name (self),
        g_strerror (-status));
  if (status != -ENODEV)
    disabled_by_other (self, error);
}

/* Waits for @entry's fence. *@done: the transfer is over (possibly with
 * an error) and may be retired. */
static GstFlowReturn
wait_entry (GstIioDmabufOutput * self, Entry * entry, gboolean * done,
    GError ** error)
{
  gint timeout_ms = config_of (self)->timeout_ms;
  gint status;

  *done = FALSE;
  switch (gst_dmabuf_fence_wait (entry->fence_fd, self->cancel_fd,
          timeout_ms, error)) {
    case GST_DMABUF_FENCE_SIGNALED:
      *done = TRUE;
      status = gst_dmabuf_fence_get_status (entry->fence_fd);
      if (status >= 0)
        return GST_FLOW_OK;
      set_fence_error (self, status, error);
      return GST_FLOW_ERROR;
    case GST_DMABUF_FENCE_CANCELLED:
      return GST_FLOW_FLUSHING;
    case GST_DMABUF_FENCE_TIMEOUT:
      g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_TIMEOUT,
          "Timed out after %d ms waiting for %s to consume a block",
          timeout_ms, device_name (self));
      disabled_by_other (self, error);
      return GST_FLOW_ERROR;
    case GST_DMABUF_FENCE_FAILED:
    default:
      return GST_FLOW_ERROR;
  }
}

/* TRUE if it was still queued: the caller then owns the queue's ref. */
static gboolean
remove_entry (GstIioDmabufOutput * self, Entry * entry)
{
  gboolean removed;

  g_mutex_lock (&self->lock);
  removed = g_queue_remove (&self->inflight, entry);
  g_mutex_unlock (&self->lock);

  return removed;
}

/* Waits for the oldest transfer and retires it. GST_FLOW_CUSTOM_SUCCESS
 * when there is none (or only the cyclic one, which never ends). */
static GstFlowReturn
retire_oldest (GstIioDmabufOutput * self, GError ** error)
{
  Entry *entry;
  gboolean done;
  GstFlowReturn ret;

  g_mutex_lock (&self->lock);
  entry = g_queue_peek_head (&self->inflight);
  if (entry && !entry->cyclic)
    entry_ref (entry);
  else
    entry = NULL;
  g_mutex_unlock (&self->lock);
  if (entry == NULL)
    return GST_FLOW_CUSTOM_SUCCESS;

  ret = wait_entry (self, entry, &done, error);
  if (done && remove_entry (self, entry))
    entry_unref (entry);
  entry_unref (entry);

  return ret;
}

/* After an interrupted wait in upstream's thread: TRUE when it was a
 * pause (flushing ended with no discard since @discards, and no stop), so
 * the wait goes on; FALSE for a flush or stop. */
static gboolean
wait_pause_over (GstIioDmabufOutput * self, guint discards)
{
  gboolean paused;

  g_mutex_lock (&self->lock);
  while (self->flushing && self->discards == discards && !self->stopped)
    g_cond_wait (&self->cond, &self->lock);
  paused = self->discards == discards && !self->stopped;
  g_mutex_unlock (&self->lock);

  return paused;
}

/* GstIioDmabufPoolReclaimFunc: upstream needs a block of our pool. The
 * sink's unlock interrupts this wait too; upstream would stop its task on
 * FLUSHING, so after a mere pause the wait resumes instead. */
static GstFlowReturn
reclaim_for_pool (GstObject * owner, GError ** error)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (owner);
  GError *err = NULL;
  GstFlowReturn ret;
  guint discards;

  if (g_private_get (&owner_acquiring) == self)
    return retire_oldest (self, error);
  do {
    g_mutex_lock (&self->lock);
    discards = self->discards;
    g_mutex_unlock (&self->lock);
    ret = retire_oldest (self, &err);
  } while (ret == GST_FLOW_FLUSHING && wait_pause_over (self, discards));
  if (ret == GST_FLOW_ERROR && err) {
    /* Upstream's allocation falls back to system memory and learns
     * nothing: the element must post why. */
    post_async_error (self, err);
  }
  if (err)
    g_propagate_error (error, err);

  return ret;
}

/* Room for one more transfer of DMABUF @ino: fewer than `blocks` in
 * flight, and not this DMABUF (a second ENQUEUE would fail with EBUSY). */
static GstFlowReturn
make_room (GstIioDmabufOutput * self, guint64 ino, GError ** error)
{
  guint max = config_of (self)->n_blocks;
  gboolean busy;
  GList *l;
  GstFlowReturn ret;

  for (;;) {
    g_mutex_lock (&self->lock);
    busy = self->flushing || self->inflight.length >= max;
    for (l = self->inflight.head; l && !busy; l = l->next)
      busy = ((Entry *) l->data)->ino == ino;
    g_mutex_unlock (&self->lock);
    if (!busy)
      return GST_FLOW_OK;

    ret = retire_oldest (self, error);
    if (ret == GST_FLOW_CUSTOM_SUCCESS)
      ret = self->flushing ? GST_FLOW_FLUSHING : GST_FLOW_OK;
    if (ret != GST_FLOW_OK)
      return ret;
  }
}

/* ---- handing data to the device ---- */

/* The device had played everything queued: it ran dry before this one
 * (not counted before the first transfer). */
static void
count_underrun (GstIioDmabufOutput * self)
{
  Entry *newest;
  gboolean dry;

  if (self->n_enqueued == 0)
    return;
  g_mutex_lock (&self->lock);
  newest = g_queue_peek_tail (&self->inflight);
  dry = newest == NULL || gst_dmabuf_fence_get_status (newest->fence_fd) != 0;
  g_mutex_unlock (&self->lock);

  if (dry) {
    GST_DEBUG_OBJECT (self, "underrun: the device played all it had");
    gst_iio_queue_add_stat (GST_IIO_QUEUE (self),
        GST_IIO_QUEUE_STAT_UNDERRUNS, 1);
  }
}

/* ENQUEUE @bytes of DMABUF @fd; @buffer stays referenced until the fence
 * signals. The caller made room. */
static gboolean
enqueue (GstIioDmabufOutput * self, GstBuffer * buffer, gint fd, guint64 ino,
    gsize bytes, GError ** error)
{
  gboolean cyclic = config_of (self)->cyclic;
  GError *err = NULL;
  gint fence_fd;
  Entry *entry;

  count_underrun (self);
  if (!gst_iio_kernel_buffer_enqueue (self->kbuf, fd, bytes, cyclic, &err)) {
    if (err->code == GST_IIO_ERROR_DEVICE_LOST || device_is_gone (self)) {
      err->code = GST_IIO_ERROR_DEVICE_LOST;
      g_prefix_error (&err, "Device %s disappeared: ", device_name (self));
    }
    g_propagate_error (error, err);
    return FALSE;
  }
  /* Only a sync_file taken before the fence signals carries its error.
   * for_write: the device reads the buffer, its fence is a read fence. */
  fence_fd = gst_dmabuf_fence_export (fd, TRUE, error);

  /* Queued even without a fence: the kernel has the data until stop. */
  entry = entry_new (buffer, fence_fd, ino, bytes, cyclic);
  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->inflight, entry);
  g_mutex_unlock (&self->lock);
  gst_iio_dmabuf_pool_notify_queued (self->pool);

  self->n_enqueued++;
  self->cyclic_queued = cyclic;
  gst_iio_queue_add_stat (GST_IIO_QUEUE (self), GST_IIO_QUEUE_STAT_BYTES,
      bytes);
  GST_LOG_OBJECT (self, "queued %" G_GSIZE_FORMAT " bytes of DMABUF fd %d%s",
      bytes, fd, cyclic ? " (cyclic)" : "");

  return fence_fd >= 0;
}

/* A whole upstream buffer of one DMABUF memory (ours or imported). */
static GstFlowReturn
enqueue_buffer (GstIioDmabufOutput * self, GstBuffer * buffer,
    GstMemory * mem, GError ** error)
{
  gint fd = gst_dmabuf_memory_get_fd (mem);
  guint64 ino = dmabuf_ino (fd);
  GstFlowReturn ret;

  ret = make_room (self, ino, error);
  if (ret != GST_FLOW_OK)
    return ret;
  if (!enqueue (self, buffer, fd, ino, mem->size, error))
    return GST_FLOW_ERROR;

  return GST_FLOW_OK;
}

/* ---- the copy path into our own blocks ---- */

static void drop_pending (GstIioDmabufOutput * self);

/* Streaming thread: after a flush, the partly filled block holds data
 * from before it. */
static void
discard_after_flush (GstIioDmabufOutput * self)
{
  gboolean discard;

  g_mutex_lock (&self->lock);
  discard = self->discard_pending && !self->flushing;
  if (discard)
    self->discard_pending = FALSE;
  g_mutex_unlock (&self->lock);

  if (discard) {
    drop_pending (self);
    self->resume = 0;
  }
}

static GstFlowReturn
open_pending (GstIioDmabufOutput * self, GError ** error)
{
  GstMemory *mem;
  GstFlowReturn ret;

  g_private_set (&owner_acquiring, self);
  ret = gst_iio_dmabuf_pool_acquire_block (self->pool, &mem,
      config_of (self)->timeout_ms, error);
  g_private_set (&owner_acquiring, NULL);
  if (ret != GST_FLOW_OK)
    return ret;

  if (!gst_memory_map (mem, &self->pending_map, GST_MAP_WRITE)) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "Cannot map a DMA block of %s for writing", device_name (self));
    gst_memory_unref (mem);
    return GST_FLOW_ERROR;
  }
  self->pending = mem;
  self->pending_fill = 0;

  return GST_FLOW_OK;
}

static void
drop_pending (GstIioDmabufOutput * self)
{
  if (self->pending == NULL)
    return;
  GST_DEBUG_OBJECT (self, "dropping %" G_GSIZE_FORMAT " copied bytes not "
      "queued yet", self->pending_fill);
  gst_memory_unmap (self->pending, &self->pending_map);
  g_clear_pointer (&self->pending, gst_memory_unref);
  self->pending_fill = 0;
}

/* Hands the block being filled to the device, full or not. Kept if
 * there is no room yet (flushing, error). */
static GstFlowReturn
submit_pending (GstIioDmabufOutput * self, GError ** error)
{
  GstMemory *mem = self->pending;
  GstBuffer *buffer;
  GstFlowReturn ret;
  guint64 ino;
  gint fd;

  if (mem == NULL)
    return GST_FLOW_OK;
  fd = gst_dmabuf_memory_get_fd (mem);
  ino = dmabuf_ino (fd);
  ret = make_room (self, ino, error);
  if (ret != GST_FLOW_OK)
    return ret;

  gst_memory_unmap (mem, &self->pending_map);
  buffer = gst_buffer_new ();
  gst_buffer_append_memory (buffer, mem);
  if (!enqueue (self, buffer, fd, ino, self->pending_fill, error))
    ret = GST_FLOW_ERROR;
  self->pending = NULL;
  self->pending_fill = 0;
  /* The entry holds its own reference; on failure the block is free. */
  gst_buffer_unref (buffer);

  return ret;
}

/* Appends @data to our blocks, handing each to the device when full. */
static GstFlowReturn
copy_bytes (GstIioDmabufOutput * self, const guint8 * data, gsize size,
    GError ** error)
{
  gsize block_bytes = gst_iio_queue_get_block_bytes (GST_IIO_QUEUE (self));
  /* An interrupted call (a pause) resumes after what it copied. */
  gsize n, done = MIN (self->resume, size), start = done;
  GstFlowReturn ret = GST_FLOW_OK;

  while (done < size && ret == GST_FLOW_OK) {
    if (self->pending == NULL) {
      ret = open_pending (self, error);
      if (ret != GST_FLOW_OK)
        break;
    }
    n = MIN (block_bytes - self->pending_fill, size - done);
    memcpy (self->pending_map.data + self->pending_fill, data + done, n);
    self->pending_fill += n;
    done += n;
    if (self->pending_fill == block_bytes)
      ret = submit_pending (self, error);
  }
  /* A full last block whose submit a pause interrupted: the resumed call
   * submits it before returning. */
  if (ret == GST_FLOW_OK && self->pending
      && self->pending_fill == block_bytes)
    ret = submit_pending (self, error);
  self->resume = ret == GST_FLOW_FLUSHING ? done : 0;
  gst_iio_queue_add_stat (GST_IIO_QUEUE (self),
      GST_IIO_QUEUE_STAT_BYTES_COPIED, done - start);

  return ret;
}

static GstFlowReturn
copy_buffer (GstIioDmabufOutput * self, GstBuffer * buffer, GError ** error)
{
  GstMapInfo map;
  GstFlowReturn ret;

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "Cannot map an upstream buffer of %" G_GSIZE_FORMAT " bytes for "
        "reading", gst_buffer_get_size (buffer));
    return GST_FLOW_ERROR;
  }
  ret = copy_bytes (self, map.data, map.size, error);
  gst_buffer_unmap (buffer, &map);

  return ret;
}

/* ---- importing foreign DMABUFs ---- */

/* Under imports_lock. The last memory using an attachment went. */
static void
import_release (GstIioDmabufOutput * self, Import * import)
{
  GError *error = NULL;

  if (!gst_iio_kernel_buffer_detach (self->kbuf, import->fd, &error)) {
    GST_WARNING_OBJECT (self, "%s", error->message);
    g_error_free (error);
  }
  GST_LOG_OBJECT (self, "detached DMABUF ino %" G_GUINT64_FORMAT, import->ino);
  close (import->fd);
  g_hash_table_remove (self->imports, &import->ino);
}

/* qdata destroy notify: the foreign memory is being freed. */
static void
mem_imports_free (MemImports * mi)
{
  GSList *l;
  ImportLink *link;
  Import *import;

  g_mutex_lock (&imports_lock);
  for (l = mi->links; l; l = l->next) {
    link = l->data;
    if (link->owner) {
      link->owner->links = g_slist_remove (link->owner->links, link);
      import = g_hash_table_lookup (link->owner->imports, &link->ino);
      if (import && --import->n_links == 0)
        import_release (link->owner, import);
    }
    g_free (link);
  }
  g_mutex_unlock (&imports_lock);
  g_slist_free (mi->links);
  g_free (mi);
}

/* Under imports_lock: the attachment of DMABUF @fd, made if needed. */
static Import *
import_get (GstIioDmabufOutput * self, gint fd, GError ** error)
{
  guint64 ino = dmabuf_ino (fd);
  Import *import = g_hash_table_lookup (self->imports, &ino);
  gint dup_fd;

  if (import)
    return import;
  dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (dup_fd < 0 || !gst_iio_kernel_buffer_attach (self->kbuf, dup_fd, error)) {
    if (dup_fd < 0)
      g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
          "dup of DMABUF fd %d failed: %s", fd, g_strerror (errno));
    else
      close (dup_fd);
    return NULL;
  }
  import = g_new0 (Import, 1);
  import->ino = ino;
  import->fd = dup_fd;
  g_hash_table_insert (self->imports, &import->ino, import);
  GST_DEBUG_OBJECT (self, "attached upstream DMABUF ino %" G_GUINT64_FORMAT,
      ino);

  return import;
}

/* Makes sure the DMABUF of foreign memory @mem is attached to our buffer;
 * the attachment lasts until the last memory using it is freed. */
static gboolean
import_memory (GstIioDmabufOutput * self, GstMemory * mem, GError ** error)
{
  GstMiniObject *root = GST_MINI_OBJECT_CAST (mem);
  MemImports *mi;
  ImportLink *link;
  Import *import;
  GSList *l;

  while (GST_MEMORY_CAST (root)->parent)
    root = GST_MINI_OBJECT_CAST (GST_MEMORY_CAST (root)->parent);

  g_mutex_lock (&imports_lock);
  mi = gst_mini_object_get_qdata (root, imports_quark);
  for (l = mi ? mi->links : NULL; l; l = l->next)
    if (((ImportLink *) l->data)->owner == self)
      break;
  import = l ? NULL : import_get (self, gst_dmabuf_memory_get_fd (mem), error);
  if (import) {
    import->n_links++;
    link = g_new0 (ImportLink, 1);
    link->owner = self;
    link->ino = import->ino;
    self->links = g_slist_prepend (self->links, link);
    if (mi == NULL) {
      mi = g_new0 (MemImports, 1);
      gst_mini_object_set_qdata (root, imports_quark, mi,
          (GDestroyNotify) mem_imports_free);
    }
    mi->links = g_slist_prepend (mi->links, link);
  }
  g_mutex_unlock (&imports_lock);

  return l != NULL || import != NULL;
}

/* At stop: detach everything and forget the links (the memories keep
 * their qdata, now pointing at nobody). */
static void
forget_imports (GstIioDmabufOutput * self)
{
  GHashTableIter iter;
  Import *import;
  GSList *l;

  g_mutex_lock (&imports_lock);
  for (l = self->links; l; l = l->next)
    ((ImportLink *) l->data)->owner = NULL;
  g_clear_pointer (&self->links, g_slist_free);
  g_hash_table_iter_init (&iter, self->imports);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & import)) {
    if (self->kbuf)
      gst_iio_kernel_buffer_detach (self->kbuf, import->fd, NULL);
    close (import->fd);
    g_hash_table_iter_remove (&iter);
  }
  g_mutex_unlock (&imports_lock);
}

/* ---- GstIioQueue ---- */

/* The one DMABUF memory of @buffer if the device can take the buffer as
 * it is: a single memory starting at the DMABUF's first byte. */
static GstMemory *
single_dmabuf_memory (GstBuffer * buffer)
{
  GstMemory *mem;

  if (gst_buffer_n_memory (buffer) != 1)
    return NULL;
  mem = gst_buffer_peek_memory (buffer, 0);
  if (!gst_is_dmabuf_memory (mem) || mem->offset != 0)
    return NULL;

  return mem;
}

/* TRUE when @mem can go to the device without a copy. */
static gboolean
can_take_memory (GstIioDmabufOutput * self, GstMemory * mem,
    gboolean * imported)
{
  GError *error = NULL;

  *imported = FALSE;
  if (mem == NULL)
    return FALSE;
  if (gst_iio_dmabuf_pool_owns_memory (self->pool, mem))
    return TRUE;
  if (import_memory (self, mem, &error)) {
    *imported = TRUE;
    return TRUE;
  }
  if (!self->import_failure_logged) {
    GST_WARNING_OBJECT (self, "upstream DMABUFs cannot be imported, "
        "copying them: %s", error->message);
    self->import_failure_logged = TRUE;
  }
  g_error_free (error);

  return FALSE;
}

/* cyclic=true: the first buffer alone, in one transfer. */
static GstFlowReturn
render_cyclic_copy (GstIioDmabufOutput * self, GstBuffer * buffer,
    GError ** error)
{
  gsize block_bytes = gst_iio_queue_get_block_bytes (GST_IIO_QUEUE (self));
  gsize size = gst_buffer_get_size (buffer);
  GstFlowReturn ret;

  if (size > block_bytes) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "cyclic=true repeats the first buffer, but its %" G_GSIZE_FORMAT
        " bytes do not fit a block of %" G_GSIZE_FORMAT " bytes: raise "
        "buffer-size to at least %" G_GSIZE_FORMAT " samples", size,
        block_bytes, size / config_of (self)->sample_size);
    return GST_FLOW_ERROR;
  }
  ret = copy_buffer (self, buffer, error);
  if (ret == GST_FLOW_OK)
    ret = submit_pending (self, error);

  return ret;
}

static GstFlowReturn
render_buffer (GstIioDmabufOutput * self, GstBuffer * buffer,
    GError ** error)
{
  GstMemory *mem = single_dmabuf_memory (buffer);
  gboolean imported;
  GstFlowReturn ret;

  if (can_take_memory (self, mem, &imported)) {
    /* Copied data before it goes first: keep the order. */
    ret = submit_pending (self, error);
    if (ret == GST_FLOW_OK)
      ret = enqueue_buffer (self, buffer, mem, error);
    if (ret == GST_FLOW_OK && imported)
      gst_iio_queue_add_stat (GST_IIO_QUEUE (self),
          GST_IIO_QUEUE_STAT_DMABUF_IMPORTS, 1);
    return ret;
  }
  if (config_of (self)->cyclic)
    return render_cyclic_copy (self, buffer, error);

  return copy_buffer (self, buffer, error);
}

static GstFlowReturn
gst_iio_dmabuf_output_render (GstIioQueue * queue, GstBuffer * buffer,
    GError ** error)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  gsize sample_size = config_of (self)->sample_size;
  gsize size = gst_buffer_get_size (buffer);
  GstFlowReturn ret;

  if (self->cyclic_queued) {
    if (!self->cyclic_drop_logged)
      GST_INFO_OBJECT (self, "cyclic: the first buffer repeats until stop, "
          "dropping the ones after it");
    self->cyclic_drop_logged = TRUE;
    return GST_FLOW_OK;
  }
  if (size % sample_size != 0) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "A buffer of %" G_GSIZE_FORMAT " bytes is not a whole number of "
        "%" G_GSIZE_FORMAT "-byte samples for %s", size, sample_size,
        device_name (self));
    return GST_FLOW_ERROR;
  }
  if (size == 0)
    return GST_FLOW_OK;

  discard_after_flush (self);
  ret = render_buffer (self, buffer, error);
  /* Once, when an interrupted render (a pause) is resumed. */
  if (ret == GST_FLOW_OK)
    gst_iio_queue_add_stat (queue, GST_IIO_QUEUE_STAT_BUFFERS, 1);

  return ret;
}

/* EOS: the partial block goes too, then every transfer must finish.
 * FALSE without @error: interrupted by set_flushing. */
static gboolean
gst_iio_dmabuf_output_drain (GstIioQueue * queue, GError ** error)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  GstFlowReturn ret;

  if (self->cyclic_queued)
    return TRUE;
  discard_after_flush (self);
  ret = submit_pending (self, error);
  while (ret == GST_FLOW_OK)
    ret = retire_oldest (self, error);
  GST_DEBUG_OBJECT (self, "drained: %s", gst_flow_get_name (ret));

  return ret == GST_FLOW_CUSTOM_SUCCESS;
}

static void
gst_iio_dmabuf_output_set_flushing (GstIioQueue * queue, gboolean flushing)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  GstIioDmabufPool *pool;
  eventfd_t value;

  /* Under the lock: the flag and the eventfd change together, and stop
   * may be dropping the pool. */
  g_mutex_lock (&self->lock);
  self->flushing = flushing;
  if (flushing)
    eventfd_write (self->cancel_fd, 1);
  else
    eventfd_read (self->cancel_fd, &value);     /* non-blocking: resets */
  g_cond_broadcast (&self->cond);
  pool = self->pool ? gst_object_ref (self->pool) : NULL;
  g_mutex_unlock (&self->lock);

  if (pool) {
    gst_iio_dmabuf_pool_set_owner_flushing (pool, flushing);
    gst_object_unref (pool);
  }
}

/* A flush or stop, not a pause: the streaming thread drops its partial
 * block at the next render; an upstream waiting for a block gives up. */
static void
gst_iio_dmabuf_output_discard (GstIioQueue * queue)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);

  g_mutex_lock (&self->lock);
  self->discard_pending = TRUE;
  self->discards++;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static GstAllocator *
gst_iio_dmabuf_output_get_allocator (GstIioQueue * queue, GstCaps * caps)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  GstAllocator *allocator = NULL;

  g_mutex_lock (&self->lock);
  if (self->pool)
    allocator = gst_iio_dmabuf_pool_get_allocator (self->pool);
  g_mutex_unlock (&self->lock);

  return allocator;
}

/* ---- stop ---- */

/* Stop without EOS drops what the device has not played yet: say so. */
static void
log_dropped (GstIioDmabufOutput * self, GQueue * entries)
{
  guint n = 0;
  gsize bytes = self->pending_fill;
  GList *l;
  Entry *entry;

  for (l = entries->head; l; l = l->next) {
    entry = l->data;
    if (!entry->cyclic && entry->fence_fd >= 0
        && gst_dmabuf_fence_get_status (entry->fence_fd) == 0) {
      n++;
      bytes += entry->bytes;
    }
  }
  if (bytes > 0)
    GST_WARNING_OBJECT (self, "stopping without EOS: %u queued blocks and %"
        G_GSIZE_FORMAT " bytes in all, not yet played by %s, are dropped", n,
        bytes, device_name (self));
  else
    GST_DEBUG_OBJECT (self, "stopping: nothing left to play");
}

/* After disable: the fences signal (aborted); upstream's memory goes back
 * only when the device no longer reads it. */
static void
release_entries (GstIioDmabufOutput * self, GQueue * entries)
{
  gint64 deadline = g_get_monotonic_time () +
      STOP_FENCE_WAIT_MS * G_TIME_SPAN_MILLISECOND;
  gint left_ms;
  Entry *entry;

  /* One bound for all of them: stop never takes longer than that. */
  while ((entry = g_queue_pop_head (entries))) {
    left_ms = (gint) MAX ((deadline - g_get_monotonic_time ()) /
        G_TIME_SPAN_MILLISECOND, 0);
    if (entry->fence_fd >= 0 && gst_dmabuf_fence_wait (entry->fence_fd, -1,
            left_ms, NULL) != GST_DMABUF_FENCE_SIGNALED)
      GST_WARNING_OBJECT (self, "a transfer of %s is still not over %d ms "
          "after disable; releasing it anyway", device_name (self),
          STOP_FENCE_WAIT_MS);
    entry_unref (entry);
  }
}

static void
gst_iio_dmabuf_output_stop (GstIioQueue * queue)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  GQueue entries = G_QUEUE_INIT;
  GstIioDmabufPool *pool;
  GError *error = NULL;

  gst_iio_dmabuf_output_set_flushing (queue, TRUE);
  g_mutex_lock (&self->lock);
  entries = self->inflight;
  g_queue_init (&self->inflight);
  self->stopped = TRUE;         /* upstream's waits give up */
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  log_dropped (self, &entries);
  drop_pending (self);
  if (self->kbuf && !gst_iio_kernel_buffer_set_enabled (self->kbuf, FALSE,
          &error)) {
    GST_WARNING_OBJECT (self, "%s", error->message);
    g_clear_error (&error);
  }
  release_entries (self, &entries);
  forget_imports (self);
  g_mutex_lock (&self->lock);
  pool = g_steal_pointer (&self->pool);
  g_mutex_unlock (&self->lock);
  if (pool) {
    gst_iio_dmabuf_pool_close (pool);
    gst_object_unref (pool);
  }
  gst_clear_object (&self->kbuf);
  gst_clear_object (&self->exporter);
  self->cyclic_queued = FALSE;
}

/* ---- start ---- */

/* A missing default heap means "no DMABUF here" (io-mode=auto falls back
 * to copy); a heap the user named must exist. */
static GstDmabufExporter *
open_exporter (GstIioDmabufOutput * self, GError ** error)
{
  const gchar *heap = config_of (self)->dma_heap;
  GstDmabufExporter *exporter;
  GError *err = NULL;

  exporter = gst_dmabuf_exporter_new (heap, &err);
  if (exporter)
    return exporter;

  if (heap == NULL || heap[0] == '\0'
      || g_str_equal (heap, GST_DMABUF_EXPORTER_DEFAULT_HEAP)) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
        "no DMA heap and no udmabuf to allocate DMABUFs from (%s)",
        err->message);
    g_error_free (err);
  } else {
    g_propagate_error (error, err);
  }

  return NULL;
}

/* Our blocks double as the pool offered upstream and as copy targets.
 * They are attached before enable: the kernel picks DMABUF or fileio
 * mode when the buffer is enabled. */
static gboolean
make_blocks (GstIioDmabufOutput * self, GError ** error)
{
  gsize block_bytes = gst_iio_queue_get_block_bytes (GST_IIO_QUEUE (self));
  GstIioDmabufPool *pool;
  guint i;
  gint fd;

  pool = gst_iio_dmabuf_pool_new (GST_OBJECT (self), reclaim_for_pool,
      block_bytes);
  g_mutex_lock (&self->lock);
  self->pool = pool;
  g_mutex_unlock (&self->lock);
  for (i = 0; i < config_of (self)->n_blocks; i++) {
    fd = gst_dmabuf_exporter_alloc (self->exporter, block_bytes, error);
    if (fd < 0)
      return FALSE;
    gst_iio_dmabuf_pool_add_block (self->pool, fd);
    if (!gst_iio_kernel_buffer_attach (self->kbuf, fd, error))
      return FALSE;
  }

  return TRUE;
}

/* A buffer left enabled by a program that crashed would refuse the scan
 * elements and the attachments. */
static gboolean
disable_leftover (GstIioDmabufOutput * self, GError ** error)
{
  if (!gst_iio_kernel_buffer_is_enabled (self->kbuf))
    return TRUE;
  GST_WARNING_OBJECT (self, "the buffer of %s was left enabled: disabling",
      device_name (self));
  return gst_iio_kernel_buffer_set_enabled (self->kbuf, FALSE, error);
}

static gboolean
gst_iio_dmabuf_output_start (GstIioQueue * queue, GError ** error)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (queue);
  GstIioDevice *device = gst_iio_queue_get_device (queue);

  self->n_enqueued = 0;
  self->cyclic_queued = self->cyclic_drop_logged = FALSE;
  gst_iio_dmabuf_output_set_flushing (queue, FALSE);
  g_mutex_lock (&self->lock);
  self->stopped = FALSE;
  g_mutex_unlock (&self->lock);
  self->discard_pending = FALSE;
  self->resume = 0;

  self->exporter = open_exporter (self, error);
  if (self->exporter == NULL)
    goto failed;
  self->kbuf = gst_iio_kernel_buffer_open (gst_iio_device_get_claim_fd
      (device), gst_iio_device_get_dev_path (device),
      gst_iio_device_get_sysfs_path (device), 0, error);
  if (self->kbuf == NULL || !disable_leftover (self, error)
      || !gst_iio_device_write_scan_elements (device, error)
      || !make_blocks (self, error)
      || !gst_iio_kernel_buffer_set_enabled (self->kbuf, TRUE, error))
    goto failed;

  GST_INFO_OBJECT (self, "%s: %u blocks of %" G_GSIZE_FORMAT " bytes from %s"
      "%s", device_name (self), config_of (self)->n_blocks,
      gst_iio_queue_get_block_bytes (queue),
      gst_dmabuf_exporter_get_description (self->exporter),
      config_of (self)->cyclic ? ", cyclic" : "");
  return TRUE;

failed:
  gst_iio_dmabuf_output_stop (queue);
  return FALSE;
}

/* ---- GObject ---- */

static void
gst_iio_dmabuf_output_finalize (GObject * object)
{
  GstIioDmabufOutput *self = GST_IIO_DMABUF_OUTPUT (object);

  gst_iio_dmabuf_output_stop (GST_IIO_QUEUE (self));
  g_hash_table_unref (self->imports);
  if (self->cancel_fd >= 0)
    close (self->cancel_fd);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (gst_iio_dmabuf_output_parent_class)->finalize (object);
}

static void
gst_iio_dmabuf_output_class_init (GstIioDmabufOutputClass * klass)
{
  GstIioQueueClass *queue_class = GST_IIO_QUEUE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = gst_iio_dmabuf_output_finalize;
  queue_class->start = gst_iio_dmabuf_output_start;
  queue_class->render = gst_iio_dmabuf_output_render;
  queue_class->drain = gst_iio_dmabuf_output_drain;
  queue_class->set_flushing = gst_iio_dmabuf_output_set_flushing;
  queue_class->discard = gst_iio_dmabuf_output_discard;
  queue_class->stop = gst_iio_dmabuf_output_stop;
  queue_class->get_allocator = gst_iio_dmabuf_output_get_allocator;
}

static void
gst_iio_dmabuf_output_init (GstIioDmabufOutput * self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->inflight);
  self->imports = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
      g_free);
  self->cancel_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
}

GstIioQueue *
gst_iio_dmabuf_output_new (GstIioDevice * device,
    const GstIioQueueConfig * config, GError ** error)
{
  GstIioDmabufOutput *self;

  g_return_val_if_fail (config->sample_size > 0, NULL);

  if (config->direction != GST_IIO_DIRECTION_OUTPUT) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
        "the DMABUF output queue plays to output devices only");
    return NULL;
  }
  if (!gst_iio_device_is_local (device)
      || gst_iio_device_get_dev_path (device) == NULL) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_UNSUPPORTED,
        "%s is not a local device with a character device: DMABUFs work "
        "only on the machine that has the device (uri=local:)",
        gst_iio_device_get_display_name (device));
    return NULL;
  }

  self = g_object_new (GST_TYPE_IIO_DMABUF_OUTPUT, NULL);
  gst_object_ref_sink (self);
  gst_iio_queue_init_config (GST_IIO_QUEUE (self), device, config, GST_IIO_IO_MODE_DMABUF);
  if (self->cancel_fd < 0) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "eventfd failed: %s", g_strerror (errno));
    gst_object_unref (self);
    return NULL;
  }

  return GST_IIO_QUEUE (self);
}
