/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiodrift.h"

#include <string.h>

void
gst_iio_drift_reset (GstIioDrift * self)
{
  gst_iio_drift_reset_window (self, GST_IIO_DRIFT_WINDOW_NS);
}

void
gst_iio_drift_reset_window (GstIioDrift * self, gint64 window_ns)
{
  memset (self, 0, sizeof (*self));
  self->window_ns = MAX (window_ns, 1);
}

static const GstIioDriftPoint *
point_at (const GstIioDrift * self, guint i)
{
  guint first = (self->next_point + GST_IIO_DRIFT_N_WINDOWS -
      self->n_points) % GST_IIO_DRIFT_N_WINDOWS;

  return &self->points[(first + i) % GST_IIO_DRIFT_N_WINDOWS];
}

static gint64
span_of (const GstIioDrift * self)
{
  if (self->n_points < 2)
    return 0;
  return point_at (self, self->n_points - 1)->device_ns -
      point_at (self, 0)->device_ns;
}

/* Least squares through the windows' minima flagged in @use; FALSE when
 * they do not span enough for a slope. */
static gboolean
fit_line (GstIioDrift * self, const gboolean * use)
{
  const GstIioDriftPoint *o = point_at (self, 0);
  gdouble sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0, d;
  guint i;

  for (i = 0; i < self->n_points; i++) {
    const GstIioDriftPoint *p = point_at (self, i);
    gdouble x = p->device_ns - o->device_ns;
    gdouble y = p->observed_ns - o->observed_ns;

    if (!use[i])
      continue;
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  d = n * sxx - sx * sx;
  if (n < 2 || d <= 0)
    return FALSE;
  self->slope = (n * sxy - sx * sy) / d;
  self->offset = (sy - self->slope * sx) / n;
  return TRUE;
}

/* Least squares through the windows' minima, then once more without the
 * windows far above that line (every observation in them delayed: a
 * slow start, a descheduled machine), which would tilt it; with too
 * short a span, the nominal slope through the envelope. */
static void
fit (GstIioDrift * self)
{
  const GstIioDriftPoint *o = point_at (self, 0);
  gboolean use[GST_IIO_DRIFT_N_WINDOWS];
  gdouble residual[GST_IIO_DRIFT_N_WINDOWS], spread = 0;
  guint i;

  self->origin_device_ns = o->device_ns;
  self->origin_observed_ns = o->observed_ns;
  for (i = 0; i < self->n_points; i++)
    use[i] = TRUE;
  if (span_of (self) < GST_IIO_DRIFT_MIN_SPAN_NS || !fit_line (self, use)) {
    self->slope = 1.0;
    self->offset = G_MAXDOUBLE;
    for (i = 0; i < self->n_points; i++) {
      const GstIioDriftPoint *p = point_at (self, i);

      self->offset = MIN (self->offset, (gdouble) ((p->observed_ns -
                  o->observed_ns) - (p->device_ns - o->device_ns)));
    }
    self->fitted = TRUE;
    return;
  }

  for (i = 0; i < self->n_points; i++) {
    const GstIioDriftPoint *p = point_at (self, i);

    residual[i] = (p->observed_ns - o->observed_ns) - (self->offset +
        self->slope * (p->device_ns - o->device_ns));
    spread += ABS (residual[i]);
  }
  spread /= self->n_points;
  for (i = 0; i < self->n_points; i++)
    use[i] = residual[i] <= MAX (2 * spread, GST_IIO_DRIFT_OUTLIER_NS);
  fit_line (self, use);
  self->fitted = TRUE;
}

static void
close_window (GstIioDrift * self)
{
  self->points[self->next_point] = self->window_min;
  self->next_point = (self->next_point + 1) % GST_IIO_DRIFT_N_WINDOWS;
  if (self->n_points < GST_IIO_DRIFT_N_WINDOWS)
    self->n_points++;
  fit (self);
}

gboolean
gst_iio_drift_add (GstIioDrift * self, gint64 device_ns, gint64 observed_ns)
{
  gboolean closed = FALSE;
  GstIioDriftPoint p = { device_ns, observed_ns };

  if (self->window_open && device_ns - self->window_start_ns >= self->window_ns) {
    close_window (self);
    self->window_open = FALSE;
    closed = TRUE;
  }
  if (!self->window_open) {
    self->window_start_ns = device_ns;
    self->window_min = p;
    self->window_open = TRUE;
  } else if (observed_ns - device_ns <
      self->window_min.observed_ns - self->window_min.device_ns) {
    self->window_min = p;
  }

  return closed;
}

gboolean
gst_iio_drift_get_ppm (const GstIioDrift * self, gdouble * ppm)
{
  if (!self->fitted || span_of (self) < GST_IIO_DRIFT_MIN_SPAN_NS ||
      self->slope <= 0)
    return FALSE;
  /* the device's time runs 1 / slope times as fast as the reference */
  *ppm = (1.0 / self->slope - 1.0) * 1e6;
  return TRUE;
}

gboolean
gst_iio_drift_map (const GstIioDrift * self, gint64 device_ns,
    gint64 * observed_ns)
{
  gdouble x;

  if (!self->fitted)
    return FALSE;
  x = device_ns - self->origin_device_ns;
  *observed_ns = self->origin_observed_ns +
      (gint64) (self->offset + self->slope * x);
  return TRUE;
}
