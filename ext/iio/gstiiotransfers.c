/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiotransfers.h"
#include "gstdmabuffence.h"
#include "gstdmabufimportcache.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_transfers_debug);
#define GST_CAT_DEFAULT gst_iio_transfers_debug

/* How long abort_all() waits, in all, for the aborted fences. Disabling
 * signals them at once; this only bounds a broken driver (docs/iiosrc.md
 * and docs/iiosink.md state the NULL bound it makes). */
#define ABORT_FENCE_WAIT_MS 1000

/* One ENQUEUE. Referenced by the FIFO and by each thread waiting on its
 * fence, so that a retired transfer outlives a concurrent waiter. */
typedef struct
{
  gint refcount;
  gint fd;
  gint fence_fd;                /* sync_file taken right after ENQUEUE */
  guint64 ino;                  /* output only: the DMABUF's identity */
  gsize bytes;
  gboolean cyclic;
  gpointer payload;             /* NULL once popped */
  GDestroyNotify release;
  gint64 queue_begin_ns;
  gint64 queue_end_ns;
  gint64 signal_ns;             /* set once a wait saw it signalled */
} Transfer;

struct _GstIioTransfers
{
  GstObject parent;

  /* Immutable after open(). */
  GstIioDevice *device;
  GstIioDirection direction;
  GstIioKernelBuffer *kbuf;
  gint cancel_fd;               /* eventfd, readable while flushing */

  /* Leaf lock. Held across the ENQUEUE ioctl and the fence export (both
   * non-blocking: the buffer fd is O_NONBLOCK), so that the FIFO keeps
   * the kernel's order; never across a fence wait or a release. */
  GMutex lock;
  GCond cond;                   /* an enqueue, flushing, abort, error */
  GQueue fifo;                  /* Transfer *, oldest first */
  guint n_waiters;              /* threads in a cond wait */
  /* Output: the DMABUF make_room() just checked, so that the enqueue
   * that follows it needs no second fstat(). */
  gint room_fd;
  guint64 room_ino;
  gboolean enabled;
  /* transfers retired after their fence signalled success: their bytes
   * and the newest signal time (the device's progress, output) */
  guint64 done_bytes;
  gint64 done_ns;
  gboolean flushing;
  gboolean aborted;
  GError *error;                /* sticky */

  /* The last oldest transfer had completed before it was waited for (the
   * consumer is behind the device): look at the next one's fence before
   * polling it, which then saves the poll. A hint, read and set
   * atomically without the lock. */
  gint behind;
};

G_DEFINE_TYPE_WITH_CODE (GstIioTransfers, gst_iio_transfers, GST_TYPE_OBJECT,
    GST_DEBUG_CATEGORY_INIT (gst_iio_transfers_debug, "iiotransfers", 0,
        "IIO DMABUF transfers in flight"));

static gint64
monotonic_ns (void)
{
  return g_get_monotonic_time () * 1000;
}

static const gchar *
device_name (GstIioTransfers * self)
{
  return gst_iio_device_get_display_name (self->device);
}

static Transfer *
transfer_ref (Transfer * t)
{
  g_atomic_int_inc (&t->refcount);
  return t;
}

/* The payload goes with the last reference unless it was popped: never
 * call it under the lock. */
static void
transfer_unref (Transfer * t)
{
  if (!g_atomic_int_dec_and_test (&t->refcount))
    return;
  if (t->fence_fd >= 0)
    close (t->fence_fd);
  if (t->payload && t->release)
    t->release (t->payload);
  g_free (t);
}

/* ---- errors ---- */

/* Under the lock. Keeps the first. */
static void
set_sticky_locked (GstIioTransfers * self, const GError * error)
{
  if (self->error == NULL) {
    self->error = g_error_copy (error);
    GST_DEBUG_OBJECT (self, "sticky error: %s", error->message);
  }
  g_cond_broadcast (&self->cond);
}

/* An error met while streaming, worded for the user: the device gone
 * ("Device sim-adc (iio:device0) disappeared") or the buffer disabled by
 * another program win over what the wait saw. Returns TRUE when the
 * error is sticky (everything but a plain timeout). */
