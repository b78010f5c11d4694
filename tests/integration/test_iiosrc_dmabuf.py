#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iiosrc io-mode=dmabuf on sim-adc: zero-copy DMABUF memory, the exact
ramp over thousands of blocks, a continuous timeline, stats."""

import numpy as np

from iiotest import (Gst, Ramp, check, check_timeline, expect_eos, log, main,
                     pop_end, pull_blocks, ramp_start, read_attr, start,
                     stats, stop)

# 24 blocks/s and 650 ms of kernel buffering: a Python consumer keeps up
# on a loaded TCG test bed (a dropped block fails the test).
RATE = 100000
BLOCK = 4096
N_BLOCKS = 2000
CHANNELS = [0, 1, 2, 3]


def test_exact_ramp_zero_copy():
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc io-mode=dmabuf "
        "attributes=sampling_frequency=%d buffer-size=%d blocks=16 "
        "num-buffers=%d ! appsink name=sink sync=false max-buffers=2"
        % (RATE, BLOCK, N_BLOCKS))
    ramp = Ramp(CHANNELS)
    device_overruns = []

    def on_block(i, block):
        if i == N_BLOCKS - 10:
            # before EOS: afterwards nobody gives blocks back and the
            # device overruns, as it should
            device_overruns.append(int(read_attr("sim-adc", "overruns")))

    start(pipeline)
    caps, blocks = pull_blocks(pipeline, N_BLOCKS, len(CHANNELS),
                               on_block=on_block)
    s = stats(pipeline)
    stop(pipeline)
    first = ramp_start(blocks[0].data, CHANNELS)
    for b in blocks:
        ramp.feed(b.data)
    log("stats:", s.to_string())
    disconts = [i for i, b in enumerate(blocks) if b.discont]

    s0 = caps.get_structure(0)
    check(s0.get_name() == "audio/x-raw" and
          s0.get_string("format") == "S16LE" and
          s0.get_int("channels") == (True, 4) and
          s0.get_int("rate") == (True, RATE),
          "negotiated %s, expected audio/x-raw S16LE, 4 channels at %d Hz"
          % (caps.to_string(), RATE))
    not_dmabuf = [i for i, b in enumerate(blocks)
                  if not b.dmabuf or b.n_memory != 1]
    check(not not_dmabuf, "%d buffers are not one DMABUF memory (first: "
          "buffer %d)" % (len(not_dmabuf), not_dmabuf[0] if not_dmabuf else 0))
    sizes = {b.size for b in blocks}
    check(sizes == {BLOCK * 8}, "buffer sizes %s, expected %d" %
          (sizes, BLOCK * 8))
    check(first == 0, "the first buffer starts at ramp sample %d, not 0"
          % first)
    check(ramp.gaps == [], "gaps in the ramp (block, samples): %s; DISCONT "
          "on %s; the device counted %s lost samples" %
          (ramp.gaps[:10], disconts[:10], device_overruns))
    log("ramp exact over %d blocks (%d samples x 4 channels)" %
        (ramp.blocks, ramp.samples))
    check(ramp.next == (N_BLOCKS * BLOCK) & 0xffff, "ramp ends at %d" %
          ramp.next)
    check_timeline(blocks, RATE, BLOCK)
    check(disconts in ([], [0]), "DISCONT on buffers %s" % disconts[:10])
    check(device_overruns == [0], "the device counted %s lost samples" %
          device_overruns)

    check(s.get_string("io-mode") == "dmabuf", "io-mode %s" %
          s.get_string("io-mode"))
    for field, want in (("buffers", N_BLOCKS),
                        ("bytes", N_BLOCKS * BLOCK * 8),
                        ("bytes-copied", 0), ("overruns", 0)):
        ok, value = s.get_uint64(field)
        check(ok and value == want, "stats %s = %s, expected %d" %
              (field, value, want))


def test_first_block_starts_at_sample_0():
    """The buffer is enabled by the first capture: no sample is lost
    between start and the first buffer, even with a slow PAUSED."""
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc io-mode=dmabuf "
        "attributes=sampling_frequency=1000000 buffer-size=1024 ! "
        "appsink name=sink sync=false")
    pipeline.set_state(Gst.State.PAUSED)
    pipeline.get_state(5 * Gst.SECOND)
    start(pipeline)
    _, blocks = pull_blocks(pipeline, 1, len(CHANNELS))
    stop(pipeline)
    first = ramp_start(blocks[0].data, CHANNELS)
    check(first == 0, "first sample is ramp sample %d, expected 0" % first)


def test_downstream_holding_blocks():
    """filesink batches 64 KiB of buffers before it writes: with 4 blocks
    of 8 KiB it holds every block. The source must keep the device fed by
    copying the last block out (counted in bytes-copied), not stall or
    time out; the file is the exact ramp, any loss a loaded test bed
    causes being reported as an overrun."""
    n, block, location = 200, 512, "/tmp/hoarded.raw"
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc io-mode=dmabuf blocks=4 "
        "attributes=sampling_frequency=8000 buffer-size=%d num-buffers=%d "
        "timeout=3000 ! filesink location=%s" % (block, n, location))
    start(pipeline)
    msg = pop_end(pipeline, 120)
    s = stats(pipeline)
    stop(pipeline)
    expect_eos(msg)
    log("stats:", s.to_string())
    with open(location, "rb") as f:
        data = np.frombuffer(f.read(), dtype="<u2").reshape(-1, 4)
    check(data.shape[0] == n * block, "file has %d samples, expected %d"
          % (data.shape[0], n * block))
    ramp = Ramp(CHANNELS)
    for i in range(n):
        ramp.feed(data[i * block:(i + 1) * block])
    check(ramp_start(data, CHANNELS) == 0, "file starts at ramp sample %d"
          % ramp_start(data, CHANNELS))
    ok, overruns = s.get_uint64("overruns")
    check(len(ramp.gaps) <= overruns, "gaps in the ramp (block, samples) "
          "%s, but stats reports %d overruns" % (ramp.gaps[:10], overruns))
    ok, copied = s.get_uint64("bytes-copied")
    check(ok and copied > 0 and copied % (block * 8) == 0,
          "bytes-copied %s: expected whole blocks copied while filesink "
          "held the others" % copied)
    ok, buffers = s.get_uint64("buffers")
    check(buffers == n, "stats buffers %d, expected %d" % (buffers, n))


main(test_exact_ramp_zero_copy, test_first_block_starts_at_sample_0,
     test_downstream_holding_blocks)
