/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ffssink: buffers to a FunctionFS bulk IN endpoint.
 *
 * Every buffer becomes one FUNCTIONFS_DMABUF_TRANSFER per memory: a
 * DMABUF memory at offset 0 goes as it is (attached once per DMABUF
 * through the import cache, for as long as a memory wrapping it lives);
 * anything else is copied into a DMABUF of the element's own (a few,
 * attached once each, reused). Up to max-transfers transfers are queued
 * to the USB controller at once; each keeps what it sends referenced
 * until its fence signalled (a sync file exported right after the
 * TRANSFER, waited on explicitly with the unlock eventfd and the timeout,
 * docs/kernel-bugs.md 13). One DMABUF is never queued twice at once (a
 * DETACH cancels only the newest of two). EOS waits for every transfer. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstffssink.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>

#include "gstdmabufexporter.h"
#include "gstdmabuffence.h"
#include "gstdmabufimportcache.h"
#include "gstffsendpoint.h"
#include "gstffspool.h"

GST_DEBUG_CATEGORY_STATIC (gst_ffs_sink_debug);
#define GST_CAT_DEFAULT gst_ffs_sink_debug

#define DEFAULT_TIMEOUT 10000
#define DEFAULT_MAX_TRANSFERS 4
#define DEFAULT_DMA_HEAP "system"
#define DEFAULT_ON_DISCONNECT GST_FFS_SINK_ON_DISCONNECT_ERROR
#define DEFAULT_RECONNECT_TIMEOUT 60000
/* How long a failed transfer waits for ep0's event that names its cause
 * (the fence may signal before the event thread read the DISABLE). */
#define CAUSE_WAIT_MS 1000
/* ...and how long a DISABLE waits for an UNBIND right behind it */
#define UNBIND_WAIT_MS 200
#define INTERFACE_NAME "gst-iio ffssink"
/* The smallest DMABUF the copy path allocates. */
#define MIN_COPY_BLOCK 65536

enum
{
  PROP_0,
  PROP_ENDPOINT,
  PROP_FUNCTION,
  PROP_ON_DISCONNECT,
  PROP_RECONNECT_TIMEOUT,
  PROP_TIMEOUT,
  PROP_MAX_TRANSFERS,
  PROP_DMA_HEAP,
  PROP_OFFER_POOL,
  PROP_STATS,
};

typedef enum
{
  GST_FFS_SINK_ON_DISCONNECT_ERROR,
  GST_FFS_SINK_ON_DISCONNECT_WAIT,
} GstFfsSinkOnDisconnect;

#define GST_TYPE_FFS_SINK_ON_DISCONNECT (on_disconnect_get_type ())
static GType
on_disconnect_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_FFS_SINK_ON_DISCONNECT_ERROR, "Fail with an error naming the cause",
        "error"},
    {GST_FFS_SINK_ON_DISCONNECT_WAIT, "Wait (reconnect-timeout) for the host "
          "to enable the interface again and go on", "wait"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type,
        g_enum_register_static ("GstFfsSinkOnDisconnect", values));
  return (GType) type;
}

/* One queued TRANSFER: what it sends stays referenced until the fence
 * signalled. */
typedef struct
{
  GstBuffer *buffer;            /* the upstream buffer (zero-copy), or NULL */
  GstMemory *block;             /* a copy block of ours, or NULL */
  gint fence;                   /* sync file, or -1 */
  gint dmabuf;                  /* the DMABUF sent (the held memory's fd) */
  guint64 ino;
} Transfer;

/* A DMABUF of ours for the copy path, attached to the endpoint. */
typedef struct
{
  GstMemory *mem;
  gsize size;
} CopyBlock;

struct _GstFfsSink
{
  GstBaseSink parent;

  /* properties, under the object lock */
  gchar *endpoint;
  gchar *function;
  GstFfsSinkOnDisconnect on_disconnect;
  guint reconnect_timeout;
  guint timeout;
  guint max_transfers;
  gchar *dma_heap;
  gboolean offer_pool;

  /* the function (from READY) and the endpoint file (start to stop) */
  GstFfsEndpoint ffs;
  /* streaming state: the streaming thread, start() and stop() */
  GstFfsSinkOnDisconnect disconnect_mode;
  guint reconnect_ms;
  guint enables_seen;           /* the function's ENABLE count we stream in */
  GstDmabufImportCache *imports;
  GstDmabufExporter *exporter;
  GstAllocator *dmabuf_allocator;
  GQueue inflight;              /* Transfer *, oldest first */
  GPtrArray *copy_blocks;       /* CopyBlock *, every one we have */
  GQueue copy_free;             /* CopyBlock *, not in flight */
  guint timeout_ms;
  guint max_inflight;