static gboolean
explain (GstIioTransfers * self, GError ** error)
{
  gboolean streaming;

  if ((*error)->code == GST_IIO_ERROR_DEVICE_LOST ||
      gst_iio_device_is_gone (self->device)) {
    GST_WARNING_OBJECT (self, "device lost: %s", (*error)->message);
    g_clear_error (error);
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_DEVICE_LOST,
        "Device %s disappeared", device_name (self));
    return TRUE;
  }

  g_mutex_lock (&self->lock);
  streaming = self->enabled && !self->flushing && !self->aborted;
  g_mutex_unlock (&self->lock);
  if (streaming && gst_iio_device_explain_disabled (self->device, error))
    return TRUE;

  return (*error)->code != GST_IIO_ERROR_TIMEOUT;
}

/* *INDENT-OFF* */
static void
fail (GstIioTransfers * self, GError ** error, gint code,
    const gchar * format, ...) G_GNUC_PRINTF (4, 5);
/* *INDENT-ON* */

/* Sets @error, explained, and keeps it if sticky. */
static void
fail (GstIioTransfers * self, GError ** error, gint code,
    const gchar * format, ...)
{
  GError *err;
  va_list args;

  va_start (args, format);
  err = g_error_new_valist (GST_IIO_ERROR, code, format, args);
  va_end (args);

  if (explain (self, &err)) {
    g_mutex_lock (&self->lock);
    set_sticky_locked (self, err);
    g_mutex_unlock (&self->lock);
  }
  g_propagate_error (error, err);
}

static void
fail_timeout (GstIioTransfers * self, GError ** error, gint timeout_ms,
    gboolean none_queued)
{
  if (self->direction == GST_IIO_DIRECTION_OUTPUT)
    fail (self, error, GST_IIO_ERROR_TIMEOUT, "Timed out after %d ms "
        "waiting for %s to consume a block", timeout_ms, device_name (self));
  else
    fail (self, error, GST_IIO_ERROR_TIMEOUT, "Timed out after %d ms "
        "waiting for a block from %s%s", timeout_ms, device_name (self),
        none_queued ? ": every block is held downstream" : "");
}

/* The fence of a transfer signalled with @status < 0. */
static void
fail_status (GstIioTransfers * self, gint status, GError ** error)
{
  if (status == -ENODEV)
    fail (self, error, GST_IIO_ERROR_DEVICE_LOST, "transfer status %d", status);
  else if (self->direction == GST_IIO_DIRECTION_INPUT)
    fail (self, error, GST_IIO_ERROR_FAILED, "A block from %s failed: %s "
        "(transfer status %d)", device_name (self), g_strerror (-status),
        status);
  else if (status == -EINTR)
    fail (self, error, GST_IIO_ERROR_FAILED, "Device %s aborted a block it "
        "was playing (the driver reported a transfer error)",
        device_name (self));
  else
    fail (self, error, GST_IIO_ERROR_FAILED, "Device %s failed to play a "
        "block: %s", device_name (self), g_strerror (-status));
}

/* Under the lock: the sticky error, copied, or the stopped state. */
static gboolean
check_usable_locked (GstIioTransfers * self, GError ** error)
{
  if (self->error) {
    g_propagate_error (error, g_error_copy (self->error));
    return FALSE;
  }
  if (self->aborted) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "The DMABUF queue of %s is stopped", device_name (self));
    return FALSE;
  }
  return TRUE;
}

/* ---- open, attach, enable ---- */

GstIioTransfers *
gst_iio_transfers_open (GstIioDevice * device, GstIioDirection direction,
    GError ** error)
{
  GstIioTransfers *self;

  self = g_object_new (GST_TYPE_IIO_TRANSFERS, NULL);
  gst_object_ref_sink (self);
  self->device = gst_object_ref (device);
  self->direction = direction;
  if (self->cancel_fd < 0) {
    g_set_error (error, GST_IIO_ERROR, GST_IIO_ERROR_FAILED,
        "eventfd failed: %s", g_strerror (errno));
    goto failed;
  }
  self->kbuf = gst_iio_kernel_buffer_open (gst_iio_device_get_claim_fd
      (device), gst_iio_device_get_dev_path (device),
      gst_iio_device_get_sysfs_path (device), 0, error);
  if (self->kbuf == NULL)
    goto failed;
  /* A buffer left enabled by a program that crashed would refuse the
   * scan elements and the attachments. */
  if (gst_iio_kernel_buffer_is_enabled (self->kbuf)) {
    GST_WARNING_OBJECT (self, "the buffer of %s was left enabled: disabling",
        device_name (self));
    if (!gst_iio_kernel_buffer_set_enabled (self->kbuf, FALSE, error))
      goto failed;
  }

  return self;

failed:
  gst_object_unref (self);
  return NULL;
}

