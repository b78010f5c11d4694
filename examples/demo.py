#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The demo's guest part (run by examples/demo inside tests/vm/run).

1. iiosrc captures the simulated ADC's sine through DMABUFs into a WAV file
   and a PNG drawn by wavescope.
2. iiosrc ! iiosink: the ADC's blocks are played by the simulated DAC with no
   CPU copy. The FNV-1a 64 of what left the ADC (seen in an identity handoff)
   is printed next to the checksum the DAC computed over what it consumed.
"""

import os
import sys

# The test bed's helpers (FNV-1a 64, sysfs, bounded pipeline runs): the
# demo runs in the test bed, like the integration tests.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
from iiotest import (Gst, expect_eos, fnv1a64, read_attr,  # noqa: E402
                     stop, wait_end)


def run(pipeline, bound_s=120):
    """Plays @pipeline to EOS, then NULL; an error or no EOS within
    @bound_s fails (AssertionError, with the error text)."""
    try:
        expect_eos(wait_end(pipeline, bound_s))
    finally:
        stop(pipeline)


def capture_sine(out):
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "io-mode=dmabuf buffer-size=1920 blocks=8 "
        "attributes=sampling_frequency=48000,waveform=sine num-buffers=50 "
        "! tee name=t "
        # unbuffered: filesink would otherwise hold 64 KiB of buffers
        # (DMA blocks) before writing them.
        "t. ! queue ! wavenc ! filesink buffer-mode=unbuffered "
        "location=%s/sim-adc-sine.wav "
        # IIO channels are unpositioned (channel-mask 0); wavescope wants
        # stereo, so label the two channels left/right for the picture.
        # The picture branch is leaky: drawing and PNG encoding must never
        # hold the ADC's DMABUF blocks back from the device.
        "t. ! queue max-size-buffers=1 leaky=downstream "
        "! capssetter caps=audio/x-raw,channel-mask=(bitmask)0x3 "
        "! wavescope style=lines shader=none "
        "! video/x-raw,width=640,height=360,framerate=25/1 ! videoconvert "
        "! pngenc ! multifilesink location=%s/sim-adc-wavescope.png"
        % (out, out))
    run(pipeline)
    print("capture: %s" % pipeline.get_by_name("src").get_property("stats")
          .to_string())
    for name in ("sim-adc-sine.wav", "sim-adc-wavescope.png"):
        if os.path.getsize(os.path.join(out, name)) < 1000:
            raise SystemExit("demo: %s/%s is (nearly) empty" % (out, name))


def adc_to_dac():
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "io-mode=dmabuf buffer-size=1024 num-buffers=64 "
        "attributes=sampling_frequency=100000,waveform=ramp "
        "! identity name=tap signal-handoffs=true "
        "! iiosink name=dac device=sim-dac io-mode=dmabuf "
        "attributes=sampling_frequency=100000")
    sent = []

    def on_handoff(identity, buf):
        ok, info = buf.map(Gst.MapFlags.READ)
        sent.append(bytes(info.data))
        buf.unmap(info)

    pipeline.get_by_name("tap").connect("handoff", on_handoff)
    run(pipeline)
    data = b"".join(sent)
    src = pipeline.get_by_name("src").get_property("stats")
    dac = pipeline.get_by_name("dac").get_property("stats")
    adc_sum = "0x%016x" % fnv1a64(data)
    dac_sum = read_attr("sim-dac", "checksum")
    print()
    print("%-28s %-28s" % ("ADC -> (iiosrc)", "(iiosink) -> DAC"))
    print("%-28s %-28s" % ("samples %d" % (len(data) // 4),
                           "samples_consumed %s"
                           % read_attr("sim-dac", "samples_consumed")))
    print("%-28s %-28s" % ("FNV-1a " + adc_sum, "checksum " + dac_sum))
    print("%-28s %-28s" % ("io-mode " + src.get_string("io-mode"),
                           "io-mode " + dac.get_string("io-mode")))
    print("%-28s %-28s" % ("bytes-copied %d" % src.get_uint64("bytes-copied")[1],
                           "bytes-copied %d" % dac.get_uint64("bytes-copied")[1]))
    print("%-28s %-28s" % ("", "dmabuf-imports %d"
                           % dac.get_uint64("dmabuf-imports")[1]))
    print("loop: %s" % ("checksums match, no CPU copy" if adc_sum == dac_sum
                        else "CHECKSUMS DIFFER"))
    return adc_sum == dac_sum


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
    try:
        capture_sine(out)
        ok = adc_to_dac()
    except AssertionError as e:
        raise SystemExit("demo: %s" % e)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