  /* stats, under the object lock */
  guint64 transfers;
  guint64 bytes;
  guint64 bytes_copied;
  gint dmabuf_imports;          /* atomic: counted under the cache's lock */
  guint64 timeouts;
  guint64 disconnects;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define gst_ffs_sink_parent_class parent_class
G_DEFINE_TYPE (GstFfsSink, gst_ffs_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ffssink, "ffssink", GST_RANK_NONE,
    GST_TYPE_FFS_SINK,
    GST_DEBUG_CATEGORY_INIT (gst_ffs_sink_debug, "ffssink", 0,
        "FunctionFS sink"));

/* ---- the import cache's attacher ---- */

static void
ffs_detach (gpointer target, gint fd)
{
  GstFfsSink *self = target;

  gst_ffs_endpoint_detach (&self->ffs, fd);
}

/* Counts the imports: the cache calls this once per foreign DMABUF. */
static gboolean
ffs_import_attach (gpointer target, gint fd, GError ** error)
{
  GstFfsSink *self = target;

  if (!gst_ffs_endpoint_attach (&self->ffs, fd, error))
    return FALSE;
  /* no lock of ours under the import cache's: a memory may be freed
   * under the object lock (GstBaseSink's last sample) */
  g_atomic_int_inc (&self->dmabuf_imports);
  return TRUE;
}

static const GstDmabufAttacher import_attacher = {
  ffs_import_attach,
  ffs_detach,
};

/* ---- errors ---- */

/* @cause: what ep0 told (a function of ours), or NULL */
static void
post_transfer_error (GstFfsSink * self, const gchar * what, gint err,
    const gchar * cause)
{
  if (cause)
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("The USB host disconnected "
            "from %s: %s", self->ffs.path, cause),
        ("%s: %s", what, g_strerror (err)));
  else if (err == ESHUTDOWN || err == ECONNRESET || err == EAGAIN
      || err == ENODEV)
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("The USB host disconnected or "
            "disabled the interface of %s", self->ffs.path),
        ("%s: %s", what, g_strerror (err)));
  else
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("USB transfer on %s failed",
            self->ffs.path), ("%s: %s", what, g_strerror (err)));
}

/* ---- transfers in flight ---- */

static GstFlowReturn wait_enabled (GstFfsSink * self, guint timeout_ms,
    const gchar * after);
static void transfer_release (GstFfsSink * self, Transfer * t);

static void
post_disconnect_message (GstFfsSink * self, const gchar * name,
    const gchar * cause)
{
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new (name, "cause", G_TYPE_STRING, cause, NULL)));
}

/* on-disconnect=wait: the transfers queued before the disconnect were
 * cancelled by the kernel (their fences signal with an error): each is
 * waited for (bounded) and dropped, then the host's next ENABLE. */
static GstFlowReturn
reconnect (GstFfsSink * self, const gchar * cause)
{
  Transfer *t;

  GST_OBJECT_LOCK (self);
  self->disconnects++;
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "disconnected: %s", cause);
  post_disconnect_message (self, "ffssink-disconnected", cause);
  while ((t = g_queue_peek_head (&self->inflight)) != NULL) {
    switch (gst_dmabuf_fence_wait (t->fence, self->ffs.cancel, self->timeout_ms,
            NULL)) {
      case GST_DMABUF_FENCE_SIGNALED:
        break;
      case GST_DMABUF_FENCE_CANCELLED:
        return GST_FLOW_FLUSHING;
      default:
        GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("A USB transfer on %s "
                "did not end within %u ms of the host's disconnect",
                self->ffs.path, self->timeout_ms), ("%s", cause));
        return GST_FLOW_ERROR;
    }
    g_queue_pop_head (&self->inflight);
    transfer_release (self, t);
  }
  return wait_enabled (self, self->reconnect_ms, cause);
}

/* A transfer failed with @err (errno). Without a function of ours: the
 * error. With one: ep0's state names the cause; with on-disconnect=wait a
 * disconnect is waited out (GST_FLOW_OK: go on with the next transfer). */
static GstFlowReturn
transfer_failed (GstFfsSink * self, const gchar * what, gint err)
{
  GstFfsFunctionState st;
  guint enables;
  const gchar *cause;

  if (self->ffs.fn == NULL) {
    post_transfer_error (self, what, err, NULL);
    return GST_FLOW_ERROR;
  }
  st = gst_ffs_function_get_state (self->ffs.fn, &enables, NULL);
  if (st == GST_FFS_FUNCTION_ENABLED && enables == self->enables_seen) {
    /* the fence may signal before ep0's event is read */
    if (gst_ffs_function_wait (self->ffs.fn, FALSE, self->ffs.cancel,
            CAUSE_WAIT_MS) == GST_FFS_FUNCTION_WAIT_CANCELLED)
      return GST_FLOW_FLUSHING;
    st = gst_ffs_function_get_state (self->ffs.fn, &enables, NULL);
  }
  /* an unbind is a DISABLE, then an UNBIND: name the latter if it comes */
  if (st == GST_FFS_FUNCTION_BOUND) {
    if (gst_ffs_function_wait_change (self->ffs.fn, st, self->ffs.cancel,
            UNBIND_WAIT_MS) == GST_FFS_FUNCTION_WAIT_CANCELLED)
      return GST_FLOW_FLUSHING;
    st = gst_ffs_function_get_state (self->ffs.fn, &enables, NULL);
  }
  if (st == GST_FFS_FUNCTION_ENABLED && enables == self->enables_seen) {
    /* the interface stayed enabled: not a disconnect */
    post_transfer_error (self, what, err, NULL);
    return GST_FLOW_ERROR;
  }
  cause = st == GST_FFS_FUNCTION_ENABLED ? "the USB host reset or "
      "reconnected the device (DISABLE, then ENABLE again)" :
      gst_ffs_function_describe_state (st);
  if (self->disconnect_mode == GST_FFS_SINK_ON_DISCONNECT_ERROR
      || st == GST_FFS_FUNCTION_GONE) {
    post_transfer_error (self, what, err, cause);
    return GST_FLOW_ERROR;
  }
  return reconnect (self, cause);
}

