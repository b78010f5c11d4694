/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The "functionfs" plugin: USB bulk endpoints of a Linux FunctionFS
 * gadget function as GStreamer elements, zero-copy with FunctionFS's
 * DMABUF interface (Linux 6.9+). No libiio. */
#include <gst/gst.h>

#include "gstffssink.h"
#include "gstffssrc.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  return GST_ELEMENT_REGISTER (ffssink, plugin)
      && GST_ELEMENT_REGISTER (ffssrc, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, functionfs,
    "USB gadget bulk endpoints through Linux FunctionFS: ffssink, ffssrc",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
