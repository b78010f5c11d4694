#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A guest kernel crash makes tests/vm/run fail with 125 and say so, instead
# of hanging: crash the kernel through sysrq and check the verdict.
# Usage: selftest-oops.sh [BUILD_DIR]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-build}

out=$("$HERE/run" --build "$BUILD" --timeout 120 -- \
  bash -c 'echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger; sleep 5; echo survived' 2>&1)
rc=$?
printf '%s\n' "$out"
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
check '[ "$rc" = 125 ]' "tests/vm/run exits 125 after a guest crash (got $rc)"
check 'grep -q "guest bound 120 s" <<<"$out"' "the bound is printed at start"
check 'grep -q "FAILED: the guest kernel crashed" <<<"$out"' "the verdict names the crash"
check 'grep -q "Kernel panic" <<<"$out"' "the kernel's panic message is shown"
check '! grep -q "^survived" <<<"$out"' "the command did not go on after the crash"
exit $fail
