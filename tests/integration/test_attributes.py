# SPDX-License-Identifier: LGPL-2.1-or-later
"""The attributes property on any device of the context, against sim-phy,
sim-adc's companion device (no buffer; its LO sets the tone of sim-adc's
sine, its gain the amplitude: tests/vm/sim/iio-sim.c).

Every case reads the effect in the samples themselves (the period of the
sine, its FFT peak, its amplitude) or in sysfs, and the error texts a user
gets for a read-only attribute, a value the driver rejects, an unknown
device or debug attribute.
"""

import os
import subprocess

import numpy as np

from iiotest import (Gst, Iiod, appsrc_launch, check, check_no_error, device_dir,
                     error_of, expect_eos, main, pop_all, pop_error,
                     pull_blocks, push_all, read_attr, reset_dac,
                     set_state_bounded, start, stat, stop, wait_end,
                     write_attr, DAC_SAMPLE)

RATE = 360000
# Retuning while playing: 20 blocks a second, easy for a Python consumer on
# a loaded test bed (the case checks that nothing is lost).
LIVE_RATE = 72000
# A whole number of sine periods: FFT bins fall exactly on the tones.
BLOCK = 3600
LO_FILE = "out_altvoltage0_RX_LO_frequency"
GAIN_FILE = "in_voltage0_hardwaregain"
LO_DEFAULT = "2400000000"
GAIN_DEFAULT = "0.000000 dB"
# The sine table's largest magnitude: 90 % of full scale (iio-sim.c), its
# negative peak -29491 after fixp_sin32's rounding.
FULL_AMPLITUDE = 29491
DEBUGFS = "/sys/kernel/debug"


def phy_id():
    return os.path.basename(device_dir("sim-phy"))


def reset_phy():
    write_attr("sim-phy", LO_FILE, LO_DEFAULT)
    write_attr("sim-phy", GAIN_FILE, "0")


def capture(attributes, n_blocks=2, channels="voltage0,voltage1"):
    """The first @n_blocks blocks of sim-adc's sine (2 channels) with
    @attributes added; returns (blocks, applied-attributes)."""
    p = Gst.parse_launch(
        "iiosrc name=src device=sim-adc channels=%s buffer-size=%d "
        "attributes=\"sampling_frequency=%d,waveform=sine%s\" ! "
        "appsink name=sink sync=false"
        % (channels, BLOCK, RATE, "," + attributes if attributes else ""))
    start(p)
    try:
        _, blocks = pull_blocks(p, n_blocks, 2)
        applied = p.get_by_name("src").get_property("applied-attributes")
    finally:
        stop(p)
    return blocks, applied


def signed(block, channel):
    return block.data[:, channel].astype(np.int16).astype(np.int64)


def peak_bin(x):
    return int(np.argmax(np.abs(np.fft.rfft(x))[1:])) + 1


def check_tone(blocks, tone, what):
    """Channel c of every block is the sine at @tone * (c + 1) cycles per
    360 samples: exactly periodic with 360 / (tone * (c + 1)) samples,
    its FFT peak where that frequency falls."""
    for i, b in enumerate(blocks):
        for c in (0, 1):
            x = signed(b, c)
            period = 360 // (tone * (c + 1))
            check(np.array_equal(x[:-period], x[period:]),
                  "%s: block %d channel %d is not periodic with %d samples"
                  % (what, i, c, period))
            want = round(tone * (c + 1) * len(x) / 360)
            got = peak_bin(x)
            check(got == want, "%s: block %d channel %d peaks at bin %d "
                  "(%.0f Hz), expected %d (%.0f Hz)"
                  % (what, i, c, got, got * RATE / len(x), want,
                     want * RATE / len(x)))


def field(applied, name):
    check(applied is not None, "applied-attributes is NULL")
    check(applied.has_field(name), "applied-attributes has no %s: %s"
          % (name, applied.to_string()))
    return applied.get_value(name)