static gboolean
attach_fd (gpointer target, gint dmabuf_fd, GError ** error)
{
  GstIioTransfers *self = target;

  return gst_iio_kernel_buffer_attach (self->kbuf, dmabuf_fd, error);
}

static void
detach_fd (gpointer target, gint dmabuf_fd)
{
  GstIioTransfers *self = target;
  GError *error = NULL;

  if (!gst_iio_kernel_buffer_detach (self->kbuf, dmabuf_fd, &error)) {
    GST_DEBUG_OBJECT (self, "%s", error->message);
    g_error_free (error);
  }
}

const GstDmabufAttacher *
gst_iio_transfers_get_attacher (void)
{
  static const GstDmabufAttacher attacher = { attach_fd, detach_fd };

  return &attacher;
}

gboolean
gst_iio_transfers_enable (GstIioTransfers * self, GError ** error)
{
  gboolean ok = gst_iio_kernel_buffer_set_enabled (self->kbuf, TRUE, error);

  g_mutex_lock (&self->lock);
  self->enabled = ok;
  g_mutex_unlock (&self->lock);
  if (ok)
    GST_DEBUG_OBJECT (self, "%s: enabled", device_name (self));

  return ok;
}

/* ---- enqueue ---- */

gboolean
gst_iio_transfers_enqueue (GstIioTransfers * self, gint fd, gsize bytes,
    gboolean cyclic, gpointer payload, GDestroyNotify release, GError ** error)
{
  gboolean output = self->direction == GST_IIO_DIRECTION_OUTPUT;
  GError *err = NULL;
  Transfer *t;
  gint64 begin, end;
  gboolean ok;

  g_mutex_lock (&self->lock);
  if (!check_usable_locked (self, error)) {
    g_mutex_unlock (&self->lock);
    return FALSE;
  }
  /* The times bracket the moment the device got the block: a capture
   * tells from them whether it had run dry (gstiiosampletimeline.h). */
  begin = monotonic_ns ();
  ok = gst_iio_kernel_buffer_enqueue (self->kbuf, fd, bytes, cyclic, &err);
  end = monotonic_ns ();
  if (!ok) {
    g_mutex_unlock (&self->lock);
    if (err->code == GST_IIO_ERROR_DEVICE_LOST ||
        gst_iio_device_is_gone (self->device))
      err->code = GST_IIO_ERROR_DEVICE_LOST;
    fail (self, error, err->code, "%s", err->message);
    g_error_free (err);
    return FALSE;
  }

  t = g_new0 (Transfer, 1);
  t->refcount = 1;
  t->fd = fd;
  t->bytes = bytes;
  t->cyclic = cyclic;
  t->payload = payload;
  t->release = release;
  t->queue_begin_ns = begin;
  t->queue_end_ns = end;
  t->signal_ns = -1;
  if (output && fd == self->room_fd)
    t->ino = self->room_ino;
  else if (output)
    t->ino = gst_dmabuf_get_ino (fd);
  self->room_fd = -1;
  /* Right after ENQUEUE: only a sync_file taken before the fence signals
   * carries the transfer's status and signal time. An output device
   * reads the buffer: its fence is a read fence (for_write). */
  t->fence_fd = gst_dmabuf_fence_export (fd, output, &err);
  if (t->fence_fd < 0) {
    /* The kernel has the DMABUF: keep the transfer until abort. */
    set_sticky_locked (self, err);
    g_clear_error (&err);
  }
  g_queue_push_tail (&self->fifo, t);
  /* GLib's GCond makes a futex call on every broadcast, waiters or not:
   * a block's round trip must not pay for one. */
  if (self->n_waiters > 0)
    g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  GST_LOG_OBJECT (self, "queued %" G_GSIZE_FORMAT " bytes of DMABUF fd %d%s",
      bytes, fd, cyclic ? " (cyclic)" : "");

  return TRUE;
}

/* ---- waiting ---- */

static gint
ms_left (gint64 deadline)
{
  if (deadline < 0)
    return -1;
  return (gint) MAX ((deadline - g_get_monotonic_time ()) /
      G_TIME_SPAN_MILLISECOND, 0);
}

