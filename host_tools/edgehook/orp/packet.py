"""ORP packets: the model of every packet type, parsing and building, and data encodings.

Layout: <type:1><flag:1><seq:2> then fields `P` path, `T` timestamp, `U` units, `S`/`R`/`M` on
SYNC, separated by ',', and `D` data always last (it may hold commas). The flag byte is the data
type on requests, the status on responses and the version on SYNC (docs/orp.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from edgehook.orp.framing import encode_frame


class OrpError(ValueError):
    """A packet that breaks the contract; `field` names the bad part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Status(str, Enum):
    """Response status byte: '@' + n for Legato's le_result_t -n."""

    OK = "@"
    NOT_FOUND = "A"
    NOT_POSSIBLE = "B"
    OUT_OF_RANGE = "C"
    NO_MEMORY = "D"
    NOT_PERMITTED = "E"
    FAULT = "F"
    COMM_ERROR = "G"
    TIMEOUT = "H"
    OVERFLOW = "I"
    UNDERFLOW = "J"
    WOULD_BLOCK = "K"
    DEADLOCK = "L"
    FORMAT_ERROR = "M"
    DUPLICATE = "N"
    BAD_PARAMETER = "O"
    CLOSED = "P"
    BUSY = "Q"
    UNSUPPORTED = "R"
    IO_ERROR = "S"
    NOT_IMPLEMENTED = "T"
    UNAVAILABLE = "U"
    TERMINATED = "V"


class DataType(str, Enum):
    """Data type byte of requests that carry a value."""

    TRIGGER = "T"
    BOOLEAN = "B"
    NUMERIC = "N"
    STRING = "S"
    JSON = "J"
    UNDEFINED = " "


STATUS_CHARS = frozenset(s.value for s in Status)
DTYPE_CHARS = frozenset(d.value for d in DataType)
PAD_CHARS = DTYPE_CHARS | {".", "0"}  # flag ignored: reference clients pad with '.'

# type char -> (name, kind); kind decides what the flag byte means
REQUESTS = {
    "I": "create_input",
    "O": "create_output",
    "D": "delete",
    "H": "add_handler",
    "K": "remove_handler",
    "P": "push",
    "G": "get",
    "E": "example",
    "S": "create_sensor",
    "R": "remove_sensor",
}
RESPONSES = {k.lower(): v + "_response" for k, v in REQUESTS.items()}
NOTIFICATIONS = {"c": "handler_call", "b": "sensor_call", "Y": "sync"}
REPLIES = {"C": "handler_call_response", "B": "sensor_call_response", "y": "sync_response"}
OTHER = {"?": "unknown_request_response"}
NAMES: dict[str, str] = {**REQUESTS, **RESPONSES, **NOTIFICATIONS, **REPLIES, **OTHER}

_NEEDS_DTYPE = set("IOSPE")  # requests whose flag is a data type
_NEEDS_PATH = set("IOSDHKPGERcb")
_STATUS_FLAG = set(RESPONSES) | {"C", "B", "?"}
_FIELD_IDS = "PTUSRM"
_V1_SEQ = b"01"


