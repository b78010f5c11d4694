#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Throughput of iiosrc in the test bed (prints figures, asserts nothing):
sim-adc at sampling_frequency=0 (as fast as the simulator fills blocks)
into fakesink, io-mode=dmabuf vs io-mode=copy. CPU-s/GiB counts this
process only (the simulator fills blocks from a kernel worker either
way; the copy path's read() and memcpy run in this process). Under TCG
only the ratios mean something.

  tests/vm/run --build build -- /usr/bin/python3 \\
      tests/integration/bench_iiosrc.py [SECONDS]
"""

import os
import sys
import time

from iiotest import Gst, log, start, stat, stop


def cpu_seconds():
    t = os.times()
    return t.user + t.system


def bench(io_mode, block, seconds):
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc io-mode=%s rate=1000000 "
        "attributes=sampling_frequency=0 buffer-size=%d blocks=8 ! "
        "fakesink name=sink sync=false" % (io_mode, block))
    start(pipeline)
    time.sleep(1)
    b0, c0, t0 = stat(pipeline, "bytes"), cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    b1, c1, t1 = stat(pipeline, "bytes"), cpu_seconds(), time.monotonic()
    copied = stat(pipeline, "bytes-copied")
    stop(pipeline)
    mib = (b1 - b0) / 2**20
    log("%-6s block %7d B: %7.1f MiB/s  %6.0f buffers/s  %5.2f CPU-s/GiB  "
        "bytes-copied %s" %
        (io_mode, block * 8, mib / (t1 - t0),
         (b1 - b0) / (block * 8) / (t1 - t0),
         (c1 - c0) / max(mib / 1024, 1e-9), "0" if not copied else ">0"))


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    for block in (4096, 65536):
        for io_mode in ("dmabuf", "copy"):
            bench(io_mode, block, seconds)


main()
