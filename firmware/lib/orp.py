"""ORP v2 codec for the board: HDLC framing, CRC-16/CCITT-FALSE and packets, on preallocated buffers.

The same contract as the host codec (docs/orp.md) and the same test vectors. Written for a small
heap: buffers are allocated once, framing allocates nothing per byte, and timestamps travel as
integer seconds + microseconds because ESP32 floats are single precision.
"""

from micropython import const

FLAG = const(0x7E)
ESC = const(0x7D)
_XOR = const(0x20)
_COMMA = const(0x2C)
_D = const(0x44)
MAX_FRAME = const(1024)

_table = None


def _make_table():
    from array import array

    t = array("H", bytes(512))
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t[i] = c & 0xFFFF
    return t


def crc16(buf, n=-1):
    """CRC-16/CCITT-FALSE of buf[:n] (all of buf when n < 0)."""
    global _table
    if _table is None:
        _table = _make_table()
    t = _table
    if n < 0:
        n = len(buf)
    c = 0xFFFF
    for i in range(n):
        c = ((c << 8) & 0xFFFF) ^ t[((c >> 8) ^ buf[i]) & 0xFF]
    return c


class OrpError(ValueError):
    """A packet that breaks the contract; args[0] names the bad field."""


class Encoder:
    """Builds packets and frames them into buffers allocated once."""

    def __init__(self, size=MAX_FRAME):
        self._pl = bytearray(size)
        self._fr = bytearray(2 * (size + 2) + 2)
        self.out = self._fr
        self._frmv = memoryview(self._fr)
        self._n = 0

    def _put(self, b):
        n = self._n
        if n >= len(self._pl):
            raise OrpError("size")
        self._pl[n] = b
        self._n = n + 1

    def _put_text(self, s):
        if isinstance(s, str):
            for ch in s:
                self._put(ord(ch))
        else:
            for b in s:
                self._put(b)

    def _put_uint(self, v, width=0):
        # digits of a non-negative int, most significant first, without building a string
        div = 1
        w = 1
        while div * 10 <= v:
            div *= 10
            w += 1
        while w < width:
            self._put(0x30)
            w += 1
        while div:
            self._put(0x30 + (v // div) % 10)
            div //= 10

    def _put_num(self, v):
        # ASCII decimal without building a string; a float costs two float temporaries
        if type(v) is int:
            if v < 0:
                self._put(0x2D)
                v = -v
            self._put_uint(v)
            return
        try:
            whole = int(v)  # OverflowError for inf, ValueError for nan
        except (OverflowError, ValueError):
            raise OrpError("D")
        neg = v < 0
        mag = -whole if neg else whole
        # 7 significant digits in all (what a 32-bit float holds), at most 6 decimals
        dec = 6
        scale = 1000000
        lim = 10
        while mag >= lim and dec > 0:
            dec -= 1
            scale //= 10
            lim *= 10
        # one float temporary: |v| * scale < 10**7 by the choice of dec, a small int on every port
        frac = round(v * scale) - whole * scale
        if neg:
            frac = -frac
        if frac >= scale:
            mag += 1
            frac -= scale
        if neg and (mag or frac):
            self._put(0x2D)
        self._put_uint(mag)
        if frac:
            while frac % 10 == 0:
                frac //= 10
                dec -= 1
            self._put(0x2E)
            self._put_uint(frac, dec)

    def _field(self, fid):
        if self._n > 4:
            self._put(_COMMA)
        self._put(fid)

    def payload(self, ptype, flag, seq, path=None, ts=None, ts_us=0, units=None, data=None, extra=None):
        """Build a packet into the payload buffer; return its length.

        ptype/flag: one-character str or int byte; seq: 0..65535 or None for v1's "01";
        ts: integer seconds (with ts_us microseconds); data: str, bytes-like, int or float;
        extra: sequence of (field_char, int) such as (("S", 3), ("R", 2)) for SYNC.
        """
        self._n = 0
        self._put(ord(ptype) if isinstance(ptype, str) else ptype)
        self._put(ord(flag) if isinstance(flag, str) else flag)
        if seq is None:
            self._put(0x30)
            self._put(0x31)
        else:
            self._put((seq >> 8) & 0xFF)
            self._put(seq & 0xFF)
        if path is not None:
            self._field(0x50)
            self._put_text(path)
        if ts is not None:
            self._field(0x54)
            self._put_uint(ts)
            self._put(0x2E)
            self._put_uint(ts_us, 6)
        if units is not None:
            self._field(0x55)
            self._put_text(units)
        if extra:
            for fid, value in extra:
                self._field(ord(fid))
                self._put_uint(value)
        if data is not None:
            self._field(_D)
            if type(data) is int or type(data) is float:
                self._put_num(data)
            else:
                self._put_text(data)
        return self._n

    def frame(self, ptype, flag, seq, path=None, ts=None, ts_us=0, units=None, data=None, extra=None):
        """Build and frame a packet; the memoryview is valid until the next call."""
        n = self.payload(ptype, flag, seq, path, ts, ts_us, units, data, extra)
        return self._frmv[: self._frame_into(self._pl, n)]

    def build(self, ptype, flag, seq, path=None, ts=None, ts_us=0, units=None, data=None, extra=None):
        """As frame(), allocating nothing: the frame is self.out[:n]; returns n.

        Write it with stream.write(enc.out, n) (MicroPython streams take a length)."""
        n = self.payload(ptype, flag, seq, path, ts, ts_us, units, data, extra)
        return self._frame_into(self._pl, n)

    def frame_payload(self, pl, n):
        """Frame pl[:n]: flag, escaped payload and CRC, flag."""
        return self._frmv[: self._frame_into(pl, n)]

    def _frame_into(self, pl, n):
        c = crc16(pl, n)
        out = self._fr
        j = 0
        out[j] = FLAG
        j += 1
        for i in range(n + 2):
            if i < n:
                b = pl[i]
            elif i == n:
                b = c >> 8
            else:
                b = c & 0xFF
            if b == FLAG or b == ESC:
                out[j] = ESC
                out[j + 1] = b ^ _XOR
                j += 2
            else:
                out[j] = b
                j += 1
        out[j] = FLAG
        return j + 1


class Deframer:
    """Byte-at-a-time decoder with the host decoder's rules and counters; never raises on input."""

    def __init__(self, size=MAX_FRAME):
        self.max_frame = size
        self._buf = bytearray(size + 2)
        self.buf = self._buf
        self._mv = memoryview(self._buf)
        self._max_raw = 2 * (size + 2)
        self.frames = 0
        self.crc_errors = 0
        self.oversize = 0
        self.junk = 0
        self._reset()
        self._opened = False
        self._discard = False

    def _reset(self):
        self._n = 0
        self._raw = 0
        self._esc = False
        self._bad = False

    def feed(self, b):
        """Take one byte; return a memoryview of a complete valid payload, else None."""
        n = self.feed_n(b)
        return self._mv[:n] if n else None

    def feed_n(self, b):
        """As feed(), allocating nothing: the payload's length (it is self.buf[:n]), else 0."""
        if b == FLAG:
            return self._flag()
        if self._discard:
            if not self._opened:
                self.junk += 1
            return 0
        self._raw += 1
        if self._raw > self._max_raw:
            if self._opened:
                self.oversize += 1
            else:
                self.junk += self._raw
            self._reset()
            self._discard = True
            return 0
        if self._esc:
            self._esc = False
            b ^= _XOR
        elif b == ESC:
            self._esc = True
            return 0
        if self._n < len(self._buf):
            self._buf[self._n] = b
        self._n += 1
        return 0

    def finish(self):
        """End of input: an unterminated frame's bytes count as junk."""
        self.junk += self._raw
        self._reset()
        self._opened = False
        self._discard = False

    def _flag(self):
        if self._discard:
            self._discard = False
            self._opened = not self._opened
            self._reset()
            return 0
        if self._raw == 0:
            self._opened = True
            return 0
        if self._esc:
            self._bad = True
        ok = self._check()
        raw = self._raw
        n = self._n
        self._reset()
        if ok:
            self.frames += 1
            self._opened = False
            return n - 2
        if self._opened:
            self._opened = False
        else:
            self.junk += raw
            self._opened = True
        return 0

    def _check(self):
        n = self._n
        opened = self._opened
        if self._bad or n < 3:
            if opened:
                self.crc_errors += 1
            return False
        if n - 2 > self.max_frame:
            if opened:
                self.oversize += 1
            return False
        if crc16(self._buf, n - 2) != (self._buf[n - 2] << 8 | self._buf[n - 1]):
            if opened:
                self.crc_errors += 1
            return False
        return True


_STATUS_TYPES = b"iodhkpgesrCB?"
_DTYPE_TYPES = b"IOSPE"
_PATH_TYPES = b"IOSDHKPGERcb"
_KNOWN = b"IOSDHKPGERiodhkpgesrcbCBYy?"
_DTYPES = b"TBNSJ "
_FIELDS = b"PTUSRM"


def _flag_ok(t, f):
    if t in _STATUS_TYPES:
        return 0x40 <= f <= 0x56
    if t in _DTYPE_TYPES:
        return f in _DTYPES
    if t == 0x59 or t == 0x79:  # Y y: version '0'/'1' (or a status)
        return f == 0x30 or f == 0x31 or 0x40 <= f <= 0x56
    return f in _DTYPES or f == 0x2E or f == 0x30 or 0x40 <= f <= 0x56


def parse(mv, n=-1):
    """Split a payload (mv, or mv[:n] when n >= 0) into (ptype, flag, seq, fields): ptype/flag as
    byte ints, fields None when there are none (nothing allocated then), else a dict of one-letter
    str -> bytes. Raises OrpError naming the field."""
    if n < 0:
        n = len(mv)
    if n < 4:
        raise OrpError("header")
    t = mv[0]
    if t not in _KNOWN:
        raise OrpError("type")
    f = mv[1]
    if not _flag_ok(t, f):
        raise OrpError("status" if t in _STATUS_TYPES else "flag")
    seq = (mv[2] << 8) | mv[3]
    fields = None
    pos = 4
    while pos < n:
        fid = mv[pos]
        if fields is None:
            fields = {}
        if fid == _D:
            fields["D"] = bytes(mv[pos + 1 : n])
            break
        if fid not in _FIELDS:
            raise OrpError("field")
        end = pos + 1
        while end < n and mv[end] != _COMMA:
            end += 1
        fields[chr(fid)] = bytes(mv[pos + 1 : end])
        pos = end + 1
    if t in _PATH_TYPES and (fields is None or not fields.get("P")):
        raise OrpError("P")
    if t == 0x45 and (fields is None or "D" not in fields):
        raise OrpError("D")
    if fields is not None and "T" in fields:
        parse_ts(fields["T"])
    return t, f, seq, fields


def parse_ts(b):
    """Decimal seconds text -> (seconds, microseconds) as ints, without floats."""
    secs = 0
    us = 0
    digits = -1
    if not b:
        raise OrpError("T")
    for c in b:
        if c == 0x2E and digits < 0:
            digits = 0
        elif 0x30 <= c <= 0x39:
            if digits < 0:
                secs = secs * 10 + (c - 0x30)
            elif digits < 6:
                us = us * 10 + (c - 0x30)
                digits += 1
        else:
            raise OrpError("T")
    while 0 <= digits < 6:
        us *= 10
        digits += 1
    return secs, us


def parse_bool(b):
    """Boolean data as sent by either side: t/f, 1/0, true/false (any case)."""
    if b in (b"t", b"1", b"true", b"True", b"TRUE"):
        return True
    if b in (b"f", b"0", b"false", b"False", b"FALSE"):
        return False
    raise OrpError("D")
