/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libiio side of an element: context from a URI, device and channel
 * lookup, attributes, data formats and caps, sysfs paths for the kernel
 * side. One instance per element start; not thread-safe (the element's
 * streaming and state threads do not use it at the same time). */
#pragma once

#include <gst/gst.h>
#include <iio.h>
#include "gstiioerror.h"

G_BEGIN_DECLS

typedef enum
{
  GST_IIO_DIRECTION_INPUT,
  GST_IIO_DIRECTION_OUTPUT,
} GstIioDirection;

#define GST_TYPE_IIO_DEVICE (gst_iio_device_get_type ())
G_DECLARE_FINAL_TYPE (GstIioDevice, gst_iio_device, GST, IIO_DEVICE,
    GstObject)

/* Creates the context for @uri (NULL or "" means "local:") and finds
 * @device by id ("iio:device3"), name ("sim-adc") or label. @direction
 * is the direction of the scan channels the element streams. Errors
 * (domain GST_RESOURCE_ERROR) name the URI or device and list the devices
 * of the context that have scan channels of @direction. Every GError of
 * this file is complete user text (what is wrong and the valid choices),
 * e.g. "IIO device \"nope\" not found at local:; devices with input
 * channels: sim-adc (iio:device0), sim-kfifo (iio:device2)". */
GstIioDevice *gst_iio_device_open (const gchar * uri, const gchar * device,
    GstIioDirection direction, GError ** error);

/* Enables the channels of the comma list @channels (ids such as
 * "voltage0", or channel names) in that order of scan index; NULL or ""
 * enables every scan channel of the direction except the timestamp.
 * Unknown channels or channels of the wrong direction are an error that
 * lists the valid choices. */
gboolean gst_iio_device_select_channels (GstIioDevice * self,
    const gchar * channels, GError ** error);

/* gst_iio_attributes_write() without the values read back: the comma
 * list of items in the syntax of gstiioattributes.h ("name=value",
 * "chan.name=value", "DEVICE:in:CHANNEL:name=value", ...), resolved
 * first, then written in order. Errors name the item and the valid
 * choices. */
gboolean gst_iio_device_write_attributes (GstIioDevice * self,
    const gchar * attributes, GError ** error);

/* The device's sampling_frequency (device attribute, else the first
 * enabled channel's), rounded to Hz. FALSE when there is none. */
gboolean gst_iio_device_read_rate (GstIioDevice * self, guint * rate);

guint gst_iio_device_get_n_channels (GstIioDevice * self);
/* Bytes of one channel-set sample with the enabled channels, as the
 * kernel lays it out: each channel aligned to its storage size (times
 * repeat), the sample padded to the largest. libiio 0.24's
 * iio_device_get_sample_size agrees except when that final padding is
 * needed (it omits it); the copy queue refuses such layouts. */
gsize gst_iio_device_get_sample_size (GstIioDevice * self);

/* audio/x-raw (only when every enabled channel is exactly a
 * GstAudioFormat), then application/x-iio, both at @rate. */
GstCaps *gst_iio_device_get_caps (GstIioDevice * self, guint rate);

/* Checks fixed @caps against the enabled channels and the rate of the last
 * get_caps (not checked when that was 0); FALSE with an error
 * (GST_CORE_ERROR_NEGOTIATION) that says what the device expects:
 * "sim-dac (iio:device1) expects 2 channels of S16LE (le:S16/16>>0) at
 * 1000000 Hz, got 3 channels of S16LE at 1000000 Hz". */
gboolean gst_iio_device_check_caps (GstIioDevice * self, const GstCaps * caps,
    GError ** error);

/* "sim-adc (iio:device0)" for messages. */
const gchar *gst_iio_device_get_display_name (GstIioDevice * self);
gboolean gst_iio_device_is_local (GstIioDevice * self);
struct iio_device *gst_iio_device_get_iio (GstIioDevice * self);
struct iio_context *gst_iio_device_get_context (GstIioDevice * self);
/* The URI the context was created from ("local:" for NULL). */
const gchar *gst_iio_device_get_uri (GstIioDevice * self);
GstIioDirection gst_iio_device_get_direction (GstIioDevice * self);

/* Local contexts only (NULL otherwise): "/sys/bus/iio/devices/iio:deviceN"
 * and "/dev/iio:deviceN". */
const gchar *gst_iio_device_get_sysfs_path (GstIioDevice * self);
const gchar *gst_iio_device_get_dev_path (GstIioDevice * self);

/* Local contexts only: writes the scan_elements *_en files so that exactly
 * the enabled channels are captured or played by the kernel buffer (the
 * DMABUF path bypasses libiio's buffer, which would do it otherwise). */
gboolean gst_iio_device_write_scan_elements (GstIioDevice * self,
    GError ** error);

/* Exclusive use of a local device. The kernel lets one open() of
 * /dev/iio:deviceN at a time (EBUSY for the next), so holding it open is
 * the claim: the element claims before it writes any attribute, scan
 * element or buffer setting, and keeps the claim until READY->NULL.
 * Claiming a claimed device or a remote one (which cannot be claimed from
 * here) does nothing. A device held elsewhere is a GST_RESOURCE_ERROR_BUSY
 * error: "sim-adc (iio:device0) is busy: another program or pipeline is
 * using it (...)". A device without a chardev (no buffer) is not
 * claimed. */
gboolean gst_iio_device_claim (GstIioDevice * self, GError ** error);
/* The busy error without "nothing was changed", for a device found busy
 * some other way (libiio's or iiod's EBUSY when the buffer is created). */
void gst_iio_device_set_busy_error (GstIioDevice * self, GError ** error);
/* Closes the claim's fd (libiio's copy path must open the chardev
 * itself). Buffer fds taken from it (GET_FD) stay valid. */
void gst_iio_device_release (GstIioDevice * self);
/* The claimed chardev fd, or -1: IIO_BUFFER_GET_FD_IOCTL is made on it. */
gint gst_iio_device_get_claim_fd (GstIioDevice * self);

/* Local contexts: buffer0/enable (buffer/enable on old kernels) reads 1.
 * FALSE when it cannot be read (remote context, device gone). */
gboolean gst_iio_device_buffer_is_enabled (GstIioDevice * self);
/* For a wait or a transfer that failed while the caller had the buffer
 * enabled: if another program disabled it (libiio 0.24 clients such as
 * iio_readdev write buffer/enable=0 before they find the device busy),
 * replaces *@error by "The buffer of sim-adc (iio:device0) was disabled
 * by another program ..." and returns TRUE. Local devices still present
 * only: an unplugged device keeps its own error. */
gboolean gst_iio_device_explain_disabled (GstIioDevice * self,
    GError ** error);
/* TRUE when the device's sysfs directory is gone (unbound, unplugged);
 * FALSE for a remote context, where it cannot be told. */
gboolean gst_iio_device_is_gone (GstIioDevice * self);

G_END_DECLS
