#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# libiio's tools against the simulated devices, inside the test bed:
#
#   libiio-check.sh TESTBED_CHECK CASE...
#     iio-info        iio_info -u local: lists sim-adc, sim-dac and sim-kfifo
#     readdev-local   iio_readdev -u local: reads the exact ramp of sim-adc
#     readdev-iiod    the same through iiod on ip:127.0.0.1
#
# TESTBED_CHECK is the testbed-check program (its verify-ramp mode checks
# the bytes). Prints "PASS case" / "FAIL case: why" and "N passed, N failed".
set -u

CHECK=${1:?usage: libiio-check.sh TESTBED_CHECK CASE...}
shift
[ $# -gt 0 ] || { echo "usage: libiio-check.sh TESTBED_CHECK CASE..." >&2; exit 2; }
WORK=$(mktemp -d)
IIOD_PID=
passed=0
failed=0

# iiod 0.24 takes tens of seconds to exit on SIGTERM: give it 2 s, then KILL
stop_iiod() {
  [ -n "$IIOD_PID" ] || return 0
  kill "$IIOD_PID" 2>/dev/null
  n=0
  while kill -0 "$IIOD_PID" 2>/dev/null && [ $n -lt 20 ]; do sleep 0.1; n=$((n + 1)); done
  kill -KILL "$IIOD_PID" 2>/dev/null
  wait "$IIOD_PID" 2>/dev/null
  IIOD_PID=
}

cleanup() {
  stop_iiod
  rm -rf "$WORK"
}
trap cleanup EXIT

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

sysdir_of() {
  for d in /sys/bus/iio/devices/iio:device*; do
    [ "$(cat "$d/name" 2>/dev/null)" = "$1" ] && { echo "$d"; return 0; }
  done
  return 1
}

need() {
  command -v "$1" >/dev/null || { fail "$2" "$1 is not installed (package libiio-utils or iiod)"; return 1; }
}

case_iio_info() {
  need iio_info iio-info || return
  if ! iio_info -u local: >"$WORK/info" 2>"$WORK/err"; then
    fail iio-info "iio_info -u local: failed: $(tail -n 3 "$WORK/err")"
    return
  fi
  for dev in sim-adc sim-dac sim-kfifo; do
    grep -q "iio:device[0-9]*: $dev " "$WORK/info" || {
      fail iio-info "iio_info -u local: does not list $dev"; return; }
  done
  grep -q "voltage3: .*(input, index: 3, format: le:S16/16>>0)" "$WORK/info" || {
    fail iio-info "sim-adc's voltage3 is not listed as le:S16/16>>0 input"; return; }
  pass iio-info
}

# readdev NAME URI: 1024 sets of the 4-channel ramp from n = 0
readdev() {
  need iio_readdev "$1" || return
  adc=$(sysdir_of sim-adc) || { fail "$1" "no sim-adc in /sys/bus/iio/devices"; return; }
  # rate 0: the device never runs ahead of the reader, the ramp is exact
  echo 0 >"$adc/sampling_frequency" || { fail "$1" "cannot set sampling_frequency"; return; }
  if ! timeout 60 iio_readdev -u "$2" -b 256 -s 1024 sim-adc >"$WORK/data" 2>"$WORK/err"; then
    fail "$1" "iio_readdev -u $2 failed: $(tail -n 3 "$WORK/err")"
    return
  fi
  if ! "$CHECK" verify-ramp 4 1024 <"$WORK/data" >"$WORK/out"; then
    fail "$1" "$(sed 's/^FAIL verify-ramp: //' "$WORK/out")"
    return
  fi
  pass "$1"
}

case_readdev_iiod() {
  need iiod readdev-iiod || return
  need iio_info readdev-iiod || return
  iiod >"$WORK/iiod.log" 2>&1 &
  IIOD_PID=$!
  i=0
  until iio_info -u ip:127.0.0.1 >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$IIOD_PID" 2>/dev/null; then
      fail readdev-iiod "iiod did not answer on ip:127.0.0.1 within 10 s: $(tail -n 3 "$WORK/iiod.log")"
      return
    fi
    sleep 0.1
  done
  readdev readdev-iiod ip:127.0.0.1
  stop_iiod
}

for c in "$@"; do
  case $c in
    iio-info) case_iio_info ;;
    readdev-local) readdev readdev-local local: ;;
    readdev-iiod) case_readdev_iiod ;;
    *) echo "libiio-check.sh: unknown case '$c' (valid: iio-info, readdev-local, readdev-iiod)" >&2; exit 2 ;;
  esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
