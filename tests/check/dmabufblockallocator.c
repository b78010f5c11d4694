/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstDmabufBlockAllocator (gst/dmabuf) on the host, with memfd-backed
 * blocks and a counting attacher (suite 'host', under ASan and UBSan in
 * CI): recycling, sizes, the released hook and its two answers (put_free,
 * re-enqueue), attach and detach, close with memories outstanding and a
 * buffer held past the allocator's last reference (fds counted in
 * /proc/self/fd), close while a hook runs in another thread, waiters woken by a release, a re-enqueue, flushing,
 * close and their deadline, shares, the data, and several threads at
 * once. */
#include "dmabufcheck.h"

#define N_BLOCKS 4
/* Three pages and a half: nothing assumes a page multiple. */
#define BLOCK_BYTES (3 * 4096 + 2048)
#define WAKE_MS 2000

/* ---- helpers ---- */

static GstDmabufBlockAllocator *
new_allocator (guint n_blocks, CheckDevice * dev, gint * fds)
{
  GstDmabufBlockAllocator *alloc;
  GError *err = NULL;

  alloc = gst_dmabuf_block_allocator_new (BLOCK_BYTES,
      dev ? &check_attacher : NULL, dev);
  fail_unless (alloc != NULL);
  for (guint i = 0; i < n_blocks; i++) {
    gint fd = check_memfd (BLOCK_BYTES);

    if (fds)
      fds[i] = fd;
    fail_unless (gst_dmabuf_block_allocator_add_block (alloc, fd, &err),
        "add_block %u: %s", i, err ? err->message : "");
  }
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_n_blocks (alloc),
      n_blocks);
  fail_unless_equals_uint64 (gst_dmabuf_block_allocator_get_block_bytes
      (alloc), BLOCK_BYTES);
  return alloc;
}

static GstMemory *
acquire (GstDmabufBlockAllocator * alloc, gsize size)
{
  GstMemory *mem = gst_dmabuf_block_allocator_try_acquire (alloc, size);

  fail_unless (mem != NULL, "no block of %" G_GSIZE_FORMAT " bytes (free %u,"
      " queued %u, outstanding %u)", size,
      gst_dmabuf_block_allocator_count (alloc, GST_DMABUF_BLOCK_FREE),
      gst_dmabuf_block_allocator_count (alloc, GST_DMABUF_BLOCK_QUEUED),
      gst_dmabuf_block_allocator_count (alloc, GST_DMABUF_BLOCK_OUTSTANDING));
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_state (alloc, mem),
      GST_DMABUF_BLOCK_OUTSTANDING);
  return mem;
}

static void
check_counts (GstDmabufBlockAllocator * alloc, guint n_free, guint n_queued,
    guint n_outstanding)
{
  fail_unless_equals_int (gst_dmabuf_block_allocator_count (alloc,
          GST_DMABUF_BLOCK_FREE), n_free);
  fail_unless_equals_int (gst_dmabuf_block_allocator_count (alloc,
          GST_DMABUF_BLOCK_QUEUED), n_queued);
  fail_unless_equals_int (gst_dmabuf_block_allocator_count (alloc,
          GST_DMABUF_BLOCK_OUTSTANDING), n_outstanding);
}

static void
check_sizes (GstMemory * mem, gsize offset, gsize size)
{
  gsize o = 0, max = 0, s = gst_memory_get_sizes (mem, &o, &max);

  fail_unless_equals_uint64 (o, offset);
  fail_unless_equals_uint64 (s, size);
  fail_unless (max >= BLOCK_BYTES, "maxsize %" G_GSIZE_FORMAT, max);
}

/* @mem's bytes are the pattern from byte @first of the block on. */
static void
check_pattern (GstMemory * mem, gsize first, guint seed)
{
  GstMapInfo map;

  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  for (gsize i = 0; i < map.size; i++)
    if (map.data[i] != check_pattern_byte (first + i, seed))
      fail ("byte %" G_GSIZE_FORMAT " is %u, wrote %u", first + i,
          map.data[i], check_pattern_byte (first + i, seed));
  gst_memory_unmap (mem, &map);
}

static GstBuffer *
wrap (GstMemory * mem)
{
  GstBuffer *buf = gst_buffer_new ();

  gst_buffer_append_memory (buf, mem);
  return buf;
}

/* ---- the released hook ---- */

typedef enum
{
  HOOK_PUT_FREE,                /* an output's pool: back to the free list */
  HOOK_QUEUE,                   /* a capture: the block is enqueued again */
} HookMode;

/* What the hook saw; the hook runs in other threads, the test thread
 * reads it under the lock. */
typedef struct
{
  GMutex lock;
  HookMode mode;
  guint n_calls;
  GstMemory *last_block;
  GThread *last_thread;
  GstDmabufBlockState last_state;
  gboolean probe;               /* try_acquire from the hook (1 block) */
  GstMemory *probed;            /* what that gave: must be NULL */
  gboolean closed;              /* the test closed the allocator */
  guint n_after_close;
  GQueue queued;                /* the "transfers": a reference each */
  gint slow_ms;                 /* a hook that takes its time */
  GCond cond;
  gboolean entered;
  gboolean finished;
} Hook;

