#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hot-unplug while streaming (the simulated device is unbound from its
driver): an error message naming the device, no crash, no hang, and the
pipeline goes to NULL. Its own test bed: the devices are gone after it."""

import os

from iiotest import (IIO_SYSFS, Gst, bus_message_text, check, log, main,
                     pop_error, pull_blocks, start, stop, unbind)


def unplug_while_streaming(device, io_mode, n_channels):
    pipeline = Gst.parse_launch(
        "iiosrc name=src device=%s io-mode=%s buffer-size=1024 ! "
        "appsink name=sink sync=false max-buffers=1 drop=true"
        % (device, io_mode))
    start(pipeline)
    pull_blocks(pipeline, 10, n_channels, keep_data=False)
    unbind(device)
    # drain what was captured before the unplug; the error must follow
    msg = pop_error(pipeline, timeout_s=30)
    text = bus_message_text(msg) if msg else None
    log("error:", text)
    stop(pipeline)
    check(text is not None, "no error within 30 s of unplugging %s" % device)
    names = []
    for entry in os.listdir(IIO_SYSFS):
        with open(os.path.join(IIO_SYSFS, entry, "name")) as f:
            names.append(f.read().strip())
    check(device not in names, "%s is still in %s" % (device, IIO_SYSFS))
    return text


def test_unplug_dmabuf():
    text = unplug_while_streaming("sim-adc", "dmabuf", 4)
    check("Device sim-adc (iio:device0) disappeared" in text,
          "error %r does not say the device disappeared" % text)


def test_unplug_copy():
    text = unplug_while_streaming("sim-kfifo", "copy", 2)
    check("sim-kfifo" in text, "error %r does not name sim-kfifo" % text)


main(test_unplug_dmabuf, test_unplug_copy)
