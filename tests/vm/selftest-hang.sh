#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A guest that never finishes is killed at the bound tests/vm/run prints,
# and the run fails with 125 and says so.
# Usage: selftest-hang.sh [BUILD_DIR]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-build}

out=$(GST_IIO_VM_TIMEOUT=30 "$HERE/run" --build "$BUILD" -- sleep 100000 2>&1)
rc=$?
printf '%s\n' "$out"
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
check '[ "$rc" = 125 ]' "tests/vm/run exits 125 for a hung guest (got $rc)"
check 'grep -q "guest bound 30 s" <<<"$out"' "GST_IIO_VM_TIMEOUT sets the printed bound"
check 'grep -q "did not finish within the bound of 30 s" <<<"$out"' "the verdict names the hang and the bound"
exit $fail