static void
released (GstDmabufBlockAllocator * alloc, GstMemory * block,
    gpointer user_data)
{
  Hook *h = user_data;
  GstDmabufBlockState state;
  GstMemory *probed = NULL;
  HookMode mode;

  /* No lock of the allocator is held here: these would deadlock. */
  state = gst_dmabuf_block_allocator_get_state (alloc, block);
  if (h->probe)
    probed = gst_dmabuf_block_allocator_try_acquire (alloc, BLOCK_BYTES);

  g_mutex_lock (&h->lock);
  h->n_calls++;
  h->last_block = block;
  h->last_thread = g_thread_self ();
  h->last_state = state;
  if (probed && h->probed == NULL)
    h->probed = probed;
  if (h->closed)
    h->n_after_close++;
  mode = h->mode;
  h->entered = TRUE;
  g_cond_broadcast (&h->cond);
  g_mutex_unlock (&h->lock);

  if (h->slow_ms)
    g_usleep (h->slow_ms * 1000);
  if (mode == HOOK_QUEUE) {
    gst_dmabuf_block_allocator_mark_queued (alloc, block);
    g_mutex_lock (&h->lock);
    g_queue_push_tail (&h->queued, block);
    g_mutex_unlock (&h->lock);
  } else {
    gst_dmabuf_block_allocator_put_free (alloc, block);
  }
  g_mutex_lock (&h->lock);
  h->finished = TRUE;
  g_mutex_unlock (&h->lock);
}

static void
hook_init (Hook * h, GstDmabufBlockAllocator * alloc, HookMode mode)
{
  memset (h, 0, sizeof (*h));
  g_mutex_init (&h->lock);
  g_cond_init (&h->cond);
  g_queue_init (&h->queued);
  h->mode = mode;
  h->last_state = -1;
  gst_dmabuf_block_allocator_set_released_func (alloc, released, h);
}

static guint
hook_calls (Hook * h)
{
  guint n;

  g_mutex_lock (&h->lock);
  n = h->n_calls;
  g_mutex_unlock (&h->lock);
  return n;
}

static void
hook_set_mode (Hook * h, HookMode mode)
{
  g_mutex_lock (&h->lock);
  h->mode = mode;
  g_mutex_unlock (&h->lock);
}

static void
hook_set_closed (Hook * h)
{
  g_mutex_lock (&h->lock);
  h->closed = TRUE;
  g_mutex_unlock (&h->lock);
}

/* The oldest "transfer" ends: its block reference is the caller's. */
static GstMemory *
hook_pop_queued (Hook * h)
{
  GstMemory *block;

  g_mutex_lock (&h->lock);
  block = g_queue_pop_head (&h->queued);
  g_mutex_unlock (&h->lock);
  fail_unless (block != NULL, "no block was re-enqueued");
  return block;
}

static void
hook_clear (Hook * h)
{
  fail_unless (h->probed == NULL, "try_acquire in the hook gave a block");
  fail_unless_equals_int (h->n_after_close, 0);
  fail_unless (g_queue_is_empty (&h->queued));
  g_mutex_clear (&h->lock);
  g_cond_clear (&h->cond);
}

/* ---- waiters in other threads ---- */

typedef struct
{
  GstDmabufBlockAllocator *alloc;
  gint64 deadline;
} Waiter;

static gpointer
wait_thread (gpointer data)
{
  Waiter *w = data;

  return GINT_TO_POINTER (gst_dmabuf_block_allocator_wait (w->alloc,
          w->deadline));
}

/* A thread in wait() with a deadline 10 s away, given 100 ms to get
 * there. */
static CheckThread *
start_waiter (Waiter * w, GstDmabufBlockAllocator * alloc)
{
  CheckThread *t;

  w->alloc = alloc;
  w->deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  t = check_thread_new ("waiter", wait_thread, w);
  g_usleep (100 * 1000);
  return t;
}

static GstFlowReturn
waiter_result (CheckThread * t)
{
  return GPOINTER_TO_INT (check_thread_join_within (t, WAKE_MS));
}

static gpointer
unref_thread (gpointer data)
{
  gst_memory_unref (data);
  return g_thread_self ();
}

/* ---- tests ---- */

/* Blocks are DMABUF memories of this allocator over the fds added, with
 * the indexes 0..n-1, attached once each. */
