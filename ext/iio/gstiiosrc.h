/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iiosrc: a live source capturing the scan channels of an IIO device, one
 * GstBuffer per block; zero-copy DMABUF memory where the kernel allows it,
 * libiio with one copy elsewhere. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_IIO_SRC (gst_iio_src_get_type ())
G_DECLARE_FINAL_TYPE (GstIioSrc, gst_iio_src, GST, IIO_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (iiosrc);

G_END_DECLS
