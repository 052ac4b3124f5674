"""`edgehook orp`: encode and decode ORP v2 frames for debugging serial captures."""

from __future__ import annotations

import json
import sys
from typing import BinaryIO

import click

from edgehook.errors import UsageError
from edgehook.orp import encode_frame
from edgehook.orp.capture import decode_capture, hex_chunks, raw_chunks
from edgehook.orp.framing import DEFAULT_MAX_FRAME


@click.group()
def orp() -> None:
    """Encode and decode ORP v2 frames (the Octave Resource Protocol, docs/orp.md)."""


@orp.command()
@click.argument("payload")
@click.option("--hex", "is_hex", is_flag=True, help="PAYLOAD is hex, not text.")
def encode(payload: str, is_hex: bool) -> None:
    """Frame PAYLOAD (e.g. 'PN01Pval/tp/value,D23.7') and print the bytes as lowercase hex.

    Text may use \\xNN escapes for bytes such as a binary sequence number ('PN\\x00\\x07P...').
    """
    try:
        data = bytes.fromhex(payload) if is_hex else payload.encode("latin-1").decode("unicode_escape").encode("latin-1")
    except (ValueError, UnicodeError):
        raise UsageError(f"cannot read payload {payload[:40]!r}", hint="use text with \\xNN escapes, or --hex with hex digits") from None
    if not data:
        raise UsageError("the payload is empty", hint="a packet has at least its 4-byte header, e.g. 'p@01'")
    click.echo(encode_frame(data).hex())


@orp.command()
@click.argument("capture", type=click.File("rb"), default="-")
@click.option("--hex", "is_hex", is_flag=True, help="CAPTURE is hex text (spaces, ':' and 0x allowed).")
@click.option("--max-frame", default=DEFAULT_MAX_FRAME, show_default=True, type=click.IntRange(1, 1 << 20),
              help="Largest payload accepted; longer frames count as oversize.")
def decode(capture: BinaryIO, is_hex: bool, max_frame: int) -> None:
    """Decode a capture (a file or - for stdin): one JSON object per frame on stdout, counts on stderr.

    Frames whose CRC matched but whose packet is malformed are printed with an "error" member.
    """
    chunks = hex_chunks(capture) if is_hex else raw_chunks(capture)
    out = sys.stdout
    for record in decode_capture(chunks, max_frame=max_frame):
        if "summary" in record:
            s = record["summary"]
            click.echo(
                f"frames={s['frames']} crc_errors={s['crc_errors']} oversize={s['oversize']} "
                f"junk_bytes={s['junk_bytes']} invalid_packets={s['invalid_packets']}",
                err=True,
            )
        else:
            out.write(json.dumps(record) + "\n")


COMMANDS = [orp]