GST_START_TEST (test_blocks)
{
  CheckDevice d;
  GstDmabufBlockAllocator *alloc;
  GstMemory *mems[N_BLOCKS];
  gint fds[N_BLOCKS];
  gboolean index_seen[N_BLOCKS] = { FALSE, };
  gboolean fd_seen[N_BLOCKS] = { FALSE, };

  check_device_init (&d);
  alloc = new_allocator (N_BLOCKS, &d, fds);
  fail_unless (GST_IS_DMABUF_ALLOCATOR (alloc));
  /* not an allocator to offer upstream: blocks are handed out */
  fail_unless (gst_allocator_alloc (GST_ALLOCATOR (alloc), 100, NULL) == NULL);
  check_counts (alloc, N_BLOCKS, 0, 0);
  fail_unless_equals_int (d.n_attach, N_BLOCKS);
  for (guint i = 0; i < N_BLOCKS; i++)
    fail_unless (d.ino_of_fd[fds[i]] == check_ino (fds[i]),
        "fd %d of block %u not attached", fds[i], i);
  check_device_assert_sane (&d);
  check_counts (alloc, N_BLOCKS, 0, 0);

  for (guint i = 0; i < N_BLOCKS; i++) {
    guint index, j;
    gint fd;

    mems[i] = acquire (alloc, BLOCK_BYTES);
    fail_unless (gst_is_dmabuf_memory (mems[i]));
    fail_unless (mems[i]->allocator == GST_ALLOCATOR (alloc));
    fail_unless (gst_dmabuf_block_allocator_owns (alloc, mems[i]));
    check_sizes (mems[i], 0, BLOCK_BYTES);

    index = gst_dmabuf_block_get_index (mems[i]);
    fail_unless (index < N_BLOCKS, "index %u", index);
    fail_if (index_seen[index], "index %u given twice", index);
    index_seen[index] = TRUE;

    /* the allocator owns the fds it was given: no dup */
    fd = gst_dmabuf_memory_get_fd (mems[i]);
    for (j = 0; j < N_BLOCKS && fds[j] != fd; j++);
    fail_unless (j < N_BLOCKS, "block %u has fd %d, not one added", index, fd);
    fail_if (fd_seen[j], "fd %d in two blocks", fd);
    fd_seen[j] = TRUE;
  }
  check_counts (alloc, 0, 0, N_BLOCKS);
  for (guint i = 0; i < N_BLOCKS; i++)
    gst_memory_unref (mems[i]);
  check_counts (alloc, N_BLOCKS, 0, 0);
  fail_unless_equals_int (d.n_detach, 0);

  gst_dmabuf_block_allocator_close (alloc);
  fail_unless_equals_int (d.n_detach, N_BLOCKS);
  gst_object_unref (alloc);
  check_device_clear (&d);
}

GST_END_TEST;

/* Acquire all, none left, drop them: the same memories come back FREE
 * (no attacher, no hook: the plain free list). */
GST_START_TEST (test_recycling)
{
  GstDmabufBlockAllocator *alloc = new_allocator (N_BLOCKS, NULL, NULL);
  GstMemory *first[N_BLOCKS], *again[N_BLOCKS];

  for (guint round = 0; round < 3; round++) {
    for (guint i = 0; i < N_BLOCKS; i++)
      first[i] = acquire (alloc, BLOCK_BYTES);
    fail_unless (gst_dmabuf_block_allocator_try_acquire (alloc,
            BLOCK_BYTES) == NULL, "a block beyond the %u", N_BLOCKS);
    fail_unless (gst_dmabuf_block_allocator_try_acquire (alloc, 1) == NULL);
    check_counts (alloc, 0, 0, N_BLOCKS);

    /* in another order than acquired */
    for (guint i = 0; i < N_BLOCKS; i++) {
      gst_memory_unref (first[(i + 1 + round) % N_BLOCKS]);
      check_counts (alloc, i + 1, 0, N_BLOCKS - i - 1);
    }

    for (guint i = 0; i < N_BLOCKS; i++) {
      guint j;

      again[i] = acquire (alloc, BLOCK_BYTES);
      for (j = 0; j < N_BLOCKS && first[j] != again[i]; j++);
      fail_unless (j < N_BLOCKS, "block %u came back as a new memory",
          gst_dmabuf_block_get_index (again[i]));
    }
    fail_unless (gst_dmabuf_block_allocator_try_acquire (alloc,
            BLOCK_BYTES) == NULL);
    for (guint i = 0; i < N_BLOCKS; i++)
      gst_memory_unref (again[i]);
    check_counts (alloc, N_BLOCKS, 0, 0);
  }

  gst_dmabuf_block_allocator_close (alloc);
  gst_object_unref (alloc);
}

GST_END_TEST;

/* A smaller acquire is resized from the block's start; whatever the user
 * did to the size, the block comes back whole; a size above the block's
 * is refused without taking one. */
GST_START_TEST (test_sizes)
{
  GstDmabufBlockAllocator *alloc = new_allocator (1, NULL, NULL);
  GstMemory *mem;

  mem = acquire (alloc, 100);
  check_sizes (mem, 0, 100);
  gst_memory_unref (mem);
  check_counts (alloc, 1, 0, 0);

  mem = acquire (alloc, BLOCK_BYTES);
  check_sizes (mem, 0, BLOCK_BYTES);
  gst_memory_resize (mem, 512, 1024);
  check_sizes (mem, 512, 1024);
  gst_memory_unref (mem);

  mem = acquire (alloc, BLOCK_BYTES);
  check_sizes (mem, 0, BLOCK_BYTES);
  gst_memory_unref (mem);

  fail_unless (gst_dmabuf_block_allocator_try_acquire (alloc,
          BLOCK_BYTES + 1) == NULL);
  check_counts (alloc, 1, 0, 0);
  mem = acquire (alloc, 1);
  check_sizes (mem, 0, 1);
  gst_memory_unref (mem);

  gst_dmabuf_block_allocator_close (alloc);
  gst_object_unref (alloc);
}