static void
transfer_release (GstFfsSink * self, Transfer * t)
{
  if (t->fence >= 0)
    close (t->fence);
  if (t->buffer)
    gst_buffer_unref (t->buffer);
  if (t->block) {
    guint i;

    for (i = 0; i < self->copy_blocks->len; i++) {
      CopyBlock *b = g_ptr_array_index (self->copy_blocks, i);
      if (b->mem == t->block)
        g_queue_push_tail (&self->copy_free, b);
    }
  }
  g_free (t);
}

/* Waits for the oldest transfer and releases it. */
static GstFlowReturn
wait_oldest (GstFfsSink * self)
{
  Transfer *t = g_queue_peek_head (&self->inflight);
  GError *error = NULL;
  gboolean suspended;
  gint status;

  g_return_val_if_fail (t != NULL, GST_FLOW_ERROR);
  switch (gst_dmabuf_fence_wait (t->fence, self->ffs.cancel, self->timeout_ms,
          &error)) {
    case GST_DMABUF_FENCE_SIGNALED:
      break;
    case GST_DMABUF_FENCE_CANCELLED:
      return GST_FLOW_FLUSHING;
    case GST_DMABUF_FENCE_TIMEOUT:
      GST_OBJECT_LOCK (self);
      self->timeouts++;
      GST_OBJECT_UNLOCK (self);
      suspended = FALSE;
      if (self->ffs.fn)
        gst_ffs_function_get_state (self->ffs.fn, NULL, &suspended);
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("The USB host stopped "
              "reading %s: a transfer took longer than the timeout of %u ms%s",
              self->ffs.path, self->timeout_ms, suspended ? " (the host "
              "suspended the bus)" : ""),
          ("%u transfers queued", g_queue_get_length (&self->inflight)));
      return GST_FLOW_ERROR;
    case GST_DMABUF_FENCE_FAILED:
    default:
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Waiting for a USB transfer "
              "on %s failed", self->ffs.path), ("%s", error->message));
      g_clear_error (&error);
      return GST_FLOW_ERROR;
  }
  status = gst_dmabuf_fence_get_status (t->fence);
  g_queue_pop_head (&self->inflight);
  transfer_release (self, t);
  if (status < 0)
    return transfer_failed (self, "transfer fence", -status);
  return GST_FLOW_OK;
}

static GstFlowReturn
drain (GstFfsSink * self)
{
  GstFlowReturn ret = GST_FLOW_OK;

  while (ret == GST_FLOW_OK && !g_queue_is_empty (&self->inflight))
    ret = wait_oldest (self);
  return ret;
}

static gboolean
inflight_has (GstFfsSink * self, guint64 ino)
{
  GList *l;

  for (l = self->inflight.head; l; l = l->next)
    if (((Transfer *) l->data)->ino == ino)
      return TRUE;
  return FALSE;
}

/* Queues a TRANSFER of @size bytes of @fd; @t (its references) goes to
 * the in-flight queue, or is released on failure. */
