#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iiosink against the simulated DAC (sim-dac) of the test bed: the DAC's
samples_consumed and checksum (FNV-1a 64 of the bytes it played) are
compared with what was sent.

Usage (in the guest): test_iiosink.py GROUP|CASE ...
  groups: dmabuf, copy, sizes, errors, cycles, unplug (meson runs one test
  bed per group)
"""
import os
import random
import sys
import threading
import time

from iiotest import (DAC_CAPS, DAC_RATE as RATE, DAC_SAMPLE as SAMPLE,
                     END_BOUND_S as BOUND_S, FNV_OFFSET, Gst, GstAllocators,
                     Iiod, Recorder, appsrc_launch, check, check_no_error,
                     check_played, check_played_padded, dac_played, error_of,
                     expect_eos, fd_count, fnv1a64, log, main, pop_all,
                     pop_error, push_all, ramp_bytes, random_chunks,
                     reset_dac, rss_kib, set_state_bounded, stats_of, stop,
                     unbind, wait_consumed, wait_end, write_attr)


def appsrc_pipeline(sink_props, rate=RATE):
    p = Gst.parse_launch(appsrc_launch(sink_props, rate))
    return p, p.get_by_name('src'), p.get_by_name('sink')


# ---- cases ----

def pool_case(between, what):
    reset_dac()
    n, spb = 40, 1024
    p = Gst.parse_launch(
        f'audiotestsrc num-buffers={n} samplesperbuffer={spb} freq=1234 '
        f'! {DAC_CAPS.format(rate=RATE)} {between} ! iiosink name=sink '
        'device=sim-dac')
    sink = p.get_by_name('sink')
    rec = Recorder(sink.get_static_pad('sink'))
    expect_eos(wait_end(p))
    st = stats_of(sink)
    stop(p)

    check(rec.n == n, f'{what}: {rec.n} buffers reached the sink, {n} '
          'expected')
    check(rec.n_dmabuf == n, f'{what}: only {rec.n_dmabuf} of {n} buffers '
          'were DMABUF memory: the pool was not used')
    check_played(rec.all_bytes(), what)
    check(st['io-mode'] == 'dmabuf', f'{what}: stats io-mode {st["io-mode"]}')
    check(st['bytes-copied'] == 0, f'{what}: bytes-copied '
          f'{st["bytes-copied"]} with the pool')
    check(st['dmabuf-imports'] == 0, f'{what}: pool buffers counted as '
          'imports')
    check(st['buffers'] == n and st['bytes'] == n * spb * SAMPLE,
          f'{what}: stats buffers/bytes {st["buffers"]}/{st["bytes"]}')


def case_pool():
    """audiotestsrc writes into the sink's DMA pool: nothing is copied and
    the DAC plays exactly the bytes sent."""
    pool_case('', 'pool')


def case_pool_queue():
    """The same with a queue: the producer's thread waits for the blocks
    the sink's thread queued to the device."""
    pool_case('! queue', 'pool with queue')


LOOP_RATE = 100000


def loop_launch(k, block, tail):
    """sim-adc's voltage0,voltage1 on the DMABUF path, @k blocks, then
    @tail. 100 kHz: every DAC underrun (a loaded machine) delays the DAC
    for good and keeps one more ADC block downstream; 16 blocks of 41 ms
    leave the ADC enough of them."""
    return (f'iiosrc name=src device=sim-adc channels=voltage0,voltage1 '
            f'io-mode=dmabuf buffer-size={block} blocks=16 num-buffers={k} '
            f'attributes=sampling_frequency={LOOP_RATE} {tail}')


def check_loop(st, sst, k, block, what):
    """With the stats of the sink (@st) and of iiosrc (@sst): the DAC
    played the ADC's exact ramp, every buffer an import, no copy."""
    check(sst['overruns'] == 0, f'the ADC overran ({sst["overruns"]}): the '
          'ramp has gaps, cannot compare')
    check_played(ramp_bytes(k * block), what)
    check(st['dmabuf-imports'] == k,
          f'dmabuf-imports {st["dmabuf-imports"]}, {k} expected')
    check(st['bytes-copied'] == 0 and sst['bytes-copied'] == 0,
          f'bytes-copied sink {st["bytes-copied"]} src {sst["bytes-copied"]}')
    check(st['io-mode'] == 'dmabuf' and sst['io-mode'] == 'dmabuf',
          'io-mode is not dmabuf on both')


