#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iio-usb-stream: stream an ADC to a PC over USB with no CPU copy on the
board (iiosrc ! ffssink), and read it on the PC.

On the board (a configfs gadget with an ffs.NAME function, FunctionFS
mounted at /dev/ffs-NAME; docs/functionfs.md shows the setup):

    iio-usb-stream.py board --function /dev/ffs-NAME --device cf-ad9361-lpc \\
        --channels voltage0,voltage1 --buffer-size 65536 \\
        --bind /sys/kernel/config/usb_gadget/NAME

ffssink owns the function: it writes the USB descriptors (one vendor
interface named "gst-iio ffssink", one bulk IN endpoint) when the pipeline
reaches READY; only then can the gadget be bound to the board's USB device
controller, which --bind does (or bind it yourself when the example says
so). The capture starts at once; ffssink sends when the PC enables the
interface, and until the PC reads, the ADC's samples wait in iiosrc's
--blocks (beyond them iiosrc reports an overrun). On the
DMABUF path the ADC's blocks go to the USB controller as they are:
`bytes-copied` stays 0 on both elements. At the end (--buffers, Ctrl-C or
the PC going away) it prints both elements' stats.

On the PC (libusb through pyusb, Debian: python3-usb; no driver needed):

    iio-usb-stream.py host --bytes 104857600 --out capture.raw
    iio-usb-stream.py host --bytes 4194304 --check-ramp 4     (the test bed)

It finds the interface by its name, reads the bulk IN endpoint and writes
what it got to --out; --check-ramp C checks the test bed's sim-adc ramp on
C channels (channel c at sample n is n + 1000 c, 16 bits; needs numpy).
Exit status: 0,
1 on an error or a failed check, 2 on bad arguments.
"""

import argparse
import os
import signal
import sys
import time

INTERFACE_NAME = "gst-iio ffssink"
# What one bulk read asks for: several transfers of the board's size.
READ_BYTES = 1 << 20


# ---- the board --------------------------------------------------------------

def first_udc():
    udcs = sorted(os.listdir("/sys/class/udc")) \
        if os.path.isdir("/sys/class/udc") else []
    if not udcs:
        sys.exit("iio-usb-stream: no USB device controller in /sys/class/udc")
    return udcs[0]


def board(args):
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    for name in ("iiosrc", "ffssink"):
        if Gst.ElementFactory.find(name) is None:
            sys.exit("iio-usb-stream: no %s element: is GST_PLUGIN_PATH set "
                     "to the gst-iio plugins?" % name)
    src_props = " ".join("%s=%s" % kv for kv in (
        ("device", args.device), ("channels", args.channels),
        ("uri", args.uri), ("attributes", args.attributes)) if kv[1])
    p = Gst.parse_launch(
        "iiosrc name=src %s buffer-size=%d blocks=%d num-buffers=%d ! "
        "ffssink name=usb function=%s timeout=%d"
        % (src_props, args.buffer_size, args.blocks, args.buffers or -1,
           args.function, args.timeout))
    bus = p.get_bus()

    def fail(text):
        print("error: " + text, flush=True)
        p.set_state(Gst.State.NULL)
        sys.exit(1)

    def pop_error():
        msg = bus.pop_filtered(Gst.MessageType.ERROR)
        if msg:
            err, debug = msg.parse_error()
            fail("%s\n  (%s)" % (err.message, debug))

    if p.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE:
        pop_error()
        fail("the pipeline did not reach READY")
    if args.bind:
        udc = first_udc()
        with open(os.path.join(args.bind, "UDC"), "w") as f:
            f.write(udc)
        print("function ready at %s, gadget %s bound to %s" %
              (args.function, args.bind, udc), flush=True)
    else:
        print("function ready at %s: bind the gadget to a UDC now" %
              args.function, flush=True)

    signal.signal(signal.SIGINT, lambda *a: p.send_event(Gst.Event.new_eos()))
    p.set_state(Gst.State.PLAYING)
    t0 = time.monotonic()
    while True:
        msg = bus.timed_pop_filtered(
            200 * Gst.MSECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR |
            Gst.MessageType.WARNING)
        if msg is None:
            continue
        if msg.type == Gst.MessageType.WARNING:
            err, debug = msg.parse_warning()
            print("warning: %s" % err.message, flush=True)
            continue
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            fail("%s\n  (%s)" % (err.message, debug))
        break
    elapsed = time.monotonic() - t0
    for name in ("src", "usb"):
        st = p.get_by_name(name).get_property("stats")
        print("%s stats: %s" % (name, " ".join(
            "%s=%s" % (st.nth_field_name(i), st.get_value(st.nth_field_name(i)))
            for i in range(st.n_fields()))), flush=True)
    nbytes = p.get_by_name("usb").get_property("stats").get_uint64("bytes")[1]
    print("sent %d bytes in %.1f s (%.2f MB/s)" %
          (nbytes, elapsed, nbytes / elapsed / 1e6 if elapsed else 0),
          flush=True)
    p.set_state(Gst.State.NULL)


# ---- the PC -----------------------------------------------------------------

def find_interface(usb, deadline):
    """(device, interface) of the first interface named INTERFACE_NAME."""
    import usb.util
    while True:
        for dev in usb.core.find(find_all=True):
            try:
                for cfg in dev:
                    for intf in cfg:
                        if intf.iInterface and usb.util.get_string(
                                dev, intf.iInterface) == INTERFACE_NAME:
                            return dev, intf
            except (usb.core.USBError, ValueError):
                continue        # a device we may not open: not ours
        if time.monotonic() > deadline:
            return None, None
        time.sleep(0.2)


class RampCheck:
    """sim-adc's ramp on C channels of 16 bits, across reads (numpy)."""

    def __init__(self, channels):
        import numpy
        self.np = numpy
        self.channels = channels
        self.rest = b""
        self.next = None
        self.samples = 0

    def feed(self, data):
        np = self.np
        data = self.rest + data
        step = 2 * self.channels
        whole = len(data) // step * step
        self.rest = data[whole:]
        x = np.frombuffer(data[:whole], "<u2").reshape(-1, self.channels)
        if not len(x):
            return
        first = int(x[0, 0]) if self.next is None else self.next
        n = (first + np.arange(len(x), dtype=np.uint32)) & 0xffff
        for c in range(self.channels):
            bad = np.nonzero(x[:, c] != (n + 1000 * c) & 0xffff)[0]
            if len(bad):
                i = int(bad[0])
                raise AssertionError(
                    "sample %d: channel %d is %d, the ramp says %d" %
                    (self.samples + i, c, x[i, c], (n[i] + 1000 * c) & 0xffff))
        self.next = int(n[-1] + 1) & 0xffff
        self.samples += len(x)


