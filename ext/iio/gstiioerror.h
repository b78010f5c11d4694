/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error domain of everything below the elements (device, kernel
 * buffer, transfers, queues): the elements map its codes to
 * GST_RESOURCE_ERROR / GST_STREAM_ERROR when they post. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GST_IIO_ERROR (gst_iio_error_quark ())
GQuark gst_iio_error_quark (void);

typedef enum
{
  /* This path cannot work here (kernel, buffer or allocator lacks
   * something); io-mode=auto may fall back to the copy path. */
  GST_IIO_ERROR_UNSUPPORTED,
  GST_IIO_ERROR_FAILED,
  GST_IIO_ERROR_TIMEOUT,
  GST_IIO_ERROR_DEVICE_LOST,
} GstIioError;

G_END_DECLS
