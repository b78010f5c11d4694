/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The clock an IIO element provides: its time advances with the samples
 * the device has really produced (iiosrc) or consumed (iiosink), so a
 * pipeline on it runs at the device's crystal, not at the nominal rate.
 *
 * Between two positions the element reports (one a block), the clock
 * interpolates on the monotonic clock, so it is smooth rather than a
 * staircase: along the device's measured line (sample 0's monotonic time
 * and the rate against the monotonic clock, the lower envelope of the
 * positions, gstiiodrift.h) once the element has one, else from the
 * last position at the nominal rate; never behind the last position.
 * It keeps running when positions stop coming (the element at EOS, a
 * slow consumer: the device still runs, and sinks still wait on the
 * clock), holds still from start until the first position (the stream's
 * time begins when the device's does) and after stop, never goes
 * backwards, and continues across streams from where it stood. */
#pragma once

#include <gst/gst.h>
#include "gstiiodrift.h"

G_BEGIN_DECLS

#define GST_TYPE_IIO_DEVICE_CLOCK (gst_iio_device_clock_get_type ())
G_DECLARE_FINAL_TYPE (GstIioDeviceClock, gst_iio_device_clock, GST,
    IIO_DEVICE_CLOCK, GstSystemClock)

GstClock *gst_iio_device_clock_new (const gchar * name);

/* A stream at @rate Hz starts: sample 0 is
 * the clock's time now, which holds until the first position. */
void gst_iio_device_clock_start (GstIioDeviceClock * self, guint rate);
/* The device has produced (consumed) @samples since sample 0, as seen at
 * monotonic time @monotonic_us. */
void gst_iio_device_clock_set_position (GstIioDeviceClock * self,
    guint64 samples, gint64 monotonic_us);
/* The device's line: sample 0 at monotonic @sample0_ns, @slope monotonic
 * ns per nominal device ns. */
void gst_iio_device_clock_set_line (GstIioDeviceClock * self,
    gint64 sample0_ns, gdouble slope);
/* One observation of the device, at position @device_ns (nominal time
 * of its sample count) seen at @observed_ns, into @drift; when it closes
 * a window and @monotonic (observed on the monotonic clock), the clock
 * follows the new line. TRUE with @ppm once the drift is known (for
 * stats drift-ppm). */
gboolean gst_iio_device_clock_observe (GstIioDeviceClock * self,
    GstIioDrift * drift, gint64 device_ns, gint64 observed_ns,
    gboolean monotonic, gdouble * ppm);
/* @element offers this clock (@provide, READY to PAUSED: the pipeline
 * may pick it) or stops offering it (PAUSED to READY: clock-provide
 * FALSE, then clock-lost, so a pipeline on it picks another), as
 * GstAudioBaseSrc and GstAudioBaseSink post them. */
void gst_iio_device_clock_post_provide (GstIioDeviceClock * self,
    GstElement * element, gboolean provide);
/* The stream ended: the clock holds where it stands. */
void gst_iio_device_clock_stop (GstIioDeviceClock * self);

/* The clock's internal time of sample @samples of the running stream
 * (GST_CLOCK_TIME_NONE when none runs): what the clock read, or will
 * read, when the device reached it. */
GstClockTime gst_iio_device_clock_sample_time (GstIioDeviceClock * self,
    guint64 samples);

G_END_DECLS