def host(args):
    try:
        import usb.core
    except ImportError:
        sys.exit("iio-usb-stream: host mode needs pyusb (Debian: python3-usb)")
    # before the device is opened: the board's timeout runs from then on
    ramp = RampCheck(args.check_ramp) if args.check_ramp else None
    dev, intf = find_interface(usb, time.monotonic() + args.wait)
    if dev is None:
        print("error: no USB interface named \"%s\" within %d s" %
              (INTERFACE_NAME, args.wait), flush=True)
        sys.exit(1)
    ep = next((e for e in intf if usb.util.endpoint_direction(
        e.bEndpointAddress) == usb.util.ENDPOINT_IN), None)
    if ep is None:
        print("error: interface \"%s\" has no IN endpoint" % INTERFACE_NAME)
        sys.exit(1)
    usb.util.claim_interface(dev, intf.bInterfaceNumber)
    print("reading %s (bus %d device %d), endpoint 0x%02x" % (
        INTERFACE_NAME, dev.bus, dev.address, ep.bEndpointAddress),
        flush=True)
    out = open(args.out, "wb") if args.out else None
    got = 0
    t0 = time.monotonic()
    try:
        while got < args.bytes:
            want = min(READ_BYTES, args.bytes - got)
            # a whole number of packets: a read ends at a short packet
            want = -(-want // ep.wMaxPacketSize) * ep.wMaxPacketSize
            data = bytes(ep.read(want, timeout=args.wait * 1000))
            data = data[:args.bytes - got]
            got += len(data)
            if out:
                out.write(data)
            if ramp:
                ramp.feed(data)
    except usb.core.USBError as e:
        print("error: after %d bytes: %s" % (got, e), flush=True)
        sys.exit(1)
    except AssertionError as e:
        print("error: not the ramp: %s" % e, flush=True)
        sys.exit(1)
    finally:
        if out:
            out.close()
        try:
            usb.util.release_interface(dev, intf.bInterfaceNumber)
        except usb.core.USBError:
            pass                # the device went away: nothing to release
    elapsed = time.monotonic() - t0
    print("received %d bytes in %.1f s (%.2f MB/s)%s" % (
        got, elapsed, got / elapsed / 1e6 if elapsed else 0,
        ", ramp exact over %d samples" % ramp.samples if ramp else ""),
        flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="role", required=True)
    b = sub.add_parser("board", help="iiosrc ! ffssink on the board")
    b.add_argument("--function", required=True,
                   help="the FunctionFS mount point (/dev/ffs-NAME)")
    b.add_argument("--bind", metavar="GADGET",
                   help="configfs gadget dir to bind to the first UDC once "
                   "the descriptors are written")
    b.add_argument("--uri")
    b.add_argument("--device")
    b.add_argument("--channels")
    b.add_argument("--attributes")
    b.add_argument("--buffer-size", type=int, default=16384,
                   help="samples per block (default 16384)")
    b.add_argument("--blocks", type=int, default=8,
                   help="iiosrc's blocks: the capture runs from PLAYING on, "
                   "so they must hold what the ADC makes until the PC "
                   "reads (default 8)")
    b.add_argument("--buffers", type=int, default=0,
                   help="blocks to send, 0 = until Ctrl-C")
    b.add_argument("--timeout", type=int, default=10000,
                   help="ms the PC may take to enable the interface or to "
                   "read a block (default 10000)")
    h = sub.add_parser("host", help="read the stream on the PC")
    h.add_argument("--bytes", type=int, required=True, help="bytes to read")
    h.add_argument("--out", help="write the data to this file")
    h.add_argument("--check-ramp", type=int, metavar="CHANNELS", default=0,
                   help="check the test bed's ramp on CHANNELS channels")
    h.add_argument("--wait", type=int, default=10,
                   help="seconds to wait for the device and each read")
    args = p.parse_args()
    if args.role == "board":
        if args.buffer_size < 1 or args.buffers < 0:
            p.error("--buffer-size must be >= 1, --buffers >= 0")
        board(args)
    else:
        if args.bytes < 1 or args.check_ramp < 0:
            p.error("--bytes must be >= 1, --check-ramp >= 0")
        host(args)


if __name__ == "__main__":
    main()
