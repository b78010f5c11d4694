#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The examples, run as a user runs them, so that they cannot rot.

    test_examples.py --capture BUILD/examples/c/iio-capture [TEST...]

examples/c/iio-capture against sim-adc (DMABUF), sim-kfifo (copy), iiod
(ip:127.0.0.1) and a wrong device; examples/python/iio-stats.py against
sim-adc; examples/python/iio-siggen.py into sim-dac (appsrc through the
sink's pool, audiotestsrc, the copy path), checked against the DAC's own
samples_consumed and checksum; examples/python/iio-lo-sweep.py stepping
sim-phy's LO while sim-adc streams; examples/python/iio-usb-stream.py's
board and PC sides on the test bed's USB gadget.
"""

import importlib.util
import os
import re
import subprocess
import sys
import tempfile

import iiotest
from iiotest import check, log

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "examples"))
STATS_PY = os.path.join(EXAMPLES, "python", "iio-stats.py")
SIGGEN_PY = os.path.join(EXAMPLES, "python", "iio-siggen.py")
LO_SWEEP_PY = os.path.join(EXAMPLES, "python", "iio-lo-sweep.py")
USB_STREAM_PY = os.path.join(EXAMPLES, "python", "iio-usb-stream.py")
PYTHON = "/usr/bin/python3"
# Every example run is bounded; a hang fails the test.
RUN_BOUND_S = 120

CAPTURE = None                  # set from --capture


def run(argv, expect_rc=0):
    """Runs an example; returns its stdout + stderr. Fails on another exit
    status than @expect_rc, showing the output."""
    log("$ " + " ".join(argv))
    try:
        proc = subprocess.run(argv, capture_output=True, text=True,
                              timeout=RUN_BOUND_S)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s did not end within %d s; output so far:\n%s"
                             % (argv[0], RUN_BOUND_S, e.output))
    out = proc.stdout + proc.stderr
    log(out.rstrip())
    check(proc.returncode == expect_rc, "%s exited with %d, expected %d" %
          (os.path.basename(argv[0]), proc.returncode, expect_rc))
    return out


def field(out, pattern, what):
    m = re.search(pattern, out, re.MULTILINE)
    check(m is not None, "no %s in the output (/%s/)" % (what, pattern))
    return m


def channel_values(out):
    """{channel: [first values]} from the 'channel N: a b c d' lines."""
    values = {int(c): [int(v) for v in vs.split()] for c, vs in
              re.findall(r"^  channel (\d+): ([-\d ]+)$", out, re.MULTILINE)}
    check(values, "no first samples in the output")
    return values


def check_ramp(values, start=None):
    """sim-adc/sim-kfifo ramp: channel c at sample n is (n + 1000 c) as
    int16; consecutive samples step by 1."""
    v0 = values[0][0]
    if start is not None:
        check(v0 == start, "channel 0 starts at %d, the ramp starts at %d "
              "after enable" % (v0, start))
    for c, vs in values.items():
        want = [((v0 + n + iiotest.RAMP_CHANNEL_STEP * c + 0x8000) & 0xffff) -
            0x8000
                for n in range(len(vs))]
        check(vs == want, "channel %d: %s, the ramp says %s" % (c, vs, want))


# ---- examples/c/iio-capture -------------------------------------------------

def test_capture_dmabuf():
    out = run([CAPTURE, "sim-adc", "20"])
    check("memory: DMABUF" in out, "the first buffer is not DMABUF")
    values = channel_values(out)
    check(sorted(values) == [0, 1, 2, 3], "channels %s" % sorted(values))
    check_ramp(values, start=0)
    field(out, r"^captured 20 buffers, 655360 bytes: 20 DMABUF, \d+ DISCONT$",
          "count line")
    stats = field(out, r"^stats: stats, (.*);$", "stats line").group(1)
    for want in ("io-mode=(string)dmabuf", "buffers=(guint64)20",
                 "bytes=(guint64)655360", "bytes-copied=(guint64)0"):
        check(want in stats, "%s not in the stats: %s" % (want, stats))


def test_capture_copy_kfifo():
    out = run([CAPTURE, "sim-kfifo", "5"])
    check("memory: system memory" in out, "sim-kfifo gave DMABUF memory")
    check_ramp(channel_values(out))
    stats = field(out, r"^stats: stats, (.*);$", "stats line").group(1)
    for want in ("io-mode=(string)copy", "buffers=(guint64)5",
                 "bytes-copied=(guint64)81920", "not\\ DMA-type"):
        check(want in stats, "%s not in the stats: %s" % (want, stats))


def test_capture_iiod():
    with iiotest.Iiod():
        out = run([CAPTURE, "sim-adc", "5", "ip:127.0.0.1"])
    check("memory: system memory" in out, "a remote capture gave DMABUF")
    check_ramp(channel_values(out))
    stats = field(out, r"^stats: stats, (.*);$", "stats line").group(1)
    check("io-mode=(string)copy" in stats and "buffers=(guint64)5" in stats,
          "stats: %s" % stats)


def test_capture_errors():
    out = run([CAPTURE, "nosuch", "5"], expect_rc=1)
    check('error: IIO device "nosuch" not found at local:; devices with '
          'input channels: sim-adc' in out, "no device-not-found error")
    out = run([CAPTURE, "sim-adc", "many"], expect_rc=2)
    check("COUNT must be a whole number" in out, "no usage error")


# ---- examples/python/iio-stats.py -------------------------------------------

def test_stats_py():
    # 200 blocks of 4096 samples at 200 kHz last at least 4 s of device
    # time: the 0.5 s stats timer fires during the capture.
    out = run([PYTHON, STATS_PY, "--device", "sim-adc", "--buffers", "200",
               "--interval", "0.5", "--attributes",
               "sampling_frequency=200000"])
    check("memory: DMABUF (zero copy)" in out, "not DMABUF")
    check_ramp(channel_values(out), start=0)
    periodic = re.findall(r"^stats after [\d.]+ s: io-mode=dmabuf .*$", out,
                          re.MULTILINE)
    check(periodic, "no periodic stats line")
    check("pulled 200 buffers" in out, "not 200 buffers pulled")
    final = field(out, r"^final stats after [\d.]+ s: (.*)$",
                  "final stats").group(1)
    for want in ("io-mode=dmabuf", "buffers=200", "bytes=6553600",
                 "bytes-copied=0"):
        check(want in final.split(), "%s not in the final stats: %s"
              % (want, final))


def test_stats_py_error():
    out = run([PYTHON, STATS_PY, "--device", "sim-kfifo", "--io-mode",
               "dmabuf", "--buffers", "5"], expect_rc=1)
    check("error: io-mode=dmabuf is not possible with sim-kfifo" in out and
          "not DMA-type" in out, "no clear io-mode=dmabuf error")


# ---- examples/python/iio-siggen.py ------------------------------------------

def load_siggen():
    spec = importlib.util.spec_from_file_location("siggen", SIGGEN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_checksum(n_buffers, samples, waveform, amplitude=0.5):
    """FNV-1a 64 of what iio-siggen's appsrc generates (same code)."""
    siggen = load_siggen()
    args = type("Args", (), {"frequency": 0, "waveform": waveform,
                             "amplitude": amplitude})()
    wave = siggen.Waveform(args, "S16LE", 2, int(iiotest.read_attr(
        "sim-dac", "sampling_frequency")))
    data = b"".join(wave.block(samples) for _ in range(n_buffers))
    return "0x%016x" % iiotest.fnv1a64(data)


def siggen_stats(out):
    return field(out, r"^iiosink stats: (.*)$", "iiosink stats").group(1) \
        .split()


def test_siggen_appsrc_pool():
    out = run([PYTHON, SIGGEN_PY, "--device", "sim-dac", "--waveform",
               "ramp", "--buffers", "20", "--samples", "1024"])
    check("appsrc buffers: DMA blocks of iiosink's pool (no copy)" in out,
          "appsrc did not write into the sink's pool")
    stats = siggen_stats(out)
    for want in ("io-mode=dmabuf", "buffers=20", "bytes=81920",
                 "bytes-copied=0"):
        check(want in stats, "%s not in %s" % (want, stats))
    consumed = int(field(out, r"^DAC samples_consumed: (\d+)$",
                         "consumed count").group(1))
    check(consumed == 20 * 1024, "the DAC consumed %d samples of %d sent"
          % (consumed, 20 * 1024))
    want = expected_checksum(20, 1024, "ramp")
    got = iiotest.read_attr("sim-dac", "checksum")
    check(got == want, "DAC checksum %s, the generated ramp's %s"
          % (got, want))


def test_siggen_audiotestsrc():
    out = run([PYTHON, SIGGEN_PY, "--device", "sim-dac", "--source",
               "audiotestsrc", "--buffers", "20"])
    stats = siggen_stats(out)
    for want in ("io-mode=dmabuf", "buffers=20", "bytes-copied=0"):
        check(want in stats, "%s not in %s" % (want, stats))
    field(out, r"^DAC samples_consumed: 81920$", "81920 samples consumed")


def test_siggen_copy():
    out = run([PYTHON, SIGGEN_PY, "--device", "sim-dac", "--io-mode", "copy",
               "--buffers", "10", "--samples", "1000"])
    check("appsrc buffers: system memory (iiosink copies them)" in out,
          "copy path without a copy")
    stats = siggen_stats(out)
    for want in ("io-mode=copy", "buffers=10", "bytes-copied=40000"):
        check(want in stats, "%s not in %s" % (want, stats))
    field(out, r"^DAC samples_consumed: 10000$", "10000 samples consumed "
          "(EOS drains)")
    check(iiotest.read_attr("sim-dac", "checksum") ==
          expected_checksum(10, 1000, "sine"), "DAC checksum differs")


def test_siggen_cyclic():
    out = run([PYTHON, SIGGEN_PY, "--device", "sim-dac", "--cyclic",
               "--seconds", "0.5", "--samples", "1000"])
    stats = siggen_stats(out)
    check("buffers=1" in stats and "io-mode=dmabuf" in stats,
          "stats %s" % stats)
    consumed = int(field(out, r"^DAC samples_consumed: (\d+)$",
                         "consumed count").group(1))
    # The DAC repeated the one buffer for 0.5 s of its own clock at least.
    check(consumed > 1000, "cyclic: only %d samples consumed" % consumed)


# ---- examples/python/iio-lo-sweep.py ----------------------------------------

def test_lo_sweep_py():
    """Three LO steps on sim-phy while sim-adc streams: the printed peak of
    each step is sim-adc's tone for that LO (m = (LO - 2399 MHz) / 1 MHz,
    m * rate / 360 Hz on voltage0), within one FFT bin; no block lost; the
    waterfall PNG written."""
    rate, size = 36000, 4096
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "sweep.png")
        out = run([PYTHON, LO_SWEEP_PY, "--device", "sim-adc",
                   "--channels", "voltage0", "--phy", "sim-phy",
                   "--attributes", "sampling_frequency=%d,waveform=sine" % rate,
                   "--buffer-size", str(size), "--blocks", "8",
                   "--start", "2400000000", "--stop", "2410000000",
                   "--step", "5000000", "--rows", "3", "--png", png])
        with open(png, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % png)
    steps = re.findall(r"^LO (\d+) Hz \(driver set (\d+)\): peak at "
                       r"([\d.]+) Hz, 3 blocks from offset (\d+)$", out,
                       re.MULTILINE)
    check([int(s[0]) for s in steps] == [2400000000, 2405000000, 2410000000],
          "LO steps printed: %s" % steps)
    for lo, applied, peak, _ in steps:
        check(applied == lo, "sim-phy set %s for %s" % (applied, lo))
        tone = (int(lo) - 2399000000) // 1000000 * rate / 360
        check(abs(float(peak) - tone) <= rate / size,
              "LO %s: peak at %s Hz, sim-adc's tone is %.1f Hz" %
              (lo, peak, tone))
    check("swept 3 LO steps, 9 blocks, none lost" in out, "no summary line")
    check("waterfall written to " + png in out, "no PNG line")


