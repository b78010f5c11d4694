/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loss arithmetic of gstiiosampletimeline.c on synthetic device
 * timelines: a simulated device that fills each queued block right after
 * the previous one, or from the moment it gets it when it had none, with
 * a completion latency; the element's view (queue times, fence times) is
 * what the test hands over. Every case checks the exact counts. */
#include <glib.h>
#include "gstiiosampletimeline.h"

#define RATE 200000
#define BLOCK 512
#define MS (G_GINT64_CONSTANT (1000000))
#define US (G_GINT64_CONSTANT (1000))

/* The device: where its samples are. */
typedef struct
{
  GstIioSampleTimeline timeline;
  gint64 t0;                    /* sample 0 */
  guint64 next_n;               /* first sample of the next block */
  guint64 lost;                 /* dropped so far */
  gint64 prev_queued;
} Device;

static gint64
n_to_ns (Device * d, guint64 n)
{
  return d->t0 + (gint64) (n * 1000000000 / RATE);
}

static guint64
ns_to_n (Device * d, gint64 ns)
{
  return ns <= d->t0 ? 0 : (guint64) (ns - d->t0) * RATE / 1000000000;
}

static void
device_start (Device * d, gint64 t0)
{
  gst_iio_sample_timeline_init (&d->timeline, RATE);
  d->t0 = t0;
  d->next_n = 0;
  d->lost = 0;
  /* the element stamps right after the enable returned */
  gst_iio_sample_timeline_start (&d->timeline, t0 + 20 * US);
}

/* A block queued at [@q, @q + @ioctl] (the device takes it at the end),
 * completing @latency after its last sample. Returns what the element
 * reports lost before it; the device's own loss is in d->lost. */
static guint64
device_block (Device * d, gint64 q, gint64 ioctl, gint64 latency,
    guint64 * truth)
{
  guint64 now_n = q < 0 ? 0 : ns_to_n (d, q + ioctl);
  guint64 start = MAX (d->next_n, now_n);
  GstIioBlockTimes times;

  *truth = start - d->next_n;
  d->lost += *truth;
  d->next_n = start + BLOCK;
  times.samples = BLOCK;
  times.queue_begin_ns = q < 0 ? d->t0 - MS : q;
  times.queue_end_ns = q < 0 ? d->t0 - MS : q + ioctl;
  times.signal_ns = n_to_ns (d, d->next_n) + latency;
  times.seen_ns = times.signal_ns + 3 * MS;
  times.stall_ns = 0;

  return gst_iio_sample_timeline_complete (&d->timeline, &times);
}

/* Started at @t0 with four blocks queued before the enable, completing
 * 20 us after their last sample. */
static void
device_start_primed (Device * d, gint64 t0)
{
  guint64 truth;
  gint i;

  device_start (d, t0);
  for (i = 0; i < 4; i++)
    device_block (d, -1, 0, 20 * US, &truth);
}

static void
test_contiguous (void)
{
  Device d;
  guint64 truth;
  gint i;

  device_start (&d, 10 * MS);
  /* 8 blocks queued before enable, then each block queued one block
   * ahead, with completion latencies from 10 us to 2 ms */
  for (i = 0; i < 8; i++)
    g_assert_cmpuint (device_block (&d, -1, 0, 10 * US, &truth), ==, 0);
  for (i = 8; i < 20000; i++) {
    gint64 q = n_to_ns (&d, d.next_n) - 2 * MS;
    g_assert_cmpuint (device_block (&d, q, 50 * US,
            (10 + (i * 7919) % 2000) * US, &truth), ==, 0);
    g_assert_cmpuint (truth, ==, 0);
  }
}

static void
test_gaps_counted (void)
{
  Device d;
  guint64 truth, got, reported = 0;
  gint i;

  device_start (&d, 5 * MS);
  for (i = 0; i < 4; i++)
    device_block (&d, -1, 0, 20 * US, &truth);
  for (i = 4; i < 2000; i++) {
    /* every 10th block is queued late by 0.1 to 3 ms */
    gint64 late = i % 10 == 0 ? (100 + (i * 31) % 2900) * US : -1 * MS;
    gint64 q = n_to_ns (&d, d.next_n) + late;

    got = device_block (&d, q, 30 * US, 25 * US, &truth);
    if (truth == 0) {
      g_assert_cmpuint (got, ==, 0);
    } else {
      /* the element's bound is the fence time: off by the latency */
      g_assert_cmpuint (got, >, 0);
      g_assert_cmpint (ABS ((gint64) got - (gint64) truth), <=, 6);
    }
    reported += got;
  }
  g_assert_cmpuint (d.lost, >, 0);
  g_assert_cmpint (ABS ((gint64) reported - (gint64) d.lost), <=, 6 * 200);
}