/* Removes @t if still in the FIFO and releases it. */
static void
retire (GstIioTransfers * self, Transfer * t)
{
  gboolean removed;

  g_mutex_lock (&self->lock);
  removed = g_queue_remove (&self->fifo, t);
  g_mutex_unlock (&self->lock);
  if (removed)
    transfer_unref (t);
}

/* The oldest transfer, referenced, once there is one (see wait_oldest
 * for @wait_for_enqueue). */
static GstFlowReturn
wait_head (GstIioTransfers * self, gint64 deadline, gint timeout_ms,
    gboolean wait_for_enqueue, Transfer ** head, GError ** error)
{
  GstFlowReturn ret = GST_FLOW_OK;
  Transfer *t;

  g_mutex_lock (&self->lock);
  for (;;) {
    if (self->error) {
      g_propagate_error (error, g_error_copy (self->error));
      ret = GST_FLOW_ERROR;
      break;
    }
    if (self->flushing || self->aborted) {
      ret = GST_FLOW_FLUSHING;
      break;
    }
    t = g_queue_peek_head (&self->fifo);
    if (t && !t->cyclic) {
      *head = transfer_ref (t);
      break;
    }
    if (!wait_for_enqueue || t) {
      ret = GST_FLOW_CUSTOM_SUCCESS;
      break;
    }
    self->n_waiters++;
    if (deadline < 0) {
      g_cond_wait (&self->cond, &self->lock);
    } else if (!g_cond_wait_until (&self->cond, &self->lock, deadline)
        && g_queue_is_empty (&self->fifo)) {
      self->n_waiters--;
      ret = GST_FLOW_CUSTOM_ERROR;
      break;
    }
    self->n_waiters--;
  }
  g_mutex_unlock (&self->lock);

  if (ret == GST_FLOW_CUSTOM_ERROR) {
    fail_timeout (self, error, timeout_ms, TRUE);
    ret = GST_FLOW_ERROR;
  }

  return ret;
}

/* @t's fence signalled with @status at @signal_ns (one SYNC_IOC_FILE_INFO);
 * a failed transfer is retired. Several threads may wait on @t, so the
 * time is kept under the lock. */
static GstFlowReturn
fence_done (GstIioTransfers * self, Transfer * t, gint status,
    gint64 signal_ns, GError ** error)
{
  g_mutex_lock (&self->lock);
  t->signal_ns = signal_ns;
  g_mutex_unlock (&self->lock);
  if (status >= 0)
    return GST_FLOW_OK;
  fail_status (self, status, error);
  retire (self, t);

  return GST_FLOW_ERROR;
}

/* Waits for @t's fence; a failed transfer is retired. */
static GstFlowReturn
wait_fence (GstIioTransfers * self, Transfer * t, gint64 deadline,
    gint timeout_ms, GError ** error)
{
  GError *err = NULL;
  gint64 signal_ns, waited_ns;
  gint status;

  if (t->fence_fd < 0) {
    fail (self, error, GST_IIO_ERROR_FAILED, "A transfer of %s has no fence "
        "to wait for", device_name (self));
    return GST_FLOW_ERROR;
  }
  /* Behind the device, the fence has signalled already: status and time
   * in one ioctl, no poll. */
  if (g_atomic_int_get (&self->behind)) {
    status = gst_dmabuf_fence_get_info (t->fence_fd, &signal_ns);
    if (status != 0)
      return fence_done (self, t, status, signal_ns, error);
    g_atomic_int_set (&self->behind, FALSE);
  }
  waited_ns = monotonic_ns ();
  switch (gst_dmabuf_fence_wait (t->fence_fd, self->cancel_fd,
          ms_left (deadline), &err)) {
    case GST_DMABUF_FENCE_CANCELLED:
      return GST_FLOW_FLUSHING;
    case GST_DMABUF_FENCE_TIMEOUT:
      fail_timeout (self, error, timeout_ms, FALSE);
      return GST_FLOW_ERROR;
    case GST_DMABUF_FENCE_FAILED:
      fail (self, error, GST_IIO_ERROR_FAILED, "%s", err->message);
      g_error_free (err);
      return GST_FLOW_ERROR;
    case GST_DMABUF_FENCE_SIGNALED:
      break;
  }

  status = gst_dmabuf_fence_get_info (t->fence_fd, &signal_ns);
  if (signal_ns >= 0 && signal_ns < waited_ns)
    g_atomic_int_set (&self->behind, TRUE);
  return fence_done (self, t, status, signal_ns, error);
}

