/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstDmabufImportCache (gst/dmabuf) on the host, with memfd-backed
 * DMABUFs and a counting attacher (suite 'host', under ASan and UBSan in
 * CI): one attach per DMABUF however many memories wrap it (dup'd fds,
 * shares), one per cache behind a tee, the detach when the last memory
 * goes, clear(), a failed attach, another owner's recycled blocks,
 * memories freed in other threads, and imports, frees and clears
 * racing. */
#include "dmabufcheck.h"
#include "gstdmabufimportcache.h"

#define SIZE 8192
#define N_THREADED 16
#define N_STRESS 300

static GstMemory *
wrap_fd (GstAllocator * alloc, gint fd)
{
  GstMemory *mem = gst_dmabuf_allocator_alloc (alloc, fd, SIZE);

  fail_unless (mem != NULL);
  return mem;
}

static GstMemory *
new_dmabuf (GstAllocator * alloc)
{
  return wrap_fd (alloc, check_memfd (SIZE));
}

/* Every import, first or repeated, says which DMABUF it is. */
static void
import (GstDmabufImportCache * cache, GstMemory * mem)
{
  GError *err = NULL;
  guint64 ino = 0;

  fail_unless (gst_dmabuf_import_cache_import (cache, mem, &ino, &err), "%s",
      err ? err->message : "");
  fail_unless (err == NULL);
  fail_unless_equals_uint64 (ino,
      gst_dmabuf_get_ino (gst_dmabuf_memory_get_fd (mem)));
}

static void
check_attached (GstDmabufImportCache * cache, CheckDevice * d, guint n_attach,
    guint n_detach)
{
  check_device_assert_sane (d);
  g_mutex_lock (&d->lock);
  fail_unless_equals_int (d->n_attach, n_attach);
  fail_unless_equals_int (d->n_detach, n_detach);
  g_mutex_unlock (&d->lock);
  if (cache)
    fail_unless_equals_int (gst_dmabuf_import_cache_get_n_attached (cache),
        n_attach - n_detach);
}

/* The identity: one inode per DMABUF, shared by its dups. */
GST_START_TEST (test_ino)
{
  gint fd = check_memfd (SIZE), copy = dup (fd), other = check_memfd (SIZE);

  fail_unless (copy >= 0);
  fail_unless (gst_dmabuf_get_ino (fd) != 0);
  fail_unless_equals_uint64 (gst_dmabuf_get_ino (fd), check_ino (fd));
  fail_unless_equals_uint64 (gst_dmabuf_get_ino (copy), check_ino (fd));
  fail_if (gst_dmabuf_get_ino (other) == gst_dmabuf_get_ino (fd));
  fail_unless_equals_uint64 (gst_dmabuf_get_ino (-1), 0);
  close (fd);
  close (copy);
  close (other);
}

GST_END_TEST;

/* Two exporters' wrappers of one DMABUF (each its own fd): one attach,
 * of a dup of neither fd; detached when the second wrapper goes. */
GST_START_TEST (test_two_wrappers)
{
  GstAllocator *alloc = gst_dmabuf_allocator_new ();
  guint fds0 = check_count_fds ();
  GstDmabufImportCache *cache;
  GstMemory *m1, *m2;
  gint fd1, fd2, attached_fd;
  CheckDevice d;

  check_device_init (&d);
  cache = gst_dmabuf_import_cache_new (&check_attacher, &d);
  fd1 = check_memfd (SIZE);
  fd2 = dup (fd1);
  fail_unless (fd2 >= 0);
  m1 = wrap_fd (alloc, fd1);
  m2 = wrap_fd (alloc, fd2);

  import (cache, m1);
  check_attached (cache, &d, 1, 0);
  attached_fd = d.last_attach_fd;
  fail_if (attached_fd == fd1 || attached_fd == fd2, "the memory's own fd "
      "%d was attached, not a dup", attached_fd);
  fail_unless_equals_uint64 (d.ino_of_fd[attached_fd], check_ino (fd1));

  import (cache, m2);
  import (cache, m1);
  check_attached (cache, &d, 1, 0);

  gst_memory_unref (m1);
  check_attached (cache, &d, 1, 0);
  gst_memory_unref (m2);
  check_attached (cache, &d, 1, 1);
  fail_unless_equals_int (d.last_detach_fd, attached_fd);
  fail_unless_equals_int (check_count_fds (), fds0);

  gst_object_unref (cache);
  gst_object_unref (alloc);
  check_device_clear (&d);
}

GST_END_TEST;

/* Shares are their root's DMABUF: no new attach; the attachment lasts as
 * long as any of them. */