def case_import():
    """iiosrc DMABUFs go to the DAC untouched: the DAC plays the ADC ramp,
    every buffer is an import, no byte is copied on either side."""
    reset_dac(LOOP_RATE)
    k, block = 32, 4096
    p = Gst.parse_launch(loop_launch(
        k, block, '! iiosink name=sink device=sim-dac io-mode=dmabuf'))
    src, sink = p.get_by_name('src'), p.get_by_name('sink')
    rec = Recorder(sink.get_static_pad('sink'), keep_data=False)
    expect_eos(wait_end(p))
    st, sst = stats_of(sink), stats_of(src)
    stop(p)

    check(rec.n == k and rec.n_dmabuf == k,
          f'{rec.n_dmabuf} of {rec.n} buffers were DMABUF, {k} expected')
    check_loop(st, sst, k, block, 'import')
    write_attr('sim-adc', 'sampling_frequency', RATE)
    reset_dac()


def case_tee():
    """iiosrc ! tee: one branch into the DAC (imports), the other reads
    the same DMABUF memory on the CPU. The imported memory stays
    readable and intact, the DAC plays the exact ramp, nothing is
    copied."""
    reset_dac(LOOP_RATE)
    k, block = 24, 4096
    p = Gst.parse_launch(loop_launch(
        k, block, '! tee name=t '
        't. ! queue ! iiosink name=sink device=sim-dac io-mode=dmabuf '
        't. ! queue ! fakesink name=cpu sync=false'))
    src, sink = p.get_by_name('src'), p.get_by_name('sink')
    cpu = Recorder(p.get_by_name('cpu').get_static_pad('sink'))
    expect_eos(wait_end(p))
    st, sst = stats_of(sink), stats_of(src)
    stop(p)

    check_loop(st, sst, k, block, 'tee')
    check(cpu.n == k and cpu.n_dmabuf == k,
          f'CPU branch: {cpu.n_dmabuf} of {cpu.n} buffers DMABUF, {k} expected')
    check(cpu.all_bytes() == ramp_bytes(k * block),
          'the CPU branch did not read the exact ramp')
    write_attr('sim-adc', 'sampling_frequency', RATE)
    reset_dac()


def case_appsrc():
    """System memory: one copy per byte, partial last block played at EOS,
    data exact."""
    reset_dac()
    rng = random.Random(4)
    chunks = random_chunks(rng, 60, 3000)
    data = b''.join(chunks)
    p, src, sink = appsrc_pipeline('buffer-size=4096')
    push_all(src, chunks)
    expect_eos(wait_end(p))
    st = stats_of(sink)
    stop(p)

    check(len(data) % (4096 * SAMPLE) != 0, 'test data is whole blocks')
    check_played(data, 'appsrc')
    check(st['io-mode'] == 'dmabuf', f'io-mode {st["io-mode"]}')
    check(st['bytes-copied'] == len(data), f'bytes-copied '
          f'{st["bytes-copied"]}, {len(data)} sent: not one copy per byte')
    check(st['buffers'] == len(chunks) and st['dmabuf-imports'] == 0,
          f'buffers {st["buffers"]} imports {st["dmabuf-imports"]}')


