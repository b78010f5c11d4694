#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iio-lo-sweep: step a receiver's LO while iiosrc keeps capturing, and draw
the spectrum of every block as a waterfall PNG.

    iio-lo-sweep.py --uri ip:192.168.2.1 --device cf-ad9361-lpc \\
        --channels voltage0,voltage1 --iq --phy ad9361-phy \\
        --start 2400000000 --stop 2480000000 --step 10000000 \\
        --png sweep.png
    iio-lo-sweep.py --device sim-adc --channels voltage0 --phy sim-phy \\
        --attributes sampling_frequency=360000,waveform=sine \\
        --start 2400000000 --stop 2410000000 --step 1000000 --png sweep.png

The stream is never stopped: each new LO is set through iiosrc's
`attributes` property while PLAYING. iiosrc writes it at once and posts an
`iio-attribute` message with the value the driver set and the sample offset
at which it was written; blocks the device had already queued may still
hold the old tuning, so the example skips `blocks + 1` blocks after that
offset before it takes --rows blocks for the new LO. Per step it prints the
LO the driver set and the frequency of the strongest spectral peak, and it
checks that no block was lost (a DISCONT buffer ends the sweep with an
error: a waterfall with a hole in time would lie).

--iq takes the first two channels as I and Q (a transceiver's receive
path: one complex FFT, negative frequencies too); without it the first
channel is real and only positive frequencies are drawn. numpy is needed
(Debian: python3-numpy); matplotlib (python3-matplotlib) only for --png.
Exit status: 0 after the sweep, 1 on an error, 2 on bad arguments.
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

try:
    import numpy as np
except ImportError:
    sys.exit("iio-lo-sweep: numpy is needed for the FFT (Debian: "
             "python3-numpy)")

# How long one block, one message or the end of the stream may take.
WAIT_S = 10

AUDIO_DTYPES = {"S8": "i1", "U8": "u1", "S16LE": "<i2", "U16LE": "<u2",
                "S16BE": ">i2", "U16BE": ">u2", "S32LE": "<i4",
                "U32LE": "<u4", "S32BE": ">i4", "U32BE": ">u4"}


