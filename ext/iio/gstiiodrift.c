/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiodrift.h"

#include <string.h>

void
gst_iio_drift_reset (GstIioDrift * self)
{
  memset (self, 0, sizeof (*self));
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

/* Least squares through the windows' minima; with one point, the
 * nominal slope through it. */
static void
fit (GstIioDrift * self)
{
  const GstIioDriftPoint *o = point_at (self, 0);
  gdouble sx = 0, sy = 0, sxx = 0, sxy = 0, n = self->n_points, d;
  guint i;

  self->origin_device_ns = o->device_ns;
  self->origin_observed_ns = o->observed_ns;
  for (i = 0; i < self->n_points; i++) {
    const GstIioDriftPoint *p = point_at (self, i);
    gdouble x = p->device_ns - o->device_ns;
    gdouble y = p->observed_ns - o->observed_ns;

    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  d = n * sxx - sx * sx;
  if (span_of (self) < GST_IIO_DRIFT_MIN_SPAN_NS || d <= 0) {
    /* too short a span for a slope: the nominal one, on the envelope */
    self->slope = 1.0;
    self->offset = G_MAXDOUBLE;
    for (i = 0; i < self->n_points; i++) {
      const GstIioDriftPoint *p = point_at (self, i);

      self->offset = MIN (self->offset, (gdouble) ((p->observed_ns -
                  o->observed_ns) - (p->device_ns - o->device_ns)));
    }
  } else {
    self->slope = (n * sxy - sx * sy) / d;
    self->offset = (sy - self->slope * sx) / n;
  }
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

  if (self->window_open &&
      device_ns - self->window_start_ns >= GST_IIO_DRIFT_WINDOW_NS) {
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
