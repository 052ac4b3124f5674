"""ORP's HDLC framing: CRC-16/CCITT-FALSE, byte stuffing, and a streaming decoder that never raises.

Frame = 0x7E + escape(payload + CRC big-endian) + 0x7E, where escape turns 0x7E into 0x7D 0x5E and
0x7D into 0x7D 0x5D, CRC bytes included (docs/orp.md, "Framing").
"""

from __future__ import annotations

import binascii
from dataclasses import asdict, dataclass

FLAG = 0x7E
ESC = 0x7D
ESC_XOR = 0x20
DEFAULT_MAX_FRAME = 1024  # largest payload (unescaped, CRC excluded) the decoder accepts

_FLAG_B = b"\x7e"
_ESC_B = b"\x7d"


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor)."""
    return binascii.crc_hqx(data, 0xFFFF)


def escape(data: bytes) -> bytes:
    """Byte-stuff 0x7D and 0x7E (0x7D first, so the escapes themselves are not escaped again)."""
    return data.replace(b"\x7d", b"\x7d\x5d").replace(b"\x7e", b"\x7d\x5e")


def unescape(data: bytes) -> bytes | None:
    """Undo byte stuffing; None for a malformed escape (0x7D at the end or before a flag)."""
    if ESC not in data:
        return data
    parts = data.split(_ESC_B)
    out = bytearray(parts[0])
    for part in parts[1:]:
        if not part:
            return None
        out.append(part[0] ^ ESC_XOR)
        out += part[1:]
    return bytes(out)


def encode_frame(payload: bytes) -> bytes:
    """Frame one payload: flag, escaped payload and CRC (big-endian), flag."""
    crc = crc16(payload)
    return _FLAG_B + escape(payload + bytes((crc >> 8, crc & 0xFF))) + _FLAG_B


@dataclass
class DecoderStats:
    """What a decoder has seen: good frames, CRC failures, oversize frames, bytes outside frames."""

    frames: int = 0
    crc_errors: int = 0
    oversize: int = 0
    junk_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Deframer:
    """Streaming decoder: feed it any chunks of bytes, get back the payloads of valid frames.

    A flag that follows a completed frame or junk *opens* the next frame; bytes that arrive after
    a closing flag are a candidate which still counts as a frame when its CRC matches (a flag
    shared between two frames) and otherwise as junk. Bytes between an opening flag and the next
    flag are a frame: a CRC mismatch is a crc error, more than `max_frame` payload bytes is
    oversize and is dropped without being buffered. It never raises on wire bytes.
    """

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if max_frame < 1:
            raise ValueError("max_frame must be at least 1")
        self.max_frame = max_frame
        # escaped bytes can be twice the unescaped size; anything longer cannot be a valid frame
        self._max_raw = 2 * (max_frame + 2)
        self.stats = DecoderStats()
        self._buf = bytearray()
        self._opened = False  # the last flag opened a frame (vs. closed one / nothing seen yet)
        self._discarding = False  # inside an oversize frame or a long junk run: drop until a flag

    def feed(self, chunk: bytes) -> list[bytes]:
        """Consume bytes; return the payloads of the frames they completed, in order."""
        out: list[bytes] = []
        pos = 0
        n = len(chunk)
        while pos < n:
            i = chunk.find(_FLAG_B, pos)
            end = n if i < 0 else i
            if end > pos:
                self._take(chunk[pos:end])
            if i < 0:
                break
            self._on_flag(out)
            pos = i + 1
        return out

    def finish(self) -> None:
        """End of input: bytes of an unterminated frame count as junk."""
        if self._buf:
            self.stats.junk_bytes += len(self._buf)
            self._buf.clear()
        self._opened = False
        self._discarding = False

    def _take(self, data: bytes) -> None:
        if self._discarding:
            if not self._opened:
                self.stats.junk_bytes += len(data)
            return
        self._buf += data
        if len(self._buf) > self._max_raw:
            if self._opened:
                self.stats.oversize += 1
            else:
                self.stats.junk_bytes += len(self._buf)
            self._buf.clear()
            self._discarding = True

    def _on_flag(self, out: list[bytes]) -> None:
        raw = bytes(self._buf)
        self._buf.clear()
        if self._discarding:
            # an oversize frame ends here (the next bytes are a candidate); a junk run ends here
            # with a flag that opens the next frame
            self._discarding = False
            self._opened = not self._opened
            return
        if not raw:  # consecutive flags: the next bytes are a frame
            self._opened = True
            return
        payload = self._check(raw)
        if payload is not None:
            out.append(payload)
            self.stats.frames += 1
            self._opened = False
        elif self._opened:
            self._opened = False
        else:
            self.stats.junk_bytes += len(raw)
            self._opened = True

    def _check(self, raw: bytes) -> bytes | None:
        """Payload of a complete frame, or None (counted when the frame was opened by a flag)."""
        data = unescape(raw)
        if data is None or len(data) < 3:
            if self._opened:
                self.stats.crc_errors += 1
            return None
        if len(data) - 2 > self.max_frame:
            if self._opened:
                self.stats.oversize += 1
            return None
        payload = data[:-2]
        if crc16(payload) != (data[-2] << 8 | data[-1]):
            if self._opened:
                self.stats.crc_errors += 1
            return None
        return payload