GST_START_TEST (test_share)
{
  GstAllocator *alloc = gst_dmabuf_allocator_new ();
  guint fds0 = check_count_fds ();
  GstDmabufImportCache *cache;
  GstMemory *mem, *share, *sub;
  CheckDevice d;

  check_device_init (&d);
  cache = gst_dmabuf_import_cache_new (&check_attacher, &d);
  mem = new_dmabuf (alloc);
  share = gst_memory_share (mem, 0, 100);
  sub = gst_memory_share (share, 10, 10);

  import (cache, share);
  check_attached (cache, &d, 1, 0);
  import (cache, mem);
  import (cache, sub);
  check_attached (cache, &d, 1, 0);

  gst_memory_unref (mem);
  gst_memory_unref (share);
  check_attached (cache, &d, 1, 0);
  gst_memory_unref (sub);
  check_attached (cache, &d, 1, 1);
  fail_unless_equals_int (check_count_fds (), fds0);

  gst_object_unref (cache);
  gst_object_unref (alloc);
  check_device_clear (&d);
}

GST_END_TEST;

/* Two caches (two sinks behind a tee): each attaches once to its own
 * device, and each is detached when the last memory goes. */
GST_START_TEST (test_tee)
{
  GstAllocator *alloc = gst_dmabuf_allocator_new ();
  guint fds0 = check_count_fds ();
  GstDmabufImportCache *c1, *c2;
  GstMemory *mem, *share;
  CheckDevice d1, d2;

  check_device_init (&d1);
  check_device_init (&d2);
  c1 = gst_dmabuf_import_cache_new (&check_attacher, &d1);
  c2 = gst_dmabuf_import_cache_new (&check_attacher, &d2);
  mem = new_dmabuf (alloc);
  share = gst_memory_share (mem, 100, 200);

  import (c1, mem);
  import (c2, share);
  check_attached (c1, &d1, 1, 0);
  check_attached (c2, &d2, 1, 0);
  import (c1, share);
  import (c2, mem);
  check_attached (c1, &d1, 1, 0);
  check_attached (c2, &d2, 1, 0);

  gst_memory_unref (mem);
  check_attached (c1, &d1, 1, 0);
  check_attached (c2, &d2, 1, 0);
  gst_memory_unref (share);
  check_attached (c1, &d1, 1, 1);
  check_attached (c2, &d2, 1, 1);
  fail_unless_equals_int (check_count_fds (), fds0);

  gst_object_unref (c1);
  gst_object_unref (c2);
  gst_object_unref (alloc);
  check_device_clear (&d1);
  check_device_clear (&d2);
}

GST_END_TEST;

/* clear() detaches everything; a memory freed after it detaches nothing;
 * one still alive is attached again by its next import; the cache may go
 * before memories it linked. */
GST_START_TEST (test_clear)
{
  GstAllocator *alloc = gst_dmabuf_allocator_new ();
  guint fds0 = check_count_fds ();
  GstDmabufImportCache *cache;
  GstMemory *m[4];
  CheckDevice d;

  check_device_init (&d);
  cache = gst_dmabuf_import_cache_new (&check_attacher, &d);
  for (guint i = 0; i < 3; i++) {
    m[i] = new_dmabuf (alloc);
    import (cache, m[i]);
  }
  check_attached (cache, &d, 3, 0);

  gst_dmabuf_import_cache_clear (cache);
  check_attached (cache, &d, 3, 3);
  /* the dups are closed with their attachments */
  fail_unless_equals_int (check_count_fds (), fds0 + 3);

  import (cache, m[0]);
  check_attached (cache, &d, 4, 3);
  gst_memory_unref (m[1]);
  gst_memory_unref (m[2]);
  check_attached (cache, &d, 4, 3);
  gst_memory_unref (m[0]);
  check_attached (cache, &d, 4, 4);

  m[3] = new_dmabuf (alloc);
  import (cache, m[3]);
  gst_dmabuf_import_cache_clear (cache);
  gst_dmabuf_import_cache_clear (cache);
  check_attached (cache, &d, 5, 5);
  gst_object_unref (cache);
  gst_memory_unref (m[3]);
  check_attached (NULL, &d, 5, 5);
  fail_unless_equals_int (check_count_fds (), fds0);

  gst_object_unref (alloc);
  check_device_clear (&d);
}

GST_END_TEST;

/* The cache's last reference goes without a clear() while a memory it
 * linked lives (the target still does): the attachment is detached once,
 * at the unref or when the memory goes, and nothing leaks. */
GST_START_TEST (test_cache_goes_first)
{
  GstAllocator *alloc = gst_dmabuf_allocator_new ();
  guint fds0 = check_count_fds ();
  GstDmabufImportCache *cache;
  GstMemory *mem;
  CheckDevice d;

  check_device_init (&d);
  cache = gst_dmabuf_import_cache_new (&check_attacher, &d);
  mem = new_dmabuf (alloc);
  import (cache, mem);
  gst_object_unref (cache);
  gst_memory_unref (mem);
  check_attached (NULL, &d, 1, 1);
  fail_unless_equals_int (check_count_fds (), fds0);

  gst_object_unref (alloc);
  check_device_clear (&d);
}

