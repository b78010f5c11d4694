#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iiosink stops within the bound docs/iiosink.md states, on every sink
path, when the DAC stalls (fault=stall) or iiod stops answering
(SIGSTOP), even with timeout=600000: PLAYING -> NULL, and PLAYING ->
PAUSED -> NULL. And a pause on a DAC that plays, or that stalls where
no push has to be cancelled (every path but iiod), loses and doubles
nothing: the DAC's checksum after EOS is that of the bytes sent.

Usage (in the guest): test_stop_bounds.py [CASE ...]
"""
import os
import random
import signal
import time

from iiotest import (DAC_CAPS, DAC_SAMPLE as SAMPLE, Gst, Iiod, Recorder,
                     appsrc_launch as dac_appsrc_launch, check,
                     check_no_error, check_played, check_played_padded,
                     expect_eos, log, main, pop_end, push_all, random_chunks,
                     reset_dac, set_state_bounded, stats_of, wait_consumed,
                     write_attr)

# docs/iiosink.md: "PAUSED and NULL return within 5 s". A correctness
# bound (the waits are interrupted, not run out), not a speed goal.
STOP_BOUND_S = 5.0
RATE = 100000
HANG_S = 60                     # a state change longer than this is a hang
TIMEOUT = 'timeout=600000'


def appsrc_launch(props):
    return dac_appsrc_launch(props, RATE)


def pool_launch(props, n=-1):
    return (f'audiotestsrc name=src num-buffers={n} samplesperbuffer=1024 '
            f'freq=1234 ! {DAC_CAPS.format(rate=RATE)} ! iiosink name=sink '
            f'device=sim-dac {props}')


def import_launch(props, n=-1):
    return (f'iiosrc name=src device=sim-adc channels=voltage0,voltage1 '
            f'io-mode=dmabuf buffer-size=4096 blocks=16 num-buffers={n} '
            f'attributes=sampling_frequency={RATE} {TIMEOUT} ! '
            f'iiosink name=sink device=sim-dac io-mode=dmabuf {props}')


# The sink paths: (launch line, appsrc data or None, io-mode in stats,
# bytes-copied expected > 0, iiod needed).
PATHS = {
    'pool': (pool_launch, False, 'dmabuf', False, False),
    'import': (import_launch, False, 'dmabuf', False, False),
    'dmabuf_copy': (lambda p, n=-1: appsrc_launch('io-mode=dmabuf ' + p),
                    True, 'dmabuf', True, False),
    'libiio_copy': (lambda p, n=-1: appsrc_launch('io-mode=copy ' + p),
                    True, 'copy', True, False),
    'iiod': (lambda p, n=-1: appsrc_launch(
        'io-mode=copy uri=ip:127.0.0.1 ' + p), True, 'copy', True, True),
}


def timed_state(p, state, preroll=True):
    """Seconds set_state(@state) takes; with @preroll, until the state is
    reached (ASYNC waited for)."""
    t0 = time.monotonic()
    ret = set_state_bounded(p, state, HANG_S)
    check(ret != Gst.StateChangeReturn.FAILURE, f'{state.value_nick} failed')
    if ret == Gst.StateChangeReturn.ASYNC and preroll:
        ret = p.get_state(HANG_S * Gst.SECOND)[0]
        check(ret == Gst.StateChangeReturn.SUCCESS,
              f'{state.value_nick}: get_state returned {ret.value_nick}')
    return time.monotonic() - t0


class Pipeline:
    """Gst.parse_launch(@launch), set to NULL however the case ends (a
    pipeline left in READY would keep the DAC busy for the next case)."""

    def __init__(self, launch):
        self.p = Gst.parse_launch(launch)

    def __enter__(self):
        return self.p

    def __exit__(self, *exc):
        set_state_bounded(self.p, Gst.State.NULL, HANG_S)


def feed(p, n_chunks, seed):
    chunks = random_chunks(random.Random(seed), n_chunks, 3000)
    push_all(p.get_by_name('src'), chunks)
    return b''.join(chunks)


class Stalled:
    """The DAC stalls (fault=stall), or iiod is stopped (SIGSTOP)."""

    def __init__(self, iiod):
        self.iiod = iiod

    def __enter__(self):
        if self.iiod:
            os.kill(self.iiod.proc.pid, signal.SIGSTOP)
        else:
            write_attr('sim-dac', 'fault', 'stall')
        return self

    def __exit__(self, *exc):
        if self.iiod:
            os.kill(self.iiod.proc.pid, signal.SIGCONT)
        write_attr('sim-dac', 'fault', 'none')


def stall_case(path, via_paused):
    launch, appsrc, io_mode, copies, needs_iiod = PATHS[path]
    what = f'{path}: {"PAUSED then NULL" if via_paused else "NULL"}'
    reset_dac(RATE)
    iiod = Iiod().__enter__() if needs_iiod else None
    try:
        with Pipeline(launch(TIMEOUT)) as p:
            set_state_bounded(p, Gst.State.PLAYING, HANG_S)
            if appsrc:
                feed(p, 400, 11)    # ~6 s at 100 kHz: more than the case
            wait_consumed(20000, p, what, 30)
            with Stalled(iiod):
                # Every block in flight, render (or upstream, for a block
                # of the pool) waiting for the device.
                time.sleep(1.5)
                check_no_error(p, what)
                times = []
                if via_paused:
                    # A sink prerolls on a buffer: when upstream itself
                    # waits for a block of the stalled DAC's pool, PAUSED
                    # stays ASYNC (set_state returns at once).
                    times.append(('PAUSED', timed_state(
                        p, Gst.State.PAUSED, path != 'pool')))
                times.append(('NULL', timed_state(p, Gst.State.NULL)))
            st = stats_of(p.get_by_name('sink'))
        log(f'{what}: ' + ', '.join(f'{s} in {t:.2f} s' for s, t in times))
        for state, t in times:
            check(t < STOP_BOUND_S, f'{what}: {state} took {t:.2f} s, the '
                  f'documented bound is {STOP_BOUND_S} s')
        check(st['io-mode'] == io_mode, f'{what}: stats io-mode '
              f'{st["io-mode"]}, the {io_mode} path was expected')
        check((st['bytes-copied'] > 0) == copies, f'{what}: bytes-copied '
              f'{st["bytes-copied"]}')
    finally:
        if iiod:
            iiod.__exit__(None, None, None)


def pause_case(path, stall=False):
    """PLAYING -> PAUSED -> PLAYING mid-stream on a DAC that plays (with
    @stall: that stalls before the pause and plays again before PLAYING):
    the DAC played every byte sent, once, in order."""
    launch, appsrc, io_mode, copies, needs_iiod = PATHS[path]
    what = f'{"stalled " if stall else ""}pause {path}'
    reset_dac(RATE)
    iiod = Iiod().__enter__() if needs_iiod else None
    try:
        n = 48 if path == 'import' else 120
        with Pipeline(launch(TIMEOUT, n)) as p:
            sink = p.get_by_name('sink')
            rec = Recorder(sink.get_static_pad('sink'))
            set_state_bounded(p, Gst.State.PLAYING, HANG_S)
            data = feed(p, n, 12) if appsrc else None
            wait_consumed(30000, p, what, 30)
            if stall:
                write_attr('sim-dac', 'fault', 'stall')
                time.sleep(1.0)
            t = timed_state(p, Gst.State.PAUSED, not stall or path != 'pool')
            check(t < STOP_BOUND_S, f'{what}: PAUSED took {t:.2f} s')
            time.sleep(0.3)
            if stall:
                write_attr('sim-dac', 'fault', 'none')
            set_state_bounded(p, Gst.State.PLAYING, HANG_S)
            expect_eos(pop_end(p, HANG_S))
            st = stats_of(sink)
        sent = rec.all_bytes()
        if data is not None:
            check(sent == data, f'{what}: the sink received '
                  f'{len(sent)} bytes, {len(data)} were pushed')
        check(st['io-mode'] == io_mode, f'{what}: io-mode '
              f'{st["io-mode"]}')
        check(st['buffers'] == rec.n, f'{what}: stats count '
              f'{st["buffers"]} buffers, {rec.n} reached the sink')
        if io_mode == 'copy':
            check_played_padded(sent, what)
        else:
            check_played(sent, what)
        log(f'{what}: PAUSED in {t:.2f} s, {len(sent) // SAMPLE} '
            'samples played exactly')
    finally:
        if iiod:
            iiod.__exit__(None, None, None)


CASES = {}
for _path in PATHS:
    CASES[f'stall_null_{_path}'] = (lambda q: lambda: stall_case(q, False))(
        _path)
    CASES[f'stall_paused_{_path}'] = (lambda q: lambda: stall_case(q, True))(
        _path)
    CASES[f'pause_{_path}'] = (lambda q: lambda: pause_case(q))(_path)
    # A pause on a stalled DAC loses nothing either, where no push has to
    # be cancelled (not through iiod: docs/iiosink.md, the grace).
    if _path != 'iiod':
        CASES[f'stall_pause_{_path}'] = (
            lambda q: lambda: pause_case(q, True))(_path)


def after_each():
    """A failed case may leave the DAC stalled; the import path changed
    sim-adc's rate."""
    write_attr('sim-dac', 'fault', 'none')
    write_attr('sim-adc', 'sampling_frequency', 1000000)


if __name__ == '__main__':
    main(cases=CASES, after_each=after_each)