GST_END_TEST;

/* What is written through a map is in the DMABUF (another mapping of the
 * fd sees it) and still there when the block is handed out again. */
GST_START_TEST (test_data_survives)
{
  GstDmabufBlockAllocator *alloc = new_allocator (1, NULL, NULL);
  GstMemory *mem, *share;
  const guint8 *direct;

  mem = acquire (alloc, BLOCK_BYTES);
  check_fill_pattern (mem, 11);
  gst_memory_unref (mem);

  for (guint round = 0; round < 3; round++) {
    mem = acquire (alloc, round == 1 ? 1000 : BLOCK_BYTES);
    check_pattern (mem, 0, 11);
    gst_memory_unref (mem);
  }

  mem = acquire (alloc, BLOCK_BYTES);
  direct = mmap (NULL, BLOCK_BYTES, PROT_READ, MAP_SHARED,
      gst_dmabuf_memory_get_fd (mem), 0);
  fail_unless (direct != MAP_FAILED, "mmap: %s", g_strerror (errno));
  for (gsize i = 0; i < BLOCK_BYTES; i++)
    fail_unless_equals_int (direct[i], check_pattern_byte (i, 11));
  munmap ((gpointer) direct, BLOCK_BYTES);

  share = gst_memory_share (mem, 4000, 5000);
  check_pattern (share, 4000, 11);
  gst_memory_unref (share);

  check_fill_pattern (mem, 42);
  gst_memory_unref (mem);
  mem = acquire (alloc, BLOCK_BYTES);
  check_pattern (mem, 0, 42);
  gst_memory_unref (mem);

  gst_dmabuf_block_allocator_close (alloc);
  gst_object_unref (alloc);
}

GST_END_TEST;

/* A share is one of ours, its state is its block's, it keeps the block
 * outstanding, and the block (not the share) comes back through the
 * hook when the share goes. Other memories are not ours. */
GST_START_TEST (test_shares)
{
  GstDmabufBlockAllocator *alloc = new_allocator (2, NULL, NULL);
  GstDmabufBlockAllocator *other = new_allocator (1, NULL, NULL);
  GstAllocator *plain = gst_dmabuf_allocator_new ();
  GstMemory *mem, *share, *subshare, *plain_mem, *sys_mem, *other_mem;
  Hook h;

  hook_init (&h, alloc, HOOK_PUT_FREE);
  mem = acquire (alloc, BLOCK_BYTES);
  share = gst_memory_share (mem, 16, 64);
  subshare = gst_memory_share (share, 8, 8);
  fail_unless (gst_dmabuf_block_allocator_owns (alloc, share));
  fail_unless (gst_dmabuf_block_allocator_owns (alloc, subshare));
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_state (alloc,
          share), GST_DMABUF_BLOCK_OUTSTANDING);

  plain_mem = gst_dmabuf_allocator_alloc (plain, check_memfd (4096), 4096);
  sys_mem = gst_allocator_alloc (NULL, 64, NULL);
  other_mem = acquire (other, BLOCK_BYTES);
  fail_if (gst_dmabuf_block_allocator_owns (alloc, plain_mem));
  fail_if (gst_dmabuf_block_allocator_owns (alloc, sys_mem));
  fail_if (gst_dmabuf_block_allocator_owns (alloc, other_mem));
  fail_unless (gst_dmabuf_block_allocator_owns (other, other_mem));
  fail_if (gst_dmabuf_block_allocator_owns (other, share));

  /* the owner's bookkeeping through a share moves the block */
  gst_dmabuf_block_allocator_mark_queued (alloc, share);
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_state (alloc, mem),
      GST_DMABUF_BLOCK_QUEUED);
  check_counts (alloc, 1, 1, 0);
  gst_dmabuf_block_allocator_mark_outstanding (alloc, subshare);
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_state (alloc, mem),
      GST_DMABUF_BLOCK_OUTSTANDING);
  check_counts (alloc, 1, 0, 1);

  /* the shares hold the block: it is not back before the last goes */
  gst_memory_unref (mem);
  gst_memory_unref (share);
  fail_unless_equals_int (hook_calls (&h), 0);
  check_counts (alloc, 1, 0, 1);
  gst_memory_unref (subshare);
  fail_unless_equals_int (hook_calls (&h), 1);
  fail_unless (h.last_block == mem, "the hook got %p, not the block %p",
      h.last_block, mem);
  fail_unless_equals_int (h.last_state, GST_DMABUF_BLOCK_FREE);
  check_counts (alloc, 2, 0, 0);

  gst_memory_unref (plain_mem);
  gst_memory_unref (sys_mem);
  gst_memory_unref (other_mem);
  gst_object_unref (plain);
  gst_dmabuf_block_allocator_close (other);
  gst_object_unref (other);
  gst_dmabuf_block_allocator_close (alloc);
  gst_object_unref (alloc);
  hook_clear (&h);
}

