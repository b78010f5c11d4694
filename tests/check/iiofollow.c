/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstiiofollow.c on synthetic blocks: a device some ppm off its nominal
 * rate, each block seen late by a random, always positive delay, the
 * first one (a slow enable) much later. The timeline must stay
 * contiguous and forward, and its block ends must settle on the
 * observations' lower envelope and stay there. */
#include <glib.h>
#include <gst/gst.h>
#include "gstiiofollow.h"

#define RATE 48000
#define BLOCK 960               /* 20 ms */
#define MS (GST_MSECOND)

typedef struct
{
  gdouble ppm;                  /* the device's real drift */
  gdouble known_ppm;            /* what the element measured (given) */
  GstClockTime first_delay;
  GstClockTime outlier;         /* every 97th block */
  guint lose_at;                /* a loss of BLOCK samples before it, 0: none */
} Run;

/* Streams @seconds; returns the largest |end error| (stamped end - real
 * end - least delay) from @settle_s on. */
static GstClockTimeDiff
stream (const Run * run, gint seconds, gint settle_s)
{
  GstIioFollow f;
  GRand *rand = g_rand_new_with_seed (11);
  guint n = seconds * RATE / BLOCK, i;
  guint64 offset = 0;
  GstClockTime last_end = GST_CLOCK_TIME_NONE, pts, duration;
  GstClockTimeDiff worst = 0;

  gst_iio_follow_reset (&f, RATE);
  for (i = 0; i < n; i++) {
    gboolean jumped;
    guint64 end;
    GstClockTime real_end, observed, delay;
    GstClockTimeDiff err;

    if (run->lose_at && i == run->lose_at)
      offset += BLOCK;
    end = offset + BLOCK;
    real_end = 300 * MS + (GstClockTime) (gst_util_uint64_scale (end,
            GST_SECOND, RATE) / (1.0 + run->ppm / 1e6));
    delay = g_rand_int_range (rand, 200, 3000) * GST_USECOND;
    if (i == 0)
      delay += run->first_delay;
    else if (i % 97 == 0)
      delay += run->outlier;
    observed = real_end + delay;

    jumped = gst_iio_follow_block (&f, offset, BLOCK, observed,
        run->known_ppm, &pts, &duration);
    g_assert_false (jumped);
    /* contiguous, forward, never less than 95 % of a block (75 % in
     * the first two seconds) */
    if (GST_CLOCK_TIME_IS_VALID (last_end) && !(run->lose_at &&
            i == run->lose_at))
      g_assert_cmpuint (pts, ==, last_end);
    if (i * BLOCK < 2 * RATE) {
      g_assert_cmpuint (duration, >=, 15 * MS);
      g_assert_cmpuint (duration, <=, 25 * MS);
    } else {
      g_assert_cmpuint (duration, >=, 19 * MS);
      g_assert_cmpuint (duration, <=, 21 * MS);
    }
    last_end = pts + duration;

    /* the envelope is the real end + the least delay (0.2 ms) */
    err = GST_CLOCK_DIFF (real_end + 200 * GST_USECOND, last_end);
    if (i * BLOCK >= (guint) settle_s * RATE)
      worst = MAX (worst, ABS (err));
    offset = end;
  }
  g_rand_free (rand);

  return worst;
}

/* Drift known: ends within 1 ms of the envelope after a second. */
static void
test_drift_known (void)
{
  Run run = { 2000, 2000, 0, 40 * MS, 0 };

  g_assert_cmpint (stream (&run, 20, 1), <, 1 * MS);
}

/* Drift not yet measured: the phase loop alone holds the line within a
 * few ms (2000 ppm is 40 us a block). */
static void
test_drift_unknown (void)
{
  Run run = { 2000, 0, 0, 40 * MS, 0 };

  g_assert_cmpint (stream (&run, 20, 2), <, 3 * MS);
}

/* A first block 300 ms late (fileio's first kernel block in the test
 * bed): the line starts late, must not go back, and settles within 3 s. */
static void
test_late_first_block (void)
{
  Run run = { -2000, -2000, 300 * MS, 0, 0 };

  g_assert_cmpint (stream (&run, 20, 3), <, 1 * MS);
}

/* Lost samples: the line steps over them and stays on the envelope. */
static void
test_loss (void)
{
  Run run = { 0, 0, 0, 0, 300 };

  g_assert_cmpint (stream (&run, 20, 1), <, 1 * MS);
}

/* An estimate far off (a drift fit still settling says +50 %): the
 * follower bounds it to GST_IIO_FOLLOW_MAX_PPM, so blocks keep their
 * length (stream() checks every duration) and the phase loop holds the
 * line within a block of the envelope (1 % too fast a pace against a
 * 1 s time constant: about 15 ms). */
static void
test_wild_ppm (void)
{
  Run run = { 0, 500000, 0, 0, 0 };

  g_assert_cmpint (stream (&run, 20, 3), <, 20 * MS);
}

/* A clock jump beyond the resync bound: one DISCONT, back on the clock. */
static void
test_clock_jump (void)
{
  GstIioFollow f;
  GstClockTime pts, duration;
  guint64 i;

  gst_iio_follow_reset (&f, RATE);
  for (i = 0; i < 10; i++)
    g_assert_false (gst_iio_follow_block (&f, i * BLOCK, BLOCK,
            (i + 1) * 20 * MS, 0, &pts, &duration));
  g_assert_true (gst_iio_follow_block (&f, 10 * BLOCK, BLOCK,
          (11 * 20 + 5000) * MS, 0, &pts, &duration));
  g_assert_cmpuint (pts, ==, (10 * 20 + 5000) * MS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/iiofollow/drift-known", test_drift_known);
  g_test_add_func ("/iiofollow/drift-unknown", test_drift_unknown);
  g_test_add_func ("/iiofollow/late-first-block", test_late_first_block);
  g_test_add_func ("/iiofollow/loss", test_loss);
  g_test_add_func ("/iiofollow/wild-ppm", test_wild_ppm);
  g_test_add_func ("/iiofollow/clock-jump", test_clock_jump);

  return g_test_run ();
}
