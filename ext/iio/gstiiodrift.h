/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How fast a device's sample clock runs against another clock, from
 * (device time, observed time) pairs: pure arithmetic, no I/O.
 *
 * Device time is the sample count at the nominal rate; the observed time
 * is when the element saw the block complete, on the reference clock.
 * Observations are late by a positive, noisy delay (wakeups, a loaded or
 * descheduled machine), never early. So each window of WINDOW_NS of
 * device time keeps only its least delayed observation (the lower
 * envelope), and a least-squares line through the last N_WINDOWS of
 * those gives the rate ratio (the drift) and maps device time to the
 * reference clock. A window whose minimum is far above that line (every
 * observation in it delayed: a slow first block, a descheduled machine)
 * is left out of a second fit, so it does not tilt the line. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GST_IIO_DRIFT_WINDOW_NS (250 * G_GINT64_CONSTANT (1000000))
#define GST_IIO_DRIFT_N_WINDOWS 64
/* A window's minimum this far above the first line (or twice the mean
 * distance, if more) is left out of the second. */
#define GST_IIO_DRIFT_OUTLIER_NS (1 * G_GINT64_CONSTANT (1000000))
/* The drift is reported once the fit spans this much device time. */
#define GST_IIO_DRIFT_MIN_SPAN_NS (2 * G_GINT64_CONSTANT (1000000000))

typedef struct
{
  gint64 device_ns;
  gint64 observed_ns;
} GstIioDriftPoint;

typedef struct
{
  gint64 window_ns;
  /* the window being filled: its start and its least delayed point */
  gint64 window_start_ns;
  GstIioDriftPoint window_min;
  gboolean window_open;
  /* closed windows' minima, a ring */
  GstIioDriftPoint points[GST_IIO_DRIFT_N_WINDOWS];
  guint n_points;
  guint next_point;
  /* the fit through them: observed = offset + slope * device, in
   * doubles relative to the first point (no overflow, enough precision) */
  gboolean fitted;
  gdouble slope;
  gint64 origin_device_ns;
  gint64 origin_observed_ns;
  gdouble offset;
} GstIioDrift;

/* Windows of GST_IIO_DRIFT_WINDOW_NS. */
void gst_iio_drift_reset (GstIioDrift * self);
/* Windows of @window_ns: several observations each (a few blocks), so
 * each has a least delayed one. */
void gst_iio_drift_reset_window (GstIioDrift * self, gint64 window_ns);

/* One observation; returns TRUE when it closed a window and the fit
 * changed. */
gboolean gst_iio_drift_add (GstIioDrift * self, gint64 device_ns,
    gint64 observed_ns);

/* TRUE once the fit spans GST_IIO_DRIFT_MIN_SPAN_NS: @ppm is how much
 * faster than nominal the device runs against the reference clock
 * (positive: faster). */
gboolean gst_iio_drift_get_ppm (const GstIioDrift * self, gdouble * ppm);

/* Where on the reference clock device time @device_ns falls, on the
 * lower envelope; FALSE before the first window closed. */
gboolean gst_iio_drift_map (const GstIioDrift * self, gint64 device_ns,
    gint64 * observed_ns);

G_END_DECLS