static GstFlowReturn
queue_transfer (GstFfsSink * self, gint fd, gsize size, Transfer * t)
{
  GstFlowReturn ret;
  GError *error = NULL;
  gint64 deadline;

  t->fence = -1;
  t->dmabuf = fd;
  /* the import cache knows it; ffssink's own copies do not */
  if (t->ino == 0)
    t->ino = gst_dmabuf_get_ino (fd);
  /* one DMABUF queued once at a time, and at most max-transfers */
  while (!g_queue_is_empty (&self->inflight)
      && (inflight_has (self, t->ino)
          || g_queue_get_length (&self->inflight) >= self->max_inflight)) {
    ret = wait_oldest (self);
    if (ret != GST_FLOW_OK)
      goto fail;
  }

  deadline = g_get_monotonic_time () + (gint64) self->timeout_ms * 1000;
  /* the endpoint fd is non-blocking: the kernel never waits in the ioctl
   * (for the interface to be enabled, or for writers still on the
   * DMABUF); EBUSY means a writer's fence is pending, waited on here */
  for (;;) {
    gint e, wfd;
    gint64 left;
    GstDmabufFenceWait w;

    e = gst_ffs_endpoint_transfer (&self->ffs, fd, size);
    if (e == 0)
      break;
    left = (deadline - g_get_monotonic_time ()) / 1000;
    if (e != EBUSY && self->ffs.fn && (e == EAGAIN || e == ESHUTDOWN
            || e == ECONNRESET || e == ENODEV)) {
      ret = transfer_failed (self, "FUNCTIONFS_DMABUF_TRANSFER", e);
      if (ret != GST_FLOW_OK)
        goto fail;
      /* reconnected: the same transfer again */
      deadline = g_get_monotonic_time () + (gint64) self->timeout_ms * 1000;
      continue;
    }
    if (e != EBUSY) {
      if (e == EAGAIN)
        GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("The USB host has not "
                "enabled the interface of %s (not connected, or not "
                "configured)", self->ffs.path),
            ("FUNCTIONFS_DMABUF_TRANSFER: %s", g_strerror (e)));
      else
        post_transfer_error (self, "FUNCTIONFS_DMABUF_TRANSFER", e, NULL);
      ret = GST_FLOW_ERROR;
      goto fail;
    }
    if (left <= 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("A DMABUF stayed busy for "
              "longer than the timeout of %u ms", self->timeout_ms),
          ("FUNCTIONFS_DMABUF_TRANSFER: %s", g_strerror (e)));
      ret = GST_FLOW_ERROR;
      goto fail;
    }
    wfd = gst_dmabuf_fence_export (fd, FALSE, &error);
    if (wfd < 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Cannot wait for a busy "
              "DMABUF"), ("%s", error->message));
      g_clear_error (&error);
      ret = GST_FLOW_ERROR;
      goto fail;
    }
    w = gst_dmabuf_fence_wait (wfd, self->ffs.cancel, (gint) MIN (left, 100),
        NULL);
    close (wfd);
    if (w == GST_DMABUF_FENCE_CANCELLED) {
      ret = GST_FLOW_FLUSHING;
      goto fail;
    }
  }
  /* taken while the fence is pending, so it carries the transfer's
   * status (all fences: right whichever way the kernel files them) */
  t->fence = gst_dmabuf_fence_export (fd, TRUE, &error);
  if (t->fence < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Cannot wait for a USB "
            "transfer"), ("%s", error->message));
    g_clear_error (&error);
    /* queued all the same: the memory must outlive it */
    g_queue_push_tail (&self->inflight, t);
    return GST_FLOW_ERROR;
  }
  g_queue_push_tail (&self->inflight, t);
  GST_OBJECT_LOCK (self);
  self->transfers++;
  self->bytes += size;
  GST_OBJECT_UNLOCK (self);
  return GST_FLOW_OK;

fail:
  transfer_release (self, t);
  return ret;
}

/* ---- the copy path ---- */

static void
copy_block_free (GstFfsSink * self, CopyBlock * b)
{
  gst_ffs_endpoint_detach (&self->ffs, gst_dmabuf_memory_get_fd (b->mem));
  gst_memory_unref (b->mem);
  g_free (b);
}

static CopyBlock *
copy_block_new (GstFfsSink * self, gsize size)
{
  GError *error = NULL;
  CopyBlock *b;
  gint fd;

  size = MAX (size, MIN_COPY_BLOCK);
  fd = gst_dmabuf_exporter_alloc (self->exporter, size, &error);
  if (fd < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, ("Cannot allocate a "
            "DMABUF of %" G_GSIZE_FORMAT " bytes for the copy path from %s",
            size, gst_dmabuf_exporter_get_description (self->exporter)),
        ("%s", error->message));
    g_clear_error (&error);
    return NULL;
  }
  if (!gst_ffs_endpoint_attach (&self->ffs, fd, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Cannot attach a DMABUF to "
            "%s: %s", self->ffs.path, error->message), (NULL));
    g_clear_error (&error);
    close (fd);
    return NULL;
  }
  b = g_new0 (CopyBlock, 1);
  b->mem = gst_dmabuf_allocator_alloc (self->dmabuf_allocator, fd, size);
  b->size = size;
  g_ptr_array_add (self->copy_blocks, b);
  return b;
}

/* A free copy block of at least @size bytes, waiting for transfers to
 * free one when all are in flight. */
