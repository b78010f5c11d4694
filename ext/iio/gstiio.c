/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The "iio" plugin: Linux Industrial I/O devices as GStreamer sources and
 * sinks, through libiio, zero-copy with the kernel's IIO DMABUF API. */
#include <gst/gst.h>

#include "gstiiosrc.h"
#include "gstiiosink.h"
#include "gstiiodeviceprovider.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  /* The registry re-inspects the plugin when IIO devices come and go. */
  static const gchar *paths[] = { "/sys/bus/iio/devices", NULL };
  gboolean ret = FALSE;

  gst_plugin_add_dependency (plugin, NULL, paths, NULL,
      GST_PLUGIN_DEPENDENCY_FLAG_NONE);

  ret |= GST_ELEMENT_REGISTER (iiosrc, plugin);
  ret |= GST_ELEMENT_REGISTER (iiosink, plugin);
  ret |= GST_DEVICE_PROVIDER_REGISTER (iiodeviceprovider, plugin);

  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, iio,
    "Linux Industrial I/O (IIO) devices: iiosrc, iiosink, a device provider",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
