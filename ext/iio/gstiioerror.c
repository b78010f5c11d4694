/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiioerror.h"

G_DEFINE_QUARK (gst-iio-error-quark, gst_iio_error);
