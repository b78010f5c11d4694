#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The test bed boots with the simulator loaded: libiio's iio_info in the
# guest lists sim-adc, sim-dac and sim-kfifo with their channels.
# Usage: selftest-iio-info.sh [BUILD_DIR]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-build}

out=$("$HERE/run" --build "$BUILD" --timeout 300 -- iio_info -u local:)
printf '%s\n' "$out"
fail=0
expect() {
  if grep -qE "$1" <<<"$out"; then echo "ok: $2"; else echo "FAIL: $2 (no line matching '$1')"; fail=1; fi
}
expect '^[[:space:]]*iio:device[0-9]+: sim-adc( |$)' "sim-adc listed"
expect '^[[:space:]]*iio:device[0-9]+: sim-dac( |$)' "sim-dac listed"
expect '^[[:space:]]*iio:device[0-9]+: sim-kfifo( |$)' "sim-kfifo listed"
expect 'voltage3: +\(input, index: 3, format: le:S16/16>>0\)' "sim-adc voltage3 is an le:S16/16>>0 input"
expect 'voltage1: +\(output, index: 1, format: le:S16/16>>0\)' "sim-dac voltage1 is an le:S16/16>>0 output"
exit $fail
