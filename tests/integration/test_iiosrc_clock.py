#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iiosrc and clocks: sim-adc's crystal 2000 ppm fast (clock_ppm), on the
DMABUF and copy paths. With iiosrc's own clock as the pipeline clock, PTS
are the sample count on it and the clock runs 2000 ppm fast against the
monotonic clock; with the system clock, PTS follow it (contiguous, no
growing latency) and stats drift-ppm says 2000. Also the LATENCY query
and provide-clock=false."""

import time

from iiotest import (Gst, appsrc_launch, check, check_played, expect_eos,
                     log, main, mount_debugfs, pop_end, push_all, ramp_bytes,
                     read_attr, reset_dac, start, stats, stop, write_attr)

RATE = 48000
PPM = 2000
# Every reported drift within this of PPM: the estimator's lower
# envelope holds to ~50 ppm on the host; the test bed's wakeups are
# coarser.
PPM_TOLERANCE = 400
CHANNELS = [0, 1]
SECONDS = 16
# 100 ms blocks: the copy path's fileio refills and a Python probe keep
# up on a loaded TCG test bed
BLOCK = 4800
BLOCK_NS = BLOCK * Gst.SECOND // RATE
N_BLOCKS = 8


def launch(io_mode, extra=""):
    write_attr("sim-adc", "clock_ppm", PPM)
    return Gst.parse_launch(
        "iiosrc name=src device=sim-adc io-mode=%s channels=voltage0,voltage1 "
        "attributes=sampling_frequency=%d buffer-size=%d blocks=%d %s ! "
        "fakesink name=sink sync=false"
        % (io_mode, RATE, BLOCK, N_BLOCKS, extra))


class Arrivals:
    """At src's pad: each buffer's PTS, DURATION, OFFSET, DISCONT, first
    ramp value, and the pipeline clock's running time and the monotonic
    time when it arrived."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.rows = []
        pad = pipeline.get_by_name("src").get_static_pad("src")
        pad.add_probe(Gst.PadProbeType.BUFFER, self._probe)

    def _probe(self, pad, info):
        buf = info.get_buffer()
        clock = self.pipeline.get_clock()
        now = clock.get_time() - self.pipeline.get_base_time()
        first = int.from_bytes(buf.extract_dup(0, 2), "little")
        self.rows.append((buf.pts, buf.duration, buf.offset, buf.offset_end,
                          buf.has_flags(Gst.BufferFlags.DISCONT), first, now,
                          time.monotonic_ns()))
        return Gst.PadProbeReturn.OK


def run(pipeline, seconds=SECONDS, during=None):
    arrivals = Arrivals(pipeline)
    start(pipeline)
    t_end = time.monotonic() + seconds
    if during:
        during(pipeline)
    while time.monotonic() < t_end:
        time.sleep(0.2)
    s = stats(pipeline)
    clock = pipeline.get_clock()
    stop(pipeline)
    write_attr("sim-adc", "clock_ppm", 0)
    log("stats:", s.to_string())
    return s, arrivals.rows, clock


def check_ramp_and_offsets(rows):
    """Every block where the ramp says, offsets contiguous from 0."""
    for i, (pts, dur, off, off_end, discont, first, _, _) in enumerate(rows):
        check(off == i * BLOCK and off_end == off + BLOCK,
              "buffer %d: offsets %d-%d, expected %d-%d" %
              (i, off, off_end, i * BLOCK, (i + 1) * BLOCK))
        check(first == off & 0xffff, "buffer %d: first sample %d, the ramp "
              "says %d" % (i, first, off & 0xffff))
        check(not discont or i == 0, "DISCONT on buffer %d" % i)


def check_stats(s, path):
    check(s.get_string("io-mode") == path, "io-mode %s, expected %s"
          % (s.get_string("io-mode"), path))
    ok, overruns = s.get_uint64("overruns")
    check(ok and overruns == 0, "stats overruns %d: a false (or real) "
          "overrun with a 2000 ppm crystal" % overruns)
    ok, ppm = s.get_double("drift-ppm")
    check(ok, "stats has no drift-ppm: %s" % s.to_string())
    check(abs(ppm - PPM) < PPM_TOLERANCE, "stats drift-ppm %.1f, the crystal "
          "runs %+d ppm (tolerance %d)" % (ppm, PPM, PPM_TOLERANCE))
    log("drift-ppm %.1f (crystal %+d)" % (ppm, PPM))