/* The oldest transfer completed, referenced in *@done. */
static GstFlowReturn
wait_oldest (GstIioTransfers * self, gint timeout_ms,
    gboolean wait_for_enqueue, Transfer ** done, GError ** error)
{
  gint64 deadline = timeout_ms < 0 ? -1 :
      g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  Transfer *t = NULL;
  GstFlowReturn ret;

  ret = wait_head (self, deadline, timeout_ms, wait_for_enqueue, &t, error);
  if (ret != GST_FLOW_OK)
    return ret;
  ret = wait_fence (self, t, deadline, timeout_ms, error);
  if (ret == GST_FLOW_OK)
    *done = t;
  else
    transfer_unref (t);

  return ret;
}

GstFlowReturn
gst_iio_transfers_wait_oldest (GstIioTransfers * self, gint timeout_ms,
    gboolean wait_for_enqueue, GError ** error)
{
  Transfer *t = NULL;
  GstFlowReturn ret;

  ret = wait_oldest (self, timeout_ms, wait_for_enqueue, &t, error);
  if (t)
    transfer_unref (t);

  return ret;
}

gpointer
gst_iio_transfers_pop_oldest (GstIioTransfers * self, GstIioTransferInfo * info)
{
  gpointer payload;
  Transfer *t;

  gint64 signal_ns;

  g_mutex_lock (&self->lock);
  t = g_queue_pop_head (&self->fifo);
  signal_ns = t ? t->signal_ns : -1;
  g_mutex_unlock (&self->lock);
  if (t == NULL)
    return NULL;

  if (info) {
    info->fd = t->fd;
    info->bytes = t->bytes;
    info->queue_begin_ns = t->queue_begin_ns;
    info->queue_end_ns = t->queue_end_ns;
    info->signal_ns = signal_ns;
    if (info->signal_ns < 0 && t->fence_fd >= 0)
      gst_dmabuf_fence_get_info (t->fence_fd, &info->signal_ns);
  }
  payload = g_steal_pointer (&t->payload);
  transfer_unref (t);

  return payload;
}

GstFlowReturn
gst_iio_transfers_retire_oldest (GstIioTransfers * self, gint timeout_ms,
    GError ** error)
{
  Transfer *t = NULL;
  GstFlowReturn ret;

  ret = wait_oldest (self, timeout_ms, FALSE, &t, error);
  if (t) {
    g_mutex_lock (&self->lock);
    self->done_bytes += t->bytes;
    if (t->signal_ns >= 0)
      self->done_ns = t->signal_ns;
    g_mutex_unlock (&self->lock);
    retire (self, t);
    transfer_unref (t);
  }

  return ret;
}

gboolean
gst_iio_transfers_get_done (GstIioTransfers * self, guint64 * bytes,
    gint64 * signal_ns)
{
  g_mutex_lock (&self->lock);
  *bytes = self->done_bytes;
  *signal_ns = self->done_ns;
  g_mutex_unlock (&self->lock);

  return *bytes > 0 && *signal_ns > 0;
}

/* Under the lock. */
static gboolean
has_room_locked (GstIioTransfers * self, guint max, guint64 ino)
{
  GList *l;

  if (self->fifo.length >= max)
    return FALSE;
  for (l = self->fifo.head; l; l = l->next)
    if (((Transfer *) l->data)->ino == ino)
      return FALSE;
  return TRUE;
}

GstFlowReturn
gst_iio_transfers_make_room (GstIioTransfers * self, guint max, gint fd,
    guint64 ino, gint timeout_ms, GError ** error)
{
  GstFlowReturn ret;
  gboolean room;

  if (ino == 0)
    ino = gst_dmabuf_get_ino (fd);
  for (;;) {
    g_mutex_lock (&self->lock);
    room = has_room_locked (self, max, ino);
    self->room_fd = room ? fd : -1;
    self->room_ino = ino;
    g_mutex_unlock (&self->lock);
    if (room)
      return GST_FLOW_OK;

    ret = gst_iio_transfers_retire_oldest (self, timeout_ms, error);
    /* Only a cyclic transfer left: it never ends, nothing to make. */
    if (ret == GST_FLOW_CUSTOM_SUCCESS)
      return GST_FLOW_OK;
    if (ret != GST_FLOW_OK)
      return ret;
  }
}