def test_phy_before_first_sample():
    """LO and gain set on sim-phy from iiosrc: the first block already has
    the new tone and amplitude; the LO read back (rounded by the driver)
    is in applied-attributes."""
    base, _ = capture("", n_blocks=1)
    check_tone(base, 1, "default LO")
    amp = int(np.max(np.abs(signed(base[0], 0))))
    check(amp == FULL_AMPLITUDE, "default gain: amplitude %d, expected %d"
          % (amp, FULL_AMPLITUDE))

    blocks, applied = capture("sim-phy:out:altvoltage0:frequency=2405000400,"
                              "sim-phy:in:voltage0:hardwaregain=-6.4")
    check_tone(blocks, 6, "LO 2405000400")
    amp = int(np.max(np.abs(signed(blocks[0], 0))))
    # -6 dB: round(32768 * 10^(-6/20)) = 16423 in Q15
    want = (FULL_AMPLITUDE * 16423) >> 15
    check(abs(amp - want) <= 1, "gain -6 dB: amplitude %d, expected %d"
          % (amp, want))

    got = field(applied, "sim-phy:out:altvoltage0:frequency")
    check(got == "2405000000", "LO read back %r, expected the driver's "
          "1 kHz step, 2405000000" % got)
    got = field(applied, "sim-phy:in:voltage0:hardwaregain")
    check(got == "-6.000000 dB", "gain read back %r, expected -6.000000 dB"
          % got)
    for name in ("sampling_frequency", "waveform"):
        field(applied, name)
    check(read_attr("sim-phy", LO_FILE) == "2405000000",
          "sysfs LO %s" % read_attr("sim-phy", LO_FILE))


def test_other_spellings():
    """The sysfs file name and the device id reach the same attributes;
    back at the defaults, sim-adc's sine is bit-identical to before."""
    before, _ = capture("", n_blocks=1)
    blocks, applied = capture("sim-phy:%s=2409000000,%s:in:voltage0:"
                              "hardwaregain=-3 dB" % (LO_FILE, phy_id()))
    check_tone(blocks, 10, "LO 2409000000 by file name")
    check(field(applied, "sim-phy:" + LO_FILE) == "2409000000",
          "applied: %s" % applied.to_string())
    check(field(applied, phy_id() + ":in:voltage0:hardwaregain") ==
          "-3.000000 dB", "applied: %s" % applied.to_string())
    reset_phy()
    after, _ = capture("", n_blocks=1)
    check(np.array_equal(before[0].data, after[0].data),
          "sim-adc's sine at sim-phy's defaults differs from before")


def ready_error(description):
    """The SETTINGS error text of @description's NULL->READY."""
    p = Gst.parse_launch(description)
    try:
        ret = set_state_bounded(p, Gst.State.READY)
        check(ret == Gst.StateChangeReturn.FAILURE,
              "NULL->READY returned %s" % ret.value_nick)
        _, err, debug = error_of(pop_error(p))
        check(err.matches(Gst.resource_error_quark(),
                          Gst.ResourceError.SETTINGS),
              "not a SETTINGS error: %s (%s)" % (err.message, debug))
        return err.message
    finally:
        stop(p)


def check_text(got, want):
    check(got == want, "error text\n  %r\nexpected\n  %r" % (got, want))


def src(attributes):
    return ("iiosrc device=sim-adc attributes=\"%s\" ! fakesink"
            % attributes)


def test_read_only():
    """A read-only attribute is refused before anything is written."""
    got = ready_error(src("sim-phy:out:altvoltage0:frequency=2410000000,"
                          "sim-phy:in:temp0:input=1"))
    check_text(got, "Cannot write \"1\" to attribute input of channel temp0 "
               "of sim-phy (%s): it is read-only (item "
               "\"sim-phy:in:temp0:input=1\")" % phy_id())
    check(read_attr("sim-phy", LO_FILE) == LO_DEFAULT,
          "the LO item before the read-only one was written: %s"
          % read_attr("sim-phy", LO_FILE))
    check(read_attr("sim-phy", "in_temp0_input") == "35000",
          "temperature %s" % read_attr("sim-phy", "in_temp0_input"))


def test_rejected_value():
    """Values the driver refuses: the errno text and the value."""
    got = ready_error(src("sim-phy:in:voltage0:hardwaregain=-50"))
    check_text(got, "Could not write \"-50\" to attribute hardwaregain of "
               "channel voltage0 of sim-phy (%s): Invalid argument"
               % phy_id())
    got = ready_error(src("sim-phy:out_altvoltage0_RX_LO_frequency=10"))
    check_text(got, "Could not write \"10\" to attribute frequency of "
               "channel altvoltage0 of sim-phy (%s): Invalid argument"
               % phy_id())
    check(read_attr("sim-phy", GAIN_FILE) == GAIN_DEFAULT,
          "gain %s" % read_attr("sim-phy", GAIN_FILE))