static GstFlowReturn
get_copy_block (GstFfsSink * self, gsize size, CopyBlock ** out)
{
  CopyBlock *b;
  GstFlowReturn ret;

  while (g_queue_is_empty (&self->copy_free)
      && self->copy_blocks->len >= self->max_inflight
      && !g_queue_is_empty (&self->inflight)) {
    ret = wait_oldest (self);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  b = g_queue_pop_head (&self->copy_free);
  if (b && b->size < size) {
    g_ptr_array_remove (self->copy_blocks, b);
    copy_block_free (self, b);
    b = NULL;
  }
  if (!b)
    b = copy_block_new (self, size);
  *out = b;
  return b ? GST_FLOW_OK : GST_FLOW_ERROR;
}

static GstFlowReturn
render_copy (GstFfsSink * self, GstMemory * mem)
{
  GstMapInfo src, dst;
  CopyBlock *b = NULL;
  GstFlowReturn ret;
  Transfer *t;
  gint fd;

  if (!gst_memory_map (mem, &src, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot map a buffer"), (NULL));
    return GST_FLOW_ERROR;
  }
  ret = get_copy_block (self, src.size, &b);
  if (ret != GST_FLOW_OK) {
    gst_memory_unmap (mem, &src);
    return ret;
  }
  fd = gst_dmabuf_memory_get_fd (b->mem);
  if (!gst_dmabuf_cpu_access_begin (fd, FALSE, TRUE, NULL)
      || !gst_memory_map (b->mem, &dst, GST_MAP_WRITE)) {
    gst_memory_unmap (mem, &src);
    g_queue_push_head (&self->copy_free, b);
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Cannot map a DMABUF of the "
            "copy path"), (NULL));
    return GST_FLOW_ERROR;
  }
  memcpy (dst.data, src.data, src.size);
  gst_memory_unmap (b->mem, &dst);
  gst_dmabuf_cpu_access_end (fd, FALSE, TRUE, NULL);
  gst_memory_unmap (mem, &src);
  GST_OBJECT_LOCK (self);
  self->bytes_copied += src.size;
  GST_OBJECT_UNLOCK (self);

  t = g_new0 (Transfer, 1);
  t->block = b->mem;
  return queue_transfer (self, fd, src.size, t);
}

/* ---- the DMABUF path ---- */

static GstFlowReturn
render_dmabuf (GstFfsSink * self, GstBuffer * buffer, GstMemory * mem)
{
  GError *error = NULL;
  guint64 ino = 0;
  Transfer *t;

  if (!gst_dmabuf_import_cache_import (self->imports, mem, &ino, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Cannot attach a DMABUF to "
            "%s: %s", self->ffs.path, error->message), (NULL));
    g_clear_error (&error);
    return GST_FLOW_ERROR;
  }
  t = g_new0 (Transfer, 1);
  t->buffer = gst_buffer_ref (buffer);
  t->ino = ino;
  return queue_transfer (self, gst_dmabuf_memory_get_fd (mem), mem->size, t);
}

/* ---- the function's state ---- */

/* Waits (at most @timeout_ms, unlockable) until the host has the
 * interface enabled; @after: the disconnect this is a reconnect after, or
 * NULL for the stream's start. */
static GstFlowReturn
wait_enabled (GstFfsSink * self, guint timeout_ms, const gchar * after)
{
  GstFfsFunctionState st;

  switch (gst_ffs_function_wait (self->ffs.fn, TRUE, self->ffs.cancel,
          timeout_ms)) {
    case GST_FFS_FUNCTION_WAIT_DONE:
      break;
    case GST_FFS_FUNCTION_WAIT_CANCELLED:
      return GST_FLOW_FLUSHING;
    case GST_FFS_FUNCTION_WAIT_TIMEOUT:
    default:
      st = gst_ffs_function_get_state (self->ffs.fn, NULL, NULL);
      if (after)
        GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("The USB host disconnected "
                "from %s and did not come back within reconnect-timeout "
                "(%u ms)", self->ffs.path, timeout_ms),
            ("disconnect: %s; now: %s", after,
                gst_ffs_function_describe_state (st)));
      else
        GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("The USB host did not "
                "enable the interface of %s within the timeout of %u ms: %s",
                self->ffs.path, timeout_ms,
                gst_ffs_function_describe_state (st)),
            ("bind the gadget to a UDC (its configfs UDC file) once the "
                "element is in READY, and connect a host"));
      return GST_FLOW_ERROR;
  }
  gst_ffs_function_get_state (self->ffs.fn, &self->enables_seen, NULL);
  if (after) {
    GST_INFO_OBJECT (self, "reconnected after: %s", after);
    post_disconnect_message (self, "ffssink-reconnected", after);
  }
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_ffs_sink_render (GstBaseSink * bsink, GstBuffer * buffer)
{
  GstFfsSink *self = GST_FFS_SINK (bsink);
  GstFlowReturn ret = GST_FLOW_OK;
  guint i, n = gst_buffer_n_memory (buffer);

  /* the stream starts once the host has enabled the interface; later
   * disconnects show as failed transfers (transfer_failed) */
  if (self->ffs.fn && self->enables_seen == 0) {
    ret = wait_enabled (self, self->timeout_ms, NULL);
    if (ret != GST_FLOW_OK)
      return ret;
  }

  for (i = 0; i < n && ret == GST_FLOW_OK; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buffer, i);

    if (mem->size == 0)
      continue;
    /* an ATTACH while unbound fails (EPERM), a TRANSFER oopses */
    if (gst_ffs_endpoint_unbound (&self->ffs)) {
      ret = transfer_failed (self, "USB gadget", ENODEV);
      if (ret != GST_FLOW_OK)
        break;
    }
    /* the uapi sends a DMABUF from its start: other offsets are copied */
    if (gst_is_dmabuf_memory (mem) && mem->offset == 0)
      ret = render_dmabuf (self, buffer, mem);
    else
      ret = render_copy (self, mem);
  }
  return ret;
}

