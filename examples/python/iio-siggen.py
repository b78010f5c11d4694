#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iio-siggen: a signal generator for an IIO DAC, fed through iiosink.

    iio-siggen.py --device sim-dac --waveform sine --frequency 1000
    iio-siggen.py --device sim-dac --source audiotestsrc --buffers 200
    iio-siggen.py --device cf-ad9361-dds-core-lpc --channels voltage0,voltage1 \\
        --frequency 100000 --cyclic --seconds 10

The DAC's format, channel count and rate come from iiosink's caps once the
device is open (READY), so the generator always matches the device.

--source appsrc (default): a sine or a ramp computed with numpy, written
straight into the DMA blocks of iiosink's pool when the sink offers one
(the DMABUF path: nothing is copied), else pushed as system memory (the
sink copies it once). --source audiotestsrc: GStreamer's generator, which
uses the sink's pool by itself.

At the end it prints iiosink's stats and, for a local device that has one,
the DAC's samples_consumed attribute next to the number of samples sent.
With --cyclic the first buffer repeats on the DAC for --seconds.
Exit status: 0 after EOS, 1 on an error message, 2 on bad arguments.
"""

import argparse
import glob
import os
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstAllocators", "1.0")
gi.require_version("GstBase", "1.0")
from gi.repository import Gst, GstAllocators, GstBase  # noqa: E402

import numpy as np  # noqa: E402

# numpy dtypes of the integer audio formats a DAC channel can map to.
DTYPES = {
    "S8": "i1", "U8": "u1",
    "S16LE": "<i2", "S16BE": ">i2", "U16LE": "<u2", "U16BE": ">u2",
    "S32LE": "<i4", "S32BE": ">i4", "U32LE": "<u4", "U32BE": ">u4",
}
# Every wait on the pipeline is bounded (the sink's own timeout fires
# first on a stalled DAC).
BUS_TIMEOUT_S = 60


def die(text):
    print("iio-siggen: " + text, file=sys.stderr)
    sys.exit(1)


def bus_error(pipeline, timeout_s=0):
    """The text of an error message on the bus, or None."""
    msg = pipeline.get_bus().timed_pop_filtered(
        int(timeout_s * Gst.SECOND), Gst.MessageType.ERROR)
    if msg is None:
        return None
    err, debug = msg.parse_error()
    return "%s\n  (%s)" % (err.message, debug)


def device_format(sink):
    """(format, channels, rate) of the open DAC, from iiosink's caps."""
    caps = sink.get_static_pad("sink").query_caps(None)
    for i in range(caps.get_size()):
        s = caps.get_structure(i)
        fmt = s.get_string("format")
        if s.get_name() == "audio/x-raw" and fmt in DTYPES:
            return fmt, s.get_int("channels")[1], s.get_int("rate")[1]
    die("the DAC offers no integer audio format this generator writes: %s"
        % caps.to_string())


class Waveform:
    """Consecutive blocks of an interleaved sine or ramp, channel c shifted
    by a quarter period per channel (I/Q for two channels)."""

    def __init__(self, args, fmt, channels, rate):
        self.dtype = np.dtype(DTYPES[fmt])
        info = np.iinfo(self.dtype)
        self.mid = (int(info.max) + int(info.min) + 1) // 2
        self.span = (int(info.max) - int(info.min)) // 2
        self.args, self.channels, self.rate = args, channels, rate
        self.frequency = args.frequency or rate / 100.0
        self.n = 0

    def block(self, samples):
        t = (self.n + np.arange(samples)) / self.rate
        out = np.empty((samples, self.channels), dtype=self.dtype)
        for c in range(self.channels):
            phase = self.frequency * t + c / 4.0
            if self.args.waveform == "sine":
                v = np.sin(2 * np.pi * phase)
            else:
                v = 2 * (phase % 1.0) - 1
            out[:, c] = self.mid + np.round(v * self.span * self.args.amplitude)
        self.n += samples
        return out.tobytes()


