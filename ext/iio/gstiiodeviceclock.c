/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiiodeviceclock.h"

GST_DEBUG_CATEGORY_STATIC (gst_iio_device_clock_debug);

/* The lines the clock follows: within 50 % of the nominal rate. */
#define GST_IIO_DEVICE_CLOCK_MIN_SLOPE (1 / 1.5)
#define GST_IIO_DEVICE_CLOCK_MAX_SLOPE 1.5
#define GST_CAT_DEFAULT gst_iio_device_clock_debug

struct _GstIioDeviceClock
{
  GstSystemClock parent;

  /* Read from any thread (get_internal_time), written by the element's
   * streaming and state threads. Leaf lock. */
  GMutex lock;
  GstClockTime last;            /* the time last returned: never less */
  guint rate;                   /* 0: no stream */
  GstClockTime origin;          /* internal time of sample 0 */
  gboolean have_line;
  gint64 line_sample0_ns;
  gdouble line_slope;
  gboolean positioned;          /* a position since start */
  guint64 samples;              /* the last position */
  gint64 position_us;           /* ... seen at this monotonic time */
};

G_DEFINE_TYPE_WITH_CODE (GstIioDeviceClock, gst_iio_device_clock,
    GST_TYPE_SYSTEM_CLOCK, GST_DEBUG_CATEGORY_INIT (gst_iio_device_clock_debug,
        "iiodeviceclock", 0, "IIO device clock"));

static GstClockTime
samples_to_time (guint64 samples, guint rate)
{
  return gst_util_uint64_scale (samples, GST_SECOND, rate);
}

static GstClockTime
gst_iio_device_clock_get_internal_time (GstClock * clock)
{
  GstIioDeviceClock *self = GST_IIO_DEVICE_CLOCK (clock);
  GstClockTime t, at, ahead;
  gint64 now_us;

  g_mutex_lock (&self->lock);
  if (self->rate && self->positioned) {
    now_us = g_get_monotonic_time ();
    at = samples_to_time (self->samples, self->rate);
    if (self->have_line) {
      gdouble line = (now_us * 1000.0 - self->line_sample0_ns) /
          self->line_slope;

      ahead = line > at ? (GstClockTime) (line - at) : 0;
    } else {
      ahead = (GstClockTime) MAX (0, now_us - self->position_us) * GST_USECOND;
    }
    t = self->origin + at + ahead;
    if (t > self->last)
      self->last = t;
  }
  t = self->last;
  g_mutex_unlock (&self->lock);

  return t;
}

void
gst_iio_device_clock_start (GstIioDeviceClock * self, guint rate)
{
  g_return_if_fail (rate > 0);

  g_mutex_lock (&self->lock);
  self->rate = rate;
  self->origin = self->last;
  self->have_line = FALSE;
  self->positioned = FALSE;
  self->samples = 0;
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "stream at %u Hz from %" GST_TIME_FORMAT, rate,
      GST_TIME_ARGS (self->origin));
}

void
gst_iio_device_clock_set_position (GstIioDeviceClock * self, guint64 samples,
    gint64 monotonic_us)
{
  g_mutex_lock (&self->lock);
  self->positioned = TRUE;
  self->samples = samples;
  self->position_us = monotonic_us;
  g_mutex_unlock (&self->lock);
}

void
gst_iio_device_clock_set_line (GstIioDeviceClock * self, gint64 sample0_ns,
    gdouble slope)
{
  g_return_if_fail (slope > 0);

  g_mutex_lock (&self->lock);
  self->have_line = TRUE;
  self->line_sample0_ns = sample0_ns;
  self->line_slope = slope;
  g_mutex_unlock (&self->lock);
}

gboolean
gst_iio_device_clock_observe (GstIioDeviceClock * self, GstIioDrift * drift,
    gint64 device_ns, gint64 observed_ns, gboolean monotonic, gdouble * ppm)
{
  gint64 sample0_ns;

  if (!gst_iio_drift_add (drift, device_ns, observed_ns))
    return FALSE;
  /* A line far from the nominal rate is not a crystal's: a device that
   * is not paced (sampling_frequency 0), or a wrong rate. The clock then
   * interpolates from the last position at the nominal rate. */
  if (monotonic && drift->slope > GST_IIO_DEVICE_CLOCK_MIN_SLOPE &&
      drift->slope < GST_IIO_DEVICE_CLOCK_MAX_SLOPE &&
      gst_iio_drift_map (drift, 0, &sample0_ns))
    gst_iio_device_clock_set_line (self, sample0_ns, drift->slope);

  return gst_iio_drift_get_ppm (drift, ppm);
}

void
gst_iio_device_clock_post_provide (GstIioDeviceClock * self,
    GstElement * element, gboolean provide)
{
  gst_element_post_message (element,
      gst_message_new_clock_provide (GST_OBJECT (element), GST_CLOCK (self),
          provide));
  if (!provide)
    gst_element_post_message (element,
        gst_message_new_clock_lost (GST_OBJECT (element), GST_CLOCK (self)));
}

void
gst_iio_device_clock_stop (GstIioDeviceClock * self)
{
  /* Take the interpolated time up to now first: it stays. */
  gst_iio_device_clock_get_internal_time (GST_CLOCK (self));
  g_mutex_lock (&self->lock);
  self->rate = 0;
  g_mutex_unlock (&self->lock);
}

GstClockTime
gst_iio_device_clock_sample_time (GstIioDeviceClock * self, guint64 samples)
{
  GstClockTime t = GST_CLOCK_TIME_NONE;

  g_mutex_lock (&self->lock);
  if (self->rate)
    t = self->origin + samples_to_time (samples, self->rate);
  g_mutex_unlock (&self->lock);

  return t;
}

GstClock *
gst_iio_device_clock_new (const gchar * name)
{
  GstClock *clock = g_object_new (GST_TYPE_IIO_DEVICE_CLOCK, "name", name,
      NULL);

  /* Floating like every GstObject: the element owns it. */
  return gst_object_ref_sink (clock);
}

static void
gst_iio_device_clock_finalize (GObject * object)
{
  g_mutex_clear (&GST_IIO_DEVICE_CLOCK (object)->lock);

  G_OBJECT_CLASS (gst_iio_device_clock_parent_class)->finalize (object);
}

static void
gst_iio_device_clock_class_init (GstIioDeviceClockClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstClockClass *clock_class = GST_CLOCK_CLASS (klass);

  gobject_class->finalize = gst_iio_device_clock_finalize;
  clock_class->get_internal_time =
      GST_DEBUG_FUNCPTR (gst_iio_device_clock_get_internal_time);
}

static void
gst_iio_device_clock_init (GstIioDeviceClock * self)
{
  g_mutex_init (&self->lock);
  GST_OBJECT_FLAG_SET (self, GST_CLOCK_FLAG_CAN_SET_MASTER);
}