@dataclass
class Packet:
    """One ORP packet. `seq` None means a v1 peer (the ASCII "01" segment instead of a number)."""

    type: str
    flag: str = " "
    seq: int | None = 0
    path: str | None = None
    timestamp: float | None = None
    units: str | None = None
    data: bytes | None = None
    sent: int | None = None
    received: int | None = None
    mtu: int | None = None

    @property
    def name(self) -> str:
        return NAMES.get(self.type, "unknown")

    @property
    def status(self) -> Status | None:
        """The status of a response (None for other packets)."""
        if self.type in _STATUS_FLAG and self.flag in STATUS_CHARS:
            return Status(self.flag)
        return None

    def encode(self) -> bytes:
        """The unframed payload bytes."""
        if len(self.type) != 1 or len(self.flag) != 1:
            raise OrpError("type", "type and flag must be one character each")
        if self.seq is None:
            seq = _V1_SEQ
        elif 0 <= self.seq <= 0xFFFF:
            seq = bytes((self.seq >> 8, self.seq & 0xFF))
        else:
            raise OrpError("seq", f"sequence {self.seq} is outside 0..65535")
        fields = []
        if self.path is not None:
            _check_text("P", self.path)
            fields.append(b"P" + self.path.encode())
        if self.timestamp is not None:
            fields.append(b"T" + format_timestamp(self.timestamp).encode())
        if self.units is not None:
            _check_text("U", self.units)
            fields.append(b"U" + self.units.encode())
        for fid, value in (("S", self.sent), ("R", self.received), ("M", self.mtu)):
            if value is not None:
                fields.append(fid.encode() + str(int(value)).encode())
        if self.data is not None:
            fields.append(b"D" + bytes(self.data))
        return self.type.encode() + self.flag.encode() + seq + b",".join(fields)

    def frame(self) -> bytes:
        """The framed bytes, ready for the wire."""
        return encode_frame(self.encode())

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view (data as text when it decodes as UTF-8, else as hex)."""
        out: dict[str, Any] = {"type": self.type, "name": self.name, "flag": self.flag, "seq": self.seq}
        for key in ("path", "timestamp", "units", "sent", "received", "mtu"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.status is not None:
            out["status"] = self.status.name
        if self.data is not None:
            try:
                out["data"] = self.data.decode()
            except UnicodeDecodeError:
                out["data_hex"] = self.data.hex()
        return out


def _check_text(field: str, value: str) -> None:
    if "," in value:
        raise OrpError(field, "may not contain ','")


def format_timestamp(ts: float) -> str:
    """Decimal seconds with 6 decimals, as Octave sends them."""
    if not math.isfinite(ts) or ts < 0:
        raise OrpError("T", f"timestamp {ts!r} is not a time")
    return f"{ts:.6f}"


def parse(payload: bytes) -> Packet:
    """Parse one unframed payload; raise OrpError naming the bad field."""
    if len(payload) < 4:
        raise OrpError("header", f"packet of {len(payload)} bytes is shorter than its 4-byte header")
    ptype = chr(payload[0])
    if ptype not in NAMES:
        raise OrpError("type", f"unknown packet type {ptype!r}")
    flag = chr(payload[1])
    _check_flag(ptype, flag)
    seq = payload[2] << 8 | payload[3]
    pkt = Packet(type=ptype, flag=flag, seq=seq)
    _parse_fields(pkt, payload[4:])
    if ptype in _NEEDS_PATH and not pkt.path:
        raise OrpError("P", f"{pkt.name} needs a path")
    if ptype == "E" and pkt.data is None:
        raise OrpError("D", "example needs data")
    return pkt


def _check_flag(ptype: str, flag: str) -> None:
    if ptype in _STATUS_FLAG:
        if flag not in STATUS_CHARS:
            raise OrpError("status", f"bad status byte {flag!r}")
    elif ptype in _NEEDS_DTYPE:
        if flag not in DTYPE_CHARS:
            raise OrpError("dtype", f"bad data type {flag!r}")
    elif ptype in ("Y", "y"):
        if flag not in ("0", "1") and flag not in STATUS_CHARS:
            raise OrpError("version", f"bad version byte {flag!r}")
    elif not (flag in PAD_CHARS or flag in STATUS_CHARS):
        raise OrpError("flag", f"bad flag byte {flag!r}")


def _parse_fields(pkt: Packet, rest: bytes) -> None:
    pos = 0
    n = len(rest)
    while pos < n:
        fid = chr(rest[pos])
        if fid == "D":
            pkt.data = bytes(rest[pos + 1 :])
            return
        end = rest.find(b",", pos)
        if end < 0:
            end = n
        raw = rest[pos + 1 : end]
        pos = end + 1
        if fid not in _FIELD_IDS:
            raise OrpError("field", f"unknown field id {fid!r}")
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise OrpError(fid, "is not valid text") from None
        _set_field(pkt, fid, text)


def _set_field(pkt: Packet, fid: str, text: str) -> None:
    if fid == "P":
        pkt.path = text
    elif fid == "U":
        pkt.units = text
    elif fid == "T":
        try:
            ts = float(text)
        except ValueError:
            raise OrpError("T", f"timestamp {text!r} is not a number") from None
        if not math.isfinite(ts) or ts < 0:
            raise OrpError("T", f"timestamp {text!r} is not a time")
        pkt.timestamp = ts
    else:
        try:
            value = int(text)
        except ValueError:
            raise OrpError(fid, f"{text!r} is not an integer") from None
        setattr(pkt, {"S": "sent", "R": "received", "M": "mtu"}[fid], value)


_TRUE = {b"t", b"1", b"true", b"True", b"TRUE"}
_FALSE = {b"f", b"0", b"false", b"False", b"FALSE"}


def decode_value(dtype: str, data: bytes | None) -> Any:
    """The value a packet's D field carries for its data type; OrpError when it does not fit."""
    if dtype == DataType.TRIGGER:
        return None
    if data is None:
        raise OrpError("D", f"data type {dtype!r} needs data")
    if dtype == DataType.BOOLEAN:
        if data in _TRUE:
            return True
        if data in _FALSE:
            return False
        raise OrpError("D", f"{data[:20]!r} is not a boolean")
    if dtype == DataType.NUMERIC:
        try:
            value = float(data)
        except ValueError:
            raise OrpError("D", f"{data[:20]!r} is not a number") from None
        if not math.isfinite(value):
            raise OrpError("D", f"{data[:20]!r} is not a finite number")
        return value
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise OrpError("D", "is not valid UTF-8") from None
    if dtype == DataType.JSON:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise OrpError("D", f"is not JSON ({exc})") from None
    if dtype in (DataType.STRING, DataType.UNDEFINED):
        return text
    raise OrpError("dtype", f"bad data type {dtype!r}")


def encode_value(dtype: str, value: Any) -> bytes | None:
    """The D field bytes for a value; booleans are sent as b"1" / b"0"."""
    if dtype == DataType.TRIGGER:
        return None
    if dtype == DataType.BOOLEAN:
        return b"1" if value else b"0"
    if dtype == DataType.NUMERIC:
        number = float(value)
        if not math.isfinite(number):
            raise OrpError("D", f"{value!r} is not a finite number")
        return repr(int(number)).encode() if number.is_integer() and abs(number) < 1e15 else repr(number).encode()
    if dtype == DataType.JSON:
        return json.dumps(value, separators=(",", ":")).encode()
    return str(value).encode()
