#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Lifetimes: 200 NULL->PLAYING->NULL cycles leak no fd and no memory; a
buffer the application holds across the change to NULL stays valid and
exact, even while the device streams again; its DMABUF is freed when it
is released."""

import gc

import numpy as np

from iiotest import (Gst, check, fd_count, log, main, pull_blocks,
                     ramp_start, rss_kib, start, stats, stop)

CHANNELS = [0, 1, 2, 3]


def cycle(pipeline, n_buffers=2):
    start(pipeline)
    pull_blocks(pipeline, n_buffers, len(CHANNELS), keep_data=False)
    stop(pipeline)


def run_cycles(io_mode, n_cycles, warmup=20):
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc io-mode=%s buffer-size=1024 "
        "blocks=4 ! appsink name=sink sync=false max-buffers=2" % io_mode)
    for _ in range(warmup):
        cycle(pipeline)
    gc.collect()
    fds0, rss0 = fd_count(), rss_kib()
    for _ in range(n_cycles - warmup):
        cycle(pipeline)
    gc.collect()
    fds1, rss1 = fd_count(), rss_kib()
    log("%s: %d cycles: fds %d -> %d, RSS %d -> %d KiB" %
        (io_mode, n_cycles, fds0, fds1, rss0, rss1))
    s = stats(pipeline)
    check(s.get_string("io-mode") == io_mode, "last run used %s" %
          s.get_string("io-mode"))
    check(fds1 == fds0, "%d file descriptors leaked over %d cycles" %
          (fds1 - fds0, n_cycles - warmup))
    # a leaked block would be >= 8 KiB per cycle: 1.4 MiB over 180 cycles
    check(rss1 - rss0 < 1024, "RSS grew by %d KiB over %d cycles" %
          (rss1 - rss0, n_cycles - warmup))


def test_200_cycles_dmabuf():
    run_cycles("dmabuf", 200)


def test_50_cycles_copy():
    run_cycles("copy", 50, warmup=10)


def test_buffer_held_across_null():
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc io-mode=dmabuf buffer-size=1024 "
        "blocks=4 ! appsink name=sink sync=false max-buffers=2")
    # the first run creates the clock's and the bus's fds
    cycle(pipeline)
    gc.collect()
    fds_before = fd_count()
    start(pipeline)
    appsink = pipeline.get_by_name("sink")
    held = []
    for _ in range(3):
        sample = appsink.emit("try-pull-sample", 10 * Gst.SECOND)
        check(sample is not None, "no buffer")
        held.append(sample.get_buffer())
    del sample
    stop(pipeline)
    log("fds: %d before, %d with 3 buffers held after NULL" %
        (fds_before, fd_count()))

    # The device is free again while the application holds the buffers,
    # and the held blocks are not reused by the new run.
    cycle(pipeline)

    buf = held[2]
    ok, info = buf.map(Gst.MapFlags.READ)
    check(ok, "a buffer held across NULL cannot be mapped")
    data = np.frombuffer(bytes(info.data), dtype="<u2").reshape(-1, 4)
    buf.unmap(info)
    first = ramp_start(data, CHANNELS)
    check(first == 2 * 1024, "the third buffer starts at ramp sample %d, "
          "expected 2048" % first)
    expect = (np.arange(1024) + 2048) & 0xffff
    check((data[:, 0] == expect).all() and
          (data[:, 3] == (expect + 3000) & 0xffff).all(),
          "the held buffer's samples changed after NULL")
    log("held buffer readable and exact after NULL")

    # Releasing the last block frees its DMABUF.
    del held, buf, info
    gc.collect()
    check(fd_count() == fds_before, "%d fds still open after the held "
          "buffers were released" % (fd_count() - fds_before))
    cycle(pipeline)


main(test_buffer_held_across_null, test_200_cycles_dmabuf, test_50_cycles_copy)
