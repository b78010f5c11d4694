#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iiosrc caps and options on sim-adc (ramps at 100 kHz, which a Python
consumer follows without a loss): audio/x-raw at the device's
sampling_frequency, application/x-iio when downstream asks for it, a
channel subset, the rate property, DMABUFs from udmabuf, and the errors
for caps, heaps and devices that do not exist."""

import re

from iiotest import (Gst, Ramp, check, error_text, log, main, pull_blocks,
                     ramp_start, read_attr, set_state_bounded, start, stats,
                     stop)


def negotiated(description, n_channels, n_blocks=3):
    pipeline = Gst.parse_launch(description)
    start(pipeline)
    caps, blocks = pull_blocks(pipeline, n_blocks, n_channels)
    s = stats(pipeline)
    stop(pipeline)
    log("caps:", caps.to_string())
    return caps, blocks, s


def array_field(caps, field):
    """The strings of a GstValueArray field (PyGObject cannot read one)."""
    m = re.search(r"%s=\(string\)< (.*?) >" % field, caps.to_string())
    check(m, "caps %s have no %s array" % (caps.to_string(), field))
    return [v.strip('"').replace("\\>", ">") for v in m.group(1).split(", ")]


def fails_with(description, *words):
    pipeline = Gst.parse_launch(description)
    ret = set_state_bounded(pipeline, Gst.State.PLAYING)
    text = error_text(pipeline)
    log("error:", text)
    stop(pipeline)
    check(ret == Gst.StateChangeReturn.FAILURE or "no error" not in text,
          "%s started without an error" % description)
    for w in words:
        check(w in text, "error %r does not say %r" % (text, w))


def test_audio_caps_at_sampling_frequency():
    rate = int(read_attr("sim-adc", "sampling_frequency"))
    caps, _, _ = negotiated(
        "iiosrc name=src device=sim-adc ! appsink name=sink sync=false", 4)
    s = caps.get_structure(0)
    check(s.get_name() == "audio/x-raw" and
          s.get_string("format") == "S16LE" and
          s.get_string("layout") == "interleaved" and
          s.get_int("channels") == (True, 4) and
          s.get_int("rate") == (True, rate),
          "negotiated %s, expected audio/x-raw,format=S16LE,channels=4,"
          "rate=%d" % (caps.to_string(), rate))


def test_application_x_iio_when_asked():
    rate = 100000
    caps, blocks, _ = negotiated(
        "iiosrc name=src device=sim-adc attributes=sampling_frequency=100000"
        " ! application/x-iio ! "
        "appsink name=sink sync=false", 4)
    s = caps.get_structure(0)
    check(s.get_name() == "application/x-iio" and
          s.get_int("channels") == (True, 4) and
          s.get_int("rate") == (True, rate),
          "negotiated %s" % caps.to_string())
    formats = array_field(caps, "formats")
    names = array_field(caps, "channel-names")
    check(formats == ["le:S16/16>>0"] * 4, "formats %s" % formats)
    check(names == ["voltage0", "voltage1", "voltage2", "voltage3"],
          "channel-names %s" % names)
    ramp = Ramp([0, 1, 2, 3])
    for b in blocks:
        ramp.feed(b.data)
    check(ramp.gaps == [], "gaps %s" % ramp.gaps)


def test_channel_subset():
    caps, blocks, _ = negotiated(
        "iiosrc name=src device=sim-adc channels=voltage3,voltage1 "
        "attributes=sampling_frequency=100000 buffer-size=2048 ! appsink name=sink sync=false", 2, n_blocks=5)
    check(caps.get_structure(0).get_int("channels") == (True, 2),
          "negotiated %s" % caps.to_string())
    # scan order: voltage1 then voltage3, whatever order the list has
    ramp = Ramp([1, 3])
    first = ramp_start(blocks[0].data, [1, 3])
    for b in blocks:
        ramp.feed(b.data)
    check(first == 0 and ramp.gaps == [], "first sample %d, gaps %s" %
          (first, ramp.gaps))
    check({b.size for b in blocks} == {2048 * 4}, "sizes %s" %
          {b.size for b in blocks})


def test_rate_property_overrides():
    caps, blocks, _ = negotiated(
        "iiosrc name=src device=sim-adc rate=48000 buffer-size=4800 ! "
        "appsink name=sink sync=false", 4)
    check(caps.get_structure(0).get_int("rate") == (True, 48000),
          "negotiated %s" % caps.to_string())
    check(all(b.duration == Gst.SECOND // 10 for b in blocks),
          "durations %s, expected 100 ms (4800 samples at 48 kHz)" %
          [b.duration for b in blocks])


def test_caps_the_device_cannot_give():
    fails_with("iiosrc device=sim-adc ! audio/x-raw,channels=2 ! fakesink",
               "Downstream accepts no format of sim-adc (iio:device0) (4 "
               "channels of S16LE at")


def test_udmabuf_heap():
    caps, blocks, s = negotiated(
        "iiosrc name=src device=sim-adc io-mode=dmabuf dma-heap=udmabuf "
        "attributes=sampling_frequency=100000 buffer-size=4096 ! appsink name=sink sync=false", 4, n_blocks=20)
    check(all(b.dmabuf for b in blocks), "udmabuf blocks are not DMABUFs")
    ramp = Ramp([0, 1, 2, 3])
    for b in blocks:
        ramp.feed(b.data)
    check(ramp.gaps == [], "gaps %s" % ramp.gaps)
    check(s.get_string("io-mode") == "dmabuf", "stats %s" % s.to_string())


def test_missing_heap_lists_the_heaps():
    for mode in ("dmabuf", "auto"):
        fails_with("iiosrc device=sim-adc io-mode=%s dma-heap=nope ! "
                   "fakesink" % mode, 'DMA heap "nope" not found',
                   "system", "udmabuf")


def test_unknown_device_lists_the_devices():
    fails_with("iiosrc device=nope ! fakesink", "nope", "sim-adc",
               "sim-kfifo")


main(test_audio_caps_at_sampling_frequency, test_application_x_iio_when_asked,
     test_channel_subset, test_rate_property_overrides,
     test_caps_the_device_cannot_give, test_udmabuf_heap,
     test_missing_heap_lists_the_heaps, test_unknown_device_lists_the_devices)