/* ---- a pool for CPU producers ---- */

/* Upstream gets a pool of DMABUFs of ours (gstffspool.h): a CPU producer
 * writes straight into memory that goes to the controller as it is.
 * Buffers of 64 KiB; as many as can be in flight, plus two for the
 * producer. Only for raw audio: the sink sends a buffer's size, and a pool
 * buffer's size is the pool's unless the producer sets it. Raw audio
 * sources set it (what they write is not in the caps); GstBaseSrc with a
 * pool does not (filesrc writes blocksize bytes into the buffer and
 * leaves the rest), so for other caps the copy path is the safe one. */
static gboolean
gst_ffs_sink_propose_allocation (GstBaseSink * bsink, GstQuery * query)
{
  GstFfsSink *self = GST_FFS_SINK (bsink);
  GstBufferPool *pool;
  GstStructure *config;
  GstCaps *caps;
  gboolean need_pool, offer;
  guint n = self->max_inflight + 2;

  gst_query_parse_allocation (query, &caps, &need_pool);
  GST_OBJECT_LOCK (self);
  offer = self->offer_pool;
  GST_OBJECT_UNLOCK (self);
  if (self->exporter == NULL || !need_pool || !offer || caps == NULL
      || gst_caps_is_any (caps) || gst_caps_get_size (caps) == 0
      || !gst_structure_has_name (gst_caps_get_structure (caps, 0),
          "audio/x-raw"))
    return TRUE;
  pool = gst_ffs_pool_new (self->exporter);
  config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, MIN_COPY_BLOCK, n, n);
  if (!gst_buffer_pool_set_config (pool, config)) {
    GST_DEBUG_OBJECT (self, "the pool refused its configuration");
    gst_object_unref (pool);
    return TRUE;
  }
  gst_query_add_allocation_pool (query, pool, MIN_COPY_BLOCK, n, n);
  gst_object_unref (pool);
  return TRUE;
}

/* ---- events, unlock ---- */

static gboolean
gst_ffs_sink_event (GstBaseSink * bsink, GstEvent * event)
{
  GstFfsSink *self = GST_FFS_SINK (bsink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    /* every transfer done before the EOS message; after an error, none */
    if (drain (self) != GST_FLOW_OK) {
      gst_event_unref (event);
      return FALSE;
    }
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (bsink, event);
}

static gboolean
gst_ffs_sink_unlock (GstBaseSink * bsink)
{
  gst_ffs_endpoint_unlock (&GST_FFS_SINK (bsink)->ffs);
  return TRUE;
}

static gboolean
gst_ffs_sink_unlock_stop (GstBaseSink * bsink)
{
  gst_ffs_endpoint_unlock_stop (&GST_FFS_SINK (bsink)->ffs);
  return TRUE;
}

/* ---- start, stop ---- */

static gboolean
gst_ffs_sink_start (GstBaseSink * bsink)
{
  GstFfsSink *self = GST_FFS_SINK (bsink);
  GError *error = NULL;
  gchar *heap;

  GST_OBJECT_LOCK (self);
  self->timeout_ms = self->timeout;
  self->max_inflight = self->max_transfers;
  self->disconnect_mode = self->on_disconnect;
  self->reconnect_ms = self->reconnect_timeout;
  heap = g_strdup (self->dma_heap);
  self->transfers = self->bytes = self->bytes_copied = 0;
  self->timeouts = self->disconnects = 0;
  g_atomic_int_set (&self->dmabuf_imports, 0);
  gst_ffs_endpoint_set_path (&self->ffs, self->endpoint);
  GST_OBJECT_UNLOCK (self);
  self->enables_seen = 0;

  if (!gst_ffs_endpoint_check_path (&self->ffs)
      || !gst_ffs_endpoint_open (&self->ffs)) {
    g_free (heap);
    return FALSE;
  }
  self->exporter = gst_dmabuf_exporter_new (heap, &error);
  g_free (heap);
  if (self->exporter == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error->message),
        ("dma-heap: a heap name in /dev/dma_heap, a path, or udmabuf"));
    g_clear_error (&error);
    gst_ffs_endpoint_close (&self->ffs);
    return FALSE;
  }
  self->imports = gst_dmabuf_import_cache_new (&import_attacher, self);
  self->dmabuf_allocator = gst_dmabuf_allocator_new ();
  self->copy_blocks = g_ptr_array_new ();
  g_queue_init (&self->inflight);
  g_queue_init (&self->copy_free);
  return TRUE;
}

