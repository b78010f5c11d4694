#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Long captures at a rate the test bed only just sustains, and consumers
slower than the device, checking every sample of the sim-adc ramp: each
gap must arrive on a DISCONT buffer whose OFFSET jumps by about the gap,
no DISCONT without a gap, the gaps add up to the simulator's `overruns`,
and stats (overruns, samples-lost) and the iio-overrun messages agree.

How exact each path is (docs/iiosrc.md, "Lost samples"): the DMABUF path
decides from fence times and may miss only a gap shorter than the
driver's completion latency; the copy paths infer from the sample
timeline, within the tolerance they document."""

import os
import time

from iiotest import (Gst, Iiod, check, log, main, read_attr, start, stop,
                     buffer_samples, error_text)

RAMP_STEP = 1000
# The DMABUF path decides from the time a block was queued against the
# previous one's end: a gap shorter than the completion latency (the work
# item of the simulator, tens of microseconds under TCG) can go unseen.
# Per gap, the reported count may be off by that latency too.
DMABUF_MISS_SAMPLES = 40


class Capture:
    """Pulls blocks from the appsink named sink, recording for each the
    ramp position of its first sample, DISCONT and OFFSET."""

    def __init__(self, pipeline, n_channels, gaps_inside=False):
        self.pipeline = pipeline
        self.n_channels = n_channels
        self.gaps_inside = gaps_inside
        self.inside = []          # (buffer, samples skipped inside it)
        self.lasts = []
        self.firsts = []
        self.disconts = []
        self.offsets = []
        self.block = None

    def pull(self, n, on_block=None, timeout_s=20):
        appsink = self.pipeline.get_by_name("sink")
        for i in range(n):
            sample = appsink.emit("try-pull-sample", timeout_s * Gst.SECOND)
            if sample is None:
                raise AssertionError("no buffer %d within %d s: %s" %
                                     (i, timeout_s, error_text(self.pipeline)))
            buf = sample.get_buffer()
            data = buffer_samples(buf, self.n_channels)
            if self.block is None:
                self.block = data.shape[0]
            first = int(data[0, 0])
            for c in range(1, self.n_channels):
                check((data[:, c] == ((data[:, 0].astype(np.uint32) +
                                       RAMP_STEP * c) & 0xffff)).all(),
                      "buffer %d: channel %d is not channel 0 + %d" %
                      (i, c, RAMP_STEP * c))
            steps = (np.diff(data[:, 0].astype(np.int64)) - 1) & 0xffff
            jumps = np.nonzero(steps)[0]
            # inside a block the ramp is contiguous, except where a kfifo
            # device dropped samples
            check(self.gaps_inside or len(jumps) == 0,
                  "buffer %d: the ramp skips inside the block at sample %s"
                  % (i, jumps[:3]))
            if len(jumps):
                self.inside.append((i, int(steps[jumps].sum())))
            self.firsts.append(first)
            self.lasts.append(int(data[-1, 0]))
            self.disconts.append(buf.has_flags(Gst.BufferFlags.DISCONT))
            self.offsets.append(buf.offset)
            del sample, buf
            if on_block:
                on_block(i)

    def gaps(self):
        """[(buffer index, samples skipped before it)] from the data."""
        out = []
        for i in range(1, len(self.firsts)):
            gap = (self.firsts[i] - self.lasts[i - 1] - 1) & 0xffff
            if gap:
                out.append((i, gap))
        return out

    def all_gaps(self):
        """Every gap, between blocks or inside one: [(buffer, samples)]."""
        return sorted(self.gaps() + self.inside)


import numpy as np  # noqa: E402


def overrun_messages(pipeline):
    msgs = []
    bus = pipeline.get_bus()
    while True:
        msg = bus.pop_filtered(Gst.MessageType.ELEMENT)
        if msg is None:
            return msgs
        s = msg.get_structure()
        if s.get_name() == "iio-overrun":
            msgs.append((s.get_value("offset"), s.get_value("lost")))


def run_capture(launch, n_blocks, n_channels, on_block=None,
                gaps_inside=False, device="sim-adc"):
    pipeline = Gst.parse_launch(launch)
    cap = Capture(pipeline, n_channels, gaps_inside)
    t0 = time.monotonic()
    start(pipeline)
    cap.pull(n_blocks, on_block)
    # sim-kfifo counts no overruns: the ramp alone tells
    device_lost = (int(read_attr(device, "overruns")) if device == "sim-adc"
                   else None)
    stats = pipeline.get_by_name("src").get_property("stats")
    msgs = overrun_messages(pipeline)
    stop(pipeline)
    log("%d blocks in %.1f s; stats: %s" % (n_blocks, time.monotonic() - t0,
                                            stats.to_string()))
    return cap, stats, msgs, device_lost


def check_exact(cap, stats, msgs, device_lost, miss_samples):
    """Every gap above @miss_samples on a DISCONT buffer whose OFFSET jumps
    by the gap (within @miss_samples), no DISCONT without a gap. The ramp
    repeats every 65536 samples: a jump is compared with the gap modulo
    that, and the device's own count with the element's."""
    gaps = cap.gaps()
    gap_at = dict(gaps)
    discont_at = [i for i, d in enumerate(cap.disconts) if d and i > 0]
    missed = [(i, n) for i, n in gaps if not cap.disconts[i]]
    spurious = [i for i in discont_at if i not in gap_at]
    jumps = {i: cap.offsets[i] - cap.offsets[i - 1] - cap.block
             for i in discont_at}
    wrong = [(i, jumps[i], gap_at[i]) for i in discont_at if i in gap_at and
             min((jumps[i] - gap_at[i]) % 65536,
                 (gap_at[i] - jumps[i]) % 65536) > miss_samples]
    reported = sum(jumps.values())
    log("gaps: %d, DISCONT: %d, reported lost %d, device overruns %d" %
        (len(gaps), len(discont_at), reported, device_lost))
    log("gaps without DISCONT:", missed[:20])
    log("DISCONT without a gap:", spurious[:20])
    log("jumps off the gap (buffer, jump, gap):", wrong[:20])

    check(all(n <= miss_samples for _, n in missed),
          "%d gaps without DISCONT (buffer, samples): %s" %
          (len(missed), missed[:10]))
    check(not spurious, "DISCONT without a gap on buffers %s" % spurious[:10])
    check(not wrong, "OFFSET jumps off the ramp's gap (buffer, jump, gap): "
          "%s" % wrong[:10])
    ok, overruns = stats.get_uint64("overruns")
    check(overruns == len(discont_at), "stats overruns %d, DISCONT buffers "
          "%d" % (overruns, len(discont_at)))
    ok, samples_lost = stats.get_uint64("samples-lost")
    check(samples_lost == reported, "stats samples-lost %d, the OFFSET jumps "
          "add up to %d" % (samples_lost, reported))
    check(len(msgs) == len(discont_at) and
          sum(m[1] for m in msgs) == reported,
          "iio-overrun messages %s for %d DISCONT buffers" %
          (msgs[:5], len(discont_at)))
    check(abs(reported - device_lost) <= miss_samples * max(len(gaps), 1),
          "%d samples reported lost, the device lost %d" %
          (reported, device_lost))
    return gaps


def test_dmabuf_long():
    # 200 kHz in blocks of 512: a Python consumer on the TCG test bed only
    # just keeps up, so the device overruns now and then.
    n = int(os.environ.get("GST_IIO_LOSS_BLOCKS", "20000"))
    cap, stats, msgs, lost = run_capture(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "io-mode=dmabuf buffer-size=512 "
        "attributes=sampling_frequency=200000 ! "
        "appsink name=sink sync=false max-buffers=1", n, 2)
    check_exact(cap, stats, msgs, lost, DMABUF_MISS_SAMPLES)


def test_dmabuf_slow():
    # A consumer slower than the device: 8 blocks of 512 at 100 kHz (5.1 ms
    # each, 41 ms of buffering), every 4th buffer takes 30 ms.
    def slow(i):
        if i % 4 == 0:
            time.sleep(0.030)

    cap, stats, msgs, lost = run_capture(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "io-mode=dmabuf buffer-size=512 blocks=8 "
        "attributes=sampling_frequency=100000 ! "
        "appsink name=sink sync=false max-buffers=1", 3000, 2, slow)
    gaps = check_exact(cap, stats, msgs, lost, DMABUF_MISS_SAMPLES)
    check(len(gaps) > 10, "a slow consumer lost only %d times" % len(gaps))


def check_late(cap, stats, msgs, capacity_blocks):
    """The paths that prove a loss from the buffering (kfifo, iiod): every
    gap is followed by a DISCONT buffer within @capacity_blocks, every
    DISCONT has a gap at most that far before it, and the counts agree
    within the buffering."""
    gaps = cap.all_gaps()
    discont_at = [i for i, d in enumerate(cap.disconts) if d and i > 0]
    lost_data = sum(n for _, n in gaps)
    jumps = [cap.offsets[i] - cap.offsets[i - 1] - cap.block
             for i in discont_at]
    log("gaps (buffer, samples):", gaps[:20], "DISCONT:", discont_at[:20],
        "jumps:", jumps[:20])
    unflagged = [(g, n) for g, n in gaps if not any(
        g <= d <= g + capacity_blocks for d in discont_at)]
    check(not unflagged, "gaps with no DISCONT within %d buffers after them:"
          " %s" % (capacity_blocks, unflagged[:10]))
    spurious = [d for d in discont_at if not any(
        d - capacity_blocks <= g <= d for g, _ in gaps)]
    check(not spurious, "DISCONT with no gap within %d buffers before: %s" %
          (capacity_blocks, spurious[:10]))
    reported = sum(jumps)
    ok, samples_lost = stats.get_uint64("samples-lost")
    check(samples_lost == reported, "stats samples-lost %d, the OFFSET jumps "
          "add up to %d" % (samples_lost, reported))
    slack = capacity_blocks * cap.block
    check(lost_data - slack <= reported <= lost_data, "%d samples reported "
          "lost, the ramp skips %d (the buffering is %d)" %
          (reported, lost_data, slack))
    return gaps


def slow_every(k, seconds):
    def slow(i):
        if i % k == 0:
            time.sleep(seconds)
    return slow


# The copy path decides from refill times: the bracket of a block's return
# to the kernel is a refill's duration, so its counts carry that.
COPY_MISS_SAMPLES = 64


def test_copy_long():
    n = int(os.environ.get("GST_IIO_LOSS_BLOCKS", "20000"))
    cap, stats, msgs, lost = run_capture(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "io-mode=copy buffer-size=512 "
        "attributes=sampling_frequency=200000 ! "
        "appsink name=sink sync=false max-buffers=1", n, 2)
    check_exact(cap, stats, msgs, lost, COPY_MISS_SAMPLES)


def test_copy_slow():
    cap, stats, msgs, lost = run_capture(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "io-mode=copy buffer-size=512 "
        "attributes=sampling_frequency=100000 ! "
        "appsink name=sink sync=false max-buffers=1", 3000, 2,
        slow_every(4, 0.030))
    gaps = check_exact(cap, stats, msgs, lost, COPY_MISS_SAMPLES)
    check(len(gaps) > 10, "a slow consumer lost only %d times" % len(gaps))


def test_kfifo_slow():
    # sim-kfifo holds one libiio buffer (2 blocks) and drops what does not
    # fit; 20 kHz in blocks of 256 (12.8 ms), every 4th buffer 60 ms late
    cap, stats, msgs, _ = run_capture(
        "iiosrc name=src device=sim-kfifo io-mode=copy buffer-size=256 "
        "attributes=sampling_frequency=20000 ! "
        "appsink name=sink sync=false max-buffers=1", 600, 2,
        slow_every(4, 0.060), gaps_inside=True, device="sim-kfifo")
    # the proof flags within the kernel buffering (8 blocks) after a gap
    gaps = check_late(cap, stats, msgs, 9)
    check(len(gaps) > 5, "a slow consumer lost only %d times" % len(gaps))


def test_iiod_slow():
    with Iiod():
        cap, stats, msgs, lost = run_capture(
            "iiosrc name=src uri=ip:127.0.0.1 device=sim-adc "
            "channels=voltage0,voltage1 buffer-size=512 "
            "attributes=sampling_frequency=100000 ! "
            "appsink name=sink sync=false max-buffers=1", 2000, 2,
            slow_every(4, 0.030))
    # through iiod the buffering counts four times the kernel's (32 blocks)
    gaps = check_late(cap, stats, msgs, 33)
    check(len(gaps) > 5, "a slow consumer lost only %d times" % len(gaps))


main(test_dmabuf_long, test_dmabuf_slow, test_copy_long, test_copy_slow,
     test_kfifo_slow, test_iiod_slow)
