#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A g_warning or g_critical in a command's output fails tests/vm/run (exit
# 125, the lines shown) even though the command itself succeeds; GST_DEBUG
# lines at level WARN do not.
# Usage: selftest-glib-warn.sh [BUILD_DIR]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-build}

# Real GLib messages through GLib's default handler (g_log), after real
# GST_DEBUG "WARN" lines (a missing file at debug level 2).
out=$("$HERE/run" --build "$BUILD" --timeout 120 -- \
  /usr/bin/python3 -c '
import ctypes, sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
Gst.debug_set_threshold_from_string("*:2", True)
p = Gst.parse_launch("filesrc location=/nonexistent-gst-iio ! fakesink")
p.set_state(Gst.State.PAUSED)
p.set_state(Gst.State.NULL)
glib = ctypes.CDLL("libglib-2.0.so.0")
glib.g_log(b"GLib-GObject", 1 << 4, b"%s", b"selftest g_warning")
glib.g_log(b"GStreamer", 1 << 3, b"%s", b"selftest g_critical")
print("command-finished")
sys.exit(0)' 2>&1)
rc=$?
printf '%s\n' "$out"
# The same debug output without a GLib message passes.
out2=$("$HERE/run" --build "$BUILD" --timeout 120 -- \
  /usr/bin/python3 -c '
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
Gst.debug_set_threshold_from_string("*:2", True)
p = Gst.parse_launch("filesrc location=/nonexistent-gst-iio ! fakesink")
p.set_state(Gst.State.PAUSED)
p.set_state(Gst.State.NULL)
print("command-finished")' 2>&1)
rc2=$?
printf '%s\n' "$out2"
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
check 'grep -q "^command-finished" <<<"$out"' "the command ran to its end"
check '[ "$rc" = 125 ]' "tests/vm/run exits 125 after a g_warning/g_critical (got $rc)"
check 'grep -q "FAILED: the command printed a GLib/GStreamer CRITICAL or WARNING" <<<"$out"' "the verdict names the GLib message"
# PyGObject turns GLib-GObject warnings into Python warnings.
check 'grep -q ": Warning: selftest g_warning" <<<"$out"' "the g_warning line is shown"
check 'grep -q "GStreamer-CRITICAL \*\*: .*selftest g_critical" <<<"$out"' "the g_critical line is shown"
check 'grep -q "WARN.*gst_file_src_start" <<<"$out2"' "GST_DEBUG printed WARN lines in the second run"
check '[ "$rc2" = 0 ]' "GST_DEBUG WARN lines alone do not fail the run (got $rc2)"
exit $fail