def channel_decoder(caps):
    """(channels, function bytes -> float array [samples, channels]) for
    audio/x-raw or application/x-iio caps."""
    s = caps.get_structure(0)
    _, n = s.get_int("channels")
    if s.get_name() == "audio/x-raw":
        dtype = np.dtype(AUDIO_DTYPES[s.get_string("format")])
        return n, lambda data: np.frombuffer(data, dtype).reshape(-1, n) \
            .astype(np.float64)
    # application/x-iio: one IIO type string per channel, e.g. le:S12/16>>0.
    # The example handles the usual case of one storage size for all.
    formats = s.get_value("formats")
    fmt = formats[0] if not isinstance(formats, str) else formats
    endian, rest = fmt.split(":")
    sign, rest = rest[0], rest[1:]
    bits, rest = rest.split("/")
    storage, shift = rest.split(">>")
    bits, storage, shift = int(bits), int(storage), int(shift)
    dtype = np.dtype("%su%d" % ("<" if endian == "le" else ">", storage // 8))

    def decode(data):
        raw = (np.frombuffer(data, dtype).astype(np.int64) >> shift) & \
            ((1 << bits) - 1)
        if sign == "s" or sign == "S":
            raw = np.where(raw >= 1 << (bits - 1), raw - (1 << bits), raw)
        return raw.reshape(-1, n).astype(np.float64)
    return n, decode


class Sweep:
    def __init__(self, args):
        self.args = args
        desc = ("iiosrc name=src ! appsink name=sink sync=false "
                "max-buffers=%d" % args.blocks)
        self.pipeline = Gst.parse_launch(desc)
        self.src = self.pipeline.get_by_name("src")
        self.sink = self.pipeline.get_by_name("sink")
        for name in ("uri", "device", "channels"):
            value = getattr(args, name)
            if value is not None:
                self.src.set_property(name, value)
        self.src.set_property("buffer-size", args.buffer_size)
        self.src.set_property("blocks", args.blocks)
        first = self.lo_item(args.start)
        self.src.set_property("attributes", ",".join(
            a for a in (args.attributes, first) if a))
        self.bus = self.pipeline.get_bus()
        self.decode = None
        self.rate = 0
        self.next_offset = 0

    def lo_item(self, frequency):
        return "%s:%s=%d" % (self.args.phy, self.args.lo_attribute, frequency)

    def fail(self, text):
        print("error: " + text, flush=True)
        self.pipeline.set_state(Gst.State.NULL)
        sys.exit(1)

    def check_bus(self):
        """Errors and warnings end the sweep (a warning from iiosrc is lost
        samples or a retune it could not make)."""
        while True:
            msg = self.bus.pop_filtered(Gst.MessageType.ERROR |
                                        Gst.MessageType.WARNING)
            if msg is None:
                return
            err, debug = msg.parse_error() \
                if msg.type == Gst.MessageType.ERROR else msg.parse_warning()
            self.fail("%s\n  (%s)" % (err.message, debug))

    def pull(self):
        """The next block as a float array [samples, channels], and its
        offset. A gap in the offsets or a DISCONT buffer is a lost block."""
        sample = self.sink.emit("try-pull-sample", WAIT_S * Gst.SECOND)
        self.check_bus()
        if sample is None:
            self.fail("no block within %d s" % WAIT_S)
        buf = sample.get_buffer()
        if self.decode is None:
            s = sample.get_caps().get_structure(0)
            self.rate = s.get_int("rate")[1]
            channels, self.decode = channel_decoder(sample.get_caps())
            if self.args.iq and channels < 2:
                self.fail("--iq needs two channels (I and Q); the stream "
                          "has %d" % channels)
        if buf.offset != self.next_offset or \
                (buf.has_flags(Gst.BufferFlags.DISCONT) and buf.offset != 0):
            self.fail("samples lost before offset %d (expected %d): the "
                      "consumer was too slow; try a larger --buffer-size or "
                      "--blocks" % (buf.offset, self.next_offset))
        self.next_offset = buf.offset_end
        return self.decode(buf.extract_dup(0, buf.get_size())), buf.offset

    def spectrum(self, x):
        """Power in dB per bin, and the bins' frequencies in Hz."""
        if self.args.iq:
            z = x[:, 0] + 1j * x[:, 1]
            z = z - z.mean()
            p = np.fft.fftshift(np.fft.fft(z * np.hanning(len(z))))
            f = np.fft.fftshift(np.fft.fftfreq(len(z), 1.0 / self.rate))
        else:
            r = x[:, 0] - x[:, 0].mean()
            p = np.fft.rfft(r * np.hanning(len(r)))
            f = np.fft.rfftfreq(len(r), 1.0 / self.rate)
        return 10 * np.log10(np.abs(p) ** 2 + 1e-12), f

    def wait_retune(self):
        """The iio-attribute message of the retune just set: (value the
        driver set, offset at which it was written)."""
        while True:
            msg = self.bus.timed_pop_filtered(
                WAIT_S * Gst.SECOND, Gst.MessageType.ELEMENT |
                Gst.MessageType.ERROR | Gst.MessageType.WARNING)
            if msg is None:
                self.fail("no iio-attribute message within %d s" % WAIT_S)
            if msg.type != Gst.MessageType.ELEMENT:
                err, debug = msg.parse_error() \
                    if msg.type == Gst.MessageType.ERROR \
                    else msg.parse_warning()
                self.fail("%s\n  (%s)" % (err.message, debug))
            s = msg.get_structure()
            if s.get_name() == "iio-attribute":
                key = "%s:%s" % (self.args.phy, self.args.lo_attribute)
                return s.get_value("applied").get_value(key), \
                    s.get_value("offset")

    def run(self):
        a = self.args
        if self.pipeline.set_state(Gst.State.PLAYING) == \
                Gst.StateChangeReturn.FAILURE:
            self.check_bus()
            self.fail("the pipeline did not start")
        rows, lo_rows = [], []
        freqs = None
        lo = a.start
        while lo <= a.stop:
            if lo == a.start:
                # Set before the first sample: no block to skip.
                applied = self.src.get_property("applied-attributes") \
                    .get_value(self.lo_item(a.start).split("=")[0])
                skip_to = 0
            else:
                self.src.set_property("attributes", self.lo_item(lo))
                applied, offset = self.wait_retune()
                skip_to = offset + (a.blocks + 1) * a.buffer_size
            x, offset = self.pull()
            while offset < skip_to:
                x, offset = self.pull()
            step = []
            for i in range(a.rows):
                if i:
                    x, offset = self.pull()
                p, freqs = self.spectrum(x)
                step.append(p)
            rows += step
            lo_rows += [lo] * len(step)
            peak = freqs[int(np.argmax(np.mean(step, axis=0)))]
            print("LO %d Hz (driver set %s): peak at %.1f Hz, %d blocks "
                  "from offset %d" % (lo, applied, peak, len(step),
                                      offset - (len(step) - 1) *
                                      a.buffer_size), flush=True)
            lo += a.step
        self.pipeline.send_event(Gst.Event.new_eos())
        while self.sink.emit("try-pull-sample", WAIT_S * Gst.SECOND) is not None:
            pass
        self.check_bus()
        self.pipeline.set_state(Gst.State.NULL)
        print("swept %d LO steps, %d blocks, none lost" %
              (len(set(lo_rows)), len(rows)), flush=True)
        if a.png:
            self.plot(np.array(rows), freqs, lo_rows)

    def plot(self, rows, freqs, lo_rows):
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("error: --png needs matplotlib (Debian: python3-matplotlib)")
            sys.exit(1)
        fig, ax = plt.subplots(figsize=(8, 6))
        ax.imshow(rows, aspect="auto", origin="upper", cmap="viridis",
                  extent=(freqs[0] / 1e3, freqs[-1] / 1e3, len(rows), 0))
        ax.set_xlabel("baseband frequency (kHz)")
        ax.set_ylabel("LO of the blocks (time runs down)")
        ticks = [i for i in range(len(lo_rows))
                 if i == 0 or lo_rows[i] != lo_rows[i - 1]]
        ax.set_yticks(ticks)
        ax.set_yticklabels(["%.3f MHz" % (lo_rows[i] / 1e6) for i in ticks])
        ax.set_title("LO sweep, %d samples per block at %d Hz" %
                     (self.args.buffer_size, self.rate))
        fig.tight_layout()
        fig.savefig(self.args.png)
        print("waterfall written to %s" % self.args.png, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--uri", help="libiio context (default local:)")
    p.add_argument("--device", help="the capture device (cf-ad9361-lpc)")
    p.add_argument("--channels", help="channels (voltage0,voltage1)")
    p.add_argument("--attributes", help="more attributes set at start, as "
                   "iiosrc's attributes property")
    p.add_argument("--phy", required=True,
                   help="the device with the LO (ad9361-phy)")
    p.add_argument("--lo-attribute", default="out_altvoltage0_RX_LO_frequency",
                   help="the LO's attribute on --phy (default "
                   "out_altvoltage0_RX_LO_frequency)")
    p.add_argument("--start", type=int, required=True, help="first LO (Hz)")
    p.add_argument("--stop", type=int, required=True, help="last LO (Hz)")
    p.add_argument("--step", type=int, required=True, help="LO step (Hz)")
    p.add_argument("--rows", type=int, default=4,
                   help="blocks drawn per LO step (default 4)")
    p.add_argument("--buffer-size", type=int, default=4096,
                   help="samples per block, so per FFT (default 4096)")
    p.add_argument("--blocks", type=int, default=4,
                   help="iiosrc's blocks (default 4)")
    p.add_argument("--iq", action="store_true",
                   help="first two channels are I and Q")
    p.add_argument("--png", help="write the waterfall to this PNG file")
    args = p.parse_args()
    if args.step <= 0 or args.stop < args.start or args.rows < 1:
        p.print_usage(sys.stderr)
        sys.stderr.write("iio-lo-sweep: --step must be > 0, --stop >= "
                         "--start, --rows >= 1\n")
        sys.exit(2)
    Gst.init(None)
    if Gst.ElementFactory.find("iiosrc") is None:
        sys.exit("iio-lo-sweep: no iiosrc element: is GST_PLUGIN_PATH set "
                 "to the gst-iio plugins?")
    Sweep(args).run()


if __name__ == "__main__":
    main()