GST_END_TEST;

/* The hook: once per release, with the block, in the releasing thread,
 * state FREE but not on the free list; put_free() makes it acquirable. */
GST_START_TEST (test_released_hook)
{
  GstDmabufBlockAllocator *alloc = new_allocator (1, NULL, NULL);
  GstMemory *mem, *again;
  GThread *releaser;
  Hook h;

  hook_init (&h, alloc, HOOK_PUT_FREE);
  h.probe = TRUE;

  mem = acquire (alloc, 100);
  fail_unless_equals_int (hook_calls (&h), 0);
  gst_memory_unref (mem);
  fail_unless_equals_int (hook_calls (&h), 1);
  fail_unless (h.last_block == mem);
  fail_unless (h.last_thread == g_thread_self ());
  fail_unless_equals_int (h.last_state, GST_DMABUF_BLOCK_FREE);
  check_counts (alloc, 1, 0, 0);

  again = acquire (alloc, BLOCK_BYTES);
  fail_unless (again == mem);
  check_sizes (again, 0, BLOCK_BYTES);

  /* dropped in another thread: the hook runs there */
  releaser = check_thread_join_within (check_thread_new ("releaser",
          unref_thread, again), WAKE_MS);
  fail_unless_equals_int (hook_calls (&h), 2);
  fail_unless (h.last_thread == releaser, "hook ran in %p, not in the "
      "releasing thread %p", h.last_thread, releaser);
  fail_unless (h.last_block == mem);
  check_counts (alloc, 1, 0, 0);

  /* no hook: back to the free list by itself */
  gst_dmabuf_block_allocator_set_released_func (alloc, NULL, NULL);
  mem = acquire (alloc, BLOCK_BYTES);
  gst_memory_unref (mem);
  fail_unless_equals_int (hook_calls (&h), 2);
  check_counts (alloc, 1, 0, 0);

  gst_dmabuf_block_allocator_close (alloc);
  gst_object_unref (alloc);
  hook_clear (&h);
}

GST_END_TEST;

/* A capture's hook re-enqueues: the block is QUEUED, not acquirable; the
 * transfer ends, the block goes downstream again and comes back again;
 * at stop the owner drops the transfer's reference and the hook gives the
 * block back. */
GST_START_TEST (test_hook_requeue)
{
  GstDmabufBlockAllocator *alloc = new_allocator (1, NULL, NULL);
  GstMemory *mem, *block;
  GstBuffer *buf;
  Hook h;

  hook_init (&h, alloc, HOOK_QUEUE);
  mem = acquire (alloc, BLOCK_BYTES);
  check_fill_pattern (mem, 5);
  gst_memory_unref (mem);
  fail_unless_equals_int (hook_calls (&h), 1);
  fail_unless_equals_int (h.last_state, GST_DMABUF_BLOCK_FREE);
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_state (alloc, mem),
      GST_DMABUF_BLOCK_QUEUED);
  check_counts (alloc, 0, 1, 0);
  fail_unless (gst_dmabuf_block_allocator_try_acquire (alloc,
          BLOCK_BYTES) == NULL, "a QUEUED block was handed out");

  /* the transfer completed: downstream gets the block in a buffer */
  block = hook_pop_queued (&h);
  fail_unless (block == mem);
  gst_dmabuf_block_allocator_mark_outstanding (alloc, block);
  check_counts (alloc, 0, 0, 1);
  buf = wrap (block);
  check_pattern (gst_buffer_peek_memory (buf, 0), 0, 5);
  gst_buffer_unref (buf);
  fail_unless_equals_int (hook_calls (&h), 2);
  check_counts (alloc, 0, 1, 0);

  /* stop: the transfer's reference is dropped, the hook puts it back */
  hook_set_mode (&h, HOOK_PUT_FREE);
  gst_memory_unref (hook_pop_queued (&h));
  fail_unless_equals_int (hook_calls (&h), 3);
  fail_unless_equals_int (h.last_state, GST_DMABUF_BLOCK_FREE);
  check_counts (alloc, 1, 0, 0);

  gst_dmabuf_block_allocator_close (alloc);
  gst_object_unref (alloc);
  hook_clear (&h);
}

GST_END_TEST;

/* One attach per add_block; close detaches every block at once, the
 * outstanding and the queued ones included, once; after it no hook runs,
 * nothing is handed out, waits end. */
