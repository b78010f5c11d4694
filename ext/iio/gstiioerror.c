/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiioerror.h"

/* indent would split the quark's name at its dashes. */
/* *INDENT-OFF* */
G_DEFINE_QUARK (gst-iio-error-quark, gst_iio_error);
/* *INDENT-ON* */