static gboolean
gst_ffs_sink_stop (GstBaseSink * bsink)
{
  GstFfsSink *self = GST_FFS_SINK (bsink);
  Transfer *t;
  GList *l;
  guint i;

  if (self->ffs.fd < 0)
    return TRUE;
  /* DETACH cancels what is still queued. A fence's lock lives in the
   * kernel's attachment, which the DETACH frees once the cancelled
   * transfer is cleaned up (docs/kernel-bugs.md 15): every sync file goes
   * first, and the cancelled transfers are waited for on the DMABUFs
   * themselves (POLLOUT: every fence), bounded, before the memories go
   * back upstream, where a producer would write them again */
  for (l = self->inflight.head; l; l = l->next) {
    t = l->data;
    if (t->fence >= 0)
      close (t->fence);
    t->fence = -1;
  }
  gst_dmabuf_import_cache_clear (self->imports);
  for (i = 0; i < self->copy_blocks->len; i++) {
    CopyBlock *b = g_ptr_array_index (self->copy_blocks, i);

    gst_ffs_endpoint_detach (&self->ffs, gst_dmabuf_memory_get_fd (b->mem));
  }
  while ((t = g_queue_pop_head (&self->inflight)) != NULL) {
    gst_ffs_endpoint_wait_cancelled (&self->ffs, t->dmabuf);
    transfer_release (self, t);
  }
  g_queue_clear (&self->copy_free);
  for (i = 0; i < self->copy_blocks->len; i++) {
    CopyBlock *b = g_ptr_array_index (self->copy_blocks, i);

    gst_memory_unref (b->mem);
    g_free (b);
  }
  g_ptr_array_unref (self->copy_blocks);
  self->copy_blocks = NULL;
  gst_clear_object (&self->imports);
  gst_clear_object (&self->dmabuf_allocator);
  gst_clear_object (&self->exporter);
  gst_ffs_endpoint_close (&self->ffs);
  /* ep0 (a function of ours) stays open until READY_TO_NULL */
  return TRUE;
}

static GstStateChangeReturn
gst_ffs_sink_change_state (GstElement * element, GstStateChange transition)
{
  GstFfsSink *self = GST_FFS_SINK (element);

  return gst_ffs_endpoint_change_state (&self->ffs, transition,
      &self->function, INTERFACE_NAME, GST_ELEMENT_CLASS (parent_class));
}

/* ---- properties ---- */

static GstStructure *
get_stats (GstFfsSink * self)
{
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("ffssink-stats",
      "transfers", G_TYPE_UINT64, self->transfers,
      "bytes", G_TYPE_UINT64, self->bytes,
      "bytes-copied", G_TYPE_UINT64, self->bytes_copied,
      "dmabuf-imports", G_TYPE_UINT64,
      (guint64) g_atomic_int_get (&self->dmabuf_imports),
      "timeouts", G_TYPE_UINT64, self->timeouts,
      "disconnects", G_TYPE_UINT64, self->disconnects, NULL);
  GST_OBJECT_UNLOCK (self);
  return s;
}

