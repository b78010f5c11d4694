#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hardware loss counts from the AXI status register (0x80000088, debugfs
direct_reg_access; docs/iiosrc.md and docs/iiosink.md, "Hardware
overflow"): sim-adc sets bit 2 on every overrun, sim-dac bit 0 on every
underrun, and counts in xflow_events the times the bit went from clear
to set. An element that reads and clears the register after every block
sees exactly those events, but for one still set in the register when
the stream stopped: xflow_events == hw-overruns (or hw-underruns) + that
bit. Each event is an iio-xflow message and marks the buffer it was
seen on DISCONT; a burst posts one warning. Over iiod (ip:), on the
local DMABUF and fileio paths (both directions); xflow-check=false and
sim-kfifo (no register) count nothing."""

import os
import subprocess
import time

from iiotest import (DAC_CAPS, DAC_SAMPLE, DEBUGFS, Gst, Iiod,
                     bus_message_text, check, device_dir, main, mount_debugfs,
                     read_attr, reset_dac, start, stop, write_attr)

REG = 0x80000088
ADC_BIT = 1 << 2
DAC_BIT = 1 << 0
RATE = 200000
BLOCK = 4096
# the consumer pulls this many buffers, pausing every PAUSE_EVERY for
# PAUSE_S (a block lasts 20 ms at RATE: 4 blocks queued ride out 80 ms)
N_BUFFERS = 60
PAUSE_EVERY = 15
PAUSE_S = 0.3


def read_reg(device):
    """The register through debugfs, as a board user reads it (only
    while the device is disabled: a read accounts a gap going on)."""
    path = os.path.join(DEBUGFS, "iio", os.path.basename(device_dir(device)),
                        "direct_reg_access")
    with open(path, "w") as f:
        f.write("0x%x" % REG)
    with open(path) as f:
        return int(f.read().strip(), 16)


class BusLog:
    """Collects @pipeline's iio-xflow structures and warning texts as they
    are posted (a sync handler: set_state(NULL) flushes the bus, and the
    counts are only final after it); errors too."""

    def __init__(self, pipeline):
        self.xflows, self.warnings, self.errors = [], [], []
        bus = pipeline.get_bus()
        bus.enable_sync_message_emission()
        bus.connect("sync-message", self._on_message)

    def _on_message(self, bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            self.errors.append(bus_message_text(msg))
        elif msg.type == Gst.MessageType.WARNING:
            # the message, and the debug text without its source location
            err, debug = msg.parse_warning()
            self.warnings.append("%s (%s)" % (err.message,
                                              debug.split("\n")[-1]))
        elif (msg.type == Gst.MessageType.ELEMENT and
              msg.get_structure().get_name() == "iio-xflow"):
            self.xflows.append(msg.get_structure().copy())

    def hw_warnings(self):
        return [w for w in self.warnings if w.startswith("Hardware")]


def u64(structure, field):
    ok, value = structure.get_uint64(field)
    check(ok, "no %s in %s" % (field, structure.to_string()))
    return value


def slow_capture(device, props, n=N_BUFFERS):
    """Pulls @n buffers from iiosrc on @device with @props, pausing every
    PAUSE_EVERY; returns ({offset: discont}, stats, xflows, warnings)."""
    p = Gst.parse_launch(
        "iiosrc name=src device=%s buffer-size=%d blocks=4 "
        "attributes=sampling_frequency=%d %s ! "
        "appsink name=sink sync=false max-buffers=1"
        % (device, BLOCK, RATE, props))
    log = BusLog(p)
    start(p)
    seen = {}
    try:
        sink = p.get_by_name("sink")
        for i in range(n):
            sample = sink.emit("try-pull-sample", 20 * Gst.SECOND)
            check(sample is not None, "no buffer %d within 20 s" % i)
            buf = sample.get_buffer()
            seen[buf.offset] = buf.has_flags(Gst.BufferFlags.DISCONT)
            del sample, buf
            if i % PAUSE_EVERY == PAUSE_EVERY - 1:
                time.sleep(PAUSE_S)
    finally:
        stop(p)
    st = p.get_by_name("src").get_property("stats")
    check(not log.errors, "errors: %s" % log.errors)
    return seen, st, log.xflows, log.hw_warnings()


def check_capture(device, props, what):
    seen, st, xflows, warnings = slow_capture(device, props)
    hw = u64(st, "hw-overruns")
    events = int(read_attr(device, "xflow_events"))
    left = 1 if read_reg(device) & ADC_BIT else 0
    print("%s: %d buffers, hw-overruns %d, sim xflow_events %d, left set %d, "
          "overruns %d" % (what, len(seen), hw, events, left,
                           u64(st, "overruns")), flush=True)
    check(hw > 0, "%s: no hardware overrun counted (xflow_events %d)"
          % (what, events))
    check(events == hw + left, "%s: the simulator raised %d events, "
          "hw-overruns %d, %d left in the register" % (what, events, hw, left))
    check(u64(st, "hw-underruns") == 0, "%s: hw-underruns on a source"
          % what)
    check(len(xflows) == hw, "%s: %d iio-xflow messages, hw-overruns %d"
          % (what, len(xflows), hw))
    last = max(seen)
    for k, s in enumerate(xflows):
        check(u64(s, "events") == k + 1, "%s: message %d: %s"
              % (what, k, s.to_string()))
        check(s.get_value("register") == REG and s.get_value("bit") ==
              ADC_BIT, "%s: %s" % (what, s.to_string()))
        offset = u64(s, "offset")
        if offset > last:
            continue      # a buffer the test no longer pulled
        check(seen.get(offset), "%s: the buffer at offset %d (event %d) is "
              "%s" % (what, offset, k + 1, "not DISCONT" if offset in seen
                      else "not a buffer start"))
    hw_warnings = warnings
    check(1 <= len(hw_warnings) <= hw, "%s: %d hardware warnings for %d "
          "events: %s" % (what, len(hw_warnings), hw, hw_warnings))
    want = ("Hardware overflow: sim-adc (%s) dropped samples because the "
            "pipeline did not keep up (AXI status register 0x80000088, bit "
            "2; 1 so far) (the ADC's FIFO overflowed since the last block; "
            "the next buffer is DISCONT; consider more blocks or a larger "
            "buffer-size)" % os.path.basename(device_dir("sim-adc")))
    check(hw_warnings[0] == want, "%s: warning %r, expected %r"
          % (what, hw_warnings[0], want))


def test_src_dmabuf():
    """Local DMABUF path."""
    check_capture("sim-adc", "io-mode=dmabuf", "dmabuf")


def test_src_fileio():
    """Local copy path (fileio through libiio)."""
    check_capture("sim-adc", "io-mode=copy", "copy")


def test_src_iiod():
    """Over iiod: the register through libiio's network backend."""
    with Iiod():
        check_capture("sim-adc", "uri=ip:127.0.0.1", "ip")