GST_END_TEST;

/* The attacher refuses: FALSE with its error, the dup closed, nothing
 * remembered (the memory detaches nothing when it goes, and a later
 * import of it attaches). */
GST_START_TEST (test_import_failure)
{
  GstAllocator *alloc = gst_dmabuf_allocator_new ();
  guint fds0 = check_count_fds ();
  GstDmabufImportCache *cache;
  GstMemory *m1, *m2;
  GError *err = NULL;
  CheckDevice d;

  check_device_init (&d);
  cache = gst_dmabuf_import_cache_new (&check_attacher, &d);
  m1 = new_dmabuf (alloc);
  m2 = new_dmabuf (alloc);
  d.fail_with = g_error_new (GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_BUSY,
      "the test device refuses DMABUF %d", 7);

  for (guint i = 0; i < 2; i++) {
    fail_if (gst_dmabuf_import_cache_import (cache, i ? m2 : m1, NULL, &err));
    fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_BUSY), "%s", err ? err->message : "");
    fail_unless_equals_string (err->message,
        "the test device refuses DMABUF 7");
    g_clear_error (&err);
  }
  fail_unless_equals_int (d.n_attach_failed, 2);
  check_attached (cache, &d, 0, 0);
  fail_unless_equals_int (check_count_fds (), fds0 + 2);

  gst_memory_unref (m2);
  check_attached (cache, &d, 0, 0);

  g_clear_error (&d.fail_with);
  import (cache, m1);
  check_attached (cache, &d, 1, 0);
  gst_memory_unref (m1);
  check_attached (cache, &d, 1, 1);
  fail_unless_equals_int (check_count_fds (), fds0);

  gst_object_unref (cache);
  gst_object_unref (alloc);
  check_device_clear (&d);
}

GST_END_TEST;

/* iiosrc ! iiosink: the memories are another owner's recycled blocks
 * (a GstDmabufBlockAllocator's). A recycled memory is not freed, so the
 * attachment follows the block: one attach across its trips, one detach
 * when the block is really freed, after its allocator's close. */
GST_START_TEST (test_recycled_blocks)
{
  guint fds0 = check_count_fds ();
  GstDmabufBlockAllocator *blocks;
  GstDmabufImportCache *cache;
  GError *err = NULL;
  GstMemory *mem;
  CheckDevice d;

  check_device_init (&d);
  cache = gst_dmabuf_import_cache_new (&check_attacher, &d);
  blocks = gst_dmabuf_block_allocator_new (SIZE, NULL, NULL);
  fail_unless (gst_dmabuf_block_allocator_add_block (blocks,
          check_memfd (SIZE), &err), "%s", err ? err->message : "");

  for (guint i = 0; i < 5; i++) {
    mem = gst_dmabuf_block_allocator_try_acquire (blocks, i ? SIZE : 100);
    fail_unless (mem != NULL);
    import (cache, mem);
    check_attached (cache, &d, 1, 0);
    gst_memory_unref (mem);
    check_attached (cache, &d, 1, 0);
  }

  gst_dmabuf_block_allocator_close (blocks);
  check_attached (cache, &d, 1, 1);
  gst_object_unref (blocks);
  fail_unless_equals_int (check_count_fds (), fds0);

  gst_object_unref (cache);
  check_device_clear (&d);
}

GST_END_TEST;

static gpointer
free_all (gpointer data)
{
  g_ptr_array_unref (data);
  return g_thread_self ();
}

/* Memories freed in another thread (a downstream queue, another
 * element's streaming thread): the detaches happen there. */
GST_START_TEST (test_foreign_threads)
{
  GstAllocator *alloc = gst_dmabuf_allocator_new ();
  guint fds0 = check_count_fds ();
  GstDmabufImportCache *c1, *c2;
  GPtrArray *mems = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_memory_unref);
  CheckDevice d1, d2;
  GThread *freer;

  check_device_init (&d1);
  check_device_init (&d2);
  c1 = gst_dmabuf_import_cache_new (&check_attacher, &d1);
  c2 = gst_dmabuf_import_cache_new (&check_attacher, &d2);
  for (guint i = 0; i < N_THREADED; i++) {
    GstMemory *mem = new_dmabuf (alloc);

    import (c1, mem);
    if (i % 2) {
      GstMemory *share = gst_memory_share (mem, 1, 2);

      gst_memory_unref (mem);
      mem = share;
    }
    import (c2, mem);
    g_ptr_array_add (mems, mem);
  }
  check_attached (c1, &d1, N_THREADED, 0);
  check_attached (c2, &d2, N_THREADED, 0);

  freer = check_thread_join_within (check_thread_new ("freer", free_all,
          mems), 10000);
  check_attached (c1, &d1, N_THREADED, N_THREADED);
  check_attached (c2, &d2, N_THREADED, N_THREADED);
  fail_unless (d1.detach_thread == freer && d2.detach_thread == freer,
      "detached in %p and %p, not in the freeing thread %p",
      d1.detach_thread, d2.detach_thread, freer);
  fail_unless_equals_int (check_count_fds (), fds0);

  gst_object_unref (c1);
  gst_object_unref (c2);
  gst_object_unref (alloc);
  check_device_clear (&d1);
  check_device_clear (&d2);
}

