#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iio-stats: capture from an IIO device with iiosrc ! appsink and print the
element's stats every INTERVAL seconds and at the end.

    iio-stats.py --device sim-adc --buffers 500
    iio-stats.py --device cf-ad9361-lpc --channels voltage0,voltage1 --seconds 10
    iio-stats.py --uri ip:192.168.2.1 --device cf-ad9361-lpc --seconds 5

It also says how the first buffer arrived (DMABUF memory: zero copy; system
memory: the copy path), prints its first samples, and prints the warnings
the element posts (overruns). Ctrl-C stops the capture cleanly (EOS).
Exit status: 0 after EOS, 1 on an error message, 2 on bad arguments.
"""

import argparse
import signal
import struct
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstAllocators", "1.0")
from gi.repository import GLib, Gst, GstAllocators  # noqa: E402

# struct codes of the audio formats an IIO channel can map to.
STRUCT_CODES = {
    "S8": "b", "U8": "B",
    "S16LE": "<h", "S16BE": ">h", "U16LE": "<H", "U16BE": ">H",
    "S32LE": "<i", "S32BE": ">i", "U32LE": "<I", "U32BE": ">I",
}
SHOW_SAMPLES = 4


def stats_line(stats):
    """'io-mode=dmabuf blocks=4 ...' from the stats GstStructure."""
    fields = []
    for i in range(stats.n_fields()):
        name = stats.nth_field_name(i)
        fields.append("%s=%s" % (name, stats.get_value(name)))
    return " ".join(fields)


def first_samples(caps, buf):
    """The first samples of each channel, as text, when the caps are an
    audio format with a struct code; else the first bytes in hex."""
    s = caps.get_structure(0)
    data = buf.extract_dup(0, buf.get_size())
    code = STRUCT_CODES.get(s.get_string("format") or "")
    ok, channels = s.get_int("channels")
    if s.get_name() != "audio/x-raw" or code is None or not ok:
        return ["  bytes: " + data[:16].hex(" ")]
    width = struct.calcsize(code)
    lines = []
    for c in range(channels):
        values = [struct.unpack_from(code, data, (n * channels + c) * width)[0]
                  for n in range(min(SHOW_SAMPLES, len(data) // (width * channels)))]
        lines.append("  channel %d: %s" % (c, " ".join(str(v) for v in values)))
    return lines


class Capture:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.buffers = 0
        self.failed = False
        self.pipeline = Gst.Pipeline.new("iio-stats")
        self.src = Gst.ElementFactory.make("iiosrc", "src")
        sink = Gst.ElementFactory.make("appsink", "sink")
        if self.src is None or sink is None:
            sys.exit("iio-stats: no iiosrc element: is GST_PLUGIN_PATH set "
                     "to the gst-iio plugins?")
        self.configure_src()
        # A buffer kept in the appsink is a block the device cannot fill:
        # keep few, take them at once, do not wait for the clock.
        sink.set_property("sync", False)
        sink.set_property("max-buffers", 2)
        sink.set_property("emit-signals", True)
        sink.connect("new-sample", self.on_sample)
        self.pipeline.add(self.src)
        self.pipeline.add(sink)
        self.src.link(sink)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)

    def configure_src(self):
        a = self.args
        props = {"uri": a.uri, "device": a.device, "channels": a.channels,
                 "attributes": a.attributes, "buffer-size": a.buffer_size,
                 "blocks": a.blocks, "num-buffers": a.buffers or -1}
        for name, value in props.items():
            if value is not None:
                self.src.set_property(name, value)
        if a.io_mode is not None:
            # An enum property from its nick, as gst-launch does.
            Gst.util_set_object_arg(self.src, "io-mode", a.io_mode)

    # Streaming thread: keep it short.
    def on_sample(self, sink):
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        if self.buffers == 0:
            mem = buf.peek_memory(0)
            dmabuf = GstAllocators.is_dmabuf_memory(mem)
            print("caps: %s" % sample.get_caps().to_string())
            print("memory: %s" % ("DMABUF (zero copy)" if dmabuf
                                  else "system memory (copy path)"))
            print("first samples:")
            print("\n".join(first_samples(sample.get_caps(), buf)),
                  flush=True)
        self.buffers += 1
        return Gst.FlowReturn.OK

    def on_message(self, bus, msg):
        if msg.type == Gst.MessageType.EOS:
            self.loop.quit()
        elif msg.type in (Gst.MessageType.ERROR, Gst.MessageType.WARNING):
            error = msg.type == Gst.MessageType.ERROR
            err, debug = msg.parse_error() if error else msg.parse_warning()
            print("%s: %s\n  (%s)" % ("error" if error else "warning",
                                      err.message, debug), flush=True)
            if error:
                self.failed = True
                self.loop.quit()

    def print_stats(self, prefix="stats"):
        stats = self.src.get_property("stats")
        ok, nbytes = stats.get_uint64("bytes")
        elapsed = time.monotonic() - self.t0
        print("%s after %.1f s: %s (%.2f MB/s)" % (
            prefix, elapsed, stats_line(stats),
            nbytes / elapsed / 1e6 if elapsed > 0 else 0.0), flush=True)
        return True

    def stop(self):
        """Ctrl-C or --seconds: EOS, so that the stats are complete."""
        self.pipeline.send_event(Gst.Event.new_eos())
        return False

    def run(self):
        self.t0 = time.monotonic()
        if self.pipeline.set_state(Gst.State.PLAYING) == \
                Gst.StateChangeReturn.FAILURE:
            # The error message is on the bus: the watch prints it first.
            self.failed = True
            GLib.idle_add(self.loop.quit)
        GLib.timeout_add(int(self.args.interval * 1000), self.print_stats)
        if self.args.seconds:
            GLib.timeout_add(int(self.args.seconds * 1000), self.stop)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self.stop)
        self.loop.run()
        self.pipeline.set_state(Gst.State.NULL)
        # The counters of the last run stay readable after the stop.
        if not self.failed:
            print("pulled %d buffers" % self.buffers)
            self.print_stats("final stats")
        return 1 if self.failed else 0


def parse_args():
    p = argparse.ArgumentParser(
        description="Capture from an IIO device and print iiosrc's stats.")
    p.add_argument("--device", help="IIO device id, name or label "
                   "(default: the only input device)")
    p.add_argument("--uri", help="libiio context (default local:; ip:HOST, "
                   "usb:...)")
    p.add_argument("--channels", help="comma list of channels "
                   "(default: all but the timestamp)")
    p.add_argument("--attributes", help="e.g. sampling_frequency=1000000")
    p.add_argument("--io-mode", choices=["auto", "dmabuf", "copy"])
    p.add_argument("--buffer-size", type=int, help="samples per buffer")
    p.add_argument("--blocks", type=int, help="blocks in flight")
    p.add_argument("--buffers", type=int, default=0,
                   help="stop after this many buffers (default: no limit)")
    p.add_argument("--seconds", type=float, default=0,
                   help="stop after this many seconds (default: no limit)")
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between stats lines (default 1)")
    args = p.parse_args()
    if args.buffers < 0 or args.seconds < 0 or args.interval <= 0:
        p.error("--buffers and --seconds must be >= 0, --interval > 0")
    return args


def main():
    args = parse_args()
    Gst.init(None)
    sys.exit(Capture(args).run())


if __name__ == "__main__":
    main()
