/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "iiodeviceprovider": lists the IIO devices that have a buffer, one
 * entry (gstiioprovideddevice.h) per device and direction, for
 * GstDeviceMonitor and gst-device-monitor-1.0. Built with libgudev it
 * follows devices added and removed while monitoring (uevents of the
 * "iio" subsystem); without it, it only probes. Remote contexts (libiio's
 * scan: usb, ip with avahi) are listed when scan-remote is TRUE, at probe
 * and start only. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define GST_TYPE_IIO_DEVICE_PROVIDER (gst_iio_device_provider_get_type ())
G_DECLARE_FINAL_TYPE (GstIioDeviceProvider, gst_iio_device_provider, GST,
    IIO_DEVICE_PROVIDER, GstDeviceProvider)
GST_DEVICE_PROVIDER_REGISTER_DECLARE (iiodeviceprovider);

G_END_DECLS
