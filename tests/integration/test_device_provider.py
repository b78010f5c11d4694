#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The iio device provider (docs/device-provider.md): what
gst-device-monitor-1.0 prints for the simulator's devices, the element a
listed device creates streaming the exact ramp (iiosrc) or playing exact
data (iiosink), device-removed and device-added messages when sim-adc is
unbound and bound again (uevents through systemd-udevd, as on a board), the
companion sim-phy (no buffer) never listed, and scan-remote leaving the
local list as it is. Its own test bed: it unbinds sim-adc."""

import os
import subprocess
import time

import gi

gi.require_version("GUdev", "1.0")
from gi.repository import GLib, GUdev  # noqa: E402

from iiotest import (DAC_CAPS, Gst, Ramp, bind, check,
                     check_played, expect_eos, log, main, pull_blocks,
                     ramp_bytes, ramp_start, read_attr, reset_dac, start,
                     stop, unbind, wait_end)

MONITOR = "gst-device-monitor-1.0"
UDEVD = "/lib/systemd/systemd-udevd"
BOUND_S = 30                       # any single wait for a bus message

# What the provider must say about each device with a buffer.
EXPECTED = {
    "sim-adc": {
        "class": "IIO/Source",
        "iio.device.channels": "voltage0,voltage1,voltage2,voltage3",
        "iio.buffer.kind": "dma",
        "iio.buffer.dmabuf": "true",
        "iio.sampling-frequency": "1000000",
        "caps": "channels=4",
        "launch": "gst-launch-1.0 iiosrc device=sim-adc ! ...",
    },
    "sim-dac": {
        "class": "IIO/Sink",
        "iio.device.channels": "voltage0,voltage1",
        "iio.buffer.kind": "dma",
        "iio.buffer.dmabuf": "true",
        "iio.sampling-frequency": "1000000",
        "caps": "channels=2",
        "launch": "gst-launch-1.0 ... ! iiosink device=sim-dac",
    },
    "sim-kfifo": {
        "class": "IIO/Source",
        "iio.device.channels": "voltage0,voltage1",
        "iio.buffer.kind": "kfifo",
        "iio.buffer.dmabuf": "false",
        "iio.sampling-frequency": "100000",
        "caps": "channels=2",
        "launch": "gst-launch-1.0 iiosrc device=sim-kfifo ! ...",
    },
}


def device_id(name):
    """The sysfs id ("iio:device0") of the IIO device named @name."""
    for entry in os.listdir("/sys/bus/iio/devices"):
        path = os.path.join("/sys/bus/iio/devices", entry, "name")
        if os.path.exists(path):
            with open(path) as f:
                if f.read().strip() == name:
                    return entry
    raise AssertionError("no IIO device named %s" % name)


def parse_monitor(text):
    """gst-device-monitor-1.0's output as {name: {field: value}}; a
    "Device found" block gives name, class, caps (all lines), the
    properties and the gst-launch line."""
    devices = {}
    current = None
    in_caps = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "Device found:":
            current = {}
            in_caps = False
            continue
        if current is None or not stripped:
            continue
        if stripped.startswith("name  :"):
            current["name"] = stripped.split(":", 1)[1].strip()
            devices.setdefault(current["name"], [])
            devices[current["name"]].append(current)
        elif stripped.startswith("class :"):
            current["class"] = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("caps  :"):
            current["caps"] = stripped.split(":", 1)[1].strip()
            in_caps = True
            continue
        elif stripped.startswith("gst-launch-1.0"):
            current["launch"] = stripped
        elif " = " in stripped:
            key, value = stripped.split(" = ", 1)
            current[key] = value.split(" (0x")[0]     # uints print hex too
        elif in_caps:
            current["caps"] += " " + stripped
            continue
        in_caps = False
    return devices


def run_monitor(*args):
    res = subprocess.run([MONITOR] + list(args), capture_output=True,
                         text=True, timeout=120)
    log(res.stdout)
    if res.stderr:
        log("stderr:", res.stderr)
    check(res.returncode == 0, "%s %s exited with %d: %s"
          % (MONITOR, " ".join(args), res.returncode, res.stderr))
    check("CRITICAL" not in res.stderr and "WARNING" not in res.stderr,
          "%s printed a GLib warning: %s" % (MONITOR, res.stderr))
    return parse_monitor(res.stdout)


def check_listing(devices, what):
    check(sorted(devices) == sorted(EXPECTED),
          "%s lists %s, expected exactly %s (sim-phy has no buffer)"
          % (what, sorted(devices), sorted(EXPECTED)))
    for name, want in EXPECTED.items():
        entries = devices[name]
        check(len(entries) == 1, "%s: %s listed %d times"
              % (what, name, len(entries)))
        got = entries[0]
        for key, value in want.items():
            if key == "caps":
                ok = value in got.get("caps", "")
            else:
                ok = got.get(key) == value
            check(ok, "%s: %s %s is %r, expected %r"
                  % (what, name, key, got.get(key), value))
        fixed = {"device.api": "iio", "iio.context.uri": "local:",
                 "iio.device.name": name, "iio.device.label": name,
                 "iio.device.id": device_id(name),
                 "device.path": "/dev/" + device_id(name)}
        for key, value in fixed.items():
            check(got.get(key) == value, "%s: %s %s is %r, expected %r"
                  % (what, name, key, got.get(key), value))


def test_monitor_lists():
    """gst-device-monitor-1.0 (probe) lists the three devices with a buffer,
    with classes, caps and properties, and nothing else."""
    check_listing(run_monitor("IIO"), "gst-device-monitor-1.0 IIO")
    # the class filters
    sinks = run_monitor("IIO/Sink")
    check(sorted(sinks) == ["sim-dac"], "IIO/Sink lists %s" % sorted(sinks))
    sources = run_monitor("IIO/Source")
    check(sorted(sources) == ["sim-adc", "sim-kfifo"],
          "IIO/Source lists %s" % sorted(sources))


def monitor_devices(klass=None):
    monitor = Gst.DeviceMonitor.new()
    monitor.add_filter(klass, None)
    return monitor, monitor.get_devices()


def find_device(devices, name):
    found = [d for d in devices if d.get_display_name() == name]
    check(len(found) == 1, "%d devices named %s in %s" %
          (len(found), name, [d.get_display_name() for d in devices]))
    return found[0]


def test_not_listed():
    """Gst.DeviceMonitor without a filter: sim-phy (no buffer) is not there,
    sim-dac only as a sink, sim-adc only as a source."""
    _, devices = monitor_devices()
    iio = [d for d in devices
           if d.get_properties() and
           d.get_properties().get_string("device.api") == "iio"]
    listed = sorted((d.get_display_name(), d.get_device_class())
                    for d in iio)
    log("listed:", listed)
    check(listed == [("sim-adc", "IIO/Source"), ("sim-dac", "IIO/Sink"),
                     ("sim-kfifo", "IIO/Source")],
          "the IIO devices listed are %s" % listed)


def stream_ramp(element, n_blocks=100, block=4096):
    """Captures from @element (an iiosrc) and checks the ramp from sample
    0, without a gap."""
    element.set_property("buffer-size", block)
    element.set_property("blocks", 16)
    # a slower device than the default 1 MHz: the test's Python consumer
    # keeps up under a loaded host, so no sample is lost
    element.set_property("attributes", "sampling_frequency=100000")
    element.set_property("num-buffers", n_blocks)
    pipeline = Gst.Pipeline.new()
    sink = Gst.ElementFactory.make("appsink", "sink")
    sink.set_property("sync", False)
    sink.set_property("max-buffers", 2)
    pipeline.add(element)
    pipeline.add(sink)
    check(element.link(sink), "cannot link the created element to appsink")
    start(pipeline)
    _, blocks = pull_blocks(pipeline, n_blocks, 4)
    stop(pipeline)
    ramp = Ramp([0, 1, 2, 3])
    for b in blocks:
        ramp.feed(b.data)
    first = ramp_start(blocks[0].data, [0, 1, 2, 3])
    check(first == 0, "the first block starts at ramp sample %d" % first)
    check(not ramp.gaps, "gaps in the ramp: %s" % ramp.gaps[:5])
    check(ramp.samples == n_blocks * block, "%d samples captured, %d wanted"
          % (ramp.samples, n_blocks * block))


def test_created_src_streams():
    """The iiosrc that the listed sim-adc creates captures the exact ramp,
    and its device property is the name."""
    _, devices = monitor_devices("IIO/Source")
    element = find_device(devices, "sim-adc").create_element("src")
    check(element is not None, "sim-adc created no element")
    factory = element.get_factory().get_name()
    check(factory == "iiosrc", "sim-adc created a %s" % factory)
    check(element.get_property("device") == "sim-adc",
          "device=%r" % element.get_property("device"))
    check(element.get_property("uri") in (None, "local:"),
          "uri=%r" % element.get_property("uri"))
    stream_ramp(element)


def test_created_sink_plays():
    """The iiosink that the listed sim-dac creates plays exact data."""
    reset_dac()
    _, devices = monitor_devices("IIO/Sink")
    element = find_device(devices, "sim-dac").create_element("sink")
    factory = element.get_factory().get_name()
    check(factory == "iiosink", "sim-dac created a %s" % factory)
    check(element.get_property("device") == "sim-dac",
          "device=%r" % element.get_property("device"))
    data = ramp_bytes(40000)
    pipeline = Gst.Pipeline.new()
    appsrc = Gst.ElementFactory.make("appsrc", "src")
    appsrc.set_property("format", Gst.Format.TIME)
    appsrc.set_property("max-bytes", 0)
    appsrc.set_property("caps",
                        Gst.Caps.from_string(DAC_CAPS.format(rate=1000000)))
    pipeline.add(appsrc)
    pipeline.add(element)
    check(appsrc.link(element), "cannot link appsrc to the created iiosink")
    for i in range(0, len(data), 16384):
        appsrc.emit("push-buffer", Gst.Buffer.new_wrapped(data[i:i + 16384]))
    appsrc.emit("end-of-stream")
    start(pipeline)
    expect_eos(wait_end(pipeline))
    stop(pipeline)
    check_played(data, "the created iiosink")


def start_udevd():
    """Uevents reach libgudev through udevd (as on any distribution); the
    test bed's init starts none. Returns the process: the caller stops it
    (its workers cost CPU the capture needs in a loaded test bed)."""
    check(os.path.exists(UDEVD), "%s missing (tests/install-deps installs "
          "udev)" % UDEVD)
    udevd = subprocess.Popen([UDEVD], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    wait_udevd_ready(udevd)
    return udevd


def wait_udevd_ready(udevd):
    """Until udevd passes uevents on: a synthetic "change" of sim-kfifo
    (written again each second) must come back through it to a GUdev
    client, as the provider's will; bounded by BOUND_S."""
    seen = []
    client = GUdev.Client.new(["iio"])
    client.connect("uevent", lambda c, action, dev: seen.append(action))
    context = GLib.MainContext.default()
    uevent = os.path.join("/sys/bus/iio/devices", device_id("sim-kfifo"),
                          "uevent")
    for _ in range(BOUND_S):
        with open(uevent, "w") as f:
            f.write("change")
        for _ in range(10):
            while context.iteration(False):
                pass
            if "change" in seen or udevd.poll() is not None:
                break
            time.sleep(0.1)
        if "change" in seen or udevd.poll() is not None:
            break
    check(udevd.poll() is None, "%s exited with %s" % (UDEVD, udevd.poll()))
    check("change" in seen, "no uevent came through %s within %d s"
          % (UDEVD, BOUND_S))


