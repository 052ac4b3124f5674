"""ORP v2 asset client: creates the resources on start and after every SYNC, pushes buffered
readings one request at a time with timeout, retransmit and backoff, and answers the edge's
handler calls, sensor polls and SYNCs (issue 3, "ORP asset client"; octave-platform.md §C)."""

from time import ticks_add, ticks_diff, ticks_ms

import orp

# Names cost heap on a small board (each is interned), so the few constants are literals:
# resource states 0 new, 1 made (an output still needs its handler), 2 ready, 3 failed;
# packet types 0x50 P push, 0x48 H add handler, 0x4F O create output, 0x42 B boolean;
# statuses 0x40 OK, 0x41 NOT_FOUND, 0x4E DUPLICATE, and these to try later: no memory, comm
# error, timeout, would block, deadlock, busy, io error, unavailable
RETRY = b"DGHKLQSU"
MTU = 256  # largest payload either way: the board's packets are short, and the heap is small


class Client:
    def __init__(self, link, clock, ring, cfg, app):
        self.link = link
        self.clock = clock
        self.ring = ring
        self.app = app
        self.feed = app.b.feed  # the board's watchdog
        self.enc = orp.Encoder(MTU)
        self.dfr = orp.Deframer(MTU)
        self.rx = bytearray(64)
        self.paths = []
        self.kinds = bytearray()
        self.types = bytearray()
        self.units = []
        self.state = bytearray()
        self.latest = []
        self.dirty = bytearray()
        self.timeout = int(cfg["timeout"] * 1000)
        self.backoff = int(cfg["backoff"] * 1000)
        self.poll = cfg["poll_ms"]
        self.pre = cfg["preamble"]
        self.seq = 0
        self.op = 0  # type byte of the outstanding request, 0 when none
        self.pidx = 0
        self.pseq = 0
        self.pring = False
        self.deadline = self.sent_at = 0
        self.tries = 0
        self.later = 0
        self.hold = ticks_ms()
        self.fs = 0  # 0 outside a frame, 1 just after a flag, 2 inside (Ctrl-C detection)
        self.rx_at = self.hold
        self.running = True
        self.up = False
        self.sent = self.timeouts = self.stale = self.bad = self.rejected = self.failed = 0

    def add(self, path, kind, flag, units=None):
        """Declare a resource (kind b'I', b'O' or b'S'); returns its index."""
        self.paths.append(path.encode())
        self.kinds.append(ord(kind))
        self.types.append(ord(flag))
        self.units.append(units.encode() if units else None)
        self.state.append(0)
        self.latest.append(None)
        self.dirty.append(0)
        return len(self.paths) - 1

    def set_latest(self, i, value):
        """A state-like value: only its latest is kept and pushed (not buffered in the ring)."""
        self.latest[i] = value
        self.dirty[i] = 1

    async def run(self):
        import asyncio

        while self.running:
            self._rx()
            now = ticks_ms()
            if self.op:
                if ticks_diff(now, self.deadline) >= 0:
                    self.timeouts += 1
                    self.tries += 1
                    self.up = self.tries < 3
                    self._send(now)
            elif ticks_diff(now, self.hold) >= 0:
                self._next(now)
            self.feed()
            # an answer usually comes within a few ms: yield only, then poll each ms, then idle
            if not self.op:
                await asyncio.sleep_ms(self.poll)
            else:
                await asyncio.sleep_ms(0 if ticks_diff(now, self.sent_at) < 5 else 1)

    def _rx(self):
        lnk = self.link
        buf = self.rx
        while self.running:
            n = lnk.readinto(buf)
            if not n:
                break
            now = ticks_ms()
            if self.fs == 2 and ticks_diff(now, self.rx_at) > 200:
                self.fs = 0  # a frame cut off long ago
            self.rx_at = now
            for i in range(n):
                b = buf[i]
                if b == 0x7E:
                    self.fs = 1
                elif self.fs == 1:
                    self.fs = 2 if 0x3F <= b <= 0x7A else 0  # a packet type starts a frame
                if b == 3 and self.fs == 0 and lnk.repl:
                    self.running = False  # Ctrl-C outside a frame: give the REPL back
                    return
                m = self.dfr.feed_n(b)
                if m:
                    try:
                        self._frame(self.dfr.buf, m)
                    except MemoryError:
                        self.bad += 1  # dropped and counted; the edge asks again
        if lnk.eof:
            self.running = False

    def _frame(self, mv, n):
        self.up = True
        if n == 4 and self.op and mv[0] == self.op | 0x20:  # the awaited bare response
            self._done(mv[1], mv[2] << 8 | mv[3])
            return
        try:
            t, f, seq, fields = orp.parse(mv, n)
        except orp.OrpError:
            self.bad += 1
            return
        if t == 0x59:  # Y: SYNC
            self._sync(seq, fields)
        elif t == 0x63 or t == 0x62:  # c: handler call, b: sensor poll
            try:
                i = self.paths.index(fields["P"])
            except ValueError:
                i = -1
            if t == 0x63:
                st = self.app.call(i, fields.get("D")) if i >= 0 else 0x41
            else:
                st = self.app.poll(i) if i >= 0 else 0x41
            self._write(self.enc.build(t & 0xDF, st, seq))
        elif self.op and t == self.op | 0x20:
            self._done(f, seq)
        else:
            self.stale += 1

    def _sync(self, seq, fields):
        if fields and "T" in fields and not self.clock.ok:
            sec, us = orp.parse_ts(fields["T"])
            self.clock.set(sec, us)
            self.app.b.set_clock(sec, us)
        ex = (("S", self.sent), ("R", self.dfr.frames), ("M", MTU))
        self._write(self.enc.build(0x79, 0x31, seq, extra=ex))
        # ORP resources are volatile on the edge: create every one again, then push
        for i in range(len(self.state)):
            self.state[i] = 0
            if self.latest[i] is not None:
                self.dirty[i] = 1
        if self.op == 0x50 and not self.pring:
            self.dirty[self.pidx] = 1
        self.op = self.tries = self.later = 0
        self.ring.busy = False
        self.hold = ticks_ms()

    def _done(self, status, seq):
        if seq != self.pseq:
            self.stale += 1
            return
        op = self.op
        i = self.pidx
        self.op = self.tries = 0
        self.up = True
        # NO_MEMORY on a create means a full table: no use asking again before the next SYNC
        retry = status in RETRY and (op == 0x50 or status != 0x44)
        if status == 0x40 or (status == 0x4E and op != 0x50):
            self.later = 0
            if op == 0x50:
                if self.pring:
                    self.ring.pop()
            else:
                self.state[i] = 1 if op == 0x4F else 2
            return
        if op == 0x50 and not self.pring and (retry or status == 0x41):
            self.dirty[i] = 1
        if status == 0x41 and (op == 0x50 or op == 0x48):
            self.state[i] = 0  # the edge lost it: recreate, then push again
            self.ring.busy = False
        elif retry:
            self.later = min(self.later + 1, 16)
            self.hold = ticks_add(ticks_ms(), min(self.timeout << self.later, self.backoff))
            self.ring.busy = False
        else:
            self._refused(op, i)

    def _refused(self, op, i):
        """A request that will never succeed: a push is dropped and counted, a resource fails alone."""
        if op == 0x50:
            self.rejected += 1
            if self.pring:
                self.ring.pop()
        else:
            self.state[i] = 3
            self.failed += 1

    def _next(self, now):
        st = self.state
        for i in range(len(st)):
            if st[i] == 0:
                return self._start(self.kinds[i], i, False, now)
            if st[i] == 1:
                return self._start(0x48, i, False, now)
        for i in range(len(st)):
            if self.dirty[i] and st[i] == 2:
                self.dirty[i] = 0
                return self._start(0x50, i, False, now)
        ring = self.ring
        while ring.n:
            i = ring.res[ring.head]
            if st[i] == 2:
                ring.busy = True
                return self._start(0x50, i, True, now)
            ring.pop()  # its resource failed to be created
            self.rejected += 1

    def _start(self, op, i, ring, now):
        self.seq = (self.seq + 1) & 0xFFFF
        self.op = op
        self.pidx = i
        self.pseq = self.seq
        self.pring = ring
        self.tries = 0
        self._send(now)

    def _send(self, now):
        """(Re)transmit the outstanding request with its sequence number."""
        self.sent_at = now
        op = self.op
        i = self.pidx
        enc = self.enc
        self.deadline = ticks_add(now, min(self.timeout << min(self.tries, 16), self.backoff))
        try:
            if op == 0x50:
                n = self._push(i)
            elif op == 0x48:
                n = enc.build(op, 0x20, self.pseq, self.paths[i])
            else:
                n = enc.build(op, self.types[i], self.pseq, self.paths[i], units=self.units[i])
        except orp.OrpError:  # too big for a frame
            self.op = 0
            self._refused(op, i)
            return
        self._write(n)

    def _push(self, i):
        c = self.clock
        if self.pring:
            r = self.ring
            h = r.head
            v = r.val[h]
            known = c.wall(r.sec[h], r.ms[h])
        else:
            v = self.latest[i]
            c.tick()
            known = c.wall(c.s, c.ms)
        if self.types[i] == 0x42:
            v = b"1" if v else b"0"
        return self.enc.build(0x50, self.types[i], self.pseq, self.paths[i], c.ts if known else None, c.us, None, v)

    def _write(self, n):
        # the frame is self.enc.out[:n]; streams take a length, so nothing is allocated
        try:
            if self.pre:
                self.link.write(b"~~")
            self.link.write(self.enc.out, n)
            self.sent += 1
        except OSError:
            self.bad += 1  # a link error: the timeout retransmits
