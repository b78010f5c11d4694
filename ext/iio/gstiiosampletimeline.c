/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiosampletimeline.h"

#define NS_PER_SECOND G_GINT64_CONSTANT (1000000000)
/* The device is judged too fast for the rate once it delivered at least
 * this much (at the rate) in under RATE_CHECK_PERCENT of the time: sample 0
 * may precede the start by an ENABLE's duration, which the margin covers
 * up to 40 ms. */
#define RATE_CHECK_MIN_NS (200 * G_GINT64_CONSTANT (1000000))
#define RATE_CHECK_PERCENT 80
/* Above twice the usual completion latency, a completion is late. */
#define LATENCY_MARGIN_NS (20 * G_GINT64_CONSTANT (1000))

gint64
gst_iio_sample_timeline_duration_ns (guint64 samples, guint rate)
{
  if (rate == 0)
    return 0;
  /* samples < 2^32 in practice: no overflow below 2^63 / 10^9 */
  return (gint64) (samples * (guint64) NS_PER_SECOND / rate);
}

/* The longest the device may take for @duration_ns of samples. */
static gint64
with_tolerance (gint64 duration_ns)
{
  return duration_ns + duration_ns * GST_IIO_SAMPLE_TIMELINE_TOLERANCE_PPM /
      1000000;
}

static guint64
ns_to_samples (gint64 ns, guint rate)
{
  if (ns <= 0)
    return 0;
  return ((guint64) ns * rate + NS_PER_SECOND / 2) / NS_PER_SECOND;
}

void
gst_iio_sample_timeline_init (GstIioSampleTimeline * self, guint rate)
{
  self->rate = rate;
  self->started_ns = -1;
  self->prev_end_ns = -1;
  self->latency_ns = 0;
  self->late_ns = 0;
  self->samples = 0;
  self->measured_rate = 0;
}

void
gst_iio_sample_timeline_start (GstIioSampleTimeline * self, gint64 enabled_ns)
{
  self->started_ns = enabled_ns;
  self->prev_end_ns = -1;
  self->late_ns = 0;
  self->samples = 0;
  self->measured_rate = 0;
}

/* However many samples it lost, a device running at the rate cannot have
 * delivered the samples received since the start in less time than they
 * take at the rate. In well under that, it is not running at the rate
 * (crystals are off by ppm, not by 25 %). */
static gboolean
check_rate (GstIioSampleTimeline * self, gint64 done)
{
  gint64 nominal = gst_iio_sample_timeline_duration_ns (self->samples,
      self->rate);
  gint64 elapsed = done - self->started_ns;

  if (nominal < RATE_CHECK_MIN_NS ||
      elapsed >= nominal / 100 * RATE_CHECK_PERCENT)
    return TRUE;
  self->measured_rate = elapsed <= 0 ? G_MAXUINT :
      (guint) MIN ((guint64) G_MAXUINT,
      self->samples * (guint64) NS_PER_SECOND / (guint64) elapsed);
  return FALSE;
}

/* The fence time belongs to this transfer (not a stub's). */
static gboolean
has_signal_time (const GstIioBlockTimes * block)
{
  return block->signal_ns >= block->queue_begin_ns &&
      (block->seen_ns < 0 || block->signal_ns <= block->seen_ns);
}

/* The latest the block can have ended: its fence time, else when the
 * element saw it (later by however late the consumer came). */
static gint64
completion_bound (const GstIioBlockTimes * block)
{
  return has_signal_time (block) ? block->signal_ns : block->seen_ns;
}

/* Queued after the previous block's end: for certain when the ENQUEUE
 * began after it; when the call spans it, the block's completion says
 * whether it started late (beyond the usual completion latency). */
static gboolean
started_late (GstIioSampleTimeline * self, const GstIioBlockTimes * block,
    gint64 duration, gint64 done)
{
  if (block->queue_begin_ns > self->prev_end_ns)
    return TRUE;
  if (block->queue_end_ns <= self->prev_end_ns)
    return FALSE;
  if (!has_signal_time (block))
    return TRUE;
  return done - duration > self->prev_end_ns + 2 * self->latency_ns +
      LATENCY_MARGIN_NS;
}

/* How late a completion came after the end the timeline gave it. */
static void
learn_latency (GstIioSampleTimeline * self, const GstIioBlockTimes * block,
    gint64 done, gint64 end)
{
  gint64 late;

  if (!has_signal_time (block))
    return;
  late = CLAMP (done - end, 0, GST_IIO_SAMPLE_TIMELINE_STALL_MIN_NS);
  self->latency_ns += (late - self->latency_ns) / 16;
}

/* The block before came far too late. A block duration after it, this
 * one says the engine stalled and resumed at the current sample: the
 * samples of the delay were lost, and the timeline goes on from that
 * late completion. Sooner, the system was away and the blocks complete
 * in a burst: the timeline stands. Returns the samples lost. */
static guint64
settle_late (GstIioSampleTimeline * self, const GstIioBlockTimes * block,
    gint64 duration, gint64 done)
{
  guint64 lost = 0;

  if (self->late_ns == 0)
    return 0;
  if (has_signal_time (block) && done - self->late_done_ns >= duration / 2) {
    lost = ns_to_samples (self->late_ns, self->rate);
    self->prev_end_ns = self->late_done_ns;
  }
  self->late_ns = 0;

  return lost;
}

guint64
gst_iio_sample_timeline_complete (GstIioSampleTimeline * self,
    const GstIioBlockTimes * block)
{
  gint64 duration, done, start_max, end;
  gint64 stall;
  guint64 lost = 0;

  if (self->rate == 0 || self->started_ns < 0 || self->measured_rate)
    return 0;

  duration = gst_iio_sample_timeline_duration_ns (block->samples, self->rate);
  done = completion_bound (block);
  lost = settle_late (self, block, duration, done);

  if (self->prev_end_ns < 0) {
    /* Queued before the enable: it starts with the stream. */
    end = MAX (self->started_ns, block->queue_end_ns) +
        with_tolerance (duration);
  } else if (started_late (self, block, duration, done)) {
    /* The device had nothing to write from the previous block's end until
     * this one reached it; it started it at the current sample: no later
     * than the end of the ENQUEUE, nor than its completion allows. */
    start_max = MAX (MIN (block->queue_end_ns, done - duration),
        block->queue_begin_ns);
    lost += MAX (ns_to_samples (start_max - self->prev_end_ns, self->rate), 1);
    end = start_max + with_tolerance (duration);
  } else {
    end = self->prev_end_ns + with_tolerance (duration);
  }
  learn_latency (self, block, done, end);

  /* Signalled long after the timeline says: the next completion decides
   * (settle_late). Only a completion time tells; when the element saw it
   * says nothing about the device. */
  stall = block->stall_ns > 0 ? block->stall_ns :
      MAX (GST_IIO_SAMPLE_TIMELINE_STALL_BLOCKS * duration,
      GST_IIO_SAMPLE_TIMELINE_STALL_MIN_NS);
  if (has_signal_time (block) && stall < G_MAXINT64 && done > end + stall) {
    self->late_ns = done - end;
    self->late_done_ns = done;
  }

  self->prev_end_ns = MIN (end, done);
  self->samples += block->samples;
  if (has_signal_time (block) && !check_rate (self, done))
    return 0;

  return lost;
}