def test_unknown_on_device():
    """A real context: unknown device and channel list what there is."""
    got = ready_error(src("sim-phi:frequency=1"))
    ids = {n: os.path.basename(device_dir(n))
           for n in ("sim-adc", "sim-dac", "sim-kfifo", "sim-phy")}
    check_text(got, "No IIO device \"sim-phi\" at local: (item "
               "\"sim-phi:frequency=1\"); devices: " + ", ".join(
                   "%s (%s)" % (n, ids[n]) for n in sorted(
                       ids, key=lambda n: int(ids[n][len("iio:device"):]))))
    got = ready_error(src("sim-phy:in:altvoltage0:frequency=1"))
    check_text(got, "sim-phy (%s) has no input channel \"altvoltage0\" (item "
               "\"sim-phy:in:altvoltage0:frequency=1\"); its channels: "
               "altvoltage0 (output), voltage0 (input), temp0 (input)"
               % phy_id())


def test_debug_attribute():
    """Debug attributes come from debugfs: without it the error says so;
    with it, direct_reg_access writes a register and reads it back."""
    mounted = os.path.ismount(DEBUGFS)
    if not mounted:
        got = ready_error(src("sim-phy:debug:direct_reg_access=0x3 0x1234"))
        check_text(got, "sim-phy (%s) has no debug attribute "
                   "\"direct_reg_access\" (item "
                   "\"sim-phy:debug:direct_reg_access=0x3 0x1234\"); its "
                   "debug "
                   "attributes: none (debug attributes are read from "
                   "debugfs: is it mounted at /sys/kernel/debug?)"
                   % phy_id())
        subprocess.run(["mount", "-t", "debugfs", "debugfs", DEBUGFS],
                       check=True)
    try:
        _, applied = capture("sim-phy:debug:direct_reg_access=0x3 0x1234",
                             n_blocks=1)
        got = field(applied, "sim-phy:debug:direct_reg_access")
        check(got == "0x1234", "register 3 read back %r, expected 0x1234"
              % got)
    finally:
        if not mounted:
            subprocess.run(["umount", DEBUGFS], check=True)


def test_iiosink_sets_phy():
    """iiosink writes sim-phy's attributes too, and reads them back."""
    reset_dac()
    p = Gst.parse_launch(appsrc_launch(
        "attributes=sim-phy:out:altvoltage0:frequency=2420000499"))
    start(p)
    try:
        push_all(p.get_by_name("src"), [bytes(BLOCK * DAC_SAMPLE)] * 2)
        expect_eos(wait_end(p))
        applied = p.get_by_name("sink").get_property("applied-attributes")
    finally:
        stop(p)
    check(field(applied, "sim-phy:out:altvoltage0:frequency") ==
          "2420000000", "applied: %s" % applied.to_string())
    check(read_attr("sim-phy", LO_FILE) == "2420000000",
          "sysfs LO %s" % read_attr("sim-phy", LO_FILE))
    got = ready_error(appsrc_launch("attributes=sim-phy:temp0.input=3"))
    check_text(got, "Cannot write \"3\" to attribute input of channel temp0 "
               "of sim-phy (%s): it is read-only (item "
               "\"sim-phy:temp0.input=3\")" % phy_id())


def tone_of(block):
    """1 or 6: which of the two LO settings of test_retune_while_playing
    made @block (every block is filled with one setting)."""
    x = signed(block, 0)
    for tone in (1, 6):
        period = 360 // tone
        if np.array_equal(x[:-period], x[period:]) and \
                peak_bin(x) == round(tone * len(x) / 360):
            return tone
    raise AssertionError("block at offset %d is neither tone 1 nor 6 (peak "
                         "bin %d)" % (block.offset, peak_bin(x)))


