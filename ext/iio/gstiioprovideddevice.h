/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One entry of the device provider (gstiiodeviceprovider.h): an IIO
 * device with a buffer, in one direction. It describes the device as the
 * element would see it (caps, channels, rate, buffer kind) and creates a
 * configured iiosrc (input) or iiosink (output). A device with input and
 * output scan channels is two entries. Not the libiio side of an element:
 * that is gstiiodevice.h. */
#pragma once

#include <gst/gst.h>
#include <iio.h>
#include "gstiiodevice.h"

G_BEGIN_DECLS
#define GST_TYPE_IIO_PROVIDED_DEVICE (gst_iio_provided_device_get_type ())
G_DECLARE_FINAL_TYPE (GstIioProvidedDevice, gst_iio_provided_device, GST,
    IIO_PROVIDED_DEVICE, GstDevice)
/* The entry for @dev of the context created from @uri ("local:" or a
 * remote URI) in @direction, or NULL when @dev has no scan channels of
 * that direction (no buffer: a companion device such as ad9361-phy). */
     GstDevice *gst_iio_provided_device_new (const gchar * uri,
    const struct iio_device *dev, GstIioDirection direction);

/* "iio:device0" */
     const gchar *gst_iio_provided_device_get_id (GstIioProvidedDevice * self);
     const gchar *gst_iio_provided_device_get_uri (GstIioProvidedDevice * self);
     GstIioDirection gst_iio_provided_device_get_direction (GstIioProvidedDevice
    * self);

G_END_DECLS
