/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ffssink: writes a stream to the bulk IN endpoint of a FunctionFS
 * function: one it owns (function=, the mount point: ep0's descriptors and
 * events, gstffsfunction.h; streams while the host has the interface
 * enabled) or a data endpoint file whose ep0 another program has set up
 * (endpoint=, e.g. /dev/ffs-x/ep1). DMABUF memory goes to the USB
 * controller with FUNCTIONFS_DMABUF_TRANSFER, nothing copied; raw audio
 * producers get a pool of its DMABUFs (gstffspool.h); other memory is
 * copied once into DMABUFs of the element's own. A buffer stays
 * referenced until its transfer's fence signalled; EOS waits for every
 * transfer. Linux 6.9+. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_FFS_SINK (gst_ffs_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstFfsSink, gst_ffs_sink, GST, FFS_SINK, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (ffssink);

G_END_DECLS
