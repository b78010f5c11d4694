#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stalled device with a small timeout is an error naming the timeout,
not a hang, on both paths; a block the device fails is an error; the
pipeline goes to NULL afterwards and the device works again."""

from iiotest import (Gst, check, log, main, pop_error, pull_blocks, start,
                     stop, write_attr, bus_message_text)

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


main(test_stall_dmabuf, test_stall_copy, test_failed_block_dmabuf)
