"""A stand-in ESP32 ROM bootloader on a TCP socket, for esptool's `socket://` ports.

It speaks the serial loader protocol esptool uses — SLIP frames; SYNC, READ_REG, WRITE_REG,
SPI_ATTACH, SPI_SET_PARAMS, CHANGE_BAUDRATE; FLASH_BEGIN/DATA/END and their deflate variants;
SPI_FLASH_MD5; MEM_BEGIN/DATA/END (the stub upload, answered with the stub's "OHAI"); the stub's
ERASE_FLASH/ERASE_REGION — and keeps the written bytes in `flash`. Nothing runs: it is a test
double for the one part that cannot run here, the chip.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import zlib

ESP32_MAGIC = 0x00F01D83         # CHIP_DETECT_MAGIC_REG value of an ESP32
ESP32S3_MAGIC = 0x9
JEDEC_4MB = 0x1640EF             # Winbond W25Q32: manufacturer 0xEF, device 0x4016 (4 MB)
JEDEC_2MB = 0x1540EF

_REG_MAGIC = 0x40001000
_REG_UART_CLKDIV = 0x3FF40014     # 347 -> a 40 MHz crystal at 115200 baud
_REG_SPI_W0 = 0x3FF42080          # SPI data after the RDID flash command


def slip(frame: bytes) -> bytes:
    return b"\xc0" + frame.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class FakeEspRom:
    """Serve one esptool session at a time on 127.0.0.1:`port` until `close()`."""

    def __init__(self, magic: int = ESP32_MAGIC, jedec: int = JEDEC_4MB, flash_size: int = 4 << 20,
                 silent: bool = False) -> None:
        self.magic, self.jedec, self.silent = magic, jedec, silent
        self.flash = bytearray(b"\xff" * flash_size)
        self.commands: list[int] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(1)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> FakeEspRom:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        while self._running:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.2)
                try:
                    _Session(self, conn).run()
                except (ConnectionError, OSError):
                    pass


class _Session:
    def __init__(self, rom: FakeEspRom, conn: socket.socket) -> None:
        self.rom, self.conn = rom, conn
        self.buf = bytearray()
        self.stub = False
        self.write: dict[str, int] = {}
        self.inflate: zlib._Decompress | None = None

    def frames(self):
        while self.rom._running:
            start = self.buf.find(b"\xc0")
            end = self.buf.find(b"\xc0", start + 1) if start >= 0 else -1
            if end > start + 1:
                frame = bytes(self.buf[start + 1:end])
                del self.buf[:end + 1]
                yield frame.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")
                continue
            if end == start + 1:
                del self.buf[:start + 1]
                continue
            try:
                data = self.conn.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            self.buf += data

    def run(self) -> None:
        frames = self.frames()
        for frame in frames:
            if len(frame) < 8 or frame[0] != 0 or self.rom.silent:
                continue
            _, op, size, _ = struct.unpack("<BBHI", frame[:8])
            self.rom.commands.append(op)
            self.conn.sendall(self.answer(op, frame[8:8 + size], frames))

    @staticmethod
    def resp(op: int, value: int = 0, data: bytes = b"", status: bytes = b"\0\0\0\0") -> bytes:
        body = data + status
        return slip(struct.pack("<BBHI", 1, op, len(body), value) + body)

    def answer(self, op: int, d: bytes, frames) -> bytes:
        rom, flash = self.rom, self.rom.flash
        if op == 0x08:  # SYNC: the ROM answers several times
            return self.resp(op, 0x20120707) * 8
        if op == 0x0A:  # READ_REG
            regs = {_REG_MAGIC: rom.magic, _REG_UART_CLKDIV: 347, _REG_SPI_W0: rom.jedec}
            return self.resp(op, regs.get(struct.unpack("<I", d[:4])[0], 0))
        if op in (0x09, 0x0B, 0x0D, 0x0F, 0x05, 0x07):  # WRITE_REG, SPI params/attach, baud, MEM
            return self.resp(op)
        if op == 0x06:  # MEM_END: the stub starts and says hello
            self.stub = True
            return self.resp(op) + slip(b"OHAI")
        if op in (0x02, 0x10):  # FLASH_BEGIN, FLASH_DEFL_BEGIN
            _, _, block, offset = struct.unpack("<IIII", d[:16])
            self.write = {"offset": offset, "block": block, "pos": offset}
            self.inflate = zlib.decompressobj() if op == 0x10 else None
            return self.resp(op)
        if op in (0x03, 0x11):  # FLASH_DATA, FLASH_DEFL_DATA
            n, seq = struct.unpack("<II", d[:8])
            payload = d[16:16 + n]
            if self.inflate is not None:
                payload = self.inflate.decompress(payload)
            else:
                self.write["pos"] = self.write["offset"] + seq * self.write["block"]
            pos = self.write["pos"]
            flash[pos:pos + len(payload)] = payload
            self.write["pos"] = pos + len(payload)
            return self.resp(op)
        if op in (0x04, 0x12):  # FLASH_END, FLASH_DEFL_END
            return self.resp(op)
        if op == 0x13:  # SPI_FLASH_MD5: hex text from the ROM, raw digest from the stub
            addr, n = struct.unpack("<II", d[:8])
            h = hashlib.md5(flash[addr:addr + n])
            return self.resp(op, 0, h.digest() if self.stub else h.hexdigest().encode())
        if op == 0xD0:  # ERASE_FLASH (stub)
            flash[:] = b"\xff" * len(flash)
            return self.resp(op)
        if op == 0xD1:  # ERASE_REGION (stub)
            addr, n = struct.unpack("<II", d[:8])
            flash[addr:addr + n] = b"\xff" * n
            return self.resp(op)
        return self.resp(op, 0, b"", b"\x01\x05\x00\x00")  # unsupported, e.g. GET_SECURITY_INFO