def device_clock_case(path):
    pipeline = launch(path)
    src = pipeline.get_by_name("src")
    readings = []

    def sample_clock(pipeline):
        # after two seconds, the clock read every 5 ms for one second
        time.sleep(2)
        clock = pipeline.get_clock()
        for _ in range(200):
            readings.append(clock.get_time())
            time.sleep(0.005)

    s, rows, clock = run(pipeline, during=sample_clock)
    check(clock is not None and clock.__gtype__.name == "GstIioDeviceClock",
          "the pipeline clock is %s, not iiosrc's device clock"
          % (clock.__gtype__.name if clock else None))
    check(src.get_property("provide-clock"), "provide-clock is not TRUE by "
          "default")
    check(len(rows) > SECONDS * RATE // BLOCK // 2, "only %d buffers in %d s"
          % (len(rows), SECONDS))
    check_ramp_and_offsets(rows)
    check_stats(s, path)

    # PTS are the sample count on the clock: exact, from 0
    pts0 = rows[0][0]
    check(pts0 < BLOCK_NS, "the first PTS is %d ns, more than a block "
          "(sample 0 is when the device's clock starts)" % pts0)
    for i, (pts, dur, off, off_end, _, _, now, _) in enumerate(rows):
        want = pts0 + off * Gst.SECOND // RATE
        want_end = pts0 + off_end * Gst.SECOND // RATE
        check(pts == want and pts + dur == want_end, "buffer %d: PTS %d-%d, "
              "the sample count on the clock says %d-%d"
              % (i, pts, pts + dur, want, want_end))
    # A block is seen after its last sample on the clock that counts
    # them, and within the kernel's buffering of it. DMABUF blocks come
    # one by one, within a block; fileio hands over a kernel block (here
    # four of ours) at once, the first of them that much late.
    late = sorted(now - (pts + dur) for pts, dur, _, _, _, _, now, _ in rows)
    log("device clock at arrival - block end: min %.1f median %.1f max %.1f"
        " ms" % (late[0] / 1e6, late[len(late) // 2] / 1e6, late[-1] / 1e6))
    check(late[0] >= -1000000, "a block arrived %.1f ms before its end on "
          "the device clock" % (-late[0] / 1e6))
    check(late[-1] < N_BLOCKS * BLOCK_NS, "a block arrived %.1f ms after "
          "its end on the device clock, more than the kernel holds"
          % (late[-1] / 1e6))
    if path == "dmabuf":
        check(late[len(late) // 2] < BLOCK_NS, "blocks arrive a median "
              "%.1f ms after their end on the device clock, more than a "
              "block" % (late[len(late) // 2] / 1e6))

    # The clock is the crystal: over the run it gains 2000 ppm on the
    # monotonic clock. At each arrival the clock reads the block's end;
    # arrivals are late, fileio's in bursts of a kernel block, so each
    # end of the run takes its least delayed arrival (the greatest
    # clock - monotonic) over two seconds.
    t0 = rows[0][7]
    first = [(now - mono, mono) for _, _, _, _, _, _, now, mono in rows
             if 1e9 <= mono - t0 < 3e9]
    last = [(now - mono, mono) for _, _, _, _, _, _, now, mono in rows
            if mono - t0 >= rows[-1][7] - t0 - 2e9]
    a, b = max(first), max(last)
    ppm = (b[0] - a[0]) / (b[1] - a[1]) * 1e6
    log("device clock against monotonic: %+.1f ppm over %.1f s"
        % (ppm, (b[1] - a[1]) / 1e9))
    check(abs(ppm - PPM) < PPM_TOLERANCE, "the device clock runs %+.1f ppm "
          "against the monotonic clock; the crystal runs %+d" % (ppm, PPM))

    # Smooth, not a staircase: between blocks it interpolates.
    distinct = len(set(readings))
    blocks_in = (readings[-1] - readings[0]) // BLOCK_NS + 1
    log("clock read %d times over %.2f s: %d distinct values, %d blocks"
        % (len(readings), (readings[-1] - readings[0]) / 1e9, distinct,
           blocks_in))
    check(all(b >= a for a, b in zip(readings, readings[1:])),
          "the device clock went backwards")
    check(distinct > 3 * blocks_in, "the clock took %d distinct values in "
          "%d blocks: a staircase" % (distinct, blocks_in))


def test_device_clock_dmabuf():
    device_clock_case("dmabuf")


def test_device_clock_copy():
    device_clock_case("copy")


def system_clock_case(path):
    pipeline = launch(path)
    pipeline.use_clock(Gst.SystemClock.obtain())
    s, rows, clock = run(pipeline)
    check(clock.__gtype__.name != "GstIioDeviceClock", "the pipeline runs "
          "on %s, not the system clock" % clock.__gtype__.name)
    check(len(rows) > SECONDS * RATE // BLOCK // 2, "only %d buffers in %d s"
          % (len(rows), SECONDS))
    check_ramp_and_offsets(rows)
    check_stats(s, path)

    # Re-timestamped: contiguous and forward, every duration within 6 %
    # of a block (5 % of phase slew, 1 % of drift at most), 26 % in the
    # first two seconds (settling a late start).
    for i in range(1, len(rows)):
        pts, dur = rows[i][0], rows[i][1]
        prev_end = rows[i - 1][0] + rows[i - 1][1]
        bound = 26 if rows[i][2] < 2 * RATE else 6
        check(pts == prev_end, "buffer %d: PTS %d, the previous ended at %d "
              "(the timeline must stay contiguous)" % (i, pts, prev_end))
        check(abs(dur - BLOCK_NS) <= BLOCK_NS * bound // 100, "buffer %d: "
              "DURATION %d ns, a block is %d (bound %d %%)"
              % (i, dur, BLOCK_NS, bound))
    # Following: the latency (arrival - block end on the pipeline clock)
    # does not grow. Not following, the 2000 ppm crystal would move it by
    # 2 ms a second.
    lat = [(now - (pts + dur), mono) for pts, dur, _, _, _, _, now, mono
           in rows]
    t0 = lat[0][1]
    mid = [v for v, m in lat if 4e9 <= m - t0 < 8e9]
    end = [v for v, m in lat if m - t0 >= SECONDS * 1e9 - 5e9]
    check(mid and end, "too few buffers after 4 s")
    mid_min, end_min = min(mid), min(end)
    log("latency (lower envelope): 4-8 s %.2f ms, last 4 s %.2f ms, max "
        "%.1f ms" % (mid_min / 1e6, end_min / 1e6,
                     max(v for v, _ in lat) / 1e6))
    check(abs(end_min - mid_min) < 3000000, "the latency moved from %.2f to "
          "%.2f ms: PTS do not follow the system clock"
          % (mid_min / 1e6, end_min / 1e6))
    check(-BLOCK_NS // 2 < end_min < 2 * BLOCK_NS, "blocks arrive %.1f ms "
          "after their stamped end" % (end_min / 1e6))


def test_system_clock_dmabuf():
    system_clock_case("dmabuf")


def test_system_clock_copy():
    system_clock_case("copy")


def test_no_provide_clock():
    """provide-clock=false: the pipeline takes the system clock, PTS
    follow it."""
    pipeline = launch("dmabuf", "provide-clock=false")
    s, rows, clock = run(pipeline, seconds=4)
    check(clock.__gtype__.name != "GstIioDeviceClock", "provide-clock=false"
          " and the pipeline still runs on the device clock")
    check_ramp_and_offsets(rows)


def test_latency_query():
    """LATENCY: live, min one block, max every block."""
    pipeline = launch("dmabuf")
    start(pipeline)
    time.sleep(1)
    q = Gst.Query.new_latency()
    ok = pipeline.get_by_name("src").get_static_pad("src").query(q)
    live, lo, hi = q.parse_latency()
    stop(pipeline)
    write_attr("sim-adc", "clock_ppm", 0)
    log("latency: live %s min %d max %d" % (live, lo, hi))
    check(ok and live, "LATENCY not answered or not live")
    check(lo == BLOCK_NS and hi == N_BLOCKS * BLOCK_NS, "latency %d-%d ns, "
          "buffer-size and blocks say %d-%d" % (lo, hi, BLOCK_NS,
                                               N_BLOCKS * BLOCK_NS))


def dac_clock_case(io_mode):
    """iiosink provide-clock=true behind appsrc (not live: the sink's is
    the only clock): the pipeline runs on the DAC's clock, which gains the
    crystal's 2000 ppm on the monotonic clock, stats drift-ppm says so,
    and every sample plays."""
    write_attr("sim-dac", "clock_ppm", PPM)
    reset_dac(RATE)
    data = ramp_bytes(12 * RATE)
    pipeline = Gst.parse_launch(appsrc_launch(
        "buffer-size=%d io-mode=%s provide-clock=true" % (BLOCK, io_mode),
        rate=RATE))
    readings = []
    try:
        start(pipeline)
        push_all(pipeline.get_by_name("src"),
                 [data[i:i + 4 * BLOCK] for i in range(0, len(data),
                                                        4 * BLOCK)])
        clock = pipeline.get_clock()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            readings.append((clock.get_time(), time.monotonic_ns()))
            time.sleep(0.05)
        expect_eos(pop_end(pipeline))
        s = stats(pipeline, "sink")
    finally:
        stop(pipeline)
        write_attr("sim-dac", "clock_ppm", 0)
    log("sink stats:", s.to_string())
    check(clock.__gtype__.name == "GstIioDeviceClock", "the pipeline runs "
          "on %s, not iiosink's clock" % clock.__gtype__.name)
    check(all(b[0] >= a[0] for a, b in zip(readings, readings[1:])),
          "the DAC clock went backwards")
    late = [r for r in readings if r[1] - readings[0][1] >= 2e9]
    (ca, ma), (cb, mb) = late[0], late[-1]
    ppm = ((cb - ca) / (mb - ma) - 1) * 1e6
    log("DAC clock against monotonic: %+.1f ppm over %.1f s"
        % (ppm, (mb - ma) / 1e9))
    check(abs(ppm - PPM) < PPM_TOLERANCE, "the DAC clock runs %+.1f ppm "
          "against the monotonic clock; the crystal runs %+d" % (ppm, PPM))
    ok, drift = s.get_double("drift-ppm")
    check(ok and abs(drift - PPM) < PPM_TOLERANCE, "iiosink stats drift-ppm "
          "%.1f, the crystal runs %+d" % (drift, PPM))
    check_played(data, "appsrc ! iiosink provide-clock=true io-mode=%s"
                 % io_mode)


def test_dac_clock_dmabuf():
    dac_clock_case("dmabuf")


def test_dac_clock_copy():
    dac_clock_case("copy")


# iiosink sync=true renders each block at its running time on the
# pipeline clock (iiosrc's) plus the latency, and processing-deadline
# adds this much to the latency: the DAC starts that much after the first
# block, slack for a block delivered late.
DEADLINE_NS = 150 * Gst.MSECOND


def test_sink_latency_query():
    """iiosink sync=true behind iiosrc: LATENCY is iiosrc's plus the DAC's
    queue (min one block, max iiosink's blocks) plus GstBaseSink's
    processing-deadline (20 ms by default, in min); sync=false: none, as
    GstBaseSink reports for a sink that does not sync."""
    for sync in (True, False):
        reset_dac(RATE)
        pipeline = Gst.parse_launch(
            "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
            "attributes=sampling_frequency=%d buffer-size=%d blocks=%d ! "
            "iiosink name=sink device=sim-dac buffer-size=%d blocks=3 "
            "sync=%s" % (RATE, BLOCK, N_BLOCKS, BLOCK, sync))
        start(pipeline)
        time.sleep(1)
        q = Gst.Query.new_latency()
        ok = pipeline.get_by_name("sink").query(q)
        live, lo, hi = q.parse_latency()
        stop(pipeline)
        log("sync=%s: latency live %s min %d max %d" % (sync, live, lo, hi))
        check(ok, "iiosink did not answer LATENCY")
        if sync:
            check(live and lo == 2 * BLOCK_NS + 20 * Gst.MSECOND and
                  hi == (N_BLOCKS + 3) * BLOCK_NS, "iiosink sync=true: "
                  "latency live %s %d-%d ns; iiosrc's %d-%d plus the DAC's "
                  "%d-%d (and 20 ms in min) expected" % (live, lo, hi, BLOCK_NS,
                                      N_BLOCKS * BLOCK_NS, BLOCK_NS,
                                      3 * BLOCK_NS))
        else:
            check(not live, "iiosink sync=false reports a live latency")


def loop_case(adc_ppm, dac_ppm, n_buffers):
    """iiosrc ! iiosink with sim-adc and sim-dac at @adc_ppm and @dac_ppm:
    every captured sample played, in order; returns (src stats, sink
    stats, [(seconds, backlog samples, sim-dac underruns)])."""
    write_attr("sim-adc", "clock_ppm", adc_ppm)
    write_attr("sim-dac", "clock_ppm", dac_ppm)
    reset_dac(RATE)
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "attributes=sampling_frequency=%d buffer-size=%d blocks=%d "
        "num-buffers=%d ! iiosink name=sink device=sim-dac buffer-size=%d "
        "sync=true processing-deadline=%d"
        % (RATE, BLOCK, N_BLOCKS, n_buffers, BLOCK, DEADLINE_NS))
    try:
        return loop_run(pipeline, adc_ppm, dac_ppm, n_buffers)
    finally:
        stop(pipeline)
        write_attr("sim-adc", "clock_ppm", 0)
        write_attr("sim-dac", "clock_ppm", 0)


def loop_run(pipeline, adc_ppm, dac_ppm, n_buffers):
    src = pipeline.get_by_name("src")
    backlog = []
    start(pipeline)
    t0 = time.monotonic()
    bus = pipeline.get_bus()
    while True:
        msg = bus.timed_pop_filtered(500 * Gst.MSECOND,
                                     Gst.MessageType.EOS |
                                     Gst.MessageType.ERROR)
        if msg:
            break
        captured = src.get_property("stats").get_uint64("bytes")[1] // 4
        played = int(read_attr("sim-dac", "samples_consumed"))
        backlog.append((time.monotonic() - t0, captured - played,
                        int(read_attr("sim-dac", "underruns"))))
        check(time.monotonic() - t0 < n_buffers * BLOCK / RATE + 60,
              "no EOS %d s after the last block" % 60)
    expect_eos(msg)
    s_src, s_sink = stats(pipeline), stats(pipeline, "sink")
    backlog.append((time.monotonic() - t0, 0,
                    int(read_attr("sim-dac", "underruns"))))
    log("src stats:", s_src.to_string())
    log("sink stats:", s_sink.to_string())
    log("backlog (captured - played, samples; sim-dac underruns): %s" %
        ", ".join("%.1f s %d %d" % b for b in backlog[::4]))
    check(s_src.get_uint64("overruns") == (True, 0), "iiosrc overran: %s"
          % s_src.to_string())
    check_played(ramp_bytes(n_buffers * BLOCK), "iiosrc ! iiosink, ADC %+d "
                 "ppm, DAC %+d ppm" % (adc_ppm, dac_ppm))
    return s_src, s_sink, backlog


def test_loop_dac_slower():
    """The ADC 2000 ppm faster than the DAC: the backlog grows only at the
    drift (96 samples a second at 48 kHz, under a block in this run: the
    readings, a block apart, cannot show it), it stays within what the
    elements buffer, the DAC never runs dry after the start, and every
    sample plays."""
    _, s_sink, backlog = loop_case(PPM, 0, SECONDS * 10)
    # The DAC starts DEADLINE_NS late, the faster ADC only adds slack.
    # (the last reading is after EOS, the DAC idle: not counted)
    late = [b for b in backlog[:-1] if b[0] >= 3]
    dry = late[-1][2] - late[0][2]
    check(dry == 0, "the slower DAC ran dry for %d samples after the start"
          % dry)
    check(max(v for _, v, _ in backlog) <= (N_BLOCKS + 4 + 1) * BLOCK,
          "the backlog reached %d samples, more than the elements buffer"
          % max(v for _, v, _ in backlog))


DAC_FAST_PPM = 50000


def test_loop_dac_faster():
    """The DAC 5 % faster than the ADC (a short run must exhaust the
    slack of DEADLINE_NS): it runs dry between blocks, iiosink counts the underruns,
    the backlog stays bounded, and every captured sample still plays in
    order (an underrun is a gap in time, not in the data)."""
    mount_debugfs()
    _, s_sink, backlog = loop_case(0, DAC_FAST_PPM, 100)
    dac_underruns = backlog[-1][2]
    underruns = s_sink.get_uint64("underruns")[1]
    hw = s_sink.get_uint64("hw-underruns")[1]
    log("iiosink underruns %d, hw-underruns %d; sim-dac underruns %d "
        "samples" % (underruns, hw, dac_underruns))
    check(dac_underruns > 0, "the faster DAC never ran dry (sim-dac "
          "underruns 0): the test did not test")
    check(underruns > 0 and hw > 0, "the DAC ran dry (%d samples) but "
          "iiosink counted underruns %d, hw-underruns %d"
          % (dac_underruns, underruns, hw))
    check(max(v for _, v, _ in backlog) <= (N_BLOCKS + 4 + 1) * BLOCK,
          "the backlog reached %d samples" % max(v for _, v, _ in backlog))


if __name__ == "__main__":
    main(test_device_clock_dmabuf, test_device_clock_copy,
         test_system_clock_dmabuf, test_system_clock_copy,
         test_no_provide_clock, test_latency_query, test_sink_latency_query,
         test_dac_clock_dmabuf, test_dac_clock_copy,
         test_loop_dac_slower, test_loop_dac_faster,
         after_each=lambda: reset_dac())