guint
gst_iio_transfers_get_n_queued (GstIioTransfers * self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->fifo.length;
  g_mutex_unlock (&self->lock);

  return n;
}

gboolean
gst_iio_transfers_ran_dry (GstIioTransfers * self)
{
  Transfer *newest;
  gboolean dry;

  g_mutex_lock (&self->lock);
  newest = g_queue_peek_tail (&self->fifo);
  dry = newest == NULL || newest->fence_fd < 0 ||
      gst_dmabuf_fence_get_status (newest->fence_fd) != 0;
  g_mutex_unlock (&self->lock);

  return dry;
}

void
gst_iio_transfers_set_flushing (GstIioTransfers * self, gboolean flushing)
{
  eventfd_t value;

  /* Under the lock: the flag and the eventfd change together. The
   * eventfd interrupts a fence wait, the cond a wait for an enqueue. */
  g_mutex_lock (&self->lock);
  self->flushing = flushing;
  if (flushing)
    eventfd_write (self->cancel_fd, 1);
  else if (!self->aborted)
    eventfd_read (self->cancel_fd, &value);     /* non-blocking: resets */
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* ---- stop ---- */

guint
gst_iio_transfers_abort_all (GstIioTransfers * self, gsize * bytes)
{
  gint64 deadline = g_get_monotonic_time () +
      ABORT_FENCE_WAIT_MS * G_TIME_SPAN_MILLISECOND;
  GQueue fifo = G_QUEUE_INIT;
  GError *error = NULL;
  gsize pending_bytes = 0;
  guint pending = 0;
  gboolean enabled;
  Transfer *t;
  GList *l;

  g_mutex_lock (&self->lock);
  self->aborted = TRUE;
  eventfd_write (self->cancel_fd, 1);
  fifo = self->fifo;
  g_queue_init (&self->fifo);
  enabled = self->enabled;
  self->enabled = FALSE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  /* Before the disable, which signals them all. */
  for (l = fifo.head; l; l = l->next) {
    t = l->data;
    if (!t->cyclic && t->fence_fd >= 0 &&
        gst_dmabuf_fence_get_status (t->fence_fd) == 0) {
      pending++;
      pending_bytes += t->bytes;
    }
  }
  if (enabled && !gst_iio_kernel_buffer_set_enabled (self->kbuf, FALSE, &error)) {
    GST_WARNING_OBJECT (self, "%s", error->message);
    g_clear_error (&error);
  }
  /* A DMABUF the device still uses must not go back to its owner: wait,
   * within one bound for all, for the aborted fences. */
  while ((t = g_queue_pop_head (&fifo))) {
    if (t->fence_fd >= 0 && gst_dmabuf_fence_wait (t->fence_fd, -1,
            ms_left (deadline), NULL) != GST_DMABUF_FENCE_SIGNALED)
      GST_WARNING_OBJECT (self, "a transfer of %s is still not over %d ms "
          "after the disable; releasing it anyway", device_name (self),
          ABORT_FENCE_WAIT_MS);
    transfer_unref (t);
  }
  GST_DEBUG_OBJECT (self, "aborted: %u transfers (%" G_GSIZE_FORMAT
      " bytes) had not completed", pending, pending_bytes);

  if (bytes)
    *bytes = pending_bytes;
  return pending;
}

/* ---- GObject ---- */

static void
gst_iio_transfers_finalize (GObject * object)
{
  GstIioTransfers *self = GST_IIO_TRANSFERS (object);

  if (self->kbuf)
    gst_iio_transfers_abort_all (self, NULL);
  gst_clear_object (&self->kbuf);
  gst_clear_object (&self->device);
  if (self->cancel_fd >= 0)
    close (self->cancel_fd);
  g_clear_error (&self->error);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (gst_iio_transfers_parent_class)->finalize (object);
}

static void
gst_iio_transfers_class_init (GstIioTransfersClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_iio_transfers_finalize;
}

static void
gst_iio_transfers_init (GstIioTransfers * self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->fifo);
  self->cancel_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  self->room_fd = -1;
}
