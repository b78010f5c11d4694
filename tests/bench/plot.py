#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Plots tests/bench/run's CSV: MiB/s and process CPU-s/GiB against block
size, one line per path, capture and DAC side by side, fill on (solid)
and off (dashed).

  plot.py bench.csv bench.png
"""

import csv
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def main(src, dst):
    rows = [r for r in csv.DictReader(open(src)) if r['mib_s']]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9), sharex=True)
    for col, direction in enumerate(('in', 'out')):
        paths = sorted({r['path'] for r in rows
                        if r['direction'] == direction})
        for i, path in enumerate(paths):
            color = plt.get_cmap('tab10')(i % 10)
            for fill, style in (('1', '-'), ('0', '--')):
                pts = sorted((int(r['block_bytes']), float(r['mib_s']),
                              float(r['cpu_s_gib'])) for r in rows
                             if r['direction'] == direction
                             and r['path'] == path and r['fill'] == fill)
                if not pts:
                    continue
                x = [p[0] / 1024 for p in pts]
                label = f'{path} (fill {"on" if fill == "1" else "off"})'
                axes[0][col].plot(x, [p[1] for p in pts], style, marker='o',
                                  color=color, label=label)
                axes[1][col].plot(x, [p[2] for p in pts], style, marker='o',
                                  color=color)
        axes[0][col].set_title('capture (sim-adc)' if direction == 'in'
                               else 'DAC (sim-dac)')
        axes[0][col].set_ylabel('MiB/s')
        axes[1][col].set_ylabel('process CPU-s/GiB')
        axes[1][col].set_xlabel('block size (KiB)')
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xscale('log', base=2)
            ax.set_yscale('log')
            ax.grid(True, which='both', alpha=0.3)
        axes[0][col].legend(fontsize=7)
    fig.suptitle('gst-iio in the test bed (TCG: compare ratios, not '
                 'absolute figures)')
    fig.tight_layout()
    fig.savefig(dst, dpi=90)
    return 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:3]))