/* A fence signalled late (latency) is no gap; a block queued between the
 * previous one's last sample and its fence is, and is seen because the
 * timeline, not the late fence, bounds the end. */
static void
test_late_fence_is_no_gap (void)
{
  Device d;
  guint64 truth, got;

  device_start_primed (&d, 0);
  /* the fence of the block before comes 5 ms late */
  device_block (&d, n_to_ns (&d, d.next_n) - MS, 30 * US, 5 * MS, &truth);
  /* queued 1 ms after that block's last sample, before its fence */
  got = device_block (&d, n_to_ns (&d, d.next_n) + MS, 30 * US, 20 * US,
      &truth);
  g_assert_cmpuint (truth, ==, 206);
  /* short by the bound's slack: the fastest completion (20 us) plus one
   * block's rate tolerance (12.8 us) */
  g_assert_cmpuint (got, >=, 199);
  g_assert_cmpuint (got, <=, 206);
}

/* An ENQUEUE that takes 2 ms and spans the previous block's end: the
 * device took the block in time (at its start) or late (at its end); the
 * block's completion tells which. */
static guint64
slow_enqueue (gboolean device_takes_it_late, guint64 * truth)
{
  Device d;
  gint64 q;
  gint i;

  device_start (&d, 0);
  for (i = 0; i < 4; i++)
    device_block (&d, -1, 0, 20 * US, truth);
  for (i = 0; i < 50; i++)
    device_block (&d, n_to_ns (&d, d.next_n) - MS, 30 * US, 20 * US, truth);
  q = n_to_ns (&d, d.next_n) - MS;
  if (device_takes_it_late)
    return device_block (&d, q, 2 * MS, 20 * US, truth);
  /* the device got it right away, the call returned 2 ms later */
  *truth = 0;
  d.next_n += BLOCK;
  {
    GstIioBlockTimes b = {.samples = BLOCK,.queue_begin_ns = q,
      .queue_end_ns = q + 2 * MS,.signal_ns = n_to_ns (&d, d.next_n) +
          20 * US,.stall_ns = 0
    };
    b.seen_ns = b.signal_ns + US;
    return gst_iio_sample_timeline_complete (&d.timeline, &b);
  }
}

static void
test_slow_enqueue (void)
{
  guint64 truth, got;

  got = slow_enqueue (FALSE, &truth);
  g_assert_cmpuint (got, ==, 0);
  got = slow_enqueue (TRUE, &truth);
  g_assert_cmpuint (truth, ==, 200);
  g_assert_cmpint (ABS ((gint64) got - 200), <=, 8);
}

/* A sync_file exported after its fence signalled holds a stub with an old
 * time: the element's own completion time bounds the block instead. */
static void
test_stub_time_ignored (void)
{
  GstIioSampleTimeline t;
  GstIioBlockTimes b = {
    .samples = BLOCK,.queue_begin_ns = -MS,.queue_end_ns = -MS,
    .signal_ns = 1,.seen_ns = 10 * MS,.stall_ns = 0,
  };

  gst_iio_sample_timeline_init (&t, RATE);
  gst_iio_sample_timeline_start (&t, 0);
  b.queue_begin_ns = b.queue_end_ns = 2 * MS;
  g_assert_cmpuint (gst_iio_sample_timeline_complete (&t, &b), ==, 0);
  /* the end from the timeline (2.56 ms + 0.5 %), not from the stub */
  g_assert_cmpint (t.prev_end_ns, ==, 2 * MS + 2560 * US + 12800);
}

/* A stalled engine: queued in time, completed 100 ms late, and resumed
 * at the current sample: the next block, a block duration later, shows
 * it, and carries the count. */
static void
test_stall (void)
{
  Device d;
  guint64 truth, got;

  device_start_primed (&d, 0);
  /* the device stops for 100 ms and resumes at the current sample */
  d.next_n += 20000;
  d.lost += 20000;
  got = device_block (&d, n_to_ns (&d, d.next_n - 20000) - MS, 30 * US,
      20 * US, &truth);
  g_assert_cmpuint (got, ==, 0);
  got = device_block (&d, n_to_ns (&d, d.next_n) - 2 * MS, 30 * US,
      20 * US, &truth);
  g_assert_cmpuint (truth, ==, 0);
  g_assert_cmpint (ABS ((gint64) got - 20000), <=, 20);
  /* and the timeline goes on from the resumed engine */
  got = device_block (&d, n_to_ns (&d, d.next_n) - MS, 30 * US, 20 * US,
      &truth);
  g_assert_cmpuint (got, ==, 0);
}

