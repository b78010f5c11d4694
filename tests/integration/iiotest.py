# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers shared by the gst-iio integration tests.

The tests run inside the test bed (tests/vm/run) with Debian's Python
(/usr/bin/python3, GI + numpy): the iio-sim devices are real kernel IIO
devices there. Every wait is bounded; a failed check raises
AssertionError with what a user would see (sample values, counts, error
text), and main() turns it into exit status 1.

Every test file uses these helpers, none keeps a copy: the runner
(main), sysfs and process resources, pipelines and their bus (wait_end,
pop_end, error_of, expect_eos, check_no_error, pop_all), the sim-adc
ramp (Ramp, ramp_bytes), sim-dac (reset_dac, FNV-1a 64 checksums,
check_played, wait_consumed), appsrc feeding (push_all, random_chunks),
the recorders (Recorder at a pad, pull_blocks from an appsink) and iiod.
(test_iiosrc_loss reads its appsink with a leaner loop of its own: its
consumer's cost per buffer is part of what it tests.)
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


def select_cases(cases, groups, wanted):
    """The case names to run: @wanted (names of cases or of @groups,
    expanded in order), or every case when @wanted is empty. None (and a
    message naming the valid choices) when one is unknown."""
    names = [n for w in wanted for n in groups.get(w, [w])] or list(cases)
    unknown = [n for n in names if n not in cases]
    if unknown:
        log("unknown case(s) %s; groups: %s; cases: %s" %
            (unknown, ", ".join(groups) or "none", ", ".join(cases)))
        return None
    return names


def run_case(name, case):
    """Runs one case; True if it passed. Every kind of failure is
    reported the same way: the traceback, then FAIL NAME."""
    log("--- %s" % name)
    t0 = time.monotonic()
    try:
        case()
    except Exception:  # report every kind of failure the same way
        traceback.print_exc()
        log("FAIL %s" % name)
        return False
    log("PASS %s (%.1f s)" % (name, time.monotonic() - t0))
    return True


def main(*tests, cases=None, groups=None, after_each=None, argv=None):
    """The one runner of the test files. The cases are the functions
    @tests (named by __name__) and the {name: function} dict @cases;
    @groups maps a group name to case names. The command line (@argv,
    default sys.argv[1:]) selects cases and groups by name, in order;
    none selects every case. Each selected case runs, even after a
    failure, then @after_each() (resetting a device a failed case may
    have left faulty). Exits 0 when all pass, 1 after any failure
    (listed at the end), 2 for an unknown name."""
    all_cases = {t.__name__: t for t in tests}
    all_cases.update(cases or {})
    wanted = sys.argv[1:] if argv is None else argv
    names = select_cases(all_cases, groups or {}, wanted)
    if names is None:
        sys.exit(2)
    failed = []
    for name in names:
        if not run_case(name, all_cases[name]):
            failed.append(name)
        if after_each:
            after_each()
    if failed:
        log("FAILED: %s" % ", ".join(failed))
    sys.exit(1 if failed else 0)


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


def bind(platform_device):
    """Simulated plug-in: binds @platform_device to iio-sim again (its
    attributes are back at their defaults)."""
    with open(os.path.join(SIM_DRIVER, "bind"), "w") as f:
        f.write(platform_device)


# ---- process resources ----------------------------------------------------

DEBUGFS = "/sys/kernel/debug"


def mount_debugfs():
    """libiio (and iiod) list debug attributes from debugfs at context
    creation, the AXI status register among them (xflow-check): mounted
    before either starts, as on a board."""
    if not os.path.ismount(DEBUGFS):
        subprocess.run(["mount", "-t", "debugfs", "debugfs", DEBUGFS],
                       check=True)


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


# Longest wait for a pipeline's end (EOS or error).
END_BOUND_S = 120


def pop_end(pipeline, timeout_s=END_BOUND_S):
    """The next EOS or ERROR message (dropping the others before it);
    fails when none comes within @timeout_s."""
    msg = pipeline.get_bus().timed_pop_filtered(
        int(timeout_s * Gst.SECOND),
        Gst.MessageType.EOS | Gst.MessageType.ERROR)
    check(msg is not None, "no EOS nor error within %d s" % timeout_s)
    return msg


def wait_end(pipeline, timeout_s=END_BOUND_S):
    """Plays @pipeline until EOS or an error; returns the message. A
    failing state change posts its error message: returned too."""
    set_state_bounded(pipeline, Gst.State.PLAYING)
    return pop_end(pipeline, timeout_s)


def error_of(msg):
    """(source element name, GError, debug text) of the ERROR message
    @msg; fails when there is none or it is another message."""
    check(msg is not None, "no error message")
    check(msg.type == Gst.MessageType.ERROR, "expected an error, got %s"
          % Gst.message_type_get_name(msg.type))
    err, debug = msg.parse_error()
    return msg.src.get_name(), err, debug


def expect_eos(msg):
    """Fails with the error's source and text unless @msg is EOS."""
    if msg.type == Gst.MessageType.ERROR:
        src, err, debug = error_of(msg)
        raise AssertionError("error from %s: %s (%s)"
                             % (src, err.message, debug))


def check_no_error(pipeline, what):
    """Fails if an ERROR message is waiting on the bus (not waiting)."""
    msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    if msg:
        src, err, debug = error_of(msg)
        raise AssertionError("%s: error from %s: %s (%s)"
                             % (what, src, err.message, debug))


def pop_all(pipeline, types):
    """Every message of @types waiting on the bus, oldest first (not
    waiting); the others before them are dropped."""
    bus = pipeline.get_bus()
    msgs = []
    while True:
        msg = bus.pop_filtered(types)
        if msg is None:
            return msgs
        msgs.append(msg)


def stats_of(element):
    """@element's stats structure as a dict."""
    s = element.get_property("stats")
    return {s.nth_field_name(i): s.get_value(s.nth_field_name(i))
            for i in range(s.n_fields())}


def stats(pipeline, name="src"):
    return pipeline.get_by_name(name).get_property("stats")


def stat(pipeline, field, name="src"):
    s = stats(pipeline, name)
    ok, value = s.get_uint64(field)
    check(ok, "stats has no %s: %s" % (field, s.to_string()))
    return value


class Recorder:
    """Records the buffers reaching @pad (a probe): count, how many were
    one DMABUF memory, and their bytes (with @keep_data)."""

    def __init__(self, pad, keep_data=True):
        self.data = []
        self.n = 0
        self.n_dmabuf = 0
        self.keep_data = keep_data
        pad.add_probe(Gst.PadProbeType.BUFFER, self._probe)

    def _probe(self, pad, info):
        buf = info.get_buffer()
        self.n += 1
        if buf.n_memory() == 1 and \
                GstAllocators.is_dmabuf_memory(buf.peek_memory(0)):
            self.n_dmabuf += 1
        if self.keep_data:
            self.data.append(buf.extract_dup(0, buf.get_size()))
        return Gst.PadProbeReturn.OK

    def all_bytes(self):
        return b"".join(self.data)


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


def ramp_bytes(n_samples, channels=(0, 1)):
    """What sim-adc captures from enable, as bytes: channel c at sample n
    is (int16)((n + 1000 * c) & 0xffff), interleaved."""
    n = np.arange(n_samples, dtype=np.uint32)
    out = np.empty((n_samples, len(channels)), dtype="<u2")
    for i, c in enumerate(channels):
        out[:, i] = (n + RAMP_CHANNEL_STEP * c) & 0xffff
    return out.tobytes()


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


# ---- sim-dac ---------------------------------------------------------------

DAC_RATE = 1000000                  # sim-dac's default sampling_frequency
DAC_SAMPLE = 4                      # bytes: 2 channels of S16LE
DAC_CAPS = ("audio/x-raw,format=S16LE,channels=2,rate={rate},"
            "layout=interleaved,channel-mask=(bitmask)0")
# sim-dac's checksum: FNV-1a 64 of every byte it consumed
FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3
MASK64 = (1 << 64) - 1


def fnv1a64(data, h=FNV_OFFSET):
    """FNV-1a 64 of @data, continuing from @h (to checksum in pieces)."""
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def reset_dac(rate=DAC_RATE):
    write_attr("sim-dac", "fault", "none")
    write_attr("sim-dac", "sampling_frequency", rate)


def dac_played():
    """(samples consumed, checksum) of sim-dac's last session."""
    return (int(read_attr("sim-dac", "samples_consumed")),
            int(read_attr("sim-dac", "checksum"), 16))


def check_played(data, what):
    """sim-dac played exactly the bytes @data: count and checksum."""
    consumed, checksum = dac_played()
    sent = len(data) // DAC_SAMPLE
    check(consumed == sent, "%s: the DAC played %d samples, %d were sent"
          % (what, consumed, sent))
    want = fnv1a64(data)
    check(checksum == want, "%s: DAC checksum 0x%016x != 0x%016x, the "
          "FNV-1a 64 of the bytes sent" % (what, checksum, want))


def check_played_padded(data, what, block=4096):
    """The copy path: the kernel's fileio interface plays whole blocks
    only, so the last block is completed by repeating the last sample."""
    consumed, checksum = dac_played()
    sent = len(data) // DAC_SAMPLE
    padding = -sent % block
    check(consumed == sent + padding, "%s: the DAC played %d samples for %d "
          "sent, %d expected (%d repeats of the last sample complete the "
          "last block of buffer-size=%d)"
          % (what, consumed, sent, sent + padding, padding, block))
    want = fnv1a64(data + data[-DAC_SAMPLE:] * (consumed - sent))
    check(checksum == want, "%s: DAC checksum 0x%016x != 0x%016x, the "
          "FNV-1a 64 of the bytes sent, then %d repeats of the last sample"
          % (what, checksum, want, consumed - sent))


def wait_consumed(at_least, pipeline=None, what="sim-dac",
                  bound_s=END_BOUND_S):
    """Until sim-dac played @at_least samples; with @pipeline, an error
    message on its bus fails at once."""
    deadline = time.monotonic() + bound_s
    while int(read_attr("sim-dac", "samples_consumed")) < at_least:
        if pipeline is not None:
            check_no_error(pipeline, what)
        check(time.monotonic() < deadline, "%s: the DAC did not reach %d "
              "samples within %d s" % (what, at_least, bound_s))
        time.sleep(0.02)


def appsrc_launch(sink_props, rate=DAC_RATE):
    """appsrc name=src (DAC caps at @rate, unlimited queue) into iiosink
    name=sink on sim-dac with @sink_props."""
    return ('appsrc name=src format=time max-bytes=0 caps="%s" ! '
            "iiosink name=sink device=sim-dac %s"
            % (DAC_CAPS.format(rate=rate), sink_props))


def push_all(appsrc, chunks):
    """Pushes the byte strings @chunks into @appsrc, then EOS."""
    for c in chunks:
        ret = appsrc.emit("push-buffer", Gst.Buffer.new_wrapped(c))
        check(ret == Gst.FlowReturn.OK, "push-buffer: %s" % ret)
    appsrc.emit("end-of-stream")


def random_chunks(rng, n, max_samples, sample=DAC_SAMPLE):
    """@n random byte strings of 1 to @max_samples whole samples."""
    return [rng.randbytes(rng.randint(1, max_samples) * sample)
            for _ in range(n)]


# ---- iiod ------------------------------------------------------------------

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
