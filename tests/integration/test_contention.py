#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Two users of one device: an element streaming from sim-adc (or playing
to sim-dac) and a second element, or Debian's iio_readdev/iio_writedev,
started beside it.

- A second element fails at once with the busy error, writes none of its
  attributes, and the first keeps streaming: the exact ramp (sim-adc), the
  exact checksum after EOS (sim-dac). All four orders of io-modes.
- libiio 0.24's tools disable the running buffer before they find the
  device busy (docs/kernel-bugs.md): the element's error then says that
  another program disabled it. Also through iiod (ip:).
- dma-heap=nosuch is an error in io-mode=copy and auto too.
"""
import os
import subprocess
import time

from iiotest import (DAC_CAPS, DAC_SAMPLE as SAMPLE, Gst, Iiod, Ramp,
                     appsrc_launch, check, check_played, check_played_padded,
                     dac_played, error_of, log, main, pop_end, pop_error,
                     pull_blocks, push_all, ramp_bytes, read_attr, reset_dac,
                     set_state_bounded, start, stop, wait_consumed,
                     write_attr)

# libiio's local fileio buffer holds about one block, whatever `blocks`
# says: 164 ms blocks let the copy path ride out a contender's start on a
# loaded TCG test bed (as test_iiosrc_copy.py).
RATE = 50000
BLOCK = 8192
MODES = ('dmabuf', 'copy')
ADC_ATTRS = ('sampling_frequency', 'waveform')
# What a contender asks for; the holder runs at RATE with the ramp.
CONTENDER_ADC = 'sampling_frequency=48000,waveform=sine'
CONTENDER_DAC = 'sampling_frequency=48000'
BUSY = 'is busy: another program or pipeline is using it'
DISABLED = 'was disabled by another program'
BOUND_S = 60


def settle():
    """After a DMABUF session the kernel frees its blocks from a workqueue;
    a fileio session enabled at once may still find the buffer in DMABUF
    mode (docs/kernel-bugs.md 4). Give it a moment between sessions."""
    time.sleep(0.5)


def attrs(device, names):
    return {n: read_attr(device, n) for n in names}


# ---- holders ----

class SrcHolder:
    """iiosrc on sim-adc voltage0,voltage1 into an appsink that keeps
    everything (so a slow test never makes the device overrun); every
    pulled block is checked against the ramp."""

    def __init__(self, mode, extra=''):
        settle()
        write_attr('sim-adc', 'waveform', 'ramp')
        self.p = Gst.parse_launch(
            f'iiosrc name=src device=sim-adc channels=voltage0,voltage1 '
            f'io-mode={mode} buffer-size={BLOCK} blocks=16 '
            f'attributes=sampling_frequency={RATE} {extra} ! appsink '
            'name=sink sync=false')
        self.ramp = Ramp([0, 1])
        start(self.p)

    def pull(self, n):
        pull_blocks(self.p, n, 2, keep_data=False,
                    on_block=lambda i, b: self.ramp.feed(b.data))

    def check_exact(self, what):
        check(not self.ramp.gaps, f'{what}: the ramp has gaps '
              f'{self.ramp.gaps[:5]} (the stream was disturbed)')

    def wait_error(self):
        return error_of(pop_error(self.p, BOUND_S))


class SinkHolder:
    """appsrc ! iiosink on sim-dac with @n_blocks blocks of the ramp,
    pushed at once; the DAC plays them at RATE."""

    def __init__(self, mode, n_blocks=40):
        settle()
        reset_dac(RATE)
        self.mode = mode
        self.data = ramp_bytes(n_blocks * BLOCK)
        self.p = Gst.parse_launch(appsrc_launch(
            f'io-mode={mode} buffer-size={BLOCK} '
            f'attributes=sampling_frequency={RATE}', RATE))
        chunk = BLOCK * SAMPLE
        push_all(self.p.get_by_name('src'),
                 [self.data[i:i + chunk]
                  for i in range(0, len(self.data), chunk)])
        start(self.p)

    def wait_playing(self, samples):
        """Until this session plays: samples_consumed is reset at enable,
        and the last session's count must not pass for this one's."""
        deadline = time.monotonic() + BOUND_S
        while read_attr('sim-dac', 'buffer0/enable') != '1':
            check(time.monotonic() < deadline, f'sim-dac not enabled '
                  f'within {BOUND_S} s')
            time.sleep(0.02)
        wait_consumed(samples)

    def wait_end(self):
        return pop_end(self.p, BOUND_S)


# ---- contenders ----

def element_contender(launch):
    """Starts @launch and stops it again; returns (state change result,
    its error message or None)."""
    p = Gst.parse_launch(launch)
    ret = set_state_bounded(p, Gst.State.PLAYING, bound_s=BOUND_S)
    msg = pop_error(p, 10)
    stop(p)
    return ret, msg


def check_refused(ret, msg, device, what):
    """The contender failed at once (NULL->READY) with the busy error of
    its iio element."""
    check(ret == Gst.StateChangeReturn.FAILURE,
          f'{what}: the second element started ({ret.value_nick})')
    src, err, debug = error_of(msg)
    log(f'{what}: {src}: {err.message}')
    check(src == 'contender', f'{what}: the error came from {src}')
    want = f'{device} {BUSY}'
    check(want in err.message, f'{what}: "{want}" not in "{err.message}"')
    check(err.matches(Gst.ResourceError.quark(), Gst.ResourceError.BUSY),
          f'{what}: not a RESOURCE_ERROR_BUSY: {err.message}')


def libiio_tool(args, what):
    """Runs a libiio tool (stdin /dev/zero), which must fail with EBUSY."""
    with open('/dev/zero', 'rb') as zero:
        r = subprocess.run(args, stdin=zero, capture_output=True,
                           timeout=BOUND_S)
    out = r.stderr.decode(errors='replace').strip()
    log(f'{what}: {" ".join(args)}: exit {r.returncode}: {out}')
    check(r.returncode != 0 and 'busy' in out,
          f'{what}: {args[0]} did not fail with EBUSY (exit '
          f'{r.returncode}: {out})')


# ---- a second element ----

def src_case(holder_mode, contender_mode):
    what = f'iiosrc {holder_mode} holder, {contender_mode} contender'
    h = SrcHolder(holder_mode)
    try:
        h.pull(10)
        before = attrs('sim-adc', ADC_ATTRS)
        ret, msg = element_contender(
            f'iiosrc name=contender device=sim-adc io-mode={contender_mode} '
            f'attributes={CONTENDER_ADC} ! fakesink')
        after = attrs('sim-adc', ADC_ATTRS)
        h.pull(30)
    finally:
        stop(h.p)

    check(after == before == {'sampling_frequency': str(RATE),
                              'waveform': 'ramp'},
          f'{what}: the contender changed the device: {before} -> {after}')
    h.check_exact(what)
    check_refused(ret, msg, 'sim-adc (iio:device0)', what)


def sink_case(holder_mode, contender_mode):
    what = f'iiosink {holder_mode} holder, {contender_mode} contender'
    h = SinkHolder(holder_mode, n_blocks=24)
    try:
        h.wait_playing(len(h.data) // SAMPLE // 4)
        before = read_attr('sim-dac', 'sampling_frequency')
        ret, cmsg = element_contender(
            f'audiotestsrc num-buffers=4 ! {DAC_CAPS.format(rate=48000)} ! '
            f'iiosink name=contender device=sim-dac io-mode={contender_mode} '
            f'attributes={CONTENDER_DAC}')
        after = read_attr('sim-dac', 'sampling_frequency')
        msg = h.wait_end()
    finally:
        stop(h.p)

    check(after == before == str(RATE), f'{what}: the contender changed '
          f'sampling_frequency: {before} -> {after}')
    check(msg.type == Gst.MessageType.EOS, f'{what}: the holder failed: '
          f'{msg.type == Gst.MessageType.ERROR and msg.parse_error()[0].message}')
    if holder_mode == 'copy':
        check_played_padded(h.data, what)
    else:
        check_played(h.data, what)
    check_refused(ret, cmsg, 'sim-dac (iio:device1)', what)


def test_src_dmabuf_vs_dmabuf():
    src_case('dmabuf', 'dmabuf')


def test_src_dmabuf_vs_copy():
    src_case('dmabuf', 'copy')


def test_src_copy_vs_dmabuf():
    src_case('copy', 'dmabuf')


def test_src_copy_vs_copy():
    src_case('copy', 'copy')


def test_sink_dmabuf_vs_dmabuf():
    sink_case('dmabuf', 'dmabuf')


def test_sink_dmabuf_vs_copy():
    sink_case('dmabuf', 'copy')


def test_sink_copy_vs_dmabuf():
    sink_case('copy', 'dmabuf')


def test_sink_copy_vs_copy():
    sink_case('copy', 'copy')


# ---- libiio's tools ----

def readdev_case(mode, uri):
    what = f'iiosrc {mode} holder, iio_readdev -u {uri}'
    h = SrcHolder(mode)
    try:
        h.pull(5)
        libiio_tool(['iio_readdev', '-u', uri, '-b', str(BLOCK), '-s',
                     str(BLOCK), 'sim-adc', 'voltage0'], what)
        src, err, debug = h.wait_error()
    finally:
        stop(h.p)
    log(f'{what}: holder error from {src}: {err.message}')
    want = f'The buffer of sim-adc (iio:device0) {DISABLED}'
    check(src == 'src' and want in err.message,
          f'{what}: "{want}" not in the holder\'s error: {src}: '
          f'{err.message}')


def writedev_case(mode):
    what = f'iiosink {mode} holder, iio_writedev'
    h = SinkHolder(mode, n_blocks=100)
    try:
        h.wait_playing(2 * BLOCK)
        libiio_tool(['iio_writedev', '-u', 'local:', '-b', str(BLOCK), '-s',
                     str(BLOCK), 'sim-dac'], what)
        msg = h.wait_end()
    finally:
        stop(h.p)
    check(msg.type == Gst.MessageType.ERROR, f'{what}: the holder reached '
          f'EOS after the DAC was disabled ({dac_played()[0]} samples)')
    src, err, debug = error_of(msg)
    log(f'{what}: holder error from {src}: {err.message}')
    want = f'The buffer of sim-dac (iio:device1) {DISABLED}'
    check(src == 'sink' and want in err.message,
          f'{what}: "{want}" not in the holder\'s error: {src}: '
          f'{err.message}')


def test_readdev_beside_dmabuf():
    readdev_case('dmabuf', 'local:')


def test_readdev_beside_copy():
    readdev_case('copy', 'local:')


def test_writedev_beside_dmabuf():
    writedev_case('dmabuf')


def test_writedev_beside_copy():
    writedev_case('copy')


def iiod_holder_case():
    """An element streaming through iiod: iiod holds the chardev, so a
    local element is refused as busy and changes nothing."""
    what = 'iiosrc uri=ip: holder, local contenders'
    h = SrcHolder('copy', 'uri=ip:127.0.0.1 timeout=10000')
    try:
        h.pull(5)
        before = attrs('sim-adc', ADC_ATTRS)
        refusals = [element_contender(
            f'iiosrc name=contender device=sim-adc io-mode={mode} '
            f'attributes={CONTENDER_ADC} ! fakesink') for mode in MODES]
        after = attrs('sim-adc', ADC_ATTRS)
        h.pull(20)
    finally:
        stop(h.p)
    check(after == before, f'{what}: a contender changed the device: '
          f'{before} -> {after}')
    h.check_exact(what)
    for ret, msg in refusals:
        check_refused(ret, msg, 'sim-adc (iio:device0)', what)


def iiod_contender_case():
    """An element through iiod beside a local one: iiod's open disables the
    local stream before it finds the device busy; the remote element
    cannot claim anything and says busy when its buffer is created."""
    what = 'iiosrc dmabuf holder, iiosrc uri=ip: contender'
    h = SrcHolder('dmabuf')
    c = Gst.parse_launch(
        'iiosrc name=contender uri=ip:127.0.0.1 device=sim-adc timeout=10000 '
        '! fakesink')
    try:
        h.pull(5)
        set_state_bounded(c, Gst.State.PLAYING, bound_s=BOUND_S)
        csrc, cerr, cdebug = error_of(pop_error(c, BOUND_S))
        src, err, debug = h.wait_error()
    finally:
        stop(c)
        stop(h.p)
    log(f'{what}: contender: {cerr.message}; holder: {err.message}')
    want = 'sim-adc (iio:device0) is busy: another program or pipeline is ' \
        'using it (ip:127.0.0.1: Device or resource busy)'
    check(want in cerr.message, f'{what}: "{want}" not in the contender\'s '
          f'error "{cerr.message}"')
    want = f'The buffer of sim-adc (iio:device0) {DISABLED}'
    check(src == 'src' and want in err.message,
          f'{what}: "{want}" not in the holder\'s error: {err.message}')


def test_iiod():
    """iiod's own open of a device does what libiio's does: iio_readdev
    through iiod, or an element with uri=ip:, stops a local element the
    same way (its error says so). An element streaming through iiod is
    safe from local elements: iiod holds the chardev."""
    with Iiod():
        readdev_case('dmabuf', 'ip:127.0.0.1')
        iiod_holder_case()
        iiod_contender_case()


# ---- dma-heap ----

def heap_case(launch, what):
    p = Gst.parse_launch(launch)
    ret = set_state_bounded(p, Gst.State.PLAYING, bound_s=BOUND_S)
    msg = pop_error(p, 10)
    stop(p)
    check(ret == Gst.StateChangeReturn.FAILURE or msg is not None,
          f'{what}: streams with dma-heap=nosuch')
    src, err, debug = error_of(msg)
    log(f'{what}: {src}: {err.message}')
    want = 'DMA heap "nosuch" not found; available: '
    check(want in err.message, f'{what}: "{want}" not in "{err.message}"')
    heaps = sorted(os.listdir('/dev/dma_heap'))
    for heap in heaps + ['udmabuf']:
        check(heap in err.message.split('available: ')[1],
              f'{what}: the valid heap {heap} is not listed: {err.message}')


def test_dma_heap_nosuch():
    for mode in ('copy', 'auto'):
        heap_case(f'iiosrc name=src device=sim-adc io-mode={mode} '
                  'dma-heap=nosuch num-buffers=4 ! fakesink',
                  f'iiosrc io-mode={mode}')
        heap_case(f'audiotestsrc num-buffers=4 ! {DAC_CAPS.format(rate=RATE)}'
                  f' ! iiosink device=sim-dac io-mode={mode} dma-heap=nosuch',
                  f'iiosink io-mode={mode}')
    # auto on a device that falls back to copy (kfifo) checks it too
    heap_case('iiosrc device=sim-kfifo io-mode=auto dma-heap=nosuch '
              'num-buffers=4 ! fakesink', 'iiosrc sim-kfifo io-mode=auto')


if __name__ == '__main__':
    main(test_src_dmabuf_vs_dmabuf, test_src_dmabuf_vs_copy,
         test_src_copy_vs_dmabuf, test_src_copy_vs_copy,
         test_sink_dmabuf_vs_dmabuf, test_sink_dmabuf_vs_copy,
         test_sink_copy_vs_dmabuf, test_sink_copy_vs_copy,
         test_readdev_beside_dmabuf, test_readdev_beside_copy,
         test_writedev_beside_dmabuf, test_writedev_beside_copy,
         test_iiod, test_dma_heap_nosuch)
