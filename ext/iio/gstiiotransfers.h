/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transfers in flight on one IIO buffer's DMABUF queue, for both
 * directions: it owns the kernel buffer object (gstiiokernelbuffer.h),
 * the cancel eventfd, and a FIFO of transfers in ENQUEUE order (the
 * kernel completes them in that order). Every wait on the device is here,
 * with its timeout, its cancel, the transfer status and the device-lost
 * test, written once.
 *
 * A transfer is a DMABUF fd, the sync_file exported right after its
 * ENQUEUE, its size, the cyclic flag, and a payload that must live until
 * the device is done with the DMABUF (a block memory, an upstream
 * buffer): the transfer owns it from enqueue() on, and gives it back
 * through pop_oldest() or to its release notify (retire, abort_all),
 * always outside the lock.
 *
 * Errors: GST_IIO_ERROR. The first error a wait or an enqueue meets (in
 * whatever thread: a capture re-enqueues in downstream's) is sticky:
 * every later wait and enqueue fails with a copy of it at once, so that a
 * device that failed or went away is reported once, by whoever looks
 * next, not once per waiting thread (only the element's streaming thread
 * posts it).
 * Timeouts and interrupted waits are not sticky.
 *
 * Threads: any; several may wait on the oldest transfer at once (a
 * sink's streaming thread and its upstream's, in an allocation). One leaf
 * lock, never held across a wait, an ioctl that may block, or a release
 * notify. */
#pragma once

#include <gst/gst.h>
#include "gstiiodevice.h"
#include "gstiioerror.h"
#include "gstiiokernelbuffer.h"
#include "gstdmabufblockallocator.h"

G_BEGIN_DECLS

#define GST_TYPE_IIO_TRANSFERS (gst_iio_transfers_get_type ())
G_DECLARE_FINAL_TYPE (GstIioTransfers, gst_iio_transfers, GST,
    IIO_TRANSFERS, GstObject)

/* What pop_oldest() tells about a completed transfer. Times are
 * CLOCK_MONOTONIC ns: around its ENQUEUE ioctl, and its fence's signal
 * time (-1 when the kernel did not give one). */
typedef struct
{
  gint fd;
  gsize bytes;
  gint64 queue_begin_ns;
  gint64 queue_end_ns;
  gint64 signal_ns;
} GstIioTransferInfo;

/* Opens buffer 0 of @device (gst_iio_device_claim()'s fd) and disables
 * it if a crashed program left it enabled. @device is referenced; its
 * direction words the errors ("a block from sim-adc", "sim-dac to consume
 * a block"). */
GstIioTransfers *gst_iio_transfers_open (GstIioDevice * device,
    GstIioDirection direction, GError ** error);

/* A GstDmabufAttacher (gstdmabufblockallocator.h) for this buffer, with
 * @self as its target. */
const GstDmabufAttacher *gst_iio_transfers_get_attacher (void);

/* Enables the buffer (after the first ATTACH, and for a capture after
 * its first blocks are queued, so the first sample lands in block 0). */
gboolean gst_iio_transfers_enable (GstIioTransfers * self, GError ** error);

/* ENQUEUEs @bytes of DMABUF @fd and takes @payload (released by
 * @release, which may be NULL). On failure returns FALSE with @error set
 * and the payload still the caller's: a copy of the sticky error; after
 * abort_all "The DMABUF queue of sim-adc (iio:device0) is stopped"; or
 * the ioctl's ("IIO_BUFFER_DMABUF_ENQUEUE_IOCTL on /dev/iio:device1
 * failed: Device or resource busy"), which becomes sticky. */
gboolean gst_iio_transfers_enqueue (GstIioTransfers * self, gint fd,
    gsize bytes, gboolean cyclic, gpointer payload, GDestroyNotify release,
    GError ** error);

/* Waits for the oldest transfer to complete. @wait_for_enqueue: when
 * none is in flight, wait (within @timeout_ms) for one to be enqueued
 * (a capture whose blocks are all downstream); otherwise return
 * GST_FLOW_CUSTOM_SUCCESS at once. A cyclic transfer never completes and
 * counts as none. GST_FLOW_OK: the oldest completed without error (it
 * stays in the FIFO for pop_oldest() or retire_oldest()); GST_FLOW_FLUSHING
 * once set_flushing (TRUE) or abort_all(); GST_FLOW_ERROR with @error:
 * the timeout (GST_IIO_ERROR_TIMEOUT, "Timed out after N ms waiting for
 * a block from sim-adc (iio:device0)" or "... for sim-dac (iio:device1)
 * to consume a block"), a failed transfer ("A block from sim-adc
 * (iio:device0) failed: ..."; "Device sim-dac (iio:device1) aborted a
 * block it was playing (the driver reported a transfer error)"; FAILED,
 * sticky), the device gone (DEVICE_LOST, sticky), or the buffer disabled
 * by another program (FAILED, sticky). A failed oldest transfer is
 * retired before the error returns. */
GstFlowReturn gst_iio_transfers_wait_oldest (GstIioTransfers * self,
    gint timeout_ms, gboolean wait_for_enqueue, GError ** error);

/* Removes the oldest transfer and returns its payload, now the caller's
 * (its release notify is not called); NULL when none. @info may be NULL. */
gpointer gst_iio_transfers_pop_oldest (GstIioTransfers * self,
    GstIioTransferInfo * info);

/* wait_oldest() (without wait_for_enqueue), then the oldest transfer is
 * removed and released. GST_FLOW_OK: one retired; CUSTOM_SUCCESS: none
 * in flight; else as wait_oldest(). */
GstFlowReturn gst_iio_transfers_retire_oldest (GstIioTransfers * self,
    gint timeout_ms, GError ** error);

/* Output: the bytes of every transfer retired complete so far, and the
 * newest one's fence signal time (what the device consumed, and when);
 * FALSE before the first. */
gboolean gst_iio_transfers_get_done (GstIioTransfers * self, guint64 * bytes,
    gint64 * signal_ns);

/* Retires transfers until fewer than @max are in flight and DMABUF @fd
 * (inode number @ino, or 0 to fstat @fd) is not among them (a second
 * ENQUEUE of one DMABUF fails with EBUSY). GST_FLOW_OK too when only a
 * cyclic transfer is left to retire. */
GstFlowReturn gst_iio_transfers_make_room (GstIioTransfers * self,
    guint max, gint fd, guint64 ino, gint timeout_ms, GError ** error);

/* Transfers in flight, the cyclic one included. */
guint gst_iio_transfers_get_n_queued (GstIioTransfers * self);
/* TRUE when every transfer in flight has completed (or none is): the
 * device has nothing left to work on, it ran dry. */
gboolean gst_iio_transfers_ran_dry (GstIioTransfers * self);

/* Interrupts every wait (the eventfd and the cond) or ends that state. */
void gst_iio_transfers_set_flushing (GstIioTransfers * self,
    gboolean flushing);

/* Stop: disables the buffer (which aborts what is in flight), waits at
 * most 1 s in all for the aborted fences, and releases every payload.
 * Returns how many transfers had not completed when it began and, in
 * @bytes (may be NULL), their size: what the device never played or
 * never filled (a cyclic transfer is not counted: it was played). Later
 * enqueues fail. */
guint gst_iio_transfers_abort_all (GstIioTransfers * self, gsize * bytes);

G_END_DECLS
