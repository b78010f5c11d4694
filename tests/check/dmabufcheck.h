/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the gst/dmabuf host tests share: memfd-backed stand-ins for
 * DMABUFs (GstDmaBufAllocator maps them like any fd), the count of the
 * process's open fds, a device that counts attaches and detaches and
 * checks they pair up, and threads joined within a bound. No kernel
 * device, no libiio. */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memfd_create */
#endif

#include <gst/check/gstcheck.h>
#include <gst/allocators/allocators.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gstdmabufblockallocator.h"

/* ---- fds ---- */

static inline gint
check_memfd (gsize size)
{
  gint fd = memfd_create ("dmabuf-check", MFD_CLOEXEC);

  fail_unless (fd >= 0, "memfd_create: %s", g_strerror (errno));
  fail_unless (ftruncate (fd, (off_t) size) == 0, "ftruncate: %s",
      g_strerror (errno));
  return fd;
}

static inline guint64
check_ino (gint fd)
{
  struct stat st;

  fail_unless (fstat (fd, &st) == 0, "fstat %d: %s", fd, g_strerror (errno));
  return (guint64) st.st_ino;
}

/* The fds open in this process right now: what a leak changes. */
static inline guint
check_count_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *e;
  guint n = 0;

  fail_unless (dir != NULL, "/proc/self/fd: %s", g_strerror (errno));
  while ((e = readdir (dir)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir (dir);
  /* not the directory's own fd */
  return n - 1;
}

/* ---- a device that counts ---- */

#define CHECK_MAX_FD 4096

/* The target of check_attacher: what is attached right now, by fd, and
 * the first breach of the attach/detach contract seen (recorded, not
 * asserted: the callbacks may run in any thread and under the code's
 * locks; the test thread asserts it). */
typedef struct
{
  GMutex lock;
  guint64 ino_of_fd[CHECK_MAX_FD];      /* 0: not attached */
  guint n_attach;
  guint n_detach;
  guint n_attach_failed;
  gint last_attach_fd;
  gint last_detach_fd;
  GThread *detach_thread;
  GError *fail_with;            /* the next attaches fail with a copy */
  gchar *problem;
} CheckDevice;

static inline void
check_device_init (CheckDevice * d)
{
  memset (d, 0, sizeof (*d));
  g_mutex_init (&d->lock);
  d->last_attach_fd = d->last_detach_fd = -1;
}

static inline void
check_device_problem (CheckDevice * d, gchar * problem)
{
  if (d->problem == NULL)
    d->problem = problem;
  else
    g_free (problem);
}

/* Every attach so far was detached exactly once, and nothing else was. */
static inline void
check_device_assert_sane (CheckDevice * d)
{
  g_mutex_lock (&d->lock);
  fail_unless (d->problem == NULL, "%s", d->problem);
  g_mutex_unlock (&d->lock);
}

static inline guint
check_device_n_attached (CheckDevice * d)
{
  guint n;

  g_mutex_lock (&d->lock);
  n = d->n_attach - d->n_detach;
  g_mutex_unlock (&d->lock);
  return n;
}

static inline void
check_device_clear (CheckDevice * d)
{
  check_device_assert_sane (d);
  fail_unless_equals_int (check_device_n_attached (d), 0);
  g_clear_error (&d->fail_with);
  g_mutex_clear (&d->lock);
}

static inline gboolean
check_attach (gpointer target, gint fd, GError ** error)
{
  CheckDevice *d = target;
  struct stat st;
  gboolean ok = FALSE;

  g_mutex_lock (&d->lock);
  if (d->fail_with) {
    d->n_attach_failed++;
    g_propagate_error (error, g_error_copy (d->fail_with));
  } else if (fd < 0 || fd >= CHECK_MAX_FD || fstat (fd, &st) != 0) {
    check_device_problem (d, g_strdup_printf ("attach of fd %d, not an "
            "open fd", fd));
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "bad fd %d", fd);
  } else {
    /* the kernel refuses a second ATTACH of one DMABUF to one device */
    for (guint i = 0; i < CHECK_MAX_FD; i++)
      if (d->ino_of_fd[i] == (guint64) st.st_ino)
        check_device_problem (d, g_strdup_printf ("DMABUF of inode %"
                G_GUINT64_FORMAT " attached twice (fds %u and %d)",
                (guint64) st.st_ino, i, fd));
    if (d->ino_of_fd[fd] != 0)
      check_device_problem (d, g_strdup_printf ("fd %d attached twice", fd));
    d->ino_of_fd[fd] = st.st_ino;
    d->n_attach++;
    d->last_attach_fd = fd;
    ok = TRUE;
  }
  g_mutex_unlock (&d->lock);
  return ok;
}

