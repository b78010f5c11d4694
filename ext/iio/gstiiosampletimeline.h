/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a capture device's blocks fall in time, and the samples it lost
 * between them: pure arithmetic on timestamps, no I/O.
 *
 * The device writes each queued block right after the previous one; it
 * loses samples only when it finishes a block and finds nothing queued
 * (the sim-adc and the ADI DMA cores alike: the next block then starts at
 * the current sample). So a gap opened before block B exactly when B was
 * queued after the previous block's last sample was taken. The element
 * knows when it queued B (around the ENQUEUE ioctl); the previous block's
 * last-sample time is bounded from above by its completion time (the fence
 * timestamp, later than the sample by the driver's completion latency) and
 * by the timeline itself (the enable time plus the samples since, at the
 * nominal rate with a tolerance), whichever is earlier.
 *
 * When the ENQUEUE itself spans that bound (a slow ioctl on a loaded
 * machine), the block's own completion decides: it started no later than
 * its completion minus its duration, so a completion later than the
 * previous block's end plus its duration plus the usual completion
 * latency means it started late. What that cannot see: a gap shorter than
 * the spread of completion latencies. A device slower than its nominal rate by more than
 * GST_IIO_SAMPLE_TIMELINE_TOLERANCE_PPM makes the bound too early.
 *
 * A completion far later than the timeline is either the engine stalling
 * (it resumes at the current sample: a gap before that block, and the
 * blocks after it complete a block duration apart) or the system not
 * running for a while (the blocks were filled in time and complete in a
 * burst; the gap, if any, opens before the first block queued after it,
 * which the timeline sees). The next completion tells them apart, so a
 * stall is counted on the block after the stalled one. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How much slower than nominal a device may run (crystals are within
 * about 100 ppm). */
#define GST_IIO_SAMPLE_TIMELINE_TOLERANCE_PPM 5000
/* By default, a completion this much later than the timeline (in block
 * durations, at least GST_IIO_SAMPLE_TIMELINE_STALL_MIN_NS) means the
 * device stopped: completion latencies stay well below. */
#define GST_IIO_SAMPLE_TIMELINE_STALL_BLOCKS 4
#define GST_IIO_SAMPLE_TIMELINE_STALL_MIN_NS (50 * G_GINT64_CONSTANT (1000000))

typedef struct
{
  guint rate;                   /* Hz; 0 disables the detection */
  gint64 started_ns;            /* latest time sample 0 can have, or -1 */
  gint64 prev_end_ns;           /* latest time the previous block can have
                                 * ended, -1 before the first block */
  gint64 latency_ns;            /* running mean of how late completions
                                 * come after the timeline's end */
  gint64 late_ns;               /* the last block came this late, or 0 */
  gint64 late_done_ns;          /* and completed then */
  guint64 samples;              /* received since the start */
  /* Non-zero: the device ran at least 25 % faster than @rate (a wrong
   * rate, or a device that is not paced), measured in Hz; detection off. */
  guint measured_rate;
} GstIioSampleTimeline;

/* What the element saw of one completed block. Times are CLOCK_MONOTONIC
 * nanoseconds (g_get_monotonic_time () * 1000 is the same clock). */
typedef struct
{
  guint samples;
  /* When the device got the block: between these two (around the
   * ENQUEUE; for fileio, the read() that handed the kernel block back). */
  gint64 queue_begin_ns;
  gint64 queue_end_ns;
  gint64 signal_ns;             /* completion time (fence), -1 unknown */
  gint64 seen_ns;               /* when the element saw it complete */
  /* A completion later than the timeline by more than this is a stall
   * if the next completion comes about a block later (the device resumed
   * at the current sample: counted there), or the system away if it comes
   * at once (a burst: nothing lost); 0: the default threshold;
   * G_MAXINT64: never (the completion time is not exact). */
  gint64 stall_ns;
} GstIioBlockTimes;

void gst_iio_sample_timeline_init (GstIioSampleTimeline * self, guint rate);
/* The device was enabled (the blocks queued before start at sample 0):
 * @enabled_ns, right after the enable returned. */
void gst_iio_sample_timeline_start (GstIioSampleTimeline * self,
    gint64 enabled_ns);
/* Blocks must be given in the order the device filled them. Returns the
 * samples lost right before this block (0: contiguous). A device found
 * 25 % faster than the rate (measured_rate set) loses nothing more: the
 * gaps the timeline would see are the wrong rate's. */
guint64 gst_iio_sample_timeline_complete (GstIioSampleTimeline * self,
    const GstIioBlockTimes * block);

/* Nanoseconds of @samples at @rate. */
gint64 gst_iio_sample_timeline_duration_ns (guint64 samples, guint rate);

G_END_DECLS
