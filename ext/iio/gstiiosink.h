/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iiosink: plays a stream to a Linux IIO output device (a DAC), zero-copy
 * on the DMABUF path (Linux 6.11+): upstream DMABUFs are imported, and
 * CPU producers are offered a pool of DMA blocks; anything else is copied
 * once. EOS plays everything out before the buffer is disabled. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_IIO_SINK (gst_iio_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstIioSink, gst_iio_sink, GST, IIO_SINK, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (iiosink);

G_END_DECLS
