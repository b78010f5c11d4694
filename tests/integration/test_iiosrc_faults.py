#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stalled device with a small timeout is an error naming the timeout,
not a hang, on both paths; a block the device fails is an error; the
pipeline goes to NULL afterwards and the device works again."""

from iiotest import (Gst, Ramp, check, log, main, pop_error, pull_blocks,
                     start, stats, stop, write_attr, bus_message_text)

TIMEOUT_MS = 500


def stream_then_fault(io_mode, fault, device="sim-adc"):
    """Streams, sets @fault on the running device, returns the error text
    posted (waiting at most 30 s)."""
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=%s io-mode=%s timeout=%d "
        "attributes=sampling_frequency=100000 buffer-size=1024 ! "
        "appsink name=sink sync=false" % (device, io_mode, TIMEOUT_MS))
    start(pipeline)
    pull_blocks(pipeline, 5, 4, keep_data=False)
    write_attr(device, "fault", fault)
    msg = pop_error(pipeline, timeout_s=30)
    text = bus_message_text(msg) if msg else None
    log("error:", text)
    stop(pipeline)
    write_attr(device, "fault", "none")
    check(text is not None, "no error within 30 s of fault=%s" % fault)
    return text


def check_device_works(io_mode):
    pipeline = Gst.parse_launch(
        "iiosrc device=sim-adc io-mode=%s buffer-size=1024 ! "
        "appsink name=sink sync=false" % io_mode)
    start(pipeline)
    pull_blocks(pipeline, 5, 4, keep_data=False)
    stop(pipeline)


def test_stall_dmabuf():
    text = stream_then_fault("dmabuf", "stall")
    want = ("Timed out after %d ms waiting for a block from sim-adc"
            % TIMEOUT_MS)
    check(want in text, "error %r does not say %r" % (text, want))
    check_device_works("dmabuf")


def test_stall_copy():
    text = stream_then_fault("copy", "stall")
    check("Timed out" in text and "sim-adc" in text,
          "error %r does not say it timed out on sim-adc" % text)
    check_device_works("copy")


def test_failed_block_dmabuf():
    text = stream_then_fault("dmabuf", "error")
    check("A block from sim-adc (iio:device0) failed" in text,
          "error %r does not say a block failed" % text)
    check_device_works("dmabuf")


def test_failed_block_copy():
    """fileio cannot report a failed block: the kernel skips the empty
    block (a 4096-sample gap: one kernel block, half of 8 x 1024). The
    copy path sees the block come one kernel block late on the sample
    timeline, and the next a kernel block after it (a stall, not the
    consumer's thread away), and flags the first buffer of that next
    kernel block (4 buffers on)."""
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc io-mode=copy "
        "attributes=sampling_frequency=100000 buffer-size=1024 ! "
        "appsink name=sink sync=false")
    start(pipeline)
    first = []

    def fault(i, block):
        if i == 10:
            write_attr("sim-adc", "fault", "error")

    _, blocks = pull_blocks(pipeline, 40, 4, on_block=fault)
    s = stats(pipeline)
    stop(pipeline)
    write_attr("sim-adc", "fault", "none")
    ramp = Ramp([0, 1, 2, 3])
    for b in blocks:
        ramp.feed(b.data)
    discont = [i for i, b in enumerate(blocks) if b.discont and i > 0]
    log("gaps:", ramp.gaps, "DISCONT:", discont, "stats:", s.to_string())
    check(len(ramp.gaps) == 1 and ramp.gaps[0][1] == 4096,
          "gaps (buffer, samples) %s, expected one of 4096" % ramp.gaps)
    at = ramp.gaps[0][0]
    check(discont == [at + 4], "the gap is before buffer %d, DISCONT on %s"
          " (expected on %d)" % (at, discont, at + 4))
    jump = blocks[at + 4].offset - blocks[at + 3].offset_end
    check(abs(jump - 4096) <= 256, "OFFSET jumps by %d for 4096 lost samples"
          % jump)
    ok, overruns = s.get_uint64("overruns")
    ok2, lost = s.get_uint64("samples-lost")
    check(overruns == 1 and lost == jump, "stats overruns %d samples-lost "
          "%d, expected 1 and %d" % (overruns, lost, jump))
    del first
    check_device_works("copy")


main(test_stall_dmabuf, test_stall_copy, test_failed_block_dmabuf,
     test_failed_block_copy)
