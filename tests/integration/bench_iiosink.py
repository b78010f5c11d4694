#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iiosink throughput with the simulated DAC running as fast as it can
(sampling_frequency=0): MiB/s and CPU seconds per GiB for each path.
A benchmark: it prints figures and asserts only that the data arrived.
Figures from a TCG test bed are only worth comparing with each other.

  tests/vm/run --build build -- /usr/bin/python3 \\
      tests/integration/bench_iiosink.py [MIB]
"""
import resource
import sys
import time

from iiotest import (DAC_CAPS, DAC_SAMPLE as SAMPLE, Gst, check,
                     expect_eos, log, read_attr, stop, wait_end, write_attr)

CAPS = DAC_CAPS.format(rate=1000000)
FAST = 'attributes=sampling_frequency=0 rate=1000000'
BLOCK = 16384                   # samples per block and per buffer


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(launch, n_buffers, what):
    p = Gst.parse_launch(launch)
    sink = p.get_by_name('sink')
    t0, c0 = time.monotonic(), cpu_s()
    expect_eos(wait_end(p, 600))
    wall, cpu = time.monotonic() - t0, cpu_s() - c0
    st = sink.get_property('stats')
    stop(p)
    played = int(read_attr('sim-dac', 'samples_consumed')) * SAMPLE
    check(played >= n_buffers * BLOCK * SAMPLE,
          f'{what}: the DAC played {played} bytes')
    mib = n_buffers * BLOCK * SAMPLE / 2**20
    log(f'{what:38s} {mib / wall:8.1f} MiB/s  {cpu * 1024 / mib:6.2f} '
        f'CPU-s/GiB  copied {st.get_value("bytes-copied") / 2**20:7.1f} '
        f'MiB  imports {st.get_value("dmabuf-imports")}')


def main(argv):
    mib = int(argv[1]) if len(argv) > 1 else 256
    n = mib * 2**20 // (BLOCK * SAMPLE)
    sink = f'iiosink name=sink device=sim-dac buffer-size={BLOCK} {FAST}'
    src = (f'audiotestsrc wave=silence num-buffers={n} '
           f'samplesperbuffer={BLOCK} ! {CAPS}')
    log(f'{mib} MiB in {BLOCK}-sample buffers, sim-dac at full speed')
    run(f'{src} ! {sink} io-mode=dmabuf', n, 'audiotestsrc, DMA pool')
    run(f'{src} ! queue ! {sink} io-mode=dmabuf', n,
        'audiotestsrc ! queue, DMA pool')
    # Without allocation query answers the source uses system memory.
    run(f'{src} ! identity drop-allocation=true ! {sink} io-mode=dmabuf', n,
        'system memory, one copy (dmabuf)')
    run(f'{src} ! {sink} io-mode=copy', n, 'system memory, libiio (copy)')
    run(f'iiosrc device=sim-adc channels=voltage0,voltage1 io-mode=dmabuf '
        f'buffer-size={BLOCK} blocks=8 num-buffers={n} {FAST} ! {sink} '
        'io-mode=dmabuf', n, 'iiosrc DMABUF import (zero-copy)')
    for dev in ('sim-dac', 'sim-adc'):
        write_attr(dev, 'sampling_frequency', 1000000)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
