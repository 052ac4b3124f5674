"""Decoding serial captures: bytes or hex text in, one record per frame and the decoder's counts out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from edgehook.errors import UsageError
from edgehook.orp.framing import DEFAULT_MAX_FRAME, Deframer
from edgehook.orp.packet import OrpError, parse

_HEX_JUNK = re.compile(rb"0x|[\s:,]")
CHUNK = 64 * 1024


def hex_chunks(stream: BinaryIO) -> Iterator[bytes]:
    """Bytes from hex text (whitespace, ':' ',' and '0x' prefixes ignored), read in chunks."""
    carry = b""
    lineno = 0
    for line in stream:
        lineno += 1
        digits = carry + _HEX_JUNK.sub(b"", line)
        cut = len(digits) - len(digits) % 2
        try:
            yield bytes.fromhex(digits[:cut].decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise UsageError(f"line {lineno} is not hex", hint="drop --hex to read a raw binary capture") from None
        carry = digits[cut:]
    if carry:
        raise UsageError("the hex text has an odd number of digits", hint="each byte needs two hex digits")


def raw_chunks(stream: BinaryIO) -> Iterator[bytes]:
    """Raw bytes, read in chunks."""
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        yield chunk


def frame_record(payload: bytes) -> dict[str, Any]:
    """What `orp decode` prints for one frame: the packet's fields, or the reason it is not one."""
    raw: dict[str, Any] = {"raw_hex": payload.hex()}
    try:
        return {**parse(payload).to_json(), **raw}
    except OrpError as exc:
        return {"error": {"field": exc.field, "message": exc.message}, **raw}


def decode_capture(chunks: Iterable[bytes], max_frame: int = DEFAULT_MAX_FRAME) -> Iterator[dict[str, Any]]:
    """Yield a record per frame; the last item is {"summary": counts} (frames, errors, junk)."""
    d = Deframer(max_frame=max_frame)
    invalid = 0
    for chunk in chunks:
        for payload in d.feed(chunk):
            record = frame_record(payload)
            invalid += "error" in record
            yield record
    d.finish()
    yield {"summary": {**d.stats.as_dict(), "invalid_packets": invalid}}