def test_lo_sweep_py_errors():
    out = run([PYTHON, LO_SWEEP_PY, "--device", "sim-adc", "--phy", "sim-phy",
               "--start", "2400000000", "--stop", "2300000000", "--step",
               "1000000"], expect_rc=2)
    check("--stop >= --start" in out, "no usage error")
    out = run([PYTHON, LO_SWEEP_PY, "--device", "sim-adc", "--phy", "nosuch",
               "--start", "2400000000", "--stop", "2400000000", "--step",
               "1000000"], expect_rc=1)
    check('error: ' in out and '"nosuch"' in out,
          "no error naming the unknown device")


def reset_adc():
    """sim-adc keeps what a case wrote (test_lo_sweep_py's waveform=sine)
    for the rest of the guest's life: back to the ramp the others check."""
    iiotest.write_attr("sim-adc", "waveform", "ramp")


# ---- examples/python/iio-usb-stream.py ---------------------------------------

GADGET = os.path.normpath(os.path.join(HERE, "..", "vm", "usb", "gadget"))


def gadget(*args):
    out = subprocess.run([GADGET] + list(args), capture_output=True,
                         text=True, timeout=60)
    check(out.returncode == 0, "gadget %s: %s" % (" ".join(args),
                                                   out.stderr.strip()))


