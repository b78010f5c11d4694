#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iiosrc through libiio (one copy): io-mode=copy on sim-adc, a remote
context through iiod (uri=ip:127.0.0.1), and the kfifo device sim-kfifo
where io-mode=auto falls back to copy and io-mode=dmabuf is an error."""

from iiotest import (Gst, Iiod, Ramp, check, check_timeline, error_text, log,
                     main, pull_blocks, ramp_start, set_state_bounded, start,
                     stats, stop)

# libiio 0.24 gives a local fileio buffer a length of one block whatever
# `blocks` says: 164 ms blocks let a Python consumer on a loaded TCG test
# bed keep up without a loss.
RATE = 50000
BLOCK = 8192


def capture_exact(description, channels, n_blocks, rate=RATE, block=BLOCK):
    """Runs @description (an iiosrc named src into an appsink named sink)
    for @n_blocks; checks the exact ramp from sample 0 and the timeline;
    returns (stats, blocks)."""
    pipeline = Gst.parse_launch(description)
    start(pipeline)
    caps, blocks = pull_blocks(pipeline, n_blocks, len(channels))
    s = stats(pipeline)
    stop(pipeline)
    log("caps:", caps.to_string())
    log("stats:", s.to_string())

    ramp = Ramp(channels)
    first = ramp_start(blocks[0].data, channels)
    for b in blocks:
        ramp.feed(b.data)
    disconts = [i for i, b in enumerate(blocks) if b.discont]
    check(first == 0, "the first buffer starts at ramp sample %d, not 0"
          % first)
    check(ramp.gaps == [], "gaps in the ramp (block, samples): %s; DISCONT "
          "on %s" % (ramp.gaps[:10], disconts[:10]))
    check_timeline(blocks, rate, block)
    check(disconts in ([], [0]), "DISCONT on buffers %s" % disconts[:10])
    check(not any(b.dmabuf for b in blocks), "copy path produced DMABUFs")
    return s, blocks


def check_copy_stats(s, n_blocks, block_bytes):
    check(s.get_string("io-mode") == "copy", "io-mode %s, expected copy" %
          s.get_string("io-mode"))
    for field, want in (("buffers", n_blocks),
                        ("bytes", n_blocks * block_bytes),
                        ("bytes-copied", n_blocks * block_bytes),
                        ("overruns", 0)):
        ok, value = s.get_uint64(field)
        check(ok and value == want, "stats %s = %s, expected %d" %
              (field, value, want))


def test_copy_mode_exact_ramp():
    n = 300
    s, _ = capture_exact(
        "iiosrc name=src device=sim-adc io-mode=copy "
        "attributes=sampling_frequency=%d buffer-size=%d blocks=16 "
        "num-buffers=%d ! appsink name=sink sync=false max-buffers=2"
        % (RATE, BLOCK, n), [0, 1, 2, 3], n)
    check_copy_stats(s, n, BLOCK * 8)
    check(s.get_string("fallback-reason") is None,
          "io-mode=copy is not a fallback: %s" % s.to_string())


def test_kfifo_auto_falls_back_to_copy():
    # sim-kfifo pushes samples from a 1 ms timer and drops what a late tick
    # cannot push (4096 samples): 10 kHz survives 400 ms timer delays.
    n, rate, block = 100, 10000, 2048
    s, _ = capture_exact(
        "iiosrc name=src device=sim-kfifo io-mode=auto "
        "attributes=sampling_frequency=%d buffer-size=%d blocks=8 "
        "num-buffers=%d ! appsink name=sink sync=false max-buffers=2"
        % (rate, block, n), [0, 1], n, rate, block)
    check_copy_stats(s, n, block * 4)
    reason = s.get_string("fallback-reason") or ""
    check("not DMA-type" in reason, "fallback-reason %r does not say the "
          "buffer is not DMA-type" % reason)


def test_kfifo_dmabuf_is_an_error():
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-kfifo io-mode=dmabuf ! fakesink")
    ret = set_state_bounded(pipeline, Gst.State.PLAYING)
    text = error_text(pipeline)
    log("error:", text)
    stop(pipeline)
    check(ret == Gst.StateChangeReturn.FAILURE, "start returned %s" %
          ret.value_nick)
    for words in ("io-mode=dmabuf is not possible with sim-kfifo",
                  "not DMA-type"):
        check(words in text, "error %r does not say %r" % (text, words))


def test_iiod_remote_context():
    n = 200
    with Iiod():
        s, _ = capture_exact(
            "iiosrc name=src uri=ip:127.0.0.1 device=sim-adc "
            "attributes=sampling_frequency=%d buffer-size=%d blocks=8 "
            "num-buffers=%d ! appsink name=sink sync=false max-buffers=2"
            % (RATE, BLOCK, n), [0, 1, 2, 3], n)
        check_copy_stats(s, n, BLOCK * 8)
        reason = s.get_string("fallback-reason") or ""
        check("not local" in reason, "fallback-reason %r does not say the "
              "context is not local" % reason)

        pipeline = Gst.parse_launch(
            "iiosrc uri=ip:127.0.0.1 device=sim-adc io-mode=dmabuf ! "
            "fakesink")
        ret = set_state_bounded(pipeline, Gst.State.PLAYING)
        text = error_text(pipeline)
        stop(pipeline)
        check(ret == Gst.StateChangeReturn.FAILURE and "not local" in text,
              "io-mode=dmabuf over ip: gave %s, %r" % (ret.value_nick, text))


main(test_copy_mode_exact_ramp, test_kfifo_auto_falls_back_to_copy,
     test_kfifo_dmabuf_is_an_error, test_iiod_remote_context)
