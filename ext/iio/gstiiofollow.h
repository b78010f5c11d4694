/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Timestamps for a device captured on a pipeline clock that is not the
 * device's own: pure arithmetic, no I/O.
 *
 * Re-timestamping rather than GstAudioBaseSrc's skew method: skew keeps
 * the timestamps of the sample count and, when they drift half a block
 * from the clock, drops or repeats samples to realign, and IIO samples
 * are never dropped or invented here. Instead the timeline stays
 * contiguous (each PTS the previous PTS + DURATION, OFFSET counting every
 * sample) and its pace follows the clock: each sample lasts the measured
 * period (nominal / (1 + drift)), and the phase is pulled towards the
 * lower envelope of when blocks are seen on the clock, by at most
 * GST_IIO_FOLLOW_MAX_SLEW of each block's duration, so PTS never go
 * backwards. In the first GST_IIO_FOLLOW_SETTLE_S seconds the pull is
 * stronger (GST_IIO_FOLLOW_SETTLE_SLEW): the first block is often seen
 * late (a slow enable; fileio hands over a kernel block's worth at once),
 * and that start is absorbed before the stream is a few seconds old.
 * Only an error beyond GST_IIO_FOLLOW_RESYNC_NS (the clock jumped) is
 * corrected at once, as a DISCONT. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_IIO_FOLLOW_WINDOW 32
#define GST_IIO_FOLLOW_MAX_SLEW 0.05
#define GST_IIO_FOLLOW_TAU_NS ((gdouble) GST_SECOND)
#define GST_IIO_FOLLOW_SETTLE_S 2
#define GST_IIO_FOLLOW_SETTLE_SLEW 0.25
#define GST_IIO_FOLLOW_RESYNC_NS (1 * GST_SECOND)
/* The drift applied is bounded by this (gst_iio_follow_block clamps the
 * estimate it is given): a real crystal is within 100 ppm, the test
 * bed's 2000. */
#define GST_IIO_FOLLOW_MAX_PPM 10000.0

typedef struct
{
  guint rate;
  gboolean started;
  guint64 settled_offset;       /* the first sample after settling */
  guint64 next_offset;          /* the sample after the last block */
  GstClockTime next_pts;        /* ... and its running time */
  gdouble correction_ns;        /* every phase correction so far */
  /* the last residuals (observed - stamped end), each plus the
   * correction_ns of its time, so later corrections shift them all */
  gdouble residuals[GST_IIO_FOLLOW_WINDOW];
  guint n_residuals;
  guint next_residual;
} GstIioFollow;

void gst_iio_follow_reset (GstIioFollow * self, guint rate);

/* The block of @samples from sample @offset (after any samples lost
 * before it, which the timeline steps over) completed and was seen at
 * running time @observed. @ppm: the drift measured against this clock,
 * 0 while unknown (clamped to GST_IIO_FOLLOW_MAX_PPM). Sets the block's
 * @pts and @duration; TRUE when the timeline had to jump (a DISCONT). */
gboolean gst_iio_follow_block (GstIioFollow * self, guint64 offset,
    guint64 samples, GstClockTime observed, gdouble ppm, GstClockTime * pts,
    GstClockTime * duration);

G_END_DECLS
