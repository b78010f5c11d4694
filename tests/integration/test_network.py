#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iiosrc and iiosink on GStreamer's own network transports, between
network namespaces of the test bed (docs/network.md): the board is netns A
(10.77.0.1 towards B, 10.77.1.1 towards C), the receivers are in B
(10.77.0.2) and C (10.77.1.2), each link a veth pair
(GST_IIO_VM_MODULES=veth).

Both ends run in this process: each pipeline changes state in a thread
that entered its namespace (setns), so its sockets are created there,
while the test can look at every buffer on both sides (sim-adc's ramp,
OFFSET, DISCONT) and compare what was sent with what arrived.

Usage (in the guest, as root): test_network.py [CASE ...]
"""

import ctypes
import os
import subprocess
import threading
import time

import numpy as np

from iiotest import (Gst, Ramp, check, check_played, expect_eos, log, main,
                     pop_end, ramp_bytes, ramp_start, reset_dac,
                     set_state_bounded, stats_of, stop, write_attr)

CLONE_NEWNET = 0x40000000
LIBC = ctypes.CDLL(None, use_errno=True)
CHANNELS = (0, 1)
SAMPLE = 4                      # bytes: voltage0, voltage1 of S16LE
BOARD_B = "10.77.0.1"           # netns A on the link to B
SERVER_B = "10.77.0.2"
BOARD_C = "10.77.1.1"           # netns A on the link to C
SERVER_C = "10.77.1.2"


# ---- namespaces ------------------------------------------------------------

def sh(*argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "%s failed (%d): %s" % (" ".join(argv),
                                                      r.returncode,
                                                      r.stderr.strip()))
    return r.stdout


def setup_netns():
    """A <-veth-> B and A <-veth-> C, addresses only in the namespaces."""
    for ns in ("A", "B", "C"):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    for a_if, peer, peer_if, a_addr, p_addr in (
            ("vab", "B", "vba", BOARD_B, SERVER_B),
            ("vac", "C", "vca", BOARD_C, SERVER_C)):
        sh("ip", "link", "add", a_if, "type", "veth", "peer", "name", peer_if)
        sh("ip", "link", "set", a_if, "netns", "A")
        sh("ip", "link", "set", peer_if, "netns", peer)
        sh("ip", "-n", "A", "addr", "add", a_addr + "/24", "dev", a_if)
        sh("ip", "-n", peer, "addr", "add", p_addr + "/24", "dev", peer_if)
        sh("ip", "-n", "A", "link", "set", a_if, "up")
        sh("ip", "-n", peer, "link", "set", peer_if, "up")
        check(a_if in sh("ip", "-n", "A", "route", "get", p_addr),
              "netns A does not route %s through %s" % (p_addr, a_if))
    # the namespaces are separate: B has no route to C
    r = subprocess.run(["ip", "-n", "B", "route", "get", SERVER_C],
                       capture_output=True, timeout=30)
    check(r.returncode != 0, "netns B has a route to C's address")


def in_netns(ns, fn, *args):
    """Runs fn(*args) in a thread that entered network namespace @ns
    (threads it starts inherit it); returns its result, re-raises."""
    out, err = [], []

    def body():
        try:
            fd = os.open("/run/netns/" + ns, os.O_RDONLY)
            try:
                if LIBC.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, "setns(%s): %s" % (ns, os.strerror(e)))
            finally:
                os.close(fd)
            out.append(fn(*args))
        except BaseException as e:  # handed to the caller
            err.append(e)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if err:
        raise err[0]
    return out[0]


def start_in(ns, pipeline):
    """NULL -> PLAYING from namespace @ns."""
    def go():
        ret = set_state_bounded(pipeline, Gst.State.PLAYING)
        if ret == Gst.StateChangeReturn.FAILURE:
            msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
            err = msg.parse_error() if msg else None
            raise AssertionError("pipeline failed to start in netns %s: %s"
                                 % (ns, "%s (%s)" % (err[0].message, err[1])
                                    if err else "no error message"))
    in_netns(ns, go)


LAUNCHED = []


def launch(description):
    """The pipeline of @description; reset() sets it to NULL after the
    case, also when the case failed halfway."""
    log("  " + description)
    p = Gst.parse_launch(description)
    LAUNCHED.append(p)
    return p


# ---- recording -------------------------------------------------------------

class Seen:
    """One buffer at a probe: its ramp start, size, flags, timeline and
    the monotonic time it passed."""

    def __init__(self, buf, start, n):
        self.start = start
        self.n = n
        self.discont = buf.has_flags(Gst.BufferFlags.DISCONT)
        self.pts = buf.pts
        self.offset = buf.offset
        self.offset_end = buf.offset_end
        self.t = time.monotonic()


class Tap:
    """Records every buffer reaching @pad: the samples are checked
    against sim-adc's ramp inside the buffer (voltage1 = voltage0 + 1000,
    consecutive), the caps of the first buffer are kept. A wrong value is
    kept as the error and raised by check_ok() (not from the streaming
    thread)."""

    def __init__(self, pad, name):
        self.name = name
        self.seen = []
        self.caps = None
        self.error = None
        self.ramp = Ramp(CHANNELS)
        self.lock = threading.Lock()
        pad.add_probe(Gst.PadProbeType.BUFFER, self._probe)

    def _probe(self, pad, info):
        buf = info.get_buffer()
        data = np.frombuffer(buf.extract_dup(0, buf.get_size()),
                             dtype="<u2").reshape(-1, len(CHANNELS))
        with self.lock:
            if self.caps is None:
                self.caps = pad.get_current_caps()
            try:
                self.ramp.feed(data)
            except AssertionError as e:
                if self.error is None:
                    self.error = "%s: %s" % (self.name, e)
            self.seen.append(Seen(buf, ramp_start(data, CHANNELS),
                                  data.shape[0]))
        return Gst.PadProbeReturn.OK

    def count(self):
        with self.lock:
            return len(self.seen)

    def check_ok(self):
        check(self.error is None, self.error)
        check(self.seen, "%s: no buffer arrived" % self.name)


def wait_until(cond, what, bound_s=60):
    deadline = time.monotonic() + bound_s
    while not cond():
        check(time.monotonic() < deadline, "%s within %d s" % (what, bound_s))
        time.sleep(0.05)


def end_of(pipeline, timeout_s):
    """The next EOS or ERROR message within @timeout_s, or None."""
    return pipeline.get_bus().timed_pop_filtered(
        int(timeout_s * Gst.SECOND),
        Gst.MessageType.EOS | Gst.MessageType.ERROR)


def wait_quiet(tap, quiet_s=1.5, bound_s=30):
    """Until @tap saw no new buffer for @quiet_s (the receiver of a
    transport that does not carry EOS)."""
    deadline = time.monotonic() + bound_s
    last, since = tap.count(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        check(time.monotonic() < deadline, "%s: still receiving after %d s"
              % (tap.name, bound_s))
        time.sleep(0.1)
        n = tap.count()
        if n != last:
            last, since = n, time.monotonic()


def gaps_of(seen):
    """[(index, samples missing before seen[index])] from the ramp values
    (exact while fewer than 65536 samples go missing in a row)."""
    out = []
    for i in range(1, len(seen)):
        gap = (seen[i].start - seen[i - 1].start - seen[i - 1].n) & 0xffff
        if gap:
            out.append((i, gap))
    return out


def latency_ms(sent, received):
    """Median and max of receive time - send time over matched buffers,
    in ms (logged as a figure, never asserted)."""
    d = sorted((r.t - s.t) * 1000 for s, r in zip(sent, received))
    return d[len(d) // 2], d[-1]


def check_src_clean(src, what):
    st = stats_of(src)
    check(st["overruns"] == 0 and st["samples-lost"] == 0,
          "%s: iiosrc lost samples on the board (overruns %d, samples-lost "
          "%d): the sent stream has gaps of its own" %
          (what, st["overruns"], st["samples-lost"]))
    return st


# ---- RTP (rtpgstpay over UDP) ----------------------------------------------

RTP_RATE = 16000
RTP_BLOCK = 256                 # 1024 bytes: one RTP packet per buffer
RTP_BUFFERS = 300               # 4.8 s
# 1 s of blocks on the board and a queue after iiosrc: the test's probes
# on the sending side (Python, under TCG, on a loaded machine) must not
# make the ADC overrun
RTP_BLOCKS = 64
RTP_CAPS = ("application/x-rtp,media=application,clock-rate=90000,"
            "encoding-name=X-GST,payload=96")
RTP_LATENCY_MS = 200
RTP_DROP = 0.05
RTP_CLEAN_PACKETS = 10          # netsim drops nothing before this many


def rtp_payload_data(buf):
    """The iiosrc samples in an RTP packet of rtpgstpay, or None for a
    packet that carries an event (its payload header's ETYPE). Fails for
    a buffer split across packets (fragment offset, no marker)."""
    data = buf.extract_dup(0, buf.get_size())
    cc = data[0] & 0x0f
    marker = bool(data[1] & 0x80)
    payload = data[12 + 4 * cc:]
    etype = payload[1]
    if etype != 0:
        return None
    frag = int.from_bytes(payload[4:8], "big")
    check(frag == 0 and marker, "a buffer was split over RTP packets "
          "(fragment offset %d, marker %s): the ground truth needs one "
          "packet per buffer" % (frag, marker))
    # caps, when the packet carries them, come before the data
    return np.frombuffer(payload[-RTP_BLOCK * SAMPLE:],
                         dtype="<u2").reshape(-1, len(CHANNELS))


class RtpTap:
    """The ramp starts of the data packets crossing @pad (one packet is
    one iiosrc buffer), with the time each passed."""

    def __init__(self, pad, on_packet=None):
        self.seen = []
        self.events = 0
        self.on_packet = on_packet
        self.error = None
        pad.add_probe(Gst.PadProbeType.BUFFER, self._probe)

    def _probe(self, pad, info):
        buf = info.get_buffer()
        try:
            data = rtp_payload_data(buf)
        except AssertionError as e:
            self.error = self.error or str(e)
            return Gst.PadProbeReturn.OK
        if data is None:
            self.events += 1
        else:
            self.seen.append(Seen(buf, ramp_start(data, CHANNELS),
                                  data.shape[0]))
        if self.on_packet:
            self.on_packet(len(self.seen) + self.events)
        return Gst.PadProbeReturn.OK


def rtp_case(caps, port, drop):
    what = "rtp %s drop=%s" % (caps.split(",")[0], drop)
    write_attr("sim-adc", "sampling_frequency", 1000000)
    rx = launch(
        "udpsrc port=%d caps=\"%s\" ! rtpjitterbuffer name=jb latency=%d ! "
        "rtpgstdepay ! fakesink name=sink sync=false"
        % (port, RTP_CAPS, RTP_LATENCY_MS))
    tx = launch(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "buffer-size=%d blocks=%d num-buffers=%d "
        "attributes=sampling_frequency=%d ! "
        "%s ! queue max-size-buffers=0 max-size-bytes=0 "
        "max-size-time=2000000000 ! rtpgstpay config-interval=1 ! "
        "netsim name=net "
        "drop-probability=0 ! udpsink host=%s port=%d"
        % (RTP_BLOCK, RTP_BLOCKS, RTP_BUFFERS, RTP_RATE, caps, SERVER_B, port))
    net = tx.get_by_name("net")

    def on_packet(n):
        if n == RTP_CLEAN_PACKETS and drop:
            net.set_property("drop-probability", drop)

    into_net = RtpTap(net.get_static_pad("sink"), on_packet)
    out_of_net = RtpTap(net.get_static_pad("src"))
    sent_caps = []

    def on_event(pad, info):
        if info.get_event().type == Gst.EventType.CAPS:
            sent_caps.append(info.get_event().parse_caps())
        return Gst.PadProbeReturn.OK
    tx.get_by_name("src").get_static_pad("src").add_probe(
        Gst.PadProbeType.EVENT_DOWNSTREAM, on_event)
    tap = Tap(rx.get_by_name("sink").get_static_pad("sink"), what)

    start_in("B", rx)
    start_in("A", tx)
    expect_eos(pop_end(tx))
    st = check_src_clean(tx.get_by_name("src"), what)
    wait_quiet(tap, quiet_s=1.0 + RTP_LATENCY_MS / 1000)
    jb = rx.get_by_name("jb").get_property("stats")
    stop(tx)
    stop(rx)
    tap.check_ok()
    check(into_net.error is None, into_net.error)

    # what the board sent: every iiosrc buffer, one RTP packet each
    sent = into_net.seen
    check(len(sent) == RTP_BUFFERS == st["buffers"],
          "%d data packets entered netsim for %d iiosrc buffers"
          % (len(sent), st["buffers"]))
    check(gaps_of(sent) == [] and sent[0].start == 0,
          "the board's own packets are not the contiguous ramp from 0")
    passed = out_of_net.seen
    got = tap.seen
    dropped = len(sent) - len(passed)
    gaps = gaps_of(got)
    disconts = [i for i, s in enumerate(got) if s.discont]
    med, worst = latency_ms(passed, got)
    log("%s: sent %d buffers, netsim passed %d (%d dropped, %d event "
        "packets), received %d; gaps (index, samples) %s; DISCONT at %s; "
        "latency median %.0f ms, max %.0f ms; jitterbuffer %s" %
        (what, len(sent), len(passed), dropped, into_net.events, len(got),
         gaps[:12], disconts[:12], med, worst,
         jb.to_string() if jb else None))
    log("%s: sent caps %s; received caps %s" %
        (what, sent_caps[0].to_string(), tap.caps.to_string()))

    # the caps arrive as the board sent them (rtpgstpay carries them)
    check(tap.caps.is_equal(sent_caps[0]), "caps changed on the way: "
          "sent %s, received %s" % (sent_caps[0].to_string(),
                                    tap.caps.to_string()))
    # exactly the buffers that left the board's netsim arrived, in order
    # (the ramp values inside each buffer were checked by the tap)
    check([s.start for s in got] == [s.start for s in passed],
          "%s: received %d buffers, netsim let %d through: a buffer was "
          "lost (or invented) outside netsim" % (what, len(got), len(passed)))
    # every loss is visible: before each buffer that follows buffers
    # netsim dropped, a gap in the ramp of exactly their samples, and
    # that buffer is DISCONT; no gap and no DISCONT anywhere else
    idx, j = [], 0
    for g in got:
        while j < len(sent) and sent[j].start != g.start:
            j += 1
        check(j < len(sent), "received buffer at ramp %d was never sent"
              % g.start)
        idx.append(j)
        j += 1
    want = [(i, (idx[i] - idx[i - 1] - 1) * RTP_BLOCK)
            for i in range(1, len(got)) if idx[i] - idx[i - 1] > 1]
    check(gaps == want, "%s: gaps (index, samples) at the receiver %s, "
          "netsim dropped %s" % (what, gaps[:12], want[:12]))
    check(disconts in ([i for i, _ in gaps], [0] + [i for i, _ in gaps]),
          "%s: DISCONT at %s, gaps at %s" % (what, disconts[:20],
                                            [i for i, _ in gaps][:20]))
    check(got[0].start == 0, "%s: the first buffer received starts at "
          "ramp sample %d, not 0" % (what, got[0].start))
    if drop:
        check(dropped > 0 and gaps, "netsim dropped %d packets, the "
              "receiver saw %d gaps: nothing tested" % (dropped, len(gaps)))
    else:
        check(dropped == 0 and len(got) == RTP_BUFFERS and not gaps,
              "%s: %d of %d buffers received, gaps %s" %
              (what, len(got), RTP_BUFFERS, gaps[:10]))
    # rtpjitterbuffer counts the same losses (in packets), but for those
    # after the last packet that arrived: nothing can see those
    trailing = len(sent) - 1 - idx[-1]
    seen_lost = sum(g for _, g in gaps) // RTP_BLOCK
    check(seen_lost + trailing == dropped, "%s: %d buffers missing in "
          "gaps, %d after the last one received, netsim dropped %d"
          % (what, seen_lost, trailing, dropped))
    ok, lost = jb.get_uint64("num-lost")
    check(ok and lost == seen_lost, "%s: rtpjitterbuffer num-lost %s, "
          "the gaps hold %d packets" % (what, lost, seen_lost))
    log("%s: %d dropped packets seen as gaps, %d dropped at the end"
        % (what, seen_lost, trailing))
    pts = [s.pts for s in got]
    check(all(b > a for a, b in zip(pts, pts[1:])),
          "%s: PTS not increasing at the receiver" % what)


def case_rtp_exact():
    """application/x-iio over rtpgstpay/UDP, nothing dropped: every
    buffer arrives with the exact ramp and the caps the board sent."""
    rtp_case("application/x-iio", 5004, 0)


def case_rtp_loss():
    """audio/x-raw over rtpgstpay/UDP through netsim dropping 5 % of the
    packets: each loss is a DISCONT buffer after a ramp gap of exactly
    the dropped buffers, everything received is exact."""
    rtp_case("audio/x-raw", 5006, RTP_DROP)


# ---- SRT into the DAC --------------------------------------------------------

SRT_RATE = 100000
SRT_BLOCK = 4096
SRT_BUFFERS = 100               # 4.1 s
SRT_PORT = 7001
# 500 ms of SRT latency, and no too-late packet drop on either side: a
# test bed under TCG stalls for longer than SRT's default 125 ms, and a
# packet SRT gave up on would be a hole in the GDP stream
SRT_OPTIONS = "latency=500&tlpktdrop=0"


def case_srt_dac():
    """Board iiosrc -> gdppay -> srtsink (caller) in A, server srtsrc
    (listener) -> gdpdepay -> iiosink on sim-dac in B: the DAC plays the
    exact ramp (checksum), caps and OFFSET arrive intact, EOS crosses."""
    what = "srt"
    reset_dac(SRT_RATE)
    rx = launch(
        "srtsrc name=srt uri=\"srt://:%d?mode=listener&%s\" ! gdpdepay ! "
        "iiosink name=sink device=sim-dac" % (SRT_PORT, SRT_OPTIONS))
    tx = launch(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "buffer-size=%d blocks=%d num-buffers=%d "
        "attributes=sampling_frequency=%d ! "
        "gdppay ! srtsink name=srt uri=\"srt://%s:%d?%s\""
        % (SRT_BLOCK, 16, SRT_BUFFERS, SRT_RATE, SERVER_B, SRT_PORT,
           SRT_OPTIONS))
    sent = Tap(tx.get_by_name("src").get_static_pad("src"), "board")
    got = Tap(rx.get_by_name("sink").get_static_pad("sink"), "server")
    start_in("B", rx)
    start_in("A", tx)
    expect_eos(pop_end(tx))
    # gdppay does not put EOS on the wire: the server's stream ends when
    # the board closes the connection (as gst-launch-1.0 does at EOS),
    # once everything it sent has arrived
    wait_until(lambda: got.count() == sent.count(),
               "srt: %d buffers sent reached iiosink" % sent.count(), 30)
    log("srt: board stats %s" %
        tx.get_by_name("srt").get_property("stats").to_string())
    st = check_src_clean(tx.get_by_name("src"), what)
    stop(tx)
    end = end_of(rx, 30)
    log("srt: server stats %s; %d of %d buffers at iiosink" %
        (rx.get_by_name("srt").get_property("stats").to_string(),
         got.count(), sent.count()))
    check(end is not None, "srt: no EOS at the server within 30 s of the "
          "board closing the connection")
    expect_eos(end)
    sst = stats_of(rx.get_by_name("sink"))
    stop(rx)
    sent.check_ok()
    got.check_ok()
    med, worst = latency_ms(sent.seen, got.seen)
    log("srt: sent %d buffers, received %d, latency (iiosrc pad to iiosink "
        "pad) median %.0f ms, max %.0f ms; sink stats %s" %
        (len(sent.seen), len(got.seen), med, worst, sst))
    log("srt: caps at iiosink %s" % got.caps.to_string())

    check(st["buffers"] == SRT_BUFFERS, "iiosrc sent %d buffers"
          % st["buffers"])
    check(got.caps.is_equal(sent.caps), "caps changed: sent %s, received "
          "%s" % (sent.caps.to_string(), got.caps.to_string()))
    check([(s.offset, s.offset_end, s.pts) for s in got.seen] ==
          [(s.offset, s.offset_end, s.pts) for s in sent.seen],
          "OFFSET/PTS at the server differ from the board's")
    check(got.ramp.gaps == [], "gaps at the server: %s" % got.ramp.gaps[:10])
    check_played(ramp_bytes(SRT_BLOCK * SRT_BUFFERS), what)
    reset_dac()


# ---- fan-out: gdppay ! tcpserversink ----------------------------------------

TCP_RATE = 50000
TCP_BLOCK = 1024
TCP_BUFFERS = 200               # 4.1 s
TCP_PORT = 7002


def case_tcp_fanout():
    """One board stream to three receivers over tcpserversink: two in B
    connected before the stream starts get every buffer, one in C joining
    halfway gets a contiguous exact tail; caps and OFFSET intact."""
    what = "tcp"
    write_attr("sim-adc", "sampling_frequency", 1000000)
    tx = launch(
        "iiosrc name=src device=sim-adc channels=voltage0,voltage1 "
        "buffer-size=%d blocks=%d num-buffers=%d "
        "attributes=sampling_frequency=%d ! "
        "application/x-iio ! gdppay ! tcpserversink name=server host=0.0.0.0 "
        "port=%d" % (TCP_BLOCK, 32, TCP_BUFFERS, TCP_RATE, TCP_PORT))
    sent = Tap(tx.get_by_name("src").get_static_pad("src"), "board")

    def receiver(name, host):
        p = launch("tcpclientsrc host=%s port=%d ! gdpdepay ! "
                   "fakesink name=sink sync=false" % (host, TCP_PORT))
        return p, Tap(p.get_by_name("sink").get_static_pad("sink"), name)

    rxs = [receiver("B1", BOARD_B), receiver("B2", BOARD_B)]
    # the server listens from PAUSED; the live iiosrc streams from PLAYING
    def pause():
        set_state_bounded(tx, Gst.State.PAUSED)
    in_netns("A", pause)
    for p, _ in rxs:
        start_in("B", p)
    server = tx.get_by_name("server")
    wait_until(lambda: server.get_property("num-handles") == 2,
               "two receivers connected")
    start_in("A", tx)
    wait_until(lambda: sent.count() >= TCP_BUFFERS // 2, "half the stream")
    late = receiver("C1", BOARD_C)
    start_in("C", late[0])
    rxs.append(late)
    expect_eos(pop_end(tx))
    check_src_clean(tx.get_by_name("src"), what)
    # no EOS on the wire (gdppay): the receivers end when the server
    # closes their connections, once the last buffer reached them
    last = sent.seen[-1].offset
    for p, tap in rxs:
        wait_until(lambda: tap.count() and tap.seen[-1].offset == last,
                   "tcp %s: the last buffer arrived" % tap.name, 30)
    stop(tx)
    for p, tap in rxs:
        end = end_of(p, 20)
        check(end is not None, "tcp %s: no EOS within 20 s of the server "
              "closing" % tap.name)
        expect_eos(end)
        stop(p)
    sent.check_ok()
    whole = [(s.offset, s.offset_end, s.pts) for s in sent.seen]
    check(len(whole) == TCP_BUFFERS and sent.ramp.gaps == [],
          "the board sent %d buffers, gaps %s" % (len(whole),
                                                  sent.ramp.gaps[:5]))
    for p, tap in rxs:
        tap.check_ok()
        mine = [(s.offset, s.offset_end, s.pts) for s in tap.seen]
        k = len(whole) - len(mine)
        med, worst = latency_ms(sent.seen[k:], tap.seen)
        log("tcp %s: %d buffers from offset %d, latency median %.0f ms, "
            "max %.0f ms" % (tap.name, len(mine), mine[0][0], med, worst))
        check(tap.caps.is_equal(sent.caps), "%s: caps %s, sent %s" %
              (tap.name, tap.caps.to_string(), sent.caps.to_string()))
        check(k >= 0 and mine == whole[k:], "%s: the %d buffers received "
              "are not the last %d the board sent (OFFSET/PTS)" %
              (tap.name, len(mine), len(mine)))
        check(tap.ramp.gaps == [], "%s: gaps %s" % (tap.name,
                                                   tap.ramp.gaps[:5]))
        check(all(s.start == s.offset & 0xffff for s in tap.seen),
              "%s: ramp values do not match OFFSET" % tap.name)
        if tap.name.startswith("B"):
            check(k == 0, "%s: connected before the stream, missed its "
                  "first %d buffers" % (tap.name, k))
        else:
            check(k > 0, "%s: joined halfway, yet got the whole stream"
                  % tap.name)


def reset():
    while LAUNCHED:
        LAUNCHED.pop().set_state(Gst.State.NULL)
    write_attr("sim-adc", "sampling_frequency", 1000000)
    reset_dac()


CASES = {
    "test_rtp_exact": case_rtp_exact,
    "test_rtp_loss": case_rtp_loss,
    "test_srt_dac": case_srt_dac,
    "test_tcp_fanout": case_tcp_fanout,
}

if __name__ == "__main__":
    setup_netns()
    main(cases=CASES, after_each=reset)
