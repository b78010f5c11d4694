# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers shared by the gst-iio integration tests.

The tests run inside the test bed (tests/vm/run) with Debian's Python
(/usr/bin/python3, GI + numpy): the iio-sim devices are real kernel IIO
devices there. Every wait is bounded; a failed check raises
AssertionError with what a user would see (sample values, counts, error
text), and main() turns it into exit status 1.
"""

import os
import subprocess
import sys
import threading
import time
import traceback

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstAllocators", "1.0")
from gi.repository import Gst, GstAllocators  # noqa: E402

import numpy as np  # noqa: E402

Gst.init(None)

IIO_SYSFS = "/sys/bus/iio/devices"
SIM_DRIVER = "/sys/bus/platform/drivers/iio-sim"
# sim-adc: channel voltageC at sample n is (n + 1000 * C) & 0xffff,
# n counted from the buffer enable (tests/vm/sim/iio-sim.c).
RAMP_CHANNEL_STEP = 1000


def log(*args):
    print(*args, flush=True)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def main(*tests):
    """Runs the test functions in order (only those named on the command
    line, if any); exit status 1 on the first failure (with its message),
    0 when all pass."""
    wanted = sys.argv[1:]
    unknown = set(wanted) - {t.__name__ for t in tests}
    check(not unknown, "unknown tests %s; valid: %s" %
          (sorted(unknown), ", ".join(t.__name__ for t in tests)))
    for test in tests:
        if wanted and test.__name__ not in wanted:
            continue
        log("--- %s" % test.__name__)
        t0 = time.monotonic()
        try:
            test()
        except Exception:  # report every kind of failure the same way
            traceback.print_exc()
            log("FAIL %s" % test.__name__)
            sys.exit(1)
        log("PASS %s (%.1f s)" % (test.__name__, time.monotonic() - t0))
    sys.exit(0)


# ---- sysfs ----------------------------------------------------------------

def device_dir(name):
    """/sys/bus/iio/devices/iio:deviceN of the device called @name."""
    for entry in sorted(os.listdir(IIO_SYSFS)):
        path = os.path.join(IIO_SYSFS, entry)
        try:
            with open(os.path.join(path, "name")) as f:
                if f.read().strip() == name:
                    return path
        except OSError:
            continue
    raise AssertionError("no IIO device named %s in %s" % (name, IIO_SYSFS))


def read_attr(device, attr):
    with open(os.path.join(device_dir(device), attr)) as f:
        return f.read().strip()


def write_attr(device, attr, value):
    with open(os.path.join(device_dir(device), attr), "w") as f:
        f.write(str(value))


def unbind(platform_device):
    """Simulated hot-unplug: unbinds @platform_device from iio-sim."""
    with open(os.path.join(SIM_DRIVER, "unbind"), "w") as f:
        f.write(platform_device)


# ---- process resources ----------------------------------------------------

def fd_count():
    return len(os.listdir("/proc/self/fd"))


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


# ---- pipelines -------------------------------------------------------------

def bus_message_text(msg):
    if msg.type == Gst.MessageType.ERROR:
        err, debug = msg.parse_error()
    else:
        err, debug = msg.parse_warning()
    return "%s (%s)" % (err.message, debug)


def pop_error(pipeline, timeout_s=0):
    """The next ERROR message (waiting up to @timeout_s), or None. Other
    messages before it are dropped."""
    bus = pipeline.get_bus()
    msg = bus.timed_pop_filtered(int(timeout_s * Gst.SECOND),
                                 Gst.MessageType.ERROR)
    return msg


def error_text(pipeline):
    """The text of the next ERROR message; drops the messages before it."""
    msg = pop_error(pipeline)
    return bus_message_text(msg) if msg else "no error message on the bus"


def set_state_bounded(pipeline, state, bound_s=30):
    """Sets @state from a helper thread so that a hang fails the test
    instead of blocking it. Returns the GstStateChangeReturn."""
    result = []
    thread = threading.Thread(target=lambda: result.append(
        pipeline.set_state(state)), daemon=True)
    thread.start()
    thread.join(bound_s)
    check(not thread.is_alive(), "set_state(%s) did not return within %d s"
          % (state.value_nick, bound_s))
    return result[0]


def start(pipeline):
    ret = set_state_bounded(pipeline, Gst.State.PLAYING)
    # error_text() pops (and drops) messages: only when failing
    if ret == Gst.StateChangeReturn.FAILURE:
        raise AssertionError("pipeline failed to start: %s"
                             % error_text(pipeline))


def stop(pipeline):
    ret = set_state_bounded(pipeline, Gst.State.NULL)
    check(ret == Gst.StateChangeReturn.SUCCESS,
          "set_state(NULL) returned %s" % ret.value_nick)


def stats(pipeline, name="src"):
    return pipeline.get_by_name(name).get_property("stats")


def stat(pipeline, field, name="src"):
    s = stats(pipeline, name)
    ok, value = s.get_uint64(field)
    check(ok, "stats has no %s: %s" % (field, s.to_string()))
    return value


class Block:
    """What the tests look at in one buffer."""

    def __init__(self, buf, n_channels, keep_data=True):
        self.pts = buf.pts
        self.duration = buf.duration
        self.offset = buf.offset
        self.offset_end = buf.offset_end
        self.discont = buf.has_flags(Gst.BufferFlags.DISCONT)
        self.n_memory = buf.n_memory()
        self.dmabuf = all(GstAllocators.is_dmabuf_memory(buf.peek_memory(i))
                          for i in range(buf.n_memory()))
        self.size = buf.get_size()
        self.data = buffer_samples(buf, n_channels) if keep_data else None


def buffer_samples(buf, n_channels):
    """The buffer's S16LE samples as an (n, n_channels) uint16 array (one
    copy: the streaming loop must stay cheap on a loaded test bed)."""
    data = np.frombuffer(buf.extract_dup(0, buf.get_size()), dtype="<u2")
    return data.reshape(-1, n_channels)


def pull_blocks(pipeline, n, n_channels, sink="sink", timeout_s=10,
                keep_data=True, on_block=None):
    """Pulls @n samples from the appsink; returns (caps, [Block]). Each
    buffer is released right after @on_block(i, block) looked at it (its
    samples are in block.data, kept only with @keep_data). An error
    message or a missing sample fails with the bus error text."""
    appsink = pipeline.get_by_name(sink)
    blocks = []
    caps = None
    for i in range(n):
        sample = appsink.emit("try-pull-sample", int(timeout_s * Gst.SECOND))
        if sample is None:
            raise AssertionError("no buffer %d within %d s: %s"
                                 % (i, timeout_s, error_text(pipeline)))
        if caps is None:
            caps = sample.get_caps()
        block = Block(sample.get_buffer(), n_channels,
                      keep_data or on_block is not None)
        del sample
        if on_block:
            on_block(i, block)
        if not keep_data:
            block.data = None
        blocks.append(block)
    return caps, blocks


# ---- the sim-adc ramp ------------------------------------------------------

class Ramp:
    """Checks sim-adc ramp data block by block: samples contiguous inside a
    block, channels offset by 1000 x their index, and across blocks either
    contiguous or a gap (counted)."""

    def __init__(self, channel_indices):
        self.channels = list(channel_indices)
        self.next = None          # expected first value of voltage channel 0
        self.gaps = []            # (block number, samples skipped mod 65536)
        self.blocks = 0
        self.samples = 0

    def feed(self, data):
        """@data: (n, channels) uint16 of one block. Returns the gap before
        it (0 when contiguous)."""
        first = int(data[0, 0])
        base = (first - RAMP_CHANNEL_STEP * self.channels[0]) & 0xffff
        n = data.shape[0]
        expect = (base + np.arange(n, dtype=np.uint32)) & 0xffff
        for k, c in enumerate(self.channels):
            want = (expect + RAMP_CHANNEL_STEP * c) & 0xffff
            bad = np.nonzero(data[:, k] != want)[0]
            if len(bad):
                i = bad[0]
                raise AssertionError(
                    "block %d: voltage%d sample %d is %d, the ramp says %d "
                    "(%d wrong samples in the block)" %
                    (self.blocks, c, i, data[i, k], want[i], len(bad)))
        gap = 0
        if self.next is not None:
            gap = (base - self.next) & 0xffff
            if gap:
                self.gaps.append((self.blocks, gap))
        self.next = (base + n) & 0xffff
        self.blocks += 1
        self.samples += n
        return gap


def ramp_start(data, channel_indices):
    """Ramp sample number (mod 65536) of the first sample of @data."""
    return (int(data[0, 0]) - RAMP_CHANNEL_STEP * channel_indices[0]) & 0xffff


def check_timeline(blocks, rate, block_samples):
    """OFFSET/OFFSET_END contiguous from 0, PTS = PTS0 + OFFSET / rate,
    DURATION up to the next PTS."""
    pts0 = blocks[0].pts
    for i, b in enumerate(blocks):
        check(b.offset == i * block_samples and
              b.offset_end == (i + 1) * block_samples,
              "buffer %d: offsets %d-%d, expected %d-%d" %
              (i, b.offset, b.offset_end, i * block_samples,
               (i + 1) * block_samples))
        want = pts0 + b.offset * Gst.SECOND // rate
        check(b.pts == want, "buffer %d: PTS %d, expected %d (PTS0 + "
              "OFFSET / rate)" % (i, b.pts, want))
        want_end = pts0 + b.offset_end * Gst.SECOND // rate
        check(b.pts + b.duration == want_end, "buffer %d: PTS + DURATION "
              "%d, expected %d" % (i, b.pts + b.duration, want_end))


# ---- iiod --------------------------------------------------------------------

class Iiod:
    """Debian's iiod serving the local context on 127.0.0.1 (lo is up in
    the test bed). Its output goes to a file: a pipe nobody reads would
    stall it once full."""

    LOG = "/tmp/iiod.log"

    def __init__(self):
        self.proc = None

    def _log(self):
        with open(self.LOG, errors="replace") as f:
            return f.read()[-2000:]

    def __enter__(self):
        exe = "/usr/sbin/iiod"
        check(os.path.exists(exe), "%s not found (package iiod; run "
              "tests/install-deps)" % exe)
        with open(self.LOG, "w") as log_file:
            self.proc = subprocess.Popen([exe], stdout=log_file,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("iiod exited with %s: %s" %
                                     (self.proc.returncode, self._log()))
            probe = subprocess.run(["iio_info", "-u", "ip:127.0.0.1"],
                                   capture_output=True, timeout=20)
            if probe.returncode == 0:
                return self
            time.sleep(0.2)
        raise AssertionError("iiod did not answer on ip:127.0.0.1 in 20 s: "
                             "%s" % self._log())

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