def case_pause():
    """PLAYING -> PAUSED -> PLAYING in the middle of a stream, on the copy
    path: nothing lost, nothing doubled."""
    rate = 100000
    reset_dac(rate)
    rng = random.Random(8)
    chunks = random_chunks(rng, 40, 3000)
    data = b''.join(chunks)
    p, src, sink = appsrc_pipeline('', rate=rate)
    push_all(src, chunks)
    p.set_state(Gst.State.PLAYING)
    wait_consumed(len(data) // SAMPLE // 4)
    p.set_state(Gst.State.PAUSED)
    check(p.get_state(BOUND_S * Gst.SECOND)[0] !=
          Gst.StateChangeReturn.FAILURE, 'PAUSED failed')
    time.sleep(0.2)
    expect_eos(wait_end(p))
    stop(p)
    check_played(data, 'pause')
    reset_dac()


def case_restart():
    """The same pipeline played to EOS twice through READY: the second
    run is exact too (a new queue, nothing left over)."""
    reset_dac()
    n, spb = 12, 1024
    p = Gst.parse_launch(
        f'audiotestsrc num-buffers={n} samplesperbuffer={spb} '
        f'! {DAC_CAPS.format(rate=RATE)} ! iiosink name=sink device=sim-dac')
    rec = Recorder(p.get_by_name('sink').get_static_pad('sink'))
    for run in range(2):
        rec.data.clear()
        expect_eos(wait_end(p))
        check(p.set_state(Gst.State.READY) ==
              Gst.StateChangeReturn.SUCCESS, 'READY')
        check_played(rec.all_bytes(), f'restart run {run}')
    stop(p)


def dmabuf_fds():
    fds = []
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:         # the fd of listdir itself
            continue
        if target.startswith(('/dmabuf:', 'anon_inode:dmabuf')):
            fds.append(fd)
    return fds


def case_lifetime():
    """Buffers of the sink's DMA pool that the application holds across
    the pipeline's NULL stay valid and readable; their DMABUFs close when
    the last reference goes."""
    reset_dac()
    held = []

    def keep(pad, info):
        if len(held) < 2:
            buf = info.get_buffer()
            held.append((buf, buf.extract_dup(0, buf.get_size())))
        return Gst.PadProbeReturn.OK

    p = Gst.parse_launch(
        f'audiotestsrc num-buffers=8 samplesperbuffer=1024 '
        f'! {DAC_CAPS.format(rate=RATE)} ! iiosink name=sink device=sim-dac')
    p.get_by_name('sink').get_static_pad('sink').add_probe(
        Gst.PadProbeType.BUFFER, keep)
    expect_eos(wait_end(p))
    stop(p)
    del p
    for i in range(len(held)):
        check(GstAllocators.is_dmabuf_memory(held[i][0].peek_memory(0)),
              'the held buffer is not DMA pool memory')
        check(held[i][0].extract_dup(0, held[i][0].get_size()) == held[i][1],
              'a held pool buffer changed after the pipeline stopped')
    before = dmabuf_fds()
    check(len(before) == 2, f'{len(before)} DMABUF fds open while 2 pool '
          'buffers are held after stop, 2 expected')
    held.clear()
    after = dmabuf_fds()
    check(not after, f'DMABUF fds {after} still open after the held pool '
          'buffers were dropped')


def copy_case(sink_props, what, n_blocks=None):
    reset_dac()
    rng = random.Random(5)
    if n_blocks:                # whole blocks of buffer-size=4096
        data = rng.randbytes(n_blocks * 4096 * SAMPLE)
        chunks = [data[i:i + 5000 * SAMPLE]
                  for i in range(0, len(data), 5000 * SAMPLE)]
    else:
        chunks = random_chunks(rng, 50, 3000)
        data = b''.join(chunks)
    p, src, sink = appsrc_pipeline(f'io-mode=copy buffer-size=4096 {sink_props}')
    push_all(src, chunks)
    expect_eos(wait_end(p))
    st = stats_of(sink)
    stop(p)

    check(st['io-mode'] == 'copy', f'{what}: io-mode {st["io-mode"]}')
    check_played_padded(data, what)


class StderrCapture:
    """Records what GLib writes to fd 2 (CRITICAL and WARNING messages)
    while the block runs, passing it on at once (a crash keeps it)."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        rfd, wfd = os.pipe()
        os.dup2(wfd, 2)
        os.close(wfd)
        self.chunks = []
        self.thread = threading.Thread(target=self._forward, args=(rfd,),
                                       daemon=True)
        self.thread.start()
        return self

    def _forward(self, rfd):
        while True:
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            self.chunks.append(chunk)
            os.write(self.saved, chunk)
        os.close(rfd)

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)          # closes the pipe's last writer
        self.thread.join(10)
        os.close(self.saved)
        self.text = b''.join(self.chunks).decode(errors='replace')
        return False


def check_no_glib_warnings(text, what):
    bad = [line for line in text.splitlines()
           if 'CRITICAL' in line or '-WARNING **' in line]
    check(not bad, f'{what}: GLib said {bad[:3]}')


SIZES = (8192, 5000, 4096, 1024)        # around buffer-size=4096


def size_case(spb, between, io_mode):
    """audiotestsrc with @spb samples per buffer into 4096-sample blocks:
    every sample reaches the DAC, without a CRITICAL."""
    what = f'samplesperbuffer={spb}{" with a queue" if between else ""}, ' \
        f'io-mode={io_mode}'
    reset_dac()
    n = 12
    with StderrCapture() as err:
        p = Gst.parse_launch(
            f'audiotestsrc num-buffers={n} samplesperbuffer={spb} freq=1234 '
            f'! {DAC_CAPS.format(rate=RATE)} {between} ! iiosink name=sink '
            f'device=sim-dac buffer-size=4096 io-mode={io_mode}')
        sink = p.get_by_name('sink')
        rec = Recorder(sink.get_static_pad('sink'))
        msg = wait_end(p)
        st = stats_of(sink)
        stop(p)
    check_no_glib_warnings(err.text, what)
    expect_eos(msg)
    data = rec.all_bytes()
    check(len(data) == n * spb * SAMPLE, f'{what}: {len(data)} bytes reached '
          f'the sink, {n * spb * SAMPLE} expected')
    check(st['io-mode'] == io_mode, f'{what}: stats io-mode {st["io-mode"]}')
    check(st['bytes'] == len(data), f'{what}: stats bytes {st["bytes"]}')
    if io_mode == 'copy':
        check_played_padded(data, what)
        copied = len(data)
    else:
        check_played(data, what)
        # A buffer that fits a block is written into one; a larger one
        # is system memory, copied across blocks.
        zero_copy = spb <= 4096
        check(rec.n_dmabuf == (n if zero_copy else 0), f'{what}: '
              f'{rec.n_dmabuf} of {n} buffers were DMA blocks')
        copied = 0 if zero_copy else len(data)
    check(st['bytes-copied'] == copied, f'{what}: bytes-copied '
          f'{st["bytes-copied"]}, {copied} expected')
    log(f'{what}: {len(data) // SAMPLE} samples played, bytes-copied '
        f'{st["bytes-copied"]}')


def case_sizes_dmabuf():
    """Producer buffers above, at and below a block, DMABUF path: the
    DAC's checksum is exact; zero-copy while a buffer fits a block."""
    for spb in SIZES:
        for between in ('', '! queue'):
            size_case(spb, between, 'dmabuf')


def case_sizes_copy():
    """The same sizes on the copy path: exact, the last block padded."""
    for spb in SIZES:
        for between in ('', '! queue'):
            size_case(spb, between, 'copy')


def case_copy_random():
    """Random whole-sample buffers from 1 to 10000 samples (below and
    above a block), copy path: exact after EOS, padding included."""
    reset_dac()
    rng = random.Random(11)
    chunks = random_chunks(rng, 40, 10000)
    data = b''.join(chunks)
    p, src, sink = appsrc_pipeline('io-mode=copy buffer-size=4096')
    push_all(src, chunks)
    expect_eos(wait_end(p))
    stop(p)
    check_played_padded(data, 'copy, random sizes')


def case_copy():
    """io-mode=copy on the local context: exact after EOS (drained), the
    partial last block completed with its last sample."""
    copy_case('', 'copy')


def case_iiod():
    """uri=ip:127.0.0.1 through iiod: exact after EOS."""
    with Iiod():
        copy_case('uri=ip:127.0.0.1', 'iiod', n_blocks=24)


def check_cyclic(first, what):
    consumed, checksum = dac_played()
    n = len(first) // SAMPLE
    check(consumed % n == 0, f'{what}: {consumed} samples played, not a '
          f'multiple of the {n}-sample first buffer')
    h = FNV_OFFSET
    for _ in range(consumed // n):
        h = fnv1a64(first, h)
    check(checksum == h, f'{what}: the DAC did not play the first buffer '
          f'{consumed // n} times over (checksum 0x{checksum:016x})')


def case_cyclic():
    """cyclic=true, pool and copy paths: the DAC plays the first buffer
    over and over until stop, and nothing else."""
    rate, n = 100000, 1000
    reset_dac(rate)
    p = Gst.parse_launch(
        f'audiotestsrc num-buffers=4 samplesperbuffer={n} freq=3000 '
        f'! {DAC_CAPS.format(rate=rate)} ! iiosink name=sink device=sim-dac '
        'cyclic=true')
    rec = Recorder(p.get_by_name('sink').get_static_pad('sink'))
    expect_eos(wait_end(p))
    wait_consumed(5 * n)
    stop(p)
    check_cyclic(rec.data[0], 'cyclic pool')

    rng = random.Random(6)
    chunks = [rng.randbytes(n * SAMPLE) for _ in range(3)]
    p, src, sink = appsrc_pipeline('cyclic=true', rate=rate)
    push_all(src, chunks)
    expect_eos(wait_end(p))
    wait_consumed(5 * n)
    st = stats_of(sink)
    stop(p)
    check_cyclic(chunks[0], 'cyclic copy')
    check(st['bytes-copied'] == len(chunks[0]), 'cyclic copy: '
          f'bytes-copied {st["bytes-copied"]}, only the first buffer counts')
    reset_dac()


def caps_error(caps, want):
    reset_dac()
    p = Gst.parse_launch(f'audiotestsrc num-buffers=3 ! {caps} ! '
                         'iiosink name=sink device=sim-dac')
    src, err, debug = error_of(wait_end(p))
    stop(p)
    check(src == 'sink', f'{caps}: the first error came from {src}, not '
          f'iiosink: {err.message}')
    check(err.matches(Gst.CoreError.quark(), Gst.CoreError.NEGOTIATION),
          f'{caps}: not a negotiation error: {err.message}')
    for w in want:
        check(w in err.message, f'{caps}: "{w}" not in "{err.message}"')
    # The debug string names the caps received (a GST_PTR_FORMAT that a
    # plain printf would have turned into "0x...A").
    got = caps.replace('audio/x-raw,', 'caps audio/x-raw, ').split(',')[0]
    check(got in debug and 'format=(string)' in debug,
          f'{caps}: the debug string does not show the caps: {debug}')


def case_caps():
    """Caps that do not match the DAC: a not-negotiated error from the
    sink that says what the device expects."""
    expects = 'expects 2 channels of S16LE'
    caps_error('audio/x-raw,format=S16LE,channels=3,rate=1000000',
               [expects, 'got 3 channels'])
    caps_error('audio/x-raw,format=S32LE,channels=2,rate=1000000',
               [expects, 'got 2 channels of S32LE'])


def case_partial_sample():
    """A buffer that ends inside a sample: an error naming the sizes."""
    reset_dac()
    p, src, sink = appsrc_pipeline('')
    push_all(src, [bytes(4096), bytes(6)])
    src_name, err, debug = error_of(wait_end(p))
    stop(p)
    check(src_name == 'sink', f'the error came from {src_name}')
    want = 'A buffer of 6 bytes is not a whole number of 4-byte samples'
    check(want in err.message, f'"{want}" not in "{err.message}"')


def case_copy_partial_sample():
    """The copy path refuses a buffer ending inside a sample, like the
    DMABUF path, with the same text."""
    reset_dac()
    p, src, sink = appsrc_pipeline('io-mode=copy')
    push_all(src, [bytes(4096), bytes(6), bytes(4096)])
    src_name, err, debug = error_of(wait_end(p))
    stop(p)
    check(src_name == 'sink', f'the error came from {src_name}')
    want = ('A buffer of 6 bytes is not a whole number of 4-byte samples '
            'for sim-dac')
    check(want in err.message, f'"{want}" not in "{err.message}"')


def stall_error(launch, feed=None):
    write_attr('sim-dac', 'fault', 'stall')
    p = Gst.parse_launch(launch)
    if feed:
        feed(p.get_by_name('src'))
    src, err, debug = error_of(wait_end(p))
    t0 = time.monotonic()
    stop(p)
    write_attr('sim-dac', 'fault', 'none')
    check(src == 'sink', f'stall: the first error came from {src}: '
          f'{err.message}')
    want = 'Timed out after 700 ms waiting for sim-dac'
    check(want in err.message, f'stall: "{want}" not in "{err.message}"')
    return time.monotonic() - t0


def case_stall():
    """fault=stall with timeout: an error from the sink, then NULL."""
    reset_dac()
    stall_error('audiotestsrc num-buffers=100 ! '
                f'{DAC_CAPS.format(rate=RATE)} ! iiosink name=sink '
                'device=sim-dac timeout=700')
    rng = random.Random(7)
    chunks = random_chunks(rng, 40, 4096)
    stall_error(f'appsrc name=src format=time max-bytes=0 '
                f'caps="{DAC_CAPS.format(rate=RATE)}" ! iiosink name=sink '
                'device=sim-dac timeout=700',
                feed=lambda src: push_all(src, chunks))


# docs/iiosink.md: "PAUSED and NULL return within 5 s" (a correctness
# bound, not a speed goal).
STOP_BOUND_S = 5.0
STALL_TIMEOUT_MS = 700
# The texts of docs/iiosink.md's errors table, at timeout=700.
STALL_DMABUF = ('Timed out after 700 ms waiting for sim-dac (iio:device1) '
                'to consume a block')
STALL_COPY = ('Timed out after 700 ms waiting for sim-dac (iio:device1) '
              'to take a block')


def stall_routes():
    """Each sink route with a stalled DAC: (launch line, data for appsrc
    name=src or None, DAC rate, the error text)."""
    sink = f'iiosink name=sink device=sim-dac timeout={STALL_TIMEOUT_MS}'
    chunks = random_chunks(random.Random(7), 40, 4096)
    return {
        # audiotestsrc writes into the blocks of the sink's pool
        'pool': (f'audiotestsrc num-buffers=100 ! '
                 f'{DAC_CAPS.format(rate=RATE)} ! {sink} io-mode=dmabuf',
                 None, RATE, STALL_DMABUF),
        # iiosrc's DMABUFs imported (iiosrc's own timeout far longer)
        'import': (loop_launch(64, 4096, f'timeout=600000 ! {sink} '
                               'io-mode=dmabuf'),
                   None, LOOP_RATE, STALL_DMABUF),
        # system memory copied into the sink's DMA blocks
        'dmabuf_copy': (appsrc_launch(f'io-mode=dmabuf timeout='
                                      f'{STALL_TIMEOUT_MS}'),
                        chunks, RATE, STALL_DMABUF),
        # libiio's copy path
        'libiio_copy': (appsrc_launch(f'io-mode=copy timeout='
                                      f'{STALL_TIMEOUT_MS}'),
                        chunks, RATE, STALL_COPY),
    }


def errors_until_null(p, first):
    """After the first end message @first: every ERROR message posted
    until @p is in NULL and after (the bus is not flushed at NULL: see
    stall_once); returns ([(source, GError, debug)], seconds NULL took)."""
    # A second post may follow a wait of its own (a drain at the EOS
    # upstream sends after its flow error, say): give it two timeouts to
    # arrive before NULL interrupts it.
    time.sleep(2 * STALL_TIMEOUT_MS / 1000)
    t0 = time.monotonic()
    stop(p)
    took = time.monotonic() - t0
    msgs = [first] + pop_all(p, Gst.MessageType.ERROR)
    return [error_of(m) for m in msgs], took


def stall_once(route):
    """fault=stall on sink route @route: the sink posts exactly one
    error, the first on the bus, with docs/iiosink.md's text; the other
    errors (if any) are upstream's 'Internal data stream error' at the
    sink's GST_FLOW_ERROR; NULL within the documented bound."""
    launch, chunks, rate, want = stall_routes()[route]
    what = f'stalled DAC, {route}'
    reset_dac(rate)
    write_attr('sim-dac', 'fault', 'stall')
    p = Gst.parse_launch(launch)
    # GstPipeline flushes its bus at READY -> NULL by default: the errors
    # posted while stopping are wanted too.
    p.set_auto_flush_bus(False)
    try:
        if chunks:
            push_all(p.get_by_name('src'), chunks)
        errors, took = errors_until_null(p, wait_end(p))
    finally:
        set_state_bounded(p, Gst.State.NULL)    # however the case ended
        write_attr('sim-dac', 'fault', 'none')
        write_attr('sim-adc', 'sampling_frequency', RATE)
    seen = '; '.join(f'{src}: {err.message} ({debug})'
                     for src, err, debug in errors)
    log(f'{what}: {len(errors)} error(s): {seen}; NULL in {took:.2f} s')
    from_sink = [e for e in errors if e[0] == 'sink']
    check(len(from_sink) == 1, f'{what}: {len(from_sink)} errors from the '
          f'sink, 1 expected: {seen}')
    check(errors[0][0] == 'sink', f'{what}: the first error came from '
          f'{errors[0][0]}, not the sink: {seen}')
    check(want in errors[0][1].message, f'{what}: "{want}" not in '
          f'"{errors[0][1].message}"')
    others = [f'{src}: {err.message}' for src, err, debug in errors[1:]
              if not (err.matches(Gst.StreamError.quark(),
                                  Gst.StreamError.FAILED) and
                      'reason error' in (debug or ''))]
    check(not others, f'{what}: errors other than the sink\'s and '
          f'upstream\'s flow error: {others}')
    check(took < STOP_BOUND_S, f'{what}: NULL took {took:.2f} s, the '
          f'documented bound is {STOP_BOUND_S} s')


def case_stall_once_pool():
    """A stalled DAC, audiotestsrc writing into the sink's pool: one
    error from the sink (not a second one for upstream's wait)."""
    stall_once('pool')


def case_stall_once_import():
    """A stalled DAC, iiosrc's DMABUFs imported: one error from the
    sink."""
    stall_once('import')


def case_stall_once_dmabuf_copy():
    """A stalled DAC, system memory copied into DMA blocks: one error
    from the sink."""
    stall_once('dmabuf_copy')


def case_stall_once_libiio_copy():
    """A stalled DAC, io-mode=copy: one error from the sink, the copy
    path's text."""
    stall_once('libiio_copy')


def case_fault():
    """fault=error: the DAC fails a block; the sink says so."""
    reset_dac()
    p = Gst.parse_launch(f'audiotestsrc num-buffers=200 ! '
                         f'{DAC_CAPS.format(rate=RATE)} ! iiosink name=sink '
                         'device=sim-dac')
    write_attr('sim-dac', 'fault', 'error')
    src, err, debug = error_of(wait_end(p))
    stop(p)
    reset_dac()
    check(src == 'sink', f'fault: the first error came from {src}: '
          f'{err.message}')
    want = 'Device sim-dac (iio:device1) aborted a block it was playing'
    check(want in err.message, f'fault: "{want}" not in "{err.message}"')


def case_copy_fault():
    """fault=error on the copy path: a fileio block completes unplayed and
    write() cannot say so; the sink compares the DAC's samples_consumed
    with what it pushed and fails at EOS instead of posting EOS."""
    reset_dac()
    n, spb = 200, 1000
    pushed = -(-n * spb // 4096) * 4096     # whole blocks of 4096
    p = Gst.parse_launch(f'audiotestsrc num-buffers={n} samplesperbuffer={spb} '
                         f'! {DAC_CAPS.format(rate=RATE)} ! iiosink name=sink '
                         'device=sim-dac io-mode=copy buffer-size=4096')
    write_attr('sim-dac', 'fault', 'error')
    src, err, debug = error_of(wait_end(p))
    stop(p)
    consumed, _ = dac_played()
    reset_dac()
    check(src == 'sink', f'copy fault: the first error came from {src}: '
          f'{err.message}')
    check(consumed == pushed - 4096, f'copy fault: the DAC played '
          f'{consumed} samples, {pushed - 4096} expected (one block lost)')
    want = (f'played only {consumed} of the {pushed} samples handed to it '
            f'(samples_consumed): 4096 samples were lost')
    check(want in err.message and 'Device sim-dac' in err.message,
          f'copy fault: "{want}" not in "{err.message}"')
    log(f'copy fault: {err.message}')


def case_copy_too_fast():
    """A DAC done with the samples sooner than its rate allows (here
    sim-dac switched to sampling_frequency=0, as fast as possible, after the
    sink read 1 MHz): the copy path's other evidence of blocks completing
    unplayed, an error at EOS."""
    reset_dac()
    rng = random.Random(13)
    n_samples = 500 * 4096                  # 2.048 s at 1 MHz
    data = rng.randbytes(n_samples * SAMPLE)
    step = 20480 * SAMPLE
    p, src, sink = appsrc_pipeline('io-mode=copy buffer-size=4096')
    # The sink reads the rate at start (READY to PAUSED); the DAC takes
    # its sampling_frequency at enable, when the first block comes.
    set_state_bounded(p, Gst.State.PAUSED)
    write_attr('sim-dac', 'sampling_frequency', 0)
    push_all(src, [data[i:i + step] for i in range(0, len(data), step)])
    src_name, err, debug = error_of(wait_end(p))
    stop(p)
    consumed, _ = dac_played()
    reset_dac()
    check(src_name == 'sink', f'too fast: the error came from {src_name}: '
          f'{err.message}')
    check(consumed == n_samples, f'too fast: the DAC played {consumed} '
          f'samples, {n_samples} sent')
    want = [f'Device sim-dac', f'was done with {n_samples} samples after',
            'but they take at least 2048 ms at its 1000000 Hz: blocks '
            'completed without being played']
    missing = [w for w in want if w not in err.message]
    check(not missing, f'too fast: {missing} not in "{err.message}"')
    log(f'too fast: {err.message}')


def case_unplug():
    """The DAC is unbound (hot-unplug) while playing: an error naming
    it, no crash, no hang, NULL works. The device is gone afterwards."""
    reset_dac()
    p = Gst.parse_launch(f'audiotestsrc ! {DAC_CAPS.format(rate=RATE)} ! '
                         'iiosink name=sink device=sim-dac')
    set_state_bounded(p, Gst.State.PLAYING)
    wait_consumed(100000)
    unbind('sim-dac')
    msg = pop_error(p, 30)
    check(msg is not None, 'no error within 30 s of unplugging sim-dac')
    src, err, debug = error_of(msg)
    stop(p)
    log(f'error from {src}: {err.message}')
    check(src == 'sink' and 'Device sim-dac (iio:device1) disappeared' in
          err.message, f'the error does not say that the DAC disappeared: '
          f'{src}: {err.message}')


def process_usage():
    """fds, mappings of DMABUFs, all mappings, RSS in KiB."""
    with open('/proc/self/maps') as f:
        maps = f.readlines()
    dmabuf = sum(1 for line in maps if '/dmabuf:' in line)
    return fd_count(), dmabuf, len(maps), rss_kib()


def case_cycles():
    """200 NULL->PLAYING->NULL cycles, half to EOS, half stopped while
    playing: no fd, mapping or memory growth."""
    reset_dac()
    p = Gst.parse_launch(
        f'audiotestsrc name=src num-buffers=6 samplesperbuffer=2048 '
        f'! {DAC_CAPS.format(rate=RATE)} ! iiosink name=sink device=sim-dac '
        'buffer-size=2048')
    mapped_while_playing = []

    def cycle(i):
        p.get_by_name('src').set_property('num-buffers', 6 if i % 2 else -1)
        p.set_state(Gst.State.PLAYING)
        if i % 2:
            expect_eos(wait_end(p))
        else:
            check(p.get_state(BOUND_S * Gst.SECOND)[0] ==
                  Gst.StateChangeReturn.SUCCESS, 'PLAYING')
            check_no_error(p, f'cycle {i}')
            mapped_while_playing.append(process_usage()[1])
        stop(p)

    for i in range(10):         # warm up: registry, GLib caches
        cycle(i)
    before = process_usage()
    for i in range(200):
        cycle(i)
        if i % 50 == 49:
            log(f'{i + 1} cycles')
    after = process_usage()
    check(after[0] == before[0], f'fds grew from {before[0]} to {after[0]}')
    check(max(mapped_while_playing) > 0, 'no DMABUF mapping seen while '
          'playing: the mapping count would not show a leak')
    check(after[1] == before[1], f'DMABUF mappings grew from {before[1]} to '
          f'{after[1]}')
    # malloc arenas and thread stacks come and go: a leak per cycle would
    # add 200 mappings
    check(after[2] - before[2] < 20, f'mappings grew from {before[2]} to '
          f'{after[2]}')
    check(after[3] - before[3] < 4096, f'RSS grew by {after[3] - before[3]} '
          'KiB over 200 cycles')


CASES = {name[5:]: fn for name, fn in sorted(globals().items())
         if name.startswith('case_')}
GROUPS = {
    'dmabuf': ['pool', 'pool_queue', 'import', 'tee', 'appsrc', 'cyclic', 'pause',
               'restart', 'lifetime'],
    'copy': ['copy', 'iiod'],
    'sizes': ['sizes_dmabuf', 'sizes_copy', 'copy_random'],
    'errors': ['caps', 'partial_sample', 'copy_partial_sample', 'stall',
               'stall_once_pool', 'stall_once_import',
               'stall_once_dmabuf_copy', 'stall_once_libiio_copy',
               'fault', 'copy_fault', 'copy_too_fast'],
    'unplug': ['unplug'],
    'cycles': ['cycles'],
}


if __name__ == '__main__':
    main(cases=CASES, groups=GROUPS)