GST_START_TEST (test_attacher_and_close)
{
  CheckDevice d;
  GstDmabufBlockAllocator *alloc;
  GstMemory *out, *q;
  gint fds[3];
  Hook h;

  check_device_init (&d);
  alloc = new_allocator (3, &d, fds);
  fail_unless_equals_int (d.n_attach, 3);
  fail_unless_equals_int (d.last_attach_fd, fds[2]);
  hook_init (&h, alloc, HOOK_QUEUE);

  out = acquire (alloc, BLOCK_BYTES);
  q = acquire (alloc, BLOCK_BYTES);
  gst_memory_unref (q);
  fail_unless (hook_pop_queued (&h) == q);
  check_counts (alloc, 1, 1, 1);
  fail_unless_equals_int (d.n_detach, 0);

  hook_set_closed (&h);
  gst_dmabuf_block_allocator_close (alloc);
  fail_unless_equals_int (d.n_detach, 3);
  /* each detached with the fd it was attached with, still open then */
  check_device_assert_sane (&d);
  gst_dmabuf_block_allocator_close (alloc);
  fail_unless_equals_int (d.n_detach, 3);

  fail_unless (gst_dmabuf_block_allocator_try_acquire (alloc,
          BLOCK_BYTES) == NULL);
  fail_unless_equals_int (gst_dmabuf_block_allocator_wait (alloc,
          g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND), GST_FLOW_FLUSHING);

  gst_memory_unref (out);
  gst_memory_unref (q);
  fail_unless_equals_int (hook_calls (&h), 1);
  fail_unless_equals_int (d.n_detach, 3);

  gst_object_unref (alloc);
  hook_clear (&h);
  check_device_clear (&d);
}

GST_END_TEST;

/* An attach that fails: add_block returns its error, closes the fd now,
 * and adds nothing; the next one works. */
GST_START_TEST (test_attach_failure)
{
  CheckDevice d;
  GstDmabufBlockAllocator *alloc;
  GError *err = NULL;
  GstMemory *mem;
  guint fds0;

  check_device_init (&d);
  d.fail_with = g_error_new (GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NO_SPACE_LEFT, "no room on the test device");
  alloc = gst_dmabuf_block_allocator_new (BLOCK_BYTES, &check_attacher, &d);
  fds0 = check_count_fds ();

  fail_if (gst_dmabuf_block_allocator_add_block (alloc,
          check_memfd (BLOCK_BYTES), &err));
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NO_SPACE_LEFT), "%s", err ? err->message : "");
  fail_unless_equals_string (err->message, "no room on the test device");
  g_clear_error (&err);
  fail_unless_equals_int (d.n_attach_failed, 1);
  fail_unless_equals_int (check_count_fds (), fds0);
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_n_blocks (alloc), 0);
  fail_unless (gst_dmabuf_block_allocator_try_acquire (alloc,
          BLOCK_BYTES) == NULL);

  g_clear_error (&d.fail_with);
  fail_unless (gst_dmabuf_block_allocator_add_block (alloc,
          check_memfd (BLOCK_BYTES), &err), "%s", err ? err->message : "");
  fail_unless_equals_int (gst_dmabuf_block_allocator_get_n_blocks (alloc), 1);
  fail_unless_equals_int (d.n_attach, 1);
  mem = acquire (alloc, BLOCK_BYTES);
  fail_unless_equals_int (gst_dmabuf_block_get_index (mem), 0);
  gst_memory_unref (mem);

  gst_dmabuf_block_allocator_close (alloc);
  gst_object_unref (alloc);
  fail_unless_equals_int (check_count_fds (), fds0);
  check_device_clear (&d);
}

GST_END_TEST;

/* Stop with memories outstanding, and a buffer held past close and past
 * the allocator's last reference: the free blocks' fds are closed by
 * close(), each other one when its last buffer goes; the memory keeps
 * the allocator alive until then; no hook after close. */
GST_START_TEST (test_close_outstanding)
{
  CheckDevice d;
  GstDmabufBlockAllocator *alloc;
  gpointer weak;
  GstMemory *m0;
  GstBuffer *b1, *b2;
  guint fds0 = check_count_fds ();
  Hook h;

  check_device_init (&d);
  alloc = new_allocator (N_BLOCKS, &d, NULL);
  fail_unless_equals_int (check_count_fds (), fds0 + N_BLOCKS);
  hook_init (&h, alloc, HOOK_PUT_FREE);

  m0 = acquire (alloc, BLOCK_BYTES);
  b1 = wrap (acquire (alloc, BLOCK_BYTES));
  b2 = wrap (acquire (alloc, 64));
  check_fill_pattern (gst_buffer_peek_memory (b1, 0), 9);
  gst_memory_unref (m0);
  check_counts (alloc, 2, 0, 2);

  weak = alloc;
  g_object_add_weak_pointer (G_OBJECT (alloc), &weak);
  hook_set_closed (&h);
  gst_dmabuf_block_allocator_close (alloc);
  fail_unless_equals_int (d.n_detach, N_BLOCKS);
  fail_unless_equals_int (check_count_fds (), fds0 + 2);

  gst_object_unref (alloc);
  fail_unless (weak != NULL, "the allocator went with memories still out");
  gst_buffer_unref (b2);
  fail_unless_equals_int (check_count_fds (), fds0 + 1);
  fail_unless (weak != NULL);

  /* the held buffer still reads its data */
  check_pattern (gst_buffer_peek_memory (b1, 0), 0, 9);
  gst_buffer_unref (b1);
  fail_unless_equals_int (check_count_fds (), fds0);
  fail_unless (weak == NULL, "the allocator outlived its last block");

  fail_unless_equals_int (hook_calls (&h), 1);
  fail_unless_equals_int (d.n_detach, N_BLOCKS);
  hook_clear (&h);
  check_device_clear (&d);
}

