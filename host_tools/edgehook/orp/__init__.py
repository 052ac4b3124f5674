"""ORP v2, the Octave Resource Protocol: framing (HDLC + CRC-16) and packets."""

from edgehook.orp.framing import DecoderStats, Deframer, crc16, encode_frame
from edgehook.orp.packet import (
    NAMES,
    DataType,
    OrpError,
    Packet,
    Status,
    decode_value,
    encode_value,
    parse,
)

__all__ = [
    "NAMES",
    "DataType",
    "DecoderStats",
    "Deframer",
    "OrpError",
    "Packet",
    "Status",
    "crc16",
    "decode_value",
    "encode_frame",
    "encode_value",
    "parse",
]