static void
gst_ffs_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstFfsSink *self = GST_FFS_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ENDPOINT:
      g_free (self->endpoint);
      self->endpoint = g_value_dup_string (value);
      break;
    case PROP_FUNCTION:
      g_free (self->function);
      self->function = g_value_dup_string (value);
      break;
    case PROP_ON_DISCONNECT:
      self->on_disconnect = g_value_get_enum (value);
      break;
    case PROP_RECONNECT_TIMEOUT:
      self->reconnect_timeout = g_value_get_uint (value);
      break;
    case PROP_TIMEOUT:
      self->timeout = g_value_get_uint (value);
      break;
    case PROP_MAX_TRANSFERS:
      self->max_transfers = g_value_get_uint (value);
      break;
    case PROP_DMA_HEAP:
      g_free (self->dma_heap);
      self->dma_heap = g_value_dup_string (value);
      break;
    case PROP_OFFER_POOL:
      self->offer_pool = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ffs_sink_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstFfsSink *self = GST_FFS_SINK (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, get_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ENDPOINT:
      g_value_set_string (value, self->endpoint);
      break;
    case PROP_FUNCTION:
      g_value_set_string (value, self->function);
      break;
    case PROP_ON_DISCONNECT:
      g_value_set_enum (value, self->on_disconnect);
      break;
    case PROP_RECONNECT_TIMEOUT:
      g_value_set_uint (value, self->reconnect_timeout);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout);
      break;
    case PROP_MAX_TRANSFERS:
      g_value_set_uint (value, self->max_transfers);
      break;
    case PROP_DMA_HEAP:
      g_value_set_string (value, self->dma_heap);
      break;
    case PROP_OFFER_POOL:
      g_value_set_boolean (value, self->offer_pool);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ffs_sink_finalize (GObject * object)
{
  GstFfsSink *self = GST_FFS_SINK (object);

  g_free (self->endpoint);
  g_free (self->function);
  gst_ffs_endpoint_clear (&self->ffs);
  g_free (self->dma_heap);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_ffs_sink_class_init (GstFfsSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *bsink_class = GST_BASE_SINK_CLASS (klass);
  const GParamFlags rw_ready = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_ffs_sink_set_property;
  gobject_class->get_property = gst_ffs_sink_get_property;
  gobject_class->finalize = gst_ffs_sink_finalize;

  g_object_class_install_property (gobject_class, PROP_ENDPOINT,
      g_param_spec_string ("endpoint", "Endpoint", "The bulk IN endpoint "
          "file of a FunctionFS function whose ep0 another program has set "
          "up, e.g. /dev/ffs-NAME/ep1 (ignored when function is set)", NULL,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_FUNCTION,
      g_param_spec_string ("function", "Function", "The mount point of a "
          "FunctionFS function the element owns from READY to NULL, e.g. "
          "/dev/ffs-NAME: it writes ep0's descriptors (one vendor-specific "
          "interface, one bulk IN endpoint), answers ep0's events and streams "
          "while the host has the interface enabled; wins over endpoint",
          NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_ON_DISCONNECT,
      g_param_spec_enum ("on-disconnect", "On disconnect", "What a host "
          "disconnect while streaming does (function only): error, or wait "
          "for the host to enable the interface again (within "
          "reconnect-timeout) and go on with the next buffer",
          GST_TYPE_FFS_SINK_ON_DISCONNECT, DEFAULT_ON_DISCONNECT, rw_ready));
  g_object_class_install_property (gobject_class, PROP_RECONNECT_TIMEOUT,
      g_param_spec_uint ("reconnect-timeout", "Reconnect timeout",
          "Milliseconds on-disconnect=wait waits for the host to come back",
          1, G_MAXINT, DEFAULT_RECONNECT_TIMEOUT, rw_ready));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout", "Milliseconds a transfer may "
          "wait for the USB host before the element fails with an error",
          1, G_MAXINT, DEFAULT_TIMEOUT, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MAX_TRANSFERS,
      g_param_spec_uint ("max-transfers", "Max transfers", "Transfers "
          "queued to the USB controller at once (each holds its buffer)",
          1, 64, DEFAULT_MAX_TRANSFERS, rw_ready));
  g_object_class_install_property (gobject_class, PROP_DMA_HEAP,
      g_param_spec_string ("dma-heap", "DMA heap", "Where the copy path's "
          "DMABUFs come from: a heap name in /dev/dma_heap, a path to a heap "
          "device, or udmabuf (\"system\" falls back to udmabuf)",
          DEFAULT_DMA_HEAP, rw_ready));
  g_object_class_install_property (gobject_class, PROP_OFFER_POOL,
      g_param_spec_boolean ("offer-pool", "Offer pool", "Offer upstream a "
          "pool of DMABUFs (from dma-heap) to write into, sent as they are "
          "(raw audio caps only: such producers set their buffers' sizes); "
          "FALSE: upstream's own memory, copied when not a DMABUF", TRUE,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics", "Counters of the running "
          "or last stream: transfers, bytes, bytes-copied (by the CPU, for "
          "memory that is not a DMABUF), dmabuf-imports (DMABUFs attached), "
          "timeouts, disconnects (waited out with on-disconnect=wait)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "FunctionFS sink", "Sink/Hardware",
      "Writes a stream to a USB gadget's bulk IN endpoint through Linux "
      "FunctionFS, zero-copy for DMABUF memory", "gst-iio contributors");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_ffs_sink_change_state);
  bsink_class->start = GST_DEBUG_FUNCPTR (gst_ffs_sink_start);
  bsink_class->stop = GST_DEBUG_FUNCPTR (gst_ffs_sink_stop);
  bsink_class->render = GST_DEBUG_FUNCPTR (gst_ffs_sink_render);
  bsink_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_ffs_sink_propose_allocation);
  bsink_class->event = GST_DEBUG_FUNCPTR (gst_ffs_sink_event);
  bsink_class->unlock = GST_DEBUG_FUNCPTR (gst_ffs_sink_unlock);
  bsink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_ffs_sink_unlock_stop);
}

static void
gst_ffs_sink_init (GstFfsSink * self)
{
  self->timeout = DEFAULT_TIMEOUT;
  self->max_transfers = DEFAULT_MAX_TRANSFERS;
  self->dma_heap = g_strdup (DEFAULT_DMA_HEAP);
  self->on_disconnect = DEFAULT_ON_DISCONNECT;
  self->offer_pool = TRUE;
  self->reconnect_timeout = DEFAULT_RECONNECT_TIMEOUT;
  gst_ffs_endpoint_init (&self->ffs, GST_ELEMENT (self), GST_FFS_DIRECTION_IN);
  /* the USB host paces the stream; a last sample would hold one more
   * buffer (an upstream DMA block) for nothing */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}
