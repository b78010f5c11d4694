#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A kernel call trace that does not panic (here sysrq's backtrace of all
# CPUs, standing in for a WARN) still fails tests/vm/run, with the log
# shown, even though the command itself succeeds.
# Usage: selftest-warn.sh [BUILD_DIR]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-build}

out=$("$HERE/run" --build "$BUILD" --timeout 120 -- \
  bash -c 'echo 1 > /proc/sys/kernel/sysrq; echo l > /proc/sysrq-trigger; echo command-finished' 2>&1)
rc=$?
printf '%s\n' "$out"
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
check 'grep -q "^command-finished" <<<"$out"' "the command ran to its end"
check '[ "$rc" = 125 ]' "tests/vm/run exits 125 after a kernel call trace (got $rc)"
check 'grep -q "FAILED: the guest kernel reported a warning or bug" <<<"$out"' "the verdict names the kernel warning"
check 'grep -q "Call Trace:" <<<"$out"' "the kernel log is shown"
exit $fail
