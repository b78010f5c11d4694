/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiofollow.h"

#include <string.h>

void
gst_iio_follow_reset (GstIioFollow * self, guint rate)
{
  memset (self, 0, sizeof (*self));
  self->rate = rate;
}

static gdouble
period_ns (const GstIioFollow * self, gdouble ppm)
{
  return (gdouble) GST_SECOND / self->rate / (1.0 + ppm / 1e6);
}

/* The least residual of the window, as it stands after the corrections
 * made since each was taken. */
static gdouble
window_min (const GstIioFollow * self)
{
  gdouble m = self->residuals[0];
  guint i;

  for (i = 1; i < self->n_residuals; i++)
    m = MIN (m, self->residuals[i]);

  return m - self->correction_ns;
}

static void
add_residual (GstIioFollow * self, gdouble residual)
{
  self->residuals[self->next_residual] = residual + self->correction_ns;
  self->next_residual = (self->next_residual + 1) % GST_IIO_FOLLOW_WINDOW;
  if (self->n_residuals < GST_IIO_FOLLOW_WINDOW)
    self->n_residuals++;
}

static void
start_line (GstIioFollow * self, guint64 offset, GstClockTime start)
{
  self->started = TRUE;
  self->settled_offset = offset + (guint64) GST_IIO_FOLLOW_SETTLE_S *self->rate;
  self->next_offset = offset;
  self->next_pts = start;
  self->n_residuals = 0;
  self->next_residual = 0;
  self->correction_ns = 0;
}

gboolean
gst_iio_follow_block (GstIioFollow * self, guint64 offset, guint64 samples,
    GstClockTime observed, gdouble ppm, GstClockTime * pts,
    GstClockTime * duration)
{
  gdouble period, nominal, error, slew, max_slew, gain;
  gboolean jumped = FALSE;

  g_return_val_if_fail (self->rate > 0, FALSE);

  /* A crystal is within 100 ppm; more is an estimate still settling. */
  ppm = CLAMP (ppm, -GST_IIO_FOLLOW_MAX_PPM, GST_IIO_FOLLOW_MAX_PPM);
  period = period_ns (self, ppm);
  nominal = samples * period;

  if (!self->started) {
    /* The block just completed: its first sample was one block ago. */
    start_line (self, offset, observed > nominal ? observed - nominal : 0);
  } else if (offset > self->next_offset) {
    /* Lost samples: the line steps over them at the measured pace. */
    self->next_pts += (offset - self->next_offset) * period;
    self->next_offset = offset;
  }

  /* How late the block is seen against where the line puts its end. */
  error = (gdouble) observed - (self->next_pts + nominal);
  if (ABS (error) > GST_IIO_FOLLOW_RESYNC_NS) {
    start_line (self, offset, observed > nominal ? observed - nominal : 0);
    jumped = TRUE;
    error = 0;
  }
  add_residual (self, error);

  /* Pull the line towards the envelope: the window's error corrected
   * with a time constant of GST_IIO_FOLLOW_TAU_NS (a quarter of it while
   * settling), whatever the block size, bounded so a block never lasts
   * less than 95 % of its length (75 % while settling). */
  if (offset < self->settled_offset) {
    max_slew = GST_IIO_FOLLOW_SETTLE_SLEW;
    gain = nominal / (GST_IIO_FOLLOW_TAU_NS / 4);
  } else {
    max_slew = GST_IIO_FOLLOW_MAX_SLEW;
    gain = nominal / GST_IIO_FOLLOW_TAU_NS;
  }
  gain = MIN (gain, 0.5);
  slew = CLAMP (window_min (self) * gain, -max_slew * nominal,
      max_slew * nominal);
  self->correction_ns += slew;

  *pts = self->next_pts;
  *duration = (GstClockTime) (nominal + slew + 0.5);
  self->next_pts += *duration;
  self->next_offset = offset + samples;

  return jumped;
}
