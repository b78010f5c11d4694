#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The contract of tests/vm/run, checked with one boot: exit code, argument
# quoting, stdout bytes as written and apart from stderr, the build dir
# writable at its host path, /tmp writable without touching the host's,
# the root read-only, the environment (GST_PLUGIN_PATH, GST_REGISTRY, HOME,
# GST_IIO_VM, pass-through of GST_DEBUG/GST_IIO_*), cwd, lo up, the DMABUF
# allocators and the modules present.
# Usage: selftest-run.sh [BUILD_DIR]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$(cd "${1:-build}" && pwd -P) || { echo "FAIL: no build dir '${1:-build}'"; exit 1; }
WORK=$BUILD/testbed-selftest
rm -rf "$WORK"; mkdir -p "$WORK"
cd "$WORK" || exit 1
HOST_TMP=/tmp/gst-iio-selftest-$$
rm -f "$HOST_TMP"

# Checks that need the guest write "ok: ..." or "FAIL: ..." lines into
# report (through the writable build share).
GUEST='
r=report
t() { if eval "$1"; then echo "ok: $2" >> $r; else echo "FAIL: $2" >> $r; fi; }
t "[ \"\$(pwd -P)\" = \"$WANT_CWD\" ]" "cwd is the host cwd ($WANT_CWD, got $(pwd -P))"
t "[ \"\$GST_IIO_VM\" = 1 ]" "GST_IIO_VM=1"
t "[ \"\$HOME\" = /tmp ]" "HOME=/tmp"
t "[ \"\$GST_REGISTRY\" = \"$WANT_BUILD/vm-gst-registry.bin\" ] && [ -w \"$WANT_BUILD\" ]" "GST_REGISTRY in the writable build dir (got $GST_REGISTRY)"
t "[ \"\$GST_PLUGIN_PATH\" = \"$WANT_BUILD/ext:$WANT_BUILD/gst\" ]" "GST_PLUGIN_PATH is the build dir plugins (got $GST_PLUGIN_PATH)"
t "[ \"\$GST_DEBUG\" = \"iio*:5\" ]" "GST_DEBUG passed through"
t "[ \"\$GST_IIO_SELFTEST\" = \"a b\" ]" "GST_IIO_* passed through"
t "[ -z \"\${SELFTEST_PRIVATE+x}\" ]" "other host variables are not passed"
t "[ -c /dev/dma_heap/system ]" "/dev/dma_heap/system exists"
t "[ -c /dev/udmabuf ]" "/dev/udmabuf exists"
t "[ \$(( \$(cat /sys/class/net/lo/flags) & 1 )) = 1 ]" "lo is up"
t "grep -q \"^industrialio_buffer_dma \" /proc/modules" "industrialio-buffer-dma loaded"
t "grep -q \"^iio_sim \" /proc/modules" "iio-sim loaded"
t "echo x > /tmp/gst-iio-selftest-$HOST_PID && [ \"\$(cat /tmp/gst-iio-selftest-$HOST_PID)\" = x ]" "/tmp is writable"
t "! touch /usr/gst-iio-selftest 2>/dev/null" "the host root is read-only"
t "[ -d /proc/self ] && [ -d /sys/bus/iio ]" "/proc and /sys are mounted"
t "grep -q \" /dev/shm tmpfs \" /proc/mounts && grep -q \" /dev/pts devpts \" /proc/mounts" "/dev/shm and /dev/pts are mounted"
printf "%s\0" "$@"
printf "\000\001\r\n\377"
echo to-stderr >&2
exit 7
'

export GST_DEBUG='iio*:5' GST_IIO_SELFTEST='a b' SELFTEST_PRIVATE=1
"$HERE/run" --build "$BUILD" --timeout 300 -- env WANT_CWD="$WORK" WANT_BUILD="$BUILD" HOST_PID=$$ \
  bash -c "$GUEST" guest 'a b' "it's" '$HOME' $'new\nline' '' '*' >"$WORK/stdout" 2>"$WORK/stderr"
rc=$?
cat "$WORK/stderr"
[ -f "$WORK/report" ] && cat "$WORK/report"

fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
check '[ "$rc" = 7 ]' "the command's exit code is returned (got $rc)"
check '[ -f "$WORK/report" ]' "the guest wrote into the build dir at its host path"
check '! grep -q "^FAIL" "$WORK/report" 2>/dev/null' "every guest-side check passed"
check '[ "$(grep -c "^ok" "$WORK/report" 2>/dev/null)" = 17 ]' "17 guest-side checks ran"
expected=$( { printf '%s\0' 'a b' "it's" '$HOME' $'new\nline' '' '*'; printf '\000\001\r\n\377'; } | od -An -tx1 | tr -d ' \n')
got=$(od -An -tx1 < "$WORK/stdout" | tr -d ' \n')
check '[ "$got" = "$expected" ]' "stdout is byte-exact: the arguments with quoting intact, then binary bytes"
check 'grep -qx to-stderr "$WORK/stderr"' "the command's stderr arrives on stderr"
check '[ ! -e "$HOST_TMP" ]' "the guest's /tmp writes do not reach the host"
[ "$fail" = 0 ] && rm -rf "$WORK"
exit $fail