def test_src_off():
    """xflow-check=false: the register is not touched (its bit stays set
    after an overrun), nothing counted, no hardware warning; today's
    detection still counts."""
    seen, st, xflows, warnings = slow_capture(
        "sim-adc", "io-mode=dmabuf xflow-check=false")
    events = int(read_attr("sim-adc", "xflow_events"))
    check(events > 0, "no overrun raised")
    check(read_reg("sim-adc") & ADC_BIT, "the register was cleared")
    check(u64(st, "hw-overruns") == 0 and not xflows, "counted: %s"
          % st.to_string())
    check(u64(st, "overruns") > 0, "today's detection counted nothing: %s"
          % st.to_string())
    check(not warnings, "warnings: %s" % warnings)


def test_src_no_register():
    """sim-kfifo has no register: a stream as before, nothing counted."""
    seen, st, xflows, warnings = slow_capture("sim-kfifo", "", n=30)
    check(len(seen) == 30 and u64(st, "hw-overruns") == 0 and not xflows,
          "counted: %s" % st.to_string())
    check(not warnings, "warnings: %s" % warnings)


def starve_dac(props, what, bursts=4, per_burst=10, chunk_samples=BLOCK):
    """Feeds sim-dac in bursts of @per_burst buffers of @chunk_samples
    with pauses in between, then EOS; returns hw-underruns, the
    simulator's events, the bit left set, stats, messages, warnings."""
    reset_dac()
    p = Gst.parse_launch(
        'appsrc name=src format=time max-bytes=0 caps="%s" ! '
        "iiosink name=sink device=sim-dac buffer-size=%d blocks=2 %s"
        % (DAC_CAPS.format(rate=1000000), BLOCK, props))
    log = BusLog(p)
    appsrc = p.get_by_name("src")
    chunk = bytes(chunk_samples * DAC_SAMPLE)
    start(p)
    try:
        for b in range(bursts):
            for _ in range(per_burst):
                ret = appsrc.emit("push-buffer", Gst.Buffer.new_wrapped(chunk))
                check(ret == Gst.FlowReturn.OK, "push-buffer: %s" % ret)
            time.sleep(PAUSE_S)
        appsrc.emit("end-of-stream")
        msg = p.get_bus().timed_pop_filtered(
            60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        check(msg is not None, "%s: no EOS within 60 s" % what)
        if msg.type != Gst.MessageType.EOS:
            raise AssertionError("%s: %s" % (what, bus_message_text(msg)))
    finally:
        stop(p)
    st = p.get_by_name("sink").get_property("stats")
    check(not log.errors, "errors: %s" % log.errors)
    xflows, warnings = log.xflows, log.hw_warnings()
    hw = u64(st, "hw-underruns")
    events = int(read_attr("sim-dac", "xflow_events"))
    left = 1 if read_reg("sim-dac") & DAC_BIT else 0
    print("%s: hw-underruns %d, sim xflow_events %d, left set %d, "
          "underruns %s" % (what, hw, events, left,
                            read_attr("sim-dac", "underruns")), flush=True)
    return hw, events, left, st, xflows, warnings


def check_starved(props, what, **kwargs):
    hw, events, left, st, xflows, warnings = starve_dac(props, what, **kwargs)
    check(hw > 0, "%s: no hardware underrun counted (xflow_events %d)"
          % (what, events))
    check(events == hw + left, "%s: the simulator raised %d events, "
          "hw-underruns %d, %d left in the register"
          % (what, events, hw, left))
    check(len(xflows) == hw and all(
        u64(s, "events") == k + 1 and s.get_value("bit") == DAC_BIT and
        not s.has_field("offset") for k, s in enumerate(xflows)),
        "%s: messages %s" % (what, [s.to_string() for s in xflows]))
    hw_warnings = warnings
    check(1 <= len(hw_warnings) <= hw, "%s: %d hardware warnings for %d "
          "events: %s" % (what, len(hw_warnings), hw, hw_warnings))
    want = ("Hardware underflow: sim-dac (%s) ran out of samples because "
            "upstream did not keep up (AXI status register 0x80000088, bit "
            "0; 1 so far) (the DAC's FIFO ran dry since the last block; "
            "consider more blocks or a larger buffer-size)"
            % os.path.basename(device_dir("sim-dac")))
    check(hw_warnings[0] == want, "%s: warning %r, expected %r"
          % (what, hw_warnings[0], want))


def test_sink_dmabuf():
    check_starved("io-mode=dmabuf", "sink dmabuf")


def test_sink_small_buffers():
    """Buffers of an eighth of a block: one read a block's worth, the
    count as exact."""
    check_starved("io-mode=dmabuf", "sink small", per_burst=80,
                  chunk_samples=BLOCK // 8)


def test_sink_fileio():
    check_starved("io-mode=copy", "sink copy")


def test_sink_iiod():
    with Iiod():
        check_starved("uri=ip:127.0.0.1", "sink ip")


def test_sink_off():
    hw, events, left, st, xflows, warnings = starve_dac(
        "io-mode=dmabuf xflow-check=false", "sink off")
    check(events > 0 and left, "events %d, left %d: the register was "
          "touched" % (events, left))
    check(hw == 0 and not xflows and not warnings,
        "counted: %s %s" % (st.to_string(), warnings))


if __name__ == "__main__":
    mount_debugfs()
    main(test_src_dmabuf, test_src_fileio, test_src_iiod, test_src_off,
         test_src_no_register, test_sink_dmabuf, test_sink_small_buffers,
         test_sink_fileio, test_sink_iiod, test_sink_off,
         after_each=lambda: write_attr("sim-adc", "fault", "none"))