GST_END_TEST;

/* close() while a hook runs in another thread: it returns only once the
 * hook has; the block is detached (its fd still open) and freed, by the
 * hook's put_free() or by close(). */
GST_START_TEST (test_close_waits_for_hook)
{
  guint fds0 = check_count_fds ();
  GstDmabufBlockAllocator *alloc;
  gint64 deadline;
  CheckThread *t;
  gboolean entered, finished;
  CheckDevice d;
  Hook h;

  check_device_init (&d);
  alloc = new_allocator (1, &d, NULL);
  hook_init (&h, alloc, HOOK_PUT_FREE);
  h.slow_ms = 300;
  t = check_thread_new ("releaser", unref_thread, acquire (alloc, BLOCK_BYTES));
  deadline = g_get_monotonic_time () + WAKE_MS * G_TIME_SPAN_MILLISECOND;
  g_mutex_lock (&h.lock);
  while (!h.entered)
    if (!g_cond_wait_until (&h.cond, &h.lock, deadline))
      break;
  entered = h.entered;
  g_mutex_unlock (&h.lock);
  fail_unless (entered, "the hook did not run");

  gst_dmabuf_block_allocator_close (alloc);
  g_mutex_lock (&h.lock);
  finished = h.finished;
  g_mutex_unlock (&h.lock);
  fail_unless (finished, "close() returned while a hook was running");
  check_thread_join_within (t, WAKE_MS);
  fail_unless_equals_int (hook_calls (&h), 1);
  fail_unless_equals_int (check_count_fds (), fds0);
  check_device_assert_sane (&d);
  fail_unless_equals_int (d.n_detach, 1);

  gst_object_unref (alloc);
  hook_clear (&h);
  check_device_clear (&d);
}

GST_END_TEST;

/* wait(): OK at once with a block FREE; the deadline when none comes;
 * woken by a release (to the free list, or a re-enqueue: QUEUED counts). */
GST_START_TEST (test_wait)
{
  GstDmabufBlockAllocator *alloc = new_allocator (1, NULL, NULL);
  GstMemory *mem;
  CheckThread *t;
  Waiter w;
  gint64 t0, waited;
  Hook h;

  fail_unless_equals_int (gst_dmabuf_block_allocator_wait (alloc, -1),
      GST_FLOW_OK);
  mem = acquire (alloc, BLOCK_BYTES);

  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_dmabuf_block_allocator_wait (alloc,
          t0 + 200 * G_TIME_SPAN_MILLISECOND), GST_FLOW_CUSTOM_ERROR);
  waited = g_get_monotonic_time () - t0;
  fail_unless (waited >= 200 * G_TIME_SPAN_MILLISECOND, "returned after %"
      G_GINT64_FORMAT " us, before its deadline", waited);
  /* a deadline already past */
  fail_unless_equals_int (gst_dmabuf_block_allocator_wait (alloc, t0),
      GST_FLOW_CUSTOM_ERROR);

  t = start_waiter (&w, alloc);
  gst_memory_unref (mem);
  fail_unless_equals_int (waiter_result (t), GST_FLOW_OK);
  check_counts (alloc, 1, 0, 0);

  /* a re-enqueue wakes it too: the owner may end a transfer */
  hook_init (&h, alloc, HOOK_QUEUE);
  mem = acquire (alloc, BLOCK_BYTES);
  t = start_waiter (&w, alloc);
  gst_memory_unref (mem);
  fail_unless_equals_int (waiter_result (t), GST_FLOW_OK);
  check_counts (alloc, 0, 1, 0);
  fail_unless_equals_int (gst_dmabuf_block_allocator_wait (alloc,
          g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND), GST_FLOW_OK);

  hook_set_mode (&h, HOOK_PUT_FREE);
  gst_memory_unref (hook_pop_queued (&h));
  check_counts (alloc, 1, 0, 0);
  gst_dmabuf_block_allocator_close (alloc);
  gst_object_unref (alloc);
  hook_clear (&h);
}

GST_END_TEST;

/* set_flushing(TRUE) ends a wait in another thread within 2 s, makes
 * waits and try_acquire fail until FALSE; close() ends a wait too. */
