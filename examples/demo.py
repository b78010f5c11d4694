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

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3
MASK64 = (1 << 64) - 1


def fnv1a64(data, h=FNV_OFFSET):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def sysfs_attr(name, attr):
    """Reads @attr of the IIO device called @name."""
    import glob
    for path in glob.glob("/sys/bus/iio/devices/iio:device*"):
        with open(path + "/name") as f:
            if f.read().strip() == name:
                with open(path + "/" + attr) as a:
                    return a.read().strip()
    raise SystemExit("demo: no IIO device %s" % name)


def run(pipeline, bound_s=120):
    """Plays @pipeline to EOS; exits with the error text on an error."""
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        bound_s * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        text = msg.parse_error()[0].message if msg else "no EOS in %d s" % bound_s
        pipeline.set_state(Gst.State.NULL)
        raise SystemExit("demo: " + text)
    pipeline.set_state(Gst.State.NULL)


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
    dac_sum = sysfs_attr("sim-dac", "checksum")
    print()
    print("%-28s %-28s" % ("ADC -> (iiosrc)", "(iiosink) -> DAC"))
    print("%-28s %-28s" % ("samples %d" % (len(data) // 4),
                           "samples_consumed %s"
                           % sysfs_attr("sim-dac", "samples_consumed")))
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
    Gst.init(None)
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
    capture_sine(out)
    sys.exit(0 if adc_to_dac() else 1)


if __name__ == "__main__":
    main()
