#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uri=usb: through Debian's iiod serving USB over FunctionFS, on the test
bed's gadget (tests/vm/usb/gadget: dummy_hcd is the UDC and the host in
one guest), as a PC talks to a Pluto on its USB port.

    test_iiod_usb.py GADGET_HELPER [TEST...]

iiod -F writes its own descriptors to the function's ep0 (its "IIO"
interface that libiio's usb backend looks for); libiio's usb backend on the
host side reaches it through libusb. iiosrc's ramp is checked sample by
sample, iiosink's samples against sim-dac's count and checksum; uri=usb:
without an address finds the only IIO USB device as libiio's tools do, and
says so when there is none.
"""

import os
import random
import subprocess
import sys
import time

from iiotest import (Gst, Ramp, appsrc_launch, check, check_played_padded,
                     error_of, expect_eos, log, main, pull_blocks, push_all,
                     reset_dac, start, stats_of, stop, wait_end)

GADGET = None                   # tests/vm/usb/gadget, from the command line
FFS = "/dev/ffs-gstiio"
IIOD_LOG = "/tmp/iiod-usb.log"
BLOCK = 4096


def gadget(*args):
    out = subprocess.run([GADGET] + list(args), capture_output=True,
                         text=True, timeout=60)
    check(out.returncode == 0, "gadget %s: %s" % (" ".join(args),
                                                   out.stderr.strip()))
    return out.stdout.strip()


class UsbIiod:
    """iiod -F on the gadget's FunctionFS, the gadget bound: the host side
    has enumerated an IIO USB device when the block starts."""

    def __enter__(self):
        exe = "/usr/sbin/iiod"
        check(os.path.exists(exe), "%s not found (package iiod; run "
              "tests/install-deps)" % exe)
        gadget("setup")
        with open(IIOD_LOG, "w") as f:
            self.proc = subprocess.Popen([exe, "-F", FFS, "-n", "3"],
                                         stdout=f, stderr=subprocess.STDOUT)
        # iiod opens the endpoints after writing ep0's descriptors.
        deadline = time.monotonic() + 20
        while not os.path.exists(FFS + "/ep1"):
            check(self.proc.poll() is None, "iiod -F exited with %s: %s" %
                  (self.proc.returncode, open(IIOD_LOG).read()[-2000:]))
            check(time.monotonic() < deadline, "iiod wrote no descriptors "
                  "to %s/ep0 within 20 s" % FFS)
            time.sleep(0.1)
        self.node = gadget("bind")
        log("gadget bound: %s" % self.node)
        return self

    def __exit__(self, *exc):
        gadget("unbind")
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        gadget("teardown")


def test_capture():
    """iiosrc uri=usb: device=sim-adc: the ramp exact, block after block,
    no gap; the copy path, every byte counted as copied."""
    n = 30
    with UsbIiod():
        p = Gst.parse_launch(
            "iiosrc name=src uri=usb: device=sim-adc channels=voltage0,voltage2 "
            "buffer-size=%d attributes=sampling_frequency=20000 ! "
            "appsink name=sink sync=false" % BLOCK)
        start(p)
        try:
            _, blocks = pull_blocks(p, n, 2)
            st = stats_of(p.get_by_name("src"))
        finally:
            stop(p)
    ramp = Ramp([0, 2])
    for b in blocks:
        ramp.feed(b.data)
    # Losses through iiod are inferred, and may be flagged some blocks
    # late (docs/iiosrc.md): at 5 blocks a second none may happen.
    check(ramp.gaps == [], "gaps in the ramp over usb: %s (overruns %d)"
          % (ramp.gaps, st["overruns"]))
    check(ramp.samples == n * BLOCK, "%d samples" % ramp.samples)
    check(st["io-mode"] == "copy" and st["overruns"] == 0 and
          st["bytes-copied"] == st["bytes"] and st["buffers"] >= n,
          "stats: %s" % st)
    check("usb:" in st["fallback-reason"] or "local" in st["fallback-reason"],
          "fallback-reason: %s" % st["fallback-reason"])


def test_play():
    """iiosink uri=usb: device=sim-dac: what the DAC played is what was
    sent, by count and checksum, after EOS."""
    reset_dac()
    rng = random.Random(8)
    data = rng.randbytes(24 * BLOCK * 4)
    chunks = [data[i:i + 5000 * 4] for i in range(0, len(data), 5000 * 4)]
    with UsbIiod():
        p = Gst.parse_launch(appsrc_launch(
            "uri=usb: io-mode=copy buffer-size=%d timeout=20000" % BLOCK))
        sink = p.get_by_name("sink")
        push_all(p.get_by_name("src"), chunks)
        expect_eos(wait_end(p))
        st = stats_of(sink)
        stop(p)
    check(st["io-mode"] == "copy", "io-mode %s" % st["io-mode"])
    check_played_padded(data, "iiosink over usb:")


def test_no_device():
    """uri=usb: with no gadget bound: an error saying no IIO USB device was
    found, not libiio's bare EINVAL."""
    p = Gst.parse_launch("iiosrc uri=usb: device=sim-adc ! fakesink")
    ret = p.set_state(Gst.State.PAUSED)
    msg = p.get_bus().timed_pop_filtered(10 * Gst.SECOND,
                                         Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    check(ret == Gst.StateChangeReturn.FAILURE and msg is not None,
          "uri=usb: with no USB device started")
    _, err, _ = error_of(msg)
    want = ("No IIO USB device found (uri=usb:): is the board plugged in and "
            "its iiod serving USB?")
    check(err.message == want, "error: %s" % err.message)


if __name__ == "__main__":
    check(len(sys.argv) >= 2 and os.access(sys.argv[1], os.X_OK),
          "usage: test_iiod_usb.py PATH/tests/vm/usb/gadget [TEST...]")
    GADGET = sys.argv[1]
    main(test_no_device, test_capture, test_play, argv=sys.argv[2:])