GST_START_TEST (test_flushing)
{
  GstDmabufBlockAllocator *alloc = new_allocator (1, NULL, NULL);
  GstMemory *mem;
  CheckThread *t;
  Waiter w;

  mem = acquire (alloc, BLOCK_BYTES);
  t = start_waiter (&w, alloc);
  gst_dmabuf_block_allocator_set_flushing (alloc, TRUE);
  fail_unless_equals_int (waiter_result (t), GST_FLOW_FLUSHING);

  gst_memory_unref (mem);
  check_counts (alloc, 1, 0, 0);
  fail_unless (gst_dmabuf_block_allocator_try_acquire (alloc,
          BLOCK_BYTES) == NULL, "a block handed out while flushing");
  fail_unless_equals_int (gst_dmabuf_block_allocator_wait (alloc,
          g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND), GST_FLOW_FLUSHING);

  gst_dmabuf_block_allocator_set_flushing (alloc, FALSE);
  fail_unless_equals_int (gst_dmabuf_block_allocator_wait (alloc,
          g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND), GST_FLOW_OK);
  mem = acquire (alloc, BLOCK_BYTES);

  /* again, with the flush set before the wait begins */
  gst_dmabuf_block_allocator_set_flushing (alloc, TRUE);
  t = start_waiter (&w, alloc);
  fail_unless_equals_int (waiter_result (t), GST_FLOW_FLUSHING);
  gst_dmabuf_block_allocator_set_flushing (alloc, FALSE);

  t = start_waiter (&w, alloc);
  gst_dmabuf_block_allocator_close (alloc);
  fail_unless_equals_int (waiter_result (t), GST_FLOW_FLUSHING);

  gst_memory_unref (mem);
  gst_object_unref (alloc);
}

GST_END_TEST;

/* Several threads acquire (various sizes, shares too), write and drop at
 * once, with the hook giving blocks back: every release is one hook call,
 * everything ends FREE. ASan/UBSan see the locking. */
#define STRESS_THREADS 4
#define STRESS_ROUNDS 2000

typedef struct
{
  GstDmabufBlockAllocator *alloc;
  guint seed;
  guint n_acquired;
  gchar *problem;
} Stress;

static gpointer
stress_thread (gpointer data)
{
  Stress *s = data;
  GstMapInfo map;

  for (guint i = 0; i < STRESS_ROUNDS && !s->problem; i++) {
    GstFlowReturn ret = gst_dmabuf_block_allocator_wait (s->alloc,
        g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND);
    gsize size = 1 + (i * 131 + s->seed * 17) % BLOCK_BYTES;
    GstMemory *mem;

    if (ret != GST_FLOW_OK) {
      s->problem = g_strdup_printf ("round %u: wait returned %s", i,
          gst_flow_get_name (ret));
      break;
    }
    mem = gst_dmabuf_block_allocator_try_acquire (s->alloc, size);
    if (mem == NULL)
      continue;
    s->n_acquired++;
    if (gst_memory_get_sizes (mem, NULL, NULL) != size)
      s->problem = g_strdup_printf ("round %u: asked %" G_GSIZE_FORMAT
          " bytes, got %" G_GSIZE_FORMAT, i, size,
          gst_memory_get_sizes (mem, NULL, NULL));
    if (gst_memory_map (mem, &map, GST_MAP_WRITE)) {
      map.data[map.size - 1] = (guint8) i;
      gst_memory_unmap (mem, &map);
    } else {
      s->problem = g_strdup_printf ("round %u: map failed", i);
    }
    if (i % 3 == 0) {
      GstMemory *share = gst_memory_share (mem, 0, 1);

      gst_memory_unref (mem);
      mem = share;
    }
    gst_memory_unref (mem);
  }
  return NULL;
}

GST_START_TEST (test_threads)
{
  GstDmabufBlockAllocator *alloc = new_allocator (N_BLOCKS, NULL, NULL);
  CheckThread *t[STRESS_THREADS];
  Stress s[STRESS_THREADS];
  guint total = 0;
  Hook h;

  hook_init (&h, alloc, HOOK_PUT_FREE);
  for (guint i = 0; i < STRESS_THREADS; i++) {
    s[i].alloc = alloc;
    s[i].seed = i;
    s[i].n_acquired = 0;
    s[i].problem = NULL;
    t[i] = check_thread_new ("stress", stress_thread, &s[i]);
  }
  for (guint i = 0; i < STRESS_THREADS; i++) {
    check_thread_join_within (t[i], 60000);
    fail_unless (s[i].problem == NULL, "thread %u: %s", i, s[i].problem);
    fail_unless (s[i].n_acquired > 0);
    total += s[i].n_acquired;
  }
  fail_unless_equals_int (hook_calls (&h), total);
  check_counts (alloc, N_BLOCKS, 0, 0);

  gst_dmabuf_block_allocator_close (alloc);
  gst_object_unref (alloc);
  hook_clear (&h);
}

GST_END_TEST;

static Suite *
dmabufblockallocator_suite (void)
{
  Suite *s = suite_create ("dmabufblockallocator");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_blocks);
  tcase_add_test (tc, test_recycling);
  tcase_add_test (tc, test_sizes);
  tcase_add_test (tc, test_data_survives);
  tcase_add_test (tc, test_shares);
  tcase_add_test (tc, test_released_hook);
  tcase_add_test (tc, test_hook_requeue);
  tcase_add_test (tc, test_attacher_and_close);
  tcase_add_test (tc, test_attach_failure);
  tcase_add_test (tc, test_close_outstanding);
  tcase_add_test (tc, test_close_waits_for_hook);
  tcase_add_test (tc, test_wait);
  tcase_add_test (tc, test_flushing);
  tcase_add_test (tc, test_threads);

  return s;
}

GST_CHECK_MAIN (dmabufblockallocator);