def stop_udevd(udevd):
    udevd.terminate()
    try:
        udevd.wait(timeout=BOUND_S)
    except subprocess.TimeoutExpired:
        udevd.kill()
        udevd.wait(timeout=BOUND_S)


def pop_device_message(bus, want_type, name):
    """The next device-added or device-removed message for @name (others,
    which should not come, fail)."""
    types = Gst.MessageType.DEVICE_ADDED | Gst.MessageType.DEVICE_REMOVED
    msg = bus.timed_pop_filtered(BOUND_S * Gst.SECOND, types)
    check(msg is not None, "no device message within %d s (waiting for %s "
          "of %s)" % (BOUND_S, Gst.MessageType.get_name(want_type), name))
    if msg.type == Gst.MessageType.DEVICE_ADDED:
        device = msg.parse_device_added()
    else:
        device = msg.parse_device_removed()
    got = (Gst.MessageType.get_name(msg.type), device.get_display_name())
    log("message:", got)
    check(got == (Gst.MessageType.get_name(want_type), name),
          "got %s of %s, expected %s of %s" %
          (got[0], got[1], Gst.MessageType.get_name(want_type), name))
    return device


def test_unbind_bind():
    """While monitoring: unbinding sim-adc posts device-removed for it,
    binding it again device-added, and the new entry's element streams."""
    udevd = start_udevd()
    monitor = Gst.DeviceMonitor.new()
    monitor.add_filter("IIO/Source", None)
    bus = monitor.get_bus()
    check(monitor.start(), "the device monitor did not start")
    try:
        # start() announced what it found (device-added each): not news
        while bus.pop() is not None:
            pass
        listed = sorted(d.get_display_name() for d in monitor.get_devices())
        check(listed == ["sim-adc", "sim-kfifo"], "monitoring %s" % listed)
        adc_id = device_id("sim-adc")
        unbind("sim-adc")
        removed = pop_device_message(bus, Gst.MessageType.DEVICE_REMOVED,
                                     "sim-adc")
        check(removed.get_properties().get_string("iio.device.id") == adc_id,
              "removed %s, sim-adc was %s" %
              (removed.get_properties().get_string("iio.device.id"), adc_id))
        listed = sorted(d.get_display_name() for d in monitor.get_devices())
        check(listed == ["sim-kfifo"], "after the unbind: %s" % listed)

        bind("sim-adc")
        added = pop_device_message(bus, Gst.MessageType.DEVICE_ADDED,
                                   "sim-adc")
        props = added.get_properties()
        check(props.get_string("iio.device.id") == device_id("sim-adc") and
              props.get_string("iio.buffer.kind") == "dma" and
              props.get_string("iio.device.channels") ==
              "voltage0,voltage1,voltage2,voltage3",
              "added %s" % props.to_string())
        listed = sorted(d.get_display_name() for d in monitor.get_devices())
        check(listed == ["sim-adc", "sim-kfifo"], "after the bind: %s" % listed)
        check(read_attr("sim-adc", "waveform") == "ramp", "not the ramp")
    finally:
        monitor.stop()
        stop_udevd(udevd)
    stream_ramp(added.create_element("src2"), n_blocks=50)


def test_scan_remote():
    """scan-remote=true: libiio's scan (usb; ip only where avahi-daemon
    runs, not in the test bed) finds no remote context in the test bed, and the local entries stay the
    same three."""
    factory = Gst.DeviceProviderFactory.find("iiodeviceprovider")
    check(factory is not None, "no iiodeviceprovider")
    provider = factory.get()
    check(provider.get_property("scan-remote") is False,
          "scan-remote is on by default")
    provider.set_property("scan-remote", True)
    try:
        devices = provider.get_devices()
        listed = sorted((d.get_display_name(),
                         d.get_properties().get_string("iio.context.uri"))
                        for d in devices)
        log("scan-remote:", listed)
        check(listed == [("sim-adc", "local:"), ("sim-dac", "local:"),
                         ("sim-kfifo", "local:")], "listed %s" % listed)
    finally:
        provider.set_property("scan-remote", False)


main(test_monitor_lists, test_not_listed, test_created_src_streams,
     test_created_sink_plays, test_scan_remote, test_unbind_bind)