class Generator:
    def __init__(self, args):
        self.args = args
        self.pipeline = Gst.Pipeline.new("iio-siggen")
        self.sink = Gst.ElementFactory.make("iiosink", "dac")
        if self.sink is None:
            die("no iiosink element: is GST_PLUGIN_PATH set to the gst-iio "
                "plugins?")
        for name in ("uri", "device", "channels", "attributes"):
            value = getattr(args, name)
            if value is not None:
                self.sink.set_property(name, value)
        if args.io_mode:
            Gst.util_set_object_arg(self.sink, "io-mode", args.io_mode)
        self.sink.set_property("cyclic", args.cyclic)
        # One generated buffer fills one of the sink's blocks exactly.
        self.sink.set_property("buffer-size", args.samples)
        self.pipeline.add(self.sink)
        self.sent = 0
        self.zero_copy = None

    def open_device(self):
        """READY: iiosink opens the DAC; its caps say what it plays."""
        if self.pipeline.set_state(Gst.State.READY) == \
                Gst.StateChangeReturn.FAILURE:
            die(bus_error(self.pipeline) or "iiosink did not open the DAC")
        fmt, channels, rate = device_format(self.sink)
        print("DAC: %s, %d channels of %s at %d Hz" % (
            self.sink.get_property("device") or "(the only output device)",
            channels, fmt, rate))
        return fmt, channels, rate

    def caps(self, fmt, channels, rate):
        return Gst.Caps.from_string(
            "audio/x-raw,format=%s,layout=interleaved,rate=%d,channels=%d,"
            "channel-mask=(bitmask)0" % (fmt, rate, channels))

    def build_audiotestsrc(self, caps, bpf):
        a = self.args
        src = Gst.ElementFactory.make("audiotestsrc", "gen")
        src.set_property("num-buffers", 1 if a.cyclic else a.buffers)
        src.set_property("samplesperbuffer", a.samples)
        Gst.util_set_object_arg(src, "wave",
                                "sine" if a.waveform == "sine" else "saw")
        src.set_property("freq", a.frequency or caps.get_structure(0)
                         .get_int("rate")[1] / 100.0)
        src.set_property("volume", a.amplitude)
        capsfilter = Gst.ElementFactory.make("capsfilter")
        capsfilter.set_property("caps", caps)
        self.pipeline.add(src)
        self.pipeline.add(capsfilter)
        src.link(capsfilter)
        capsfilter.link(self.sink)
        self.sent = (1 if a.cyclic else a.buffers) * a.samples
        # audiotestsrc is a GstBaseSrc: it allocates from the allocator
        # iiosink proposes (a DMA block when a buffer fits one).
        self.bpf = bpf

    def build_appsrc(self, caps, fmt, channels, rate):
        src = Gst.ElementFactory.make("appsrc", "gen")
        src.set_property("caps", caps)
        src.set_property("format", Gst.Format.TIME)
        src.set_property("emit-signals", True)
        src.set_property("max-buffers", 2)
        src.connect("need-data", self.on_need_data)
        self.pipeline.add(src)
        src.link(self.sink)
        self.appsrc = src
        self.wave = Waveform(self.args, fmt, channels, rate)
        self.rate = rate
        self.bpf = self.wave.dtype.itemsize * channels
        self.pushed = 0

    def new_buffer(self, data):
        """A buffer with @data: in a DMA block of iiosink's pool when the
        sink proposed its allocator (appsrc, a GstBaseSrc, took it in its
        allocation query; a buffer larger than a block gets system memory
        from it), else wrapped system memory."""
        allocator, params = GstBase.BaseSrc.get_allocator(self.appsrc)
        if allocator is not None:
            buf = Gst.Buffer.new()
            buf.append_memory(allocator.alloc(len(data), params))
            buf.fill(0, data)      # the CPU writes into the DMA block
        else:
            buf = Gst.Buffer.new_wrapped(data)
        if self.zero_copy is None:
            self.zero_copy = GstAllocators.is_dmabuf_memory(
                buf.peek_memory(0))
        return buf

    # appsrc's streaming thread.
    def on_need_data(self, src, length):
        limit = 1 if self.args.cyclic else self.args.buffers
        if self.pushed >= limit:
            src.emit("end-of-stream")
            return
        buf = self.new_buffer(self.wave.block(self.args.samples))
        if buf is None:         # flushing: the pipeline is stopping
            return
        buf.pts = Gst.util_uint64_scale(self.sent, Gst.SECOND, self.rate)
        buf.duration = Gst.util_uint64_scale(self.args.samples, Gst.SECOND,
                                             self.rate)
        self.pushed += 1
        self.sent += self.args.samples
        src.emit("push-buffer", buf)

    def play(self):
        fmt, channels, rate = self.open_device()
        caps = self.caps(fmt, channels, rate)
        if self.args.source == "audiotestsrc":
            self.build_audiotestsrc(caps, np.dtype(DTYPES[fmt]).itemsize *
                                    channels)
        else:
            self.build_appsrc(caps, fmt, channels, rate)
        t0 = time.monotonic()
        if self.pipeline.set_state(Gst.State.PLAYING) == \
                Gst.StateChangeReturn.FAILURE:
            die(bus_error(self.pipeline) or "the pipeline did not start")
        # EOS comes once the DAC has played every sample (iiosink drains).
        msg = self.pipeline.get_bus().timed_pop_filtered(
            BUS_TIMEOUT_S * Gst.SECOND,
            Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is None or msg.type == Gst.MessageType.ERROR:
            text = ("no EOS within %d s" % BUS_TIMEOUT_S if msg is None
                    else "%s\n  (%s)" % msg.parse_error())
            self.pipeline.set_state(Gst.State.NULL)
            die(text)
        if self.args.cyclic:
            print("cyclic: the DAC repeats the first buffer for %g s"
                  % self.args.seconds, flush=True)
            time.sleep(self.args.seconds)
        elapsed = time.monotonic() - t0
        consumed = dac_consumed(self.sink)
        self.pipeline.set_state(Gst.State.NULL)
        self.report(elapsed, consumed)

    def report(self, elapsed, consumed):
        stats = self.sink.get_property("stats")
        fields = " ".join("%s=%s" % (stats.nth_field_name(i),
                                     stats.get_value(stats.nth_field_name(i)))
                          for i in range(stats.n_fields()))
        print("sent %d samples (%d buffers of %d) in %.2f s" % (
            self.sent, self.sent // self.args.samples, self.args.samples,
            elapsed))
        if self.args.source == "appsrc":
            print("appsrc buffers: %s" % (
                "DMA blocks of iiosink's pool (no copy)" if self.zero_copy
                else "system memory (iiosink copies them)"))
        print("iiosink stats: %s" % fields)
        if consumed is None:
            print("DAC samples_consumed: not available (not a local device "
                  "with that attribute)")
        else:
            print("DAC samples_consumed: %d" % consumed)


def dac_consumed(sink):
    """The samples_consumed attribute of the sink's device when it is local
    and has one (the test bed's sim-dac does), else None."""
    uri = sink.get_property("uri") or "local:"
    device = sink.get_property("device")
    if not uri.startswith("local:") or device is None:
        return None
    for path in glob.glob("/sys/bus/iio/devices/iio:device*"):
        try:
            with open(os.path.join(path, "name")) as f:
                name = f.read().strip()
            if device not in (name, os.path.basename(path)):
                continue
            with open(os.path.join(path, "samples_consumed")) as f:
                return int(f.read())
        except (OSError, ValueError):
            continue
    return None


def parse_args():
    p = argparse.ArgumentParser(
        description="Generate a sine or a ramp into an IIO DAC (iiosink).")
    p.add_argument("--device", help="IIO output device id, name or label "
                   "(default: the only output device)")
    p.add_argument("--uri", help="libiio context (default local:)")
    p.add_argument("--channels", help="comma list of output channels "
                   "(default: all)")
    p.add_argument("--attributes", help="e.g. sampling_frequency=1000000")
    p.add_argument("--io-mode", choices=["auto", "dmabuf", "copy"])
    p.add_argument("--source", choices=["appsrc", "audiotestsrc"],
                   default="appsrc")
    p.add_argument("--waveform", choices=["sine", "ramp"], default="sine")
    p.add_argument("--frequency", type=float, default=0,
                   help="Hz (default: the DAC's rate / 100)")
    p.add_argument("--amplitude", type=float, default=0.5,
                   help="fraction of full scale, 0..1 (default 0.5)")
    p.add_argument("--samples", type=int, default=4096,
                   help="samples per buffer, also iiosink's buffer-size "
                   "(default 4096)")
    p.add_argument("--buffers", type=int, default=100,
                   help="buffers to play before EOS (default 100)")
    p.add_argument("--cyclic", action="store_true",
                   help="iiosink cyclic=true: the first buffer repeats")
    p.add_argument("--seconds", type=float, default=1.0,
                   help="with --cyclic: how long it repeats (default 1)")
    args = p.parse_args()
    if not 0 < args.amplitude <= 1:
        p.error("--amplitude must be in (0, 1]")
    if args.samples < 1 or args.buffers < 1 or args.seconds < 0:
        p.error("--samples and --buffers must be >= 1, --seconds >= 0")
    return args


def main():
    args = parse_args()
    Gst.init(None)
    Generator(args).play()


if __name__ == "__main__":
    main()
