/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstiiodrift.c on synthetic observations: a device some ppm off its
 * nominal rate, seen late by a random, always positive delay (and now and
 * then by a long one, a descheduled machine). The estimate and the line
 * must come out within what the delays allow. */
#include <glib.h>
#include "gstiiodrift.h"

#define MS (G_GINT64_CONSTANT (1000000))
#define BLOCK_NS (10 * MS)

/* Feeds @seconds of blocks of a device @ppm fast, observed with a delay
 * of 0.2..3 ms, and 100 ms every 97th block. */
static void
feed (GstIioDrift * d, gdouble ppm, gint seconds, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  gint64 n_blocks = seconds * G_GINT64_CONSTANT (1000000000) / BLOCK_NS, i;

  for (i = 1; i <= n_blocks; i++) {
    gint64 device = i * BLOCK_NS;
    /* the reference time at which the device reached @device */
    gint64 real = (gint64) (device / (1.0 + ppm / 1e6)) + 500 * MS;
    gint64 delay = g_rand_int_range (rand, 200000, 3000000);

    if (i % 97 == 0)
      delay += 100 * MS;
    gst_iio_drift_add (d, device, real + delay);
  }
  g_rand_free (rand);
}

static void
check_ppm (gdouble ppm)
{
  GstIioDrift d;
  gdouble got;
  gint64 mapped, device = 20 * 1000 * MS;

  gst_iio_drift_reset (&d);
  feed (&d, ppm, 20, 7);
  g_assert_true (gst_iio_drift_get_ppm (&d, &got));
  g_assert_cmpfloat_with_epsilon (got, ppm, 50.0);
  /* the line is the envelope: near the least delayed observation */
  g_assert_true (gst_iio_drift_map (&d, device, &mapped));
  g_assert_cmpint (mapped, >=, (gint64) (device / (1.0 + ppm / 1e6)) +
      500 * MS - 1 * MS);
  g_assert_cmpint (mapped, <=, (gint64) (device / (1.0 + ppm / 1e6)) +
      500 * MS + 2 * MS);
}

static void
test_fast (void)
{
  check_ppm (2000);
}

static void
test_slow (void)
{
  check_ppm (-2000);
}

static void
test_exact (void)
{
  check_ppm (0);
}

static void
test_crystal (void)
{
  check_ppm (100);
}

/* Not before two seconds: a shorter span says nothing about ppm. */
/* 100 ms blocks in windows of four, the first block seen 126 ms late (a
 * slow enable, as fileio in the test bed), 16 s: the late window must not
 * tilt the line. */
static void
test_late_start (void)
{
  GRand *rand = g_rand_new_with_seed (3);
  GstIioDrift d;
  gdouble got;
  gint64 i;

  gst_iio_drift_reset_window (&d, 400 * MS);
  for (i = 1; i <= 160; i++) {
    gint64 device = i * 100 * MS;
    gint64 real = (gint64) (device / (1.0 + 2000 / 1e6));
    gint64 delay = g_rand_int_range (rand, 200000, 3000000);

    gst_iio_drift_add (&d, device, real + delay + (i == 1 ? 126 * MS : 0));
  }
  g_rand_free (rand);
  g_assert_true (gst_iio_drift_get_ppm (&d, &got));
  g_assert_cmpfloat_with_epsilon (got, 2000, 50.0);
}

static void
test_too_short (void)
{
  GstIioDrift d;
  gdouble got;
  gint64 mapped;

  gst_iio_drift_reset (&d);
  g_assert_false (gst_iio_drift_map (&d, 0, &mapped));
  feed (&d, 2000, 1, 3);
  g_assert_false (gst_iio_drift_get_ppm (&d, &got));
  /* but the nominal line is there, on the envelope */
  g_assert_true (gst_iio_drift_map (&d, 1000 * MS, &mapped));
  g_assert_cmpint (mapped, >=, 1000 * MS + 500 * MS - 3 * MS);
  g_assert_cmpint (mapped, <=, 1000 * MS + 500 * MS + 2 * MS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/drift/fast", test_fast);
  g_test_add_func ("/drift/slow", test_slow);
  g_test_add_func ("/drift/exact", test_exact);
  g_test_add_func ("/drift/crystal", test_crystal);
  g_test_add_func ("/drift/late-start", test_late_start);
  g_test_add_func ("/drift/too-short", test_too_short);

  return g_test_run ();
}
