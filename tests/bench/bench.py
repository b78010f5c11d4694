#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The benchmark, guest side (tests/bench/run boots the test bed and runs
this): every path against the bare kernel loop and Debian's libiio tools,
in one run, on sim-adc/sim-dac at sampling_frequency=0 with the
simulator's fast worker, fill on and off.

  bench.py --bareloop PATH [--quick] [--csv FILE|-]

Prints one table and writes it as CSV. Asserts only what a functional
test would (every run exits 0, the counts are right, the zero-copy paths
copy nothing, the first captured block is the simulator's ramp when it
fills): speed is never checked. --quick: two block sizes, 8 MiB a row.
"""

import argparse
import csv
import functools
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
from iiotest import Gst, read_attr, write_attr  # noqa: E402

import numpy as np  # noqa: E402

ADC_CHANNELS = 4            # sim-adc voltage0..3, S16
ADC_SAMPLE = 2 * ADC_CHANNELS
DAC_SAMPLE = 4              # sim-dac voltage0..1, S16
BLOCKS = 8                  # blocks every path keeps in flight
SIZES = [4096, 65536, 1 << 20, 4 << 20, 16 << 20]
QUICK_SIZES = [65536, 1 << 20]
MIB = 1 << 20
GIB = 1 << 30
# The fileio path (libiio's tools, the copy paths) allocates kernel blocks
# the DMA buffer cannot get beyond 4 MiB on this kernel (ENOMEM, with a
# page allocation warning in the kernel log), and the failed enable then
# leaves the buffer refusing every ATTACH until a fileio session succeeds
# (docs/kernel-bugs.md, 12). libiio's tools ask for two blocks of the
# buffer size each, so they stop at 1 MiB; the copy paths at 4 MiB.
LIBIIO_MAX = 1 << 20
COPY_MAX = 4 << 20

# The reading consumer (tests/bench/gstbenchsum.c).
SUM_SINK = 'benchsum'
# The rate iiosrc is told: far below what the unpaced sim-adc delivers, so
# that iiosrc sees at its first block that the device is not running at a
# rate (one warning) and infers no losses (docs/iiosrc.md, "Lost samples").
CAPTURE_RATE = 1000

ROWS = []
FAILURES = []


def fail(what, why):
    FAILURES.append(f'{what}: {why}')
    print(f'FAIL {what}: {why}', flush=True)


def sys_cpu_s():
    """Busy CPU seconds of the whole guest (the simulator's worker too)."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v) - v[3] - v[4]         # minus idle and iowait
    return busy / os.sysconf('SC_CLK_TCK')


def self_cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def set_sim(fill):
    for dev in ('sim-adc', 'sim-dac'):
        write_attr(dev, 'sampling_frequency', 0)
        write_attr(dev, 'fill', fill)
        write_attr(dev, 'fast', 1)


def row(direction, path, size, fill, nbytes, wall, cpu, syscpu, note=''):
    r = dict(direction=direction, path=path, block_bytes=size, fill=fill,
             mib_s=nbytes / MIB / wall if wall > 0 else 0,
             blocks_s=nbytes / size / wall if wall > 0 else 0,
             cpu_s_gib=cpu * GIB / nbytes if nbytes else 0,
             sys_cpu_s_gib=syscpu * GIB / nbytes if nbytes else 0,
             note=note)
    ROWS.append(r)
    print(f'  {direction:3s} {path:22s} {size:>9d} fill={fill} '
          f'{r["mib_s"]:9.1f} MiB/s {r["blocks_s"]:9.0f} blocks/s '
          f'{r["cpu_s_gib"]:7.2f} CPU-s/GiB {r["sys_cpu_s_gib"]:7.2f} '
          f'sys {note}', flush=True)


def na_row(direction, path, size, fill, note):
    ROWS.append(dict(direction=direction, path=path, block_bytes=size,
                     fill=fill, mib_s='', blocks_s='', cpu_s_gib='',
                     sys_cpu_s_gib='', note=note))
    print(f'  {direction:3s} {path:22s} {size:>9d} fill={fill} n/a: {note}',
          flush=True)


# ---- the bare loop ----

def bare(loop, direction, mode, size, fill, nbytes, fence=False):
    """The bare loop; @fence: with the elements' sync_file per block."""
    label = f'{mode}, fence' if fence else mode
    what = f'bare {direction} {label} {size} fill={fill}'
    args = [loop, '--mode', mode, '--block-size', str(size), '--buffers',
            str(BLOCKS), '--count', str(max(nbytes // size, 1)),
            '--attr', 'sampling_frequency=0', '--attr', f'fill={fill}',
            '--attr', 'fast=1']
    if direction == 'out':
        args.append('--dac')
    if fence:
        args.append('--fence')
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        fail(what, f'exit {p.returncode}: {p.stderr.strip()} {p.stdout}')
        return
    f = dict(kv.split('=', 1) for kv in p.stdout.split()[1:] if '=' in kv)
    n = int(f['bytes'])
    if n != max(nbytes // size, 1) * size:
        fail(what, f'{n} bytes moved')
    row(direction, f'bare loop ({label})', size, fill, n, float(f['wall_s']),
        float(f['cpu_s']), float(f['sys_cpu_s']))


# ---- Debian's libiio tools ----

def libiio_tool(direction, size, fill, nbytes):
    sample = ADC_SAMPLE if direction == 'in' else DAC_SAMPLE
    tool = 'iio_readdev' if direction == 'in' else 'iio_writedev'
    what = f'{tool} {size} fill={fill}'
    if size > LIBIIO_MAX:
        na_row(direction, tool, size, fill,
               'the kernel cannot allocate its fileio blocks')
        return
    n_samples = nbytes // sample
    args = [tool, '-u', 'local:', '-b', str(size // sample), '-s',
            str(n_samples), 'sim-adc' if direction == 'in' else 'sim-dac']
    set_sim(fill)
    devnull = os.open(os.devnull, os.O_RDWR)
    zero = os.open('/dev/zero', os.O_RDONLY)
    t0, s0 = time.monotonic(), sys_cpu_s()
    pid = os.fork()
    if pid == 0:
        os.dup2(zero if direction == 'out' else devnull, 0)
        os.dup2(devnull, 1)
        os.execvp(tool, args)
    _, status, ru = os.wait4(pid, 0)
    wall, syscpu = time.monotonic() - t0, sys_cpu_s() - s0
    os.close(devnull)
    os.close(zero)
    if os.waitstatus_to_exitcode(status) != 0:
        fail(what, f'exit {os.waitstatus_to_exitcode(status)}')
        return
    note = ''
    if direction == 'out':
        # iio_writedev exits without waiting for the blocks it queued:
        # the device never plays them (a user's loss, not a failed run).
        consumed = int(read_attr('sim-dac', 'samples_consumed'))
        if consumed < n_samples:
            note = f'{n_samples - consumed} samples dropped at exit'
    row(direction, tool, size, fill, n_samples * sample, wall,
        ru.ru_utime + ru.ru_stime, syscpu, note)


# ---- the elements ----

def run_pipeline(launch, pad_of, setup=None, timeout_s=300):
    """Runs @launch to EOS; the figures count from the first buffer on the
    pad @pad_of(pipeline) to EOS, so that start-up (opening the device,
    allocating and attaching the blocks, negotiation) is left out, as the
    bare loop leaves out its own before the enable. Returns (pipeline,
    error, wall, cpu, syscpu); the caller counts one block less."""
    p = Gst.parse_launch(launch)
    if setup:
        setup(p)
    mark = {}

    def first_buffer(pad, info):
        mark.update(t=time.monotonic(), c=self_cpu_s(), s=sys_cpu_s())
        return Gst.PadProbeReturn.REMOVE
    # after setup's probes: their work on the first buffer is not counted
    pad_of(p).add_probe(Gst.PadProbeType.BUFFER, first_buffer)
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(
        timeout_s * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    t1, c1, s1 = time.monotonic(), self_cpu_s(), sys_cpu_s()
    err = None
    if msg is None:
        err = f'no EOS within {timeout_s} s'
    elif msg.type == Gst.MessageType.ERROR:
        err = msg.parse_error()[0].message
    elif not mark:
        err = 'EOS without a buffer'
    if err:
        return p, err, 0, 0, 0
    return p, None, t1 - mark['t'], c1 - mark['c'], s1 - mark['s']


def first_block_probe(pad, first):
    """Keeps the first buffer's samples, to check the ramp; removed after
    it, so that Python costs the streaming thread nothing later."""
    def probe(pad, info):
        ok, m = info.get_buffer().map(Gst.MapFlags.READ)
        if ok:
            first['data'] = np.frombuffer(m.data, dtype='<i2').copy()
            info.get_buffer().unmap(m)
        return Gst.PadProbeReturn.REMOVE
    pad.add_probe(Gst.PadProbeType.BUFFER, probe)


def check_ramp(what, data):
    n = data.reshape(-1, ADC_CHANNELS)
    want = ((np.arange(n.shape[0])[:, None] +
             1000 * np.arange(ADC_CHANNELS)[None, :]) & 0xffff)
    if not np.array_equal(n.view(np.uint16), want.astype(np.uint16)):
        fail(what, 'the first block is not the simulator\'s ramp')


@functools.lru_cache(maxsize=None)
def ramp_sum(nbytes):
    """benchsum's sum of @nbytes of sim-adc's 4-channel ramp from sample
    0: one sample is one 64-bit word, channel c in bits 16c..16c+15."""
    total = np.uint64(0)
    step = 1 << 22
    for k0 in range(0, nbytes // ADC_SAMPLE, step):
        k = np.arange(k0, min(k0 + step, nbytes // ADC_SAMPLE),
                      dtype=np.uint64)
        words = np.zeros_like(k)
        for c in range(ADC_CHANNELS):
            words |= ((k + np.uint64(1000 * c)) & np.uint64(0xffff)) << \
                np.uint64(16 * c)
        total += np.add.reduce(words, dtype=np.uint64)
    return int(total)


def check_sum(what, summed, nbytes, fill):
    """benchsum read every byte: all of them, and with fill on, the ramp's
    sum (fill off: the heap's zeroed pages, never written)."""
    n, s = summed
    if n != nbytes:
        fail(what, f'benchsum read {n} bytes of {nbytes}')
    elif s != (ramp_sum(nbytes) if fill else 0):
        fail(what, f'benchsum sum {s:#x}: not the ramp\'s' if fill else
             f'benchsum sum {s:#x} of blocks the simulator never wrote')


def capture(path, io_mode, consumer, size, fill, nbytes):
    what = f'{path} {size} fill={fill}'
    n = max(nbytes // size, 1)
    if io_mode == 'copy' and size > COPY_MAX:
        na_row('in', path, size, fill,
               'the kernel cannot allocate its fileio blocks')
        return
    set_sim(fill)
    tail = ('benchsum name=sum' if consumer == SUM_SINK
            else 'fakesink sync=false')
    launch = (f'iiosrc name=src device=sim-adc io-mode={io_mode} '
              f'rate={CAPTURE_RATE} buffer-size={size // ADC_SAMPLE} '
              f'blocks={BLOCKS} num-buffers={n} ! {tail}')
    first = {}
    p, err, wall, cpu, syscpu = run_pipeline(
        launch, lambda p: p.get_by_name('src').get_static_pad('src'),
        lambda p: first_block_probe(
            p.get_by_name('src').get_static_pad('src'), first))
    st = p.get_by_name('src').get_property('stats')
    summed = p.get_by_name('sum')
    summed = (summed.get_property('bytes'), summed.get_property('sum')) \
        if summed else None
    p.set_state(Gst.State.NULL)
    if err:
        fail(what, err)
        return
    if summed:
        check_sum(what, summed, n * size, fill)
    if st.get_value('buffers') != n or st.get_value('bytes') != n * size:
        fail(what, f'{st.get_value("buffers")} buffers, '
             f'{st.get_value("bytes")} bytes: {n} blocks expected')
    copied = st.get_value('bytes-copied')
    if io_mode == 'dmabuf' and copied != 0:
        fail(what, f'bytes-copied {copied} on the zero-copy path')
    if fill == 1 and 'data' in first:
        check_ramp(what, first['data'])
    # The device runs unpaced (sampling_frequency=0) against rate=1 MHz:
    # the inferred loss check then sees gaps that are not there.
    row('in', path, size, fill, (n - 1) * size, wall, cpu, syscpu,
        f'inferred overruns={st.get_value("overruns")}'
        if st.get_value('overruns') else '')


def playback(path, size, fill, nbytes):
    what = f'iiosink {path} {size} fill={fill}'
    spb = size // DAC_SAMPLE
    n = max(nbytes // size, 1)
    if path == 'copy' and size > COPY_MAX:
        na_row('out', f'iiosink {path}', size, fill,
               'the kernel cannot allocate its fileio blocks')
        return
    set_sim(fill)
    caps = 'audio/x-raw,format=S16LE,channels=2,rate=1000000'
    sink = (f'iiosink name=sink device=sim-dac buffer-size={spb} '
            f'blocks={BLOCKS} rate=1000000')
    src = (f'audiotestsrc wave=silence samplesperbuffer={spb} '
           f'num-buffers={n} ! {caps}')
    launch = {
        'pool': f'{src} ! {sink} io-mode=dmabuf',
        # The sink keeps up to BLOCKS of iiosrc's blocks in flight, and
        # iiosrc copies a block out when it has fewer than 3 left
        # (docs/zero-copy.md): it needs BLOCKS + 3 to stay zero-copy.
        'import': (f'iiosrc device=sim-adc channels=voltage0,voltage1 '
                   f'io-mode=dmabuf rate={CAPTURE_RATE} buffer-size={spb} '
                   f'blocks={BLOCKS + 3} num-buffers={n} ! {sink} '
                   f'io-mode=dmabuf rate={CAPTURE_RATE}'),
        'copy': f'{src} ! {sink} io-mode=copy',
    }[path]
    p, err, wall, cpu, syscpu = run_pipeline(
        launch, lambda p: p.get_by_name('sink').get_static_pad('sink'))
    st = p.get_by_name('sink').get_property('stats')
    p.set_state(Gst.State.NULL)
    if err:
        fail(what, err)
        return
    consumed = int(read_attr('sim-dac', 'samples_consumed'))
    if consumed != n * spb:
        fail(what, f'sim-dac consumed {consumed} samples, {n * spb} sent')
    copied = st.get_value('bytes-copied')
    if path != 'copy' and copied != 0:
        fail(what, f'bytes-copied {copied} on the zero-copy path')
    if path == 'import' and st.get_value('dmabuf-imports') != n:
        fail(what, f'{st.get_value("dmabuf-imports")} imports, {n} buffers')
    underruns = read_attr('sim-dac', 'underruns')
    row('out', f'iiosink {path}', size, fill, (n - 1) * size, wall, cpu,
        syscpu,
        f'underruns={underruns}')


# ---- USB: ffssink on the test bed's gadget ----

HERE = os.path.dirname(os.path.abspath(__file__))
GADGET = os.path.join(HERE, '..', 'vm', 'usb', 'gadget')
USB_HOST = os.path.join(HERE, '..', '..', 'examples', 'python',
                        'iio-usb-stream.py')
FFS = '/dev/ffs-gstiio'
USB_SIZE = 65536


def gadget(*args):
    r = subprocess.run([GADGET] + list(args), capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f'gadget {" ".join(args)}: {r.stderr.strip()}')


def usb(path, io_mode, nbytes):
    """iiosrc into ffssink owning the gadget's function, a pyusb reader
    (examples/python/iio-usb-stream.py host, another process) on the host
    side: the sink's zero-copy DMABUF path against its copy of system
    memory into its own DMABUFs. dummy_hcd moves the bytes with a memcpy
    in the kernel (sys/GiB); CPU-s/GiB is the GStreamer process."""
    what = f'usb {path}'
    n = max(nbytes // USB_SIZE, 4)
    launch = (f'iiosrc device=sim-adc io-mode={io_mode} rate={CAPTURE_RATE} '
              f'buffer-size={USB_SIZE // ADC_SAMPLE} blocks={BLOCKS} '
              f'num-buffers={n} ! ffssink name=sink function={FFS} '
              'timeout=60000')
    reader = []

    def bind(p):
        if p.set_state(Gst.State.READY) != Gst.StateChangeReturn.SUCCESS:
            msg = p.get_bus().pop_filtered(Gst.MessageType.ERROR)
            raise RuntimeError('ffssink did not reach READY: %s' % (
                msg.parse_error()[0].message if msg else 'no error message'))
        gadget('bind')
        reader.append(subprocess.Popen(
            ['/usr/bin/python3', USB_HOST, 'host', '--bytes',
             str(n * USB_SIZE), '--wait', '60'], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))

    try:
        gadget('setup')
        p, err, wall, cpu, syscpu = run_pipeline(
            launch, lambda p: p.get_by_name('sink').get_static_pad('sink'),
            setup=bind)
        st = p.get_by_name('sink').get_property('stats')
        p.set_state(Gst.State.NULL)
        out = reader[0].communicate(timeout=120)[0] if reader else ''
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        fail(what, str(e))
        return
    finally:
        for r in reader:
            if r.poll() is None:
                r.kill()
                r.wait()
        try:
            gadget('teardown')
        except RuntimeError as e:
            fail(what, str(e))
    if err:
        fail(what, err)
        return
    if reader[0].returncode != 0 or f'received {n * USB_SIZE} bytes' not in out:
        fail(what, f'the USB host side: {out.strip()}')
    copied = st.get_value('bytes-copied')
    if (io_mode == 'dmabuf') != (copied == 0):
        fail(what, f'bytes-copied {copied} of {st.get_value("bytes")}')
    row('usb', f'ffssink {path}', USB_SIZE, 0, (n - 1) * USB_SIZE, wall, cpu,
        syscpu, f'bytes-copied={copied}')


# ---- the table ----

def add_ratios():
    """Each row against the bare loop (mode none; mode read for the
    reading consumer) and the libiio tool of its direction, same block
    size and fill: MiB/s ratio and CPU ratio."""
    def find(direction, path, size, fill):
        for r in ROWS:
            if (r['direction'], r['path'], r['block_bytes'], r['fill']) == \
                    (direction, path, size, fill) and r['mib_s'] != '':
                return r
        return None

    for r in ROWS:
        # a reading consumer against the bare loop that reads, a writing
        # producer (audiotestsrc into the pool) against the one that writes
        bare_path = ('bare loop (read)' if r['path'].endswith(SUM_SINK)
                     else 'bare loop (memcpy)' if r['path'] == 'iiosink pool'
                     else 'bare loop (none)')
        for key, ref_path in (('bare', bare_path),
                              ('libiio', 'iio_readdev' if r['direction'] ==
                               'in' else 'iio_writedev')):
            ref = find(r['direction'], ref_path, r['block_bytes'], r['fill'])
            ok = ref and r['mib_s'] != '' and ref['mib_s'] and \
                ref['cpu_s_gib']
            r[f'mib_s_vs_{key}'] = (r['mib_s'] / ref['mib_s']) if ok else ''
            r[f'cpu_vs_{key}'] = (r['cpu_s_gib'] / ref['cpu_s_gib']
                                  if ok else '')


def fmt(v, f='{:.2f}'):
    return f.format(v) if v != '' else 'n/a'


def print_table():
    print()
    print(f'{"dir":3s} {"path":22s} {"block":>9s} {"fill":>4s} '
          f'{"MiB/s":>8s} {"blocks/s":>9s} {"CPU-s/GiB":>9s} '
          f'{"sys/GiB":>8s} {"xbare":>6s} {"cpu/bare":>8s} '
          f'{"xlibiio":>7s} {"cpu/libiio":>10s}  note')
    for r in ROWS:
        print(f'{r["direction"]:3s} {r["path"]:22s} {r["block_bytes"]:>9d} '
              f'{r["fill"]:>4d} {fmt(r["mib_s"], "{:.1f}"):>8s} '
              f'{fmt(r["blocks_s"], "{:.0f}"):>9s} '
              f'{fmt(r["cpu_s_gib"]):>9s} {fmt(r["sys_cpu_s_gib"]):>8s} '
              f'{fmt(r["mib_s_vs_bare"]):>6s} {fmt(r["cpu_vs_bare"]):>8s} '
              f'{fmt(r["mib_s_vs_libiio"]):>7s} '
              f'{fmt(r["cpu_vs_libiio"]):>10s}  {r["note"]}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bareloop', required=True)
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--csv')
    a = ap.parse_args()
    # benchsum is built beside the bare loop
    plugin_dir = os.path.dirname(os.path.abspath(a.bareloop))
    if not Gst.Registry.get().scan_path(plugin_dir) and \
            not Gst.ElementFactory.find(SUM_SINK):
        sys.exit(f'bench.py: no {SUM_SINK} plugin in {plugin_dir} (ninja)')
    sizes = QUICK_SIZES if a.quick else SIZES
    nbytes = 8 * MIB if a.quick else 64 * MIB

    for size in sizes:
        # At least 4 blocks in flight more than the device needs.
        row_bytes = max(nbytes, 4 * BLOCKS * size)
        for fill in (1, 0):
            print(f'block {size} bytes, fill={fill}, {row_bytes // MIB} MiB '
                  'a row', flush=True)
            for mode in ('none', 'read'):
                bare(a.bareloop, 'in', mode, size, fill, row_bytes)
            # the kernel work the elements add per block for lost-block
            # detection, without GStreamer: what is left is theirs
            bare(a.bareloop, 'in', 'none', size, fill, row_bytes, fence=True)
            libiio_tool('in', size, fill, row_bytes)
            capture('iiosrc dmabuf', 'dmabuf', 'fakesink', size, fill,
                    row_bytes)
            capture('iiosrc copy', 'copy', 'fakesink', size, fill,
                    row_bytes)
            # benchsum reads every byte as the bare loop's read mode does
            capture(f'iiosrc dmabuf ! {SUM_SINK}', 'dmabuf', SUM_SINK,
                    size, fill, row_bytes)
            for mode in ('none', 'memcpy'):
                bare(a.bareloop, 'out', mode, size, fill, row_bytes)
            libiio_tool('out', size, fill, row_bytes)
            for path in ('pool', 'import', 'copy'):
                playback(path, size, fill, row_bytes)
    # USB at one block size: dummy_hcd, not the element, sets the pace
    print(f'USB: ffssink, block {USB_SIZE} bytes, fill=0', flush=True)
    set_sim(0)
    usb_bytes = 4 * MIB if a.quick else 32 * MIB
    usb('dmabuf', 'dmabuf', usb_bytes)
    usb('copy', 'copy', usb_bytes)
    for dev in ('sim-adc', 'sim-dac'):
        write_attr(dev, 'sampling_frequency', 1000000)
        write_attr(dev, 'fill', 1)
        write_attr(dev, 'fast', 0)

    add_ratios()
    print_table()
    if a.csv:
        # The guest sees the host's files read-only: "-" prints the CSV
        # between markers for tests/bench/run to take.
        out = sys.stdout if a.csv == '-' else open(a.csv, 'w', newline='')
        if a.csv == '-':
            print('\n--- CSV ---')
        w = csv.DictWriter(out, fieldnames=list(ROWS[0].keys()))
        w.writeheader()
        w.writerows(ROWS)
        if a.csv == '-':
            print('--- end CSV ---')
        else:
            out.close()
    print(f'\n{len(ROWS)} rows, {len(FAILURES)} failed checks')
    for f in FAILURES:
        print(f'FAIL {f}')
    return 1 if FAILURES else 0


if __name__ == '__main__':
    sys.exit(main())
