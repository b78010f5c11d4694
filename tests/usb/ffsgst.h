/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the tests/usb programs that run pipelines share: launching, playing
 * to EOS or an error (bounded), NULL within 10 s (a wait unlock cannot
 * break fails here, not in the test bed's bound), the error's text, and
 * an element's stats. Include after ffscheck.h. */
#pragma once

#include <gst/gst.h>
#include <pthread.h>

typedef struct
{
  GstElement *pipeline;
  GstStateChangeReturn ret;
  gboolean done;
  GMutex lock;
  GCond cond;
} StateJob;

static inline void *
state_run (void *data)
{
  StateJob *j = data;
  GstStateChangeReturn ret = gst_element_set_state (j->pipeline,
      GST_STATE_NULL);

  g_mutex_lock (&j->lock);
  j->ret = ret;
  j->done = TRUE;
  g_cond_signal (&j->cond);
  g_mutex_unlock (&j->lock);
  return NULL;
}

/* NULL within 10 s, or fail: a wait that unlock cannot break hangs here. */
static inline void
to_null_bounded (GstElement * pipeline, const char *what)
{
  StateJob j = {.pipeline = pipeline };
  gint64 end = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  pthread_t t;

  g_mutex_init (&j.lock);
  g_cond_init (&j.cond);
  CHECK (pthread_create (&t, NULL, state_run, &j) == 0, "pthread_create");
  g_mutex_lock (&j.lock);
  while (!j.done)
    if (!g_cond_wait_until (&j.cond, &j.lock, end))
      break;
  g_mutex_unlock (&j.lock);
  CHECK (j.done, "%s: the pipeline did not reach NULL within 10 s", what);
  pthread_join (t, NULL);
  CHECK (j.ret == GST_STATE_CHANGE_SUCCESS, "%s: NULL returned %d", what,
      j.ret);
  g_mutex_clear (&j.lock);
  g_cond_clear (&j.cond);
}

static inline GstElement *
launch (const char *desc)
{
  GError *error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);

  CHECK (p != NULL && error == NULL, "gst_parse_launch '%s': %s", desc,
      error ? error->message : "?");
  return p;
}

/* Plays to EOS or an error (within 120 s); the message, for the caller. */
static inline GstMessage *
play (GstElement * p)
{
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m;

  CHECK (gst_element_set_state (p, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE, "PLAYING failed");
  m = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  CHECK (m != NULL, "neither EOS nor an error within 120 s");
  return m;
}

static inline void
expect_eos (GstMessage * m, const char *what)
{
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    GError *e = NULL;
    gchar *dbg = NULL;

    gst_message_parse_error (m, &e, &dbg);
    fail (__LINE__, "%s: error from %s: %s (%s)", what,
        GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), e->message, dbg);
  }
  gst_message_unref (m);
}

static inline guint64
stat_u64 (GstElement * p, const char *element, const char *field)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (p), element);
  GstStructure *s = NULL;
  guint64 v = 0;

  CHECK (e != NULL, "no element %s", element);
  g_object_get (e, "stats", &s, NULL);
  CHECK (s != NULL, "%s has no stats", element);
  if (!gst_structure_get_uint64 (s, field, &v)) {
    guint u = 0;

    CHECK (gst_structure_get_uint (s, field, &u), "%s stats have no %s: %s",
        element, field, gst_structure_to_string (s));
    v = u;
  }
  gst_structure_free (s);
  gst_object_unref (e);
  return v;
}

/* The error a pipeline ended with (from @element, its message containing
 * every one of @needles, NULL-terminated), or fail; the message, to free. */
static inline gchar *
expect_error (GstMessage * m, const char *what, const char *element, ...)
{
  GError *e = NULL;
  gchar *dbg = NULL, *msg;
  const char *needle;
  va_list ap;

  CHECK (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR, "%s: EOS, not an error",
      what);
  gst_message_parse_error (m, &e, &dbg);
  CHECK (strcmp (GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), element) == 0,
      "%s: the error came from %s: %s", what,
      GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), e->message);
  va_start (ap, element);
  while ((needle = va_arg (ap, const char *)) != NULL)
    CHECK (strstr (e->message, needle) != NULL, "%s: error '%s' (%s) does "
        "not say '%s'", what, e->message, dbg, needle);
  va_end (ap);
  msg = g_strdup (e->message);
  g_error_free (e);
  g_free (dbg);
  gst_message_unref (m);
  return msg;
}