/* The system does not run for 100 ms: the queued blocks were filled in
 * time and complete in a burst; the block queued after that starts late,
 * and only it carries the gap. */
static void
test_freeze (void)
{
  Device d;
  GstIioBlockTimes b = {.samples = BLOCK,.stall_ns = 0 };
  gint64 wake = 0;
  guint64 got, truth, lost = 0;
  gint i;

  device_start_primed (&d, 0);
  for (i = 0; i < 4; i++) {
    /* queued in time before the freeze, completed at the wake-up */
    b.queue_begin_ns = n_to_ns (&d, d.next_n) - 2 * MS;
    b.queue_end_ns = b.queue_begin_ns + 30 * US;
    d.next_n += BLOCK;
    if (i == 0)
      wake = n_to_ns (&d, d.next_n) + 100 * MS;
    b.signal_ns = wake + i * 10 * US;
    b.seen_ns = b.signal_ns + US;
    lost += gst_iio_sample_timeline_complete (&d.timeline, &b);
  }
  g_assert_cmpuint (lost, ==, 0);
  /* queued after the wake-up: the device ran out long before */
  got = device_block (&d, wake + MS, 30 * US, 20 * US, &truth);
  g_assert_cmpuint (truth, >, 18000);
  /* short by the rate tolerance of the blocks whose late fences could
   * not bound them (5 x 12.8 us) and the first completion's latency */
  g_assert_cmpint (ABS ((gint64) got - (gint64) truth), <=, 16);
}

/* Fileio's kernel blocks (4096 samples, 20.48 ms) with a caller's stall
 * threshold of 10 ms. The device ends block i at @ends[i]; the element
 * sees it at @seen[i] (a refill's return) and hands it back to the device
 * when that refill returns; the fileio queue holds two. Returns the
 * samples counted lost on each block. */
#define FILEIO_N 4096
#define FILEIO_BLOCKS 8

static void
fileio_blocks (const gint64 * ends, const gint64 * seen, guint64 * lost)
{
  GstIioSampleTimeline t;
  gint i;

  gst_iio_sample_timeline_init (&t, RATE);
  gst_iio_sample_timeline_start (&t, 0);
  for (i = 0; i < FILEIO_BLOCKS; i++) {
    GstIioBlockTimes b = {.samples = FILEIO_N,.stall_ns = 10 * MS };

    b.queue_begin_ns = b.queue_end_ns = i < 2 ? -MS : seen[i - 2];
    b.signal_ns = b.seen_ns = seen[i];
    lost[i] = gst_iio_sample_timeline_complete (&t, &b);
  }
}

/* A block the kernel skipped (block 3's buffer went to the device and
 * failed): the refill gets the next one a kernel block late, and the one
 * after comes a kernel block later still; the gap before block 3 is
 * counted on block 4. */
static void
test_fileio_skipped_block (void)
{
  const gint64 dur = (gint64) FILEIO_N * 1000000000 / RATE;
  gint64 ends[FILEIO_BLOCKS], seen[FILEIO_BLOCKS];
  guint64 lost[FILEIO_BLOCKS];
  gint i;

  for (i = 0; i < FILEIO_BLOCKS; i++) {
    ends[i] = (i + 1 + (i >= 3)) * dur;
    seen[i] = ends[i] + 30 * US;
  }
  fileio_blocks (ends, seen, lost);
  for (i = 0; i < FILEIO_BLOCKS; i++) {
    if (i == 4)
      g_assert_cmpint (ABS ((gint64) lost[i] - FILEIO_N), <=, 40);
    else
      g_assert_cmpuint (lost[i], ==, 0);
  }
}

/* The consumer's thread away for 15 ms: its refill returns late, the next
 * kernel block is already there: nothing was lost. */
static void
test_fileio_thread_away (void)
{
  const gint64 dur = (gint64) FILEIO_N * 1000000000 / RATE;
  gint64 ends[FILEIO_BLOCKS], seen[FILEIO_BLOCKS];
  guint64 lost[FILEIO_BLOCKS];
  gint i;

  for (i = 0; i < FILEIO_BLOCKS; i++) {
    ends[i] = (i + 1) * dur;
    seen[i] = ends[i] + 30 * US;
  }
  seen[3] += 15 * MS;
  seen[4] = seen[3] + 100 * US;
  fileio_blocks (ends, seen, lost);
  for (i = 0; i < FILEIO_BLOCKS; i++)
    g_assert_cmpuint (lost[i], ==, 0);
}