def retune(src_props, attributes, item, applied, tones, n_blocks, slack,
           before=20, total=80):
    """Streams sim-adc's sine (iiosrc with @src_props, start @attributes),
    sets @item while PLAYING after @before blocks and checks: one
    iio-attribute message whose value read back is @applied, no block
    lost or flagged, the tone going from tones[0] to tones[1] once, no
    earlier than the message's offset and at most @slack blocks after.
    Returns the stats structure."""
    p = Gst.parse_launch(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "buffer-size=%d blocks=%d attributes=sampling_frequency=%d,"
        "waveform=sine%s %s ! appsink name=sink sync=false"
        % (BLOCK, n_blocks, LIVE_RATE, attributes, src_props))
    start(p)
    try:
        _, blocks = pull_blocks(p, before, 2)
        p.get_by_name("src").set_property("attributes", item)
        _, more = pull_blocks(p, total - before, 2)
        blocks += more
        msgs = [m for m in pop_all(p, Gst.MessageType.ELEMENT)
                if m.get_structure().get_name() == "iio-attribute"]
        check_no_error(p, "after a retune")
        stats = p.get_by_name("src").get_property("stats")
        props = p.get_by_name("src").get_property("applied-attributes")
    finally:
        stop(p)

    key = item.split("=")[0]
    check(field(props, key) == applied and field(props, "waveform") ==
          "sine", "applied-attributes: %s" % props.to_string())
    check(len(msgs) == 1, "%d iio-attribute messages" % len(msgs))
    s = msgs[0].get_structure()
    check(s.get_value("attributes") == item, "message: %s" % s.to_string())
    check(s.get_value("applied").get_value(key) == applied,
          "message: %s" % s.to_string())
    offset = s.get_value("offset")
    overruns = stats.get_uint64("overruns")[1]
    check(overruns == 0, "%d overruns (DISCONT at offsets %s)" % (
        overruns, [b.offset for b in blocks if b.discont]))
    for a, b in zip(blocks, blocks[1:]):
        check(b.offset == a.offset_end and not b.discont,
              "buffer at %d follows one ending at %d (discont %s)"
              % (b.offset, a.offset_end, b.discont))
    got = [tone_of(b) for b in blocks]
    first = got.index(tones[1])
    check(all(t == tones[0] for t in got[:first]) and
          all(t == tones[1] for t in got[first:]),
          "tones not one change from %d to %d: %s" % (tones + (got,)))
    new_at = blocks[first].offset
    check(offset <= new_at <= offset + slack * BLOCK,
          "the new tone starts at offset %d, the message says %d: more than "
          "%d blocks later" % (new_at, offset, slack))
    check(offset >= before * BLOCK, "message offset %d before the %d "
          "blocks already pulled" % (offset, before))
    return stats


def test_retune_while_playing():
    """attributes set while PLAYING: written at once, an iio-attribute
    message names the value read back and the offset; the tone changes in
    the data within the blocks the device had filled, no sample lost."""
    n_blocks = 16
    retune("", "", "sim-phy:out:altvoltage0:frequency=2405000300",
           "2405000000", (1, 6), n_blocks, n_blocks + 2)
    check(read_attr("sim-phy", LO_FILE) == "2405000000",
          "sim-phy's LO reads %s" % read_attr("sim-phy", LO_FILE))


def test_retune_over_iiod():
    """The same through iiod (uri=ip:127.0.0.1, the copy path): the
    attributes of start are written before the first sample, a retune
    while PLAYING crosses the network at once, its message names the
    value read back, and the tone changes once with no block lost."""
    n_blocks = 4
    with Iiod():
        # libiio's remote buffer and iiod's own hold blocks filled before
        # the write: allow those and the device's.
        stats = retune("uri=ip:127.0.0.1",
                       ",sim-phy:%s=2405000000" % LO_FILE,
                       "sim-phy:out:altvoltage0:frequency=2399999999",
                       "2400000000", (6, 1), n_blocks, 2 * n_blocks + 2,
                       before=10, total=40)
    check(stats.get_string("io-mode") == "copy", "io-mode %s over iiod" %
          stats.get_string("io-mode"))
    check(read_attr("sim-phy", LO_FILE) == "2400000000",
          "sim-phy's LO reads %s" % read_attr("sim-phy", LO_FILE))


def test_live_mistake_warns():
    """A bad item set while PLAYING is a warning naming it; the stream
    goes on and nothing is written."""
    p = Gst.parse_launch(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "buffer-size=%d attributes=sampling_frequency=%d,waveform=sine ! "
        "appsink name=sink sync=false" % (BLOCK, LIVE_RATE))
    start(p)
    try:
        pull_blocks(p, 2, 2)
        p.get_by_name("src").set_property(
            "attributes", "sim-phy:out:altvoltage0:frequency=2410000000,"
            "sim-phy:in:temp0:input=1")
        _, blocks = pull_blocks(p, 4, 2)
        warnings = pop_all(p, Gst.MessageType.WARNING)
        check_no_error(p, "after a bad live change")
    finally:
        stop(p)
    texts = [m.parse_warning()[0].message for m in warnings]
    check(texts == ["Cannot write \"1\" to attribute input of channel temp0 "
                    "of sim-phy (%s): it is read-only (item "
                    "\"sim-phy:in:temp0:input=1\")" % phy_id()],
          "warnings: %s" % texts)
    check(read_attr("sim-phy", LO_FILE) == LO_DEFAULT,
          "the LO item was written: %s" % read_attr("sim-phy", LO_FILE))
    check([tone_of(b) for b in blocks] == [1] * 4, "tone changed")


if __name__ == "__main__":
    main(test_phy_before_first_sample, test_other_spellings, test_read_only,
         test_rejected_value, test_unknown_on_device, test_debug_attribute,
         test_iiosink_sets_phy, test_retune_while_playing,
         test_retune_over_iiod, test_live_mistake_warns,
         after_each=reset_phy)