GST_END_TEST;

/* One thread imports into two caches, another frees the memories, the
 * test thread clears the first cache meanwhile: every attach is detached
 * exactly once, with its own fd, and nothing leaks. */
typedef struct
{
  GstAllocator *alloc;
  GstDmabufImportCache *c1, *c2;
  GAsyncQueue *queue;
  gint done;
  gchar *problem;
} Stress;

static gint stress_end;

static gpointer
stress_importer (gpointer data)
{
  Stress *s = data;
  GError *err = NULL;

  for (guint i = 0; i < N_STRESS && !s->problem; i++) {
    GstMemory *mem = new_dmabuf (s->alloc);

    if (!gst_dmabuf_import_cache_import (s->c1, mem, NULL, &err) ||
        !gst_dmabuf_import_cache_import (s->c2, mem, NULL, &err)) {
      s->problem = g_strdup_printf ("import %u: %s", i, err->message);
      g_clear_error (&err);
    }
    if (i % 2) {
      GstMemory *share = gst_memory_share (mem, 0, 1);

      gst_memory_unref (mem);
      mem = share;
    }
    g_async_queue_push (s->queue, mem);
  }
  g_async_queue_push (s->queue, &stress_end);
  g_atomic_int_set (&s->done, 1);
  return NULL;
}

static gpointer
stress_freer (gpointer data)
{
  Stress *s = data;
  gpointer mem;

  while ((mem = g_async_queue_timeout_pop (s->queue,
              10 * G_TIME_SPAN_SECOND)) != &stress_end) {
    if (mem == NULL)
      return (gpointer) "no memory came for 10 s";
    gst_memory_unref (mem);
  }
  return NULL;
}

GST_START_TEST (test_stress)
{
  guint fds0 = check_count_fds ();
  CheckThread *importer, *freer;
  CheckDevice d1, d2;
  const gchar *freer_problem;
  Stress s = { NULL, };

  check_device_init (&d1);
  check_device_init (&d2);
  s.alloc = gst_dmabuf_allocator_new ();
  s.c1 = gst_dmabuf_import_cache_new (&check_attacher, &d1);
  s.c2 = gst_dmabuf_import_cache_new (&check_attacher, &d2);
  s.queue = g_async_queue_new ();

  importer = check_thread_new ("importer", stress_importer, &s);
  freer = check_thread_new ("freer", stress_freer, &s);
  while (!g_atomic_int_get (&s.done)) {
    gst_dmabuf_import_cache_clear (s.c1);
    g_usleep (1000);
  }
  check_thread_join_within (importer, 60000);
  freer_problem = check_thread_join_within (freer, 60000);
  fail_unless (s.problem == NULL, "%s", s.problem);
  fail_unless (freer_problem == NULL, "%s", freer_problem);

  check_device_assert_sane (&d1);
  check_device_assert_sane (&d2);
  fail_unless_equals_int (d1.n_attach, d1.n_detach);
  fail_unless (d1.n_attach >= N_STRESS, "%u attaches", d1.n_attach);
  check_attached (s.c2, &d2, N_STRESS, N_STRESS);
  fail_unless_equals_int (gst_dmabuf_import_cache_get_n_attached (s.c1), 0);
  fail_unless_equals_int (check_count_fds (), fds0);

  g_async_queue_unref (s.queue);
  gst_object_unref (s.c1);
  gst_object_unref (s.c2);
  gst_object_unref (s.alloc);
  check_device_clear (&d1);
  check_device_clear (&d2);
}

GST_END_TEST;

static Suite *
dmabufimportcache_suite (void)
{
  Suite *s = suite_create ("dmabufimportcache");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ino);
  tcase_add_test (tc, test_two_wrappers);
  tcase_add_test (tc, test_share);
  tcase_add_test (tc, test_tee);
  tcase_add_test (tc, test_clear);
  tcase_add_test (tc, test_cache_goes_first);
  tcase_add_test (tc, test_import_failure);
  tcase_add_test (tc, test_recycled_blocks);
  tcase_add_test (tc, test_foreign_threads);
  tcase_add_test (tc, test_stress);

  return s;
}

GST_CHECK_MAIN (dmabufimportcache);
