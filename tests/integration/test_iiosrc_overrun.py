#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A consumer slower than the device: the DMABUF path flags DISCONT
exactly where the ramp has a gap, the gaps add up to the samples the
simulated ADC says it dropped, stats and the warning messages agree."""

import time

from iiotest import (Gst, Ramp, check, log, main, pop_all, pull_blocks,
                     read_attr, start, stats, stop)

RATE = 100000
BLOCK = 4096                  # 41 ms
BLOCKS = 8                    # 330 ms of buffering
SLOW_S = 0.35                 # per slow buffer: ~30000 samples lost each


def test_slow_consumer_overruns():
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc io-mode=dmabuf "
        "attributes=sampling_frequency=%d buffer-size=%d blocks=%d ! "
        "appsink name=sink sync=false max-buffers=1" % (RATE, BLOCK, BLOCKS))
    channels = [0, 1, 2, 3]
    device_lost = []

    def slow(i, block):
        # buffers 20-25 are slow; before and after the consumer keeps up
        if 20 <= i < 26:
            time.sleep(SLOW_S)
        if i == 79:
            # right after the last buffer, while the kernel queue is full
            device_lost.append(int(read_attr("sim-adc", "overruns")))

    start(pipeline)
    _, blocks = pull_blocks(pipeline, 80, len(channels), on_block=slow)
    s = stats(pipeline)
    warnings = [msg.parse_warning()[0].message
                for msg in pop_all(pipeline, Gst.MessageType.WARNING)]
    stop(pipeline)
    log("stats:", s.to_string())
    log("warnings:", warnings)

    ramp = Ramp(channels)
    for b in blocks:
        ramp.feed(b.data)
    gap_at = {i for i, _ in ramp.gaps}
    # the first buffer carries basesrc's DISCONT of a new stream
    discont_at = {i for i, b in enumerate(blocks) if b.discont and i > 0}
    lost = sum(n for _, n in ramp.gaps)
    log("gaps (buffer, samples):", ramp.gaps, "DISCONT:", sorted(discont_at),
        "device dropped:", device_lost)

    check(ramp.gaps, "a consumer %.1f s late per buffer lost nothing"
          % SLOW_S)
    check(gap_at == discont_at, "gaps at buffers %s but DISCONT at %s"
          % (sorted(gap_at), sorted(discont_at)))
    check(device_lost == [lost], "the ramp skips %d samples, the device "
          "says it dropped %s" % (lost, device_lost))
    ok, overruns = s.get_uint64("overruns")
    check(ok and overruns == len(discont_at), "stats overruns = %s, %d "
          "DISCONT buffers" % (overruns, len(discont_at)))
    check(warnings and all("Overrun" in w for w in warnings),
          "warnings: %s" % warnings)
    check("overruns so far" in warnings[0], "warning %r has no count"
          % warnings[0])

    # After a gap the timeline moves forward to the clock (an estimate):
    # no buffer starts before the previous one ends, and the timeline is
    # ahead of the samples delivered.
    for i in range(1, len(blocks)):
        prev, b = blocks[i - 1], blocks[i]
        check(b.pts >= prev.pts + prev.duration and
              b.offset >= prev.offset_end, "buffer %d goes back in time" % i)
    delivered = len(blocks) * BLOCK
    check(blocks[-1].offset_end > delivered, "the timeline ends at sample %d"
          " after %d samples were lost, %d delivered" %
          (blocks[-1].offset_end, lost, delivered))

main(test_slow_consumer_overruns)