def test_usb_stream_py():
    """The board side (iiosrc ! ffssink owning the test bed's FunctionFS
    function) and the PC side (pyusb reading the bulk IN endpoint) of
    iio-usb-stream.py: the ramp exact on the PC, nothing copied on the
    board, every block a DMABUF sent to USB."""
    n, size = 50, 4096
    gadget("setup")
    board = subprocess.Popen(
        [PYTHON, USB_STREAM_PY, "board", "--function", "/dev/ffs-gstiio",
         "--device", "sim-adc", "--buffer-size", str(size), "--blocks", "64",
         "--buffers", str(n), "--timeout", "60000", "--attributes",
         "sampling_frequency=20000,waveform=ramp"], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        line = board.stdout.readline()
        log(line.rstrip())
        check(line.startswith("function ready at /dev/ffs-gstiio"),
              "board: %s" % line)
        gadget("bind")
        out = run([PYTHON, USB_STREAM_PY, "host", "--bytes",
                   str(n * size * 8), "--check-ramp", "4", "--wait", "60"])
        rest, _ = board.communicate(timeout=RUN_BOUND_S)
        log(rest.rstrip())
    finally:
        if board.poll() is None:
            board.kill()
            board.wait()
        gadget("teardown")
    check(board.returncode == 0, "board exited with %d" % board.returncode)
    field(out, r"^received %d bytes in [\d.]+ s \([\d.]+ MB/s\), ramp exact "
          r"over %d samples$" % (n * size * 8, n * size), "host's line")
    src = field(rest, r"^src stats: (.*)$", "iiosrc stats").group(1)
    usb = field(rest, r"^usb stats: (.*)$", "ffssink stats").group(1)
    for want in ("io-mode=dmabuf", "buffers=%d" % n, "bytes-copied=0",
                 "overruns=0"):
        check(want in src.split(), "%s not in iiosrc's stats: %s" % (want, src))
    for want in ("transfers=%d" % n, "bytes=%d" % (n * size * 8),
                 "bytes-copied=0", "dmabuf-imports=%d" % n, "timeouts=0"):
        check(want in usb.split(), "%s not in ffssink's stats: %s" % (want, usb))


def test_usb_stream_py_no_host():
    """The PC side with no such device: its error, at once after --wait."""
    out = run([PYTHON, USB_STREAM_PY, "host", "--bytes", "1", "--wait", "1"],
              expect_rc=1)
    check('error: no USB interface named "gst-iio ffssink" within 1 s' in out,
          "no error naming the missing interface")


def main():
    global CAPTURE
    args = sys.argv[1:]
    check(len(args) >= 2 and args[0] == "--capture",
          "usage: test_examples.py --capture PATH/iio-capture [TEST...]")
    CAPTURE = args[1]
    check(os.access(CAPTURE, os.X_OK), "%s not built (meson option "
          "examples, package libgstreamer-plugins-base1.0-dev)" % CAPTURE)
    iiotest.main(test_capture_dmabuf, test_capture_copy_kfifo,
                 test_capture_iiod, test_capture_errors, test_stats_py,
                 test_stats_py_error, test_siggen_appsrc_pool,
                 test_siggen_audiotestsrc, test_siggen_copy,
                 test_siggen_cyclic, test_lo_sweep_py,
                 test_lo_sweep_py_errors, test_usb_stream_py,
                 test_usb_stream_py_no_host, argv=args[2:],
                 after_each=reset_adc)


if __name__ == "__main__":
    main()
