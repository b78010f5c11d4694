/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ffssrc: reads the bulk OUT endpoint of a FunctionFS function (one it
 * owns through ep0, function=, gstffsfunction.h; or a data endpoint file,
 * e.g. /dev/ffs-x/ep2, whose ep0 another program has set up) into DMABUFs
 * of its own pool with
 * FUNCTIONFS_DMABUF_TRANSFER, and pushes each filled block downstream as
 * DMABUF memory, nothing copied. Linux 6.9+. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesrc.h>

G_BEGIN_DECLS

#define GST_TYPE_FFS_SRC (gst_ffs_src_get_type ())
G_DECLARE_FINAL_TYPE (GstFfsSrc, gst_ffs_src, GST, FFS_SRC, GstBaseSrc)

GST_ELEMENT_REGISTER_DECLARE (ffssrc);

G_END_DECLS