/* A device 1000 ppm slower than nominal, always fed just in time: the
 * tolerance keeps the timeline from calling that a gap. */
static void
test_slow_crystal (void)
{
  GstIioSampleTimeline t;
  gint64 dur = (gint64) BLOCK * 1000000000 / RATE * 1001 / 1000;
  gint64 end = 0;
  gint i;

  gst_iio_sample_timeline_init (&t, RATE);
  gst_iio_sample_timeline_start (&t, 0);
  for (i = 0; i < 50000; i++) {
    GstIioBlockTimes b = {.samples = BLOCK,.stall_ns = 0 };

    b.queue_begin_ns = i < 2 ? -MS : end - 200 * US;
    b.queue_end_ns = b.queue_begin_ns + 50 * US;
    end += dur;
    b.signal_ns = end + 15 * US;
    b.seen_ns = b.signal_ns + US;
    g_assert_cmpuint (gst_iio_sample_timeline_complete (&t, &b), ==, 0);
  }
  g_assert_cmpuint (t.measured_rate, ==, 0);
}

/* A device twice as fast as the rate (unpaced, or the rate set wrong),
 * each block queued only after the one before completed: the gaps that
 * makes are the wrong rate's. Once it delivered 200 ms of samples at the
 * rate in well under that, no more are counted and the measured rate is
 * kept. */
static void
test_too_fast (void)
{
  GstIioSampleTimeline t;
  gint64 dur = (gint64) BLOCK * 1000000000 / RATE / 2;
  gint64 now = 0;
  guint64 lost = 0;
  gint i, counting = 0;

  gst_iio_sample_timeline_init (&t, RATE);
  gst_iio_sample_timeline_start (&t, 0);
  for (i = 0; i < 1000; i++) {
    GstIioBlockTimes b = {.samples = BLOCK,.stall_ns = 0 };
    guint64 got;

    b.queue_begin_ns = i == 0 ? -MS : now + 100 * US;
    b.queue_end_ns = b.queue_begin_ns + 10 * US;
    now = MAX (now, b.queue_end_ns) + dur;
    b.signal_ns = now + 5 * US;
    b.seen_ns = b.signal_ns + US;
    got = gst_iio_sample_timeline_complete (&t, &b);
    lost += got;
    if (got)
      counting = i;
  }
  /* each block "loses" 100 us at the rate; 200 ms of samples at the rate
   * are 79 blocks, delivered in 79 x 1.39 ms, 55 % of 200 ms */
  g_assert_cmpint (counting, ==, 77);
  g_assert_cmpuint (lost, >, 0);
  g_assert_cmpuint (t.measured_rate, >, RATE * 3 / 2);
  g_assert_cmpuint (t.measured_rate, <, RATE * 2);
  g_assert_cmpuint (gst_iio_sample_timeline_complete (&t, &(GstIioBlockTimes) {
          .samples = BLOCK,.queue_begin_ns = now + 10 * MS,.queue_end_ns =
            now + 10 * MS,.signal_ns = now + 11 * MS,.seen_ns = now + 11 * MS}
      ), ==, 0);
}

static void
test_no_rate (void)
{
  GstIioSampleTimeline t;
  GstIioBlockTimes b = {
    .samples = BLOCK,.queue_begin_ns = 10 * MS,.queue_end_ns = 11 * MS,
    .signal_ns = 20 * MS,.seen_ns = 21 * MS,.stall_ns = 0,
  };

  gst_iio_sample_timeline_init (&t, 0);
  gst_iio_sample_timeline_start (&t, 0);
  g_assert_cmpuint (gst_iio_sample_timeline_complete (&t, &b), ==, 0);
  g_assert_cmpuint (gst_iio_sample_timeline_complete (&t, &b), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/timeline/contiguous", test_contiguous);
  g_test_add_func ("/timeline/gaps-counted", test_gaps_counted);
  g_test_add_func ("/timeline/late-fence", test_late_fence_is_no_gap);
  g_test_add_func ("/timeline/slow-enqueue", test_slow_enqueue);
  g_test_add_func ("/timeline/stub-time", test_stub_time_ignored);
  g_test_add_func ("/timeline/stall", test_stall);
  g_test_add_func ("/timeline/freeze", test_freeze);
  g_test_add_func ("/timeline/fileio-skipped-block", test_fileio_skipped_block);
  g_test_add_func ("/timeline/fileio-thread-away", test_fileio_thread_away);
  g_test_add_func ("/timeline/slow-crystal", test_slow_crystal);
  g_test_add_func ("/timeline/too-fast", test_too_fast);
  g_test_add_func ("/timeline/no-rate", test_no_rate);

  return g_test_run ();
}