static inline void
check_detach (gpointer target, gint fd)
{
  CheckDevice *d = target;
  struct stat st;

  g_mutex_lock (&d->lock);
  if (fd < 0 || fd >= CHECK_MAX_FD || d->ino_of_fd[fd] == 0)
    check_device_problem (d, g_strdup_printf ("detach of fd %d, which is "
            "not attached", fd));
  else if (fstat (fd, &st) != 0 || (guint64) st.st_ino != d->ino_of_fd[fd])
    check_device_problem (d, g_strdup_printf ("detach of fd %d after it "
            "was closed or reused", fd));
  if (fd >= 0 && fd < CHECK_MAX_FD)
    d->ino_of_fd[fd] = 0;
  d->n_detach++;
  d->last_detach_fd = fd;
  d->detach_thread = g_thread_self ();
  g_mutex_unlock (&d->lock);
}

static const GstDmabufAttacher check_attacher = { check_attach, check_detach };

/* ---- threads joined within a bound ---- */

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean done;
  GThreadFunc func;
  gpointer data;
  gpointer result;
  GThread *thread;
} CheckThread;

static inline gpointer
check_thread_main (gpointer data)
{
  CheckThread *t = data;
  gpointer result = t->func (t->data);

  g_mutex_lock (&t->lock);
  t->result = result;
  t->done = TRUE;
  g_cond_broadcast (&t->cond);
  g_mutex_unlock (&t->lock);
  return NULL;
}

static inline CheckThread *
check_thread_new (const gchar * name, GThreadFunc func, gpointer data)
{
  CheckThread *t = g_new0 (CheckThread, 1);

  g_mutex_init (&t->lock);
  g_cond_init (&t->cond);
  t->func = func;
  t->data = data;
  t->thread = g_thread_new (name, check_thread_main, t);
  return t;
}

/* Joins @t if it ends within @ms, and returns what its function returned;
 * fails the test otherwise (check's fork mode then ends the process, the
 * thread with it). */
static inline gpointer
check_thread_join_within (CheckThread * t, gint ms)
{
  gint64 deadline = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;
  gpointer result;
  gboolean done;

  g_mutex_lock (&t->lock);
  while (!t->done)
    if (!g_cond_wait_until (&t->cond, &t->lock, deadline))
      break;
  done = t->done;
  g_mutex_unlock (&t->lock);
  fail_unless (done, "thread %p still running after %d ms", t->thread, ms);

  g_thread_join (t->thread);
  result = t->result;
  g_mutex_clear (&t->lock);
  g_cond_clear (&t->cond);
  g_free (t);
  return result;
}

/* A byte pattern that differs per @seed and per position, to tell blocks
 * and offsets apart. */
static inline guint8
check_pattern_byte (gsize i, guint seed)
{
  return (guint8) (i * 13 + seed * 101 + (i >> 9));
}

/* Writes the pattern @seed over the whole of @mem. */
static inline void
check_fill_pattern (GstMemory * mem, guint seed)
{
  GstMapInfo map;

  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  for (gsize i = 0; i < map.size; i++)
    map.data[i] = check_pattern_byte (i, seed);
  gst_memory_unmap (mem, &map);
}
