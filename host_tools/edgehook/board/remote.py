"""Every call into mpremote's library, in one place (mpremote warns its API may change).

`RemoteBoard` opens a board's raw REPL over serial and offers the few operations deploy needs,
built on mpremote's transport: run code, hash files, read, write (atomically), remove, reset.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import io
import logging
from collections.abc import Callable
from typing import Any

import serial
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from edgehook.errors import DeviceError

log = logging.getLogger(__name__)

_HINT = ("check the port; if the app holds the REPL, press the board's reset button and try "
         "again")

# Runs on the board: sha256 of each listed file, None when it is missing.
_HASHES = """\
import hashlib, binascii
def _eh_hash(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(512)
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(memoryview(b)[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
print(repr({p: _eh_hash(p) for p in %r}))
"""


class RemoteBoard:
    """A MicroPython board reached through mpremote's serial transport, in the raw REPL."""

    def __init__(self, port: str, baud: int = 115200, attempts: int = 3,
                 timeout: float = 5.0) -> None:
        self.port = port
        try:
            # a read timeout: on a pty mpremote reads byte by byte and would wait for ever
            self._t = SerialTransport(port, baudrate=baud, timeout=min(timeout, 1.0))
        except (TransportError, serial.SerialException, OSError) as exc:
            raise DeviceError(f"cannot open {port}: {exc}", hint=_HINT) from exc
        for attempt in range(attempts):
            try:
                # a soft reset in the raw REPL: boot.py runs, the app (main.py) stays off
                with contextlib.redirect_stdout(io.StringIO()):  # mpremote prints on failure
                    self._t.enter_raw_repl(soft_reset=True, timeout_overall=timeout)
                break
            except TransportError as exc:
                log.info("raw REPL attempt %d on %s failed: %s", attempt + 1, port, exc)
        else:
            self._t.close()
            raise DeviceError(f"no MicroPython raw REPL on {port}", hint=_HINT)

    def __enter__(self) -> RemoteBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Leave the raw REPL and close the port."""
        try:
            if self._t.in_raw_repl:
                self._t.exit_raw_repl()
            self._t.close()
        except (OSError, serial.SerialException):
            pass

    def exec(self, code: str) -> str:
        """Run `code` on the board; return what it printed."""
        try:
            return self._t.exec(code).decode(errors="replace")
        except TransportExecError as exc:
            lines = exc.error_output.strip().splitlines() or ["(no output)"]
            raise DeviceError(f"the board failed running deploy code: {lines[-1]}") from exc
        except (TransportError, serial.SerialException, OSError) as exc:
            raise DeviceError(f"lost the board on {self.port}: {exc}", hint=_HINT) from exc

    def eval(self, expression: str) -> Any:
        """Evaluate a Python literal expression on the board and return its value."""
        return ast.literal_eval(self.exec(f"print(repr({expression}))").strip())

    def info(self) -> dict[str, Any]:
        """The board's platform, MicroPython version and .mpy version word (None if absent)."""
        platform, version, mpy = self.eval(
            "(__import__('sys').platform, tuple(__import__('sys').implementation.version), "
            "getattr(__import__('sys').implementation, '_mpy', None))")
        return {"platform": platform, "version": version, "mpy": mpy}

    def hashes(self, paths: list[str]) -> dict[str, str | None]:
        """sha256 (hex) of each file on the board; None for a file that does not exist."""
        if not paths:
            return {}
        result: dict[str, str | None] = ast.literal_eval(self.exec(_HASHES % (paths,)).strip())
        return result

    def read(self, path: str) -> bytes | None:
        """Contents of a file on the board, or None when it does not exist."""
        try:
            return bytes(self._t.fs_readfile(path))
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise DeviceError(f"cannot read {path} on the board: {exc}") from exc
        except TransportError as exc:
            raise DeviceError(f"lost the board on {self.port}: {exc}", hint=_HINT) from exc

    def write(self, path: str, data: bytes,
              progress: Callable[[int, int], None] | None = None) -> None:
        """Write a file (parents made as needed) through a temp file and a rename."""
        self.makedirs(path.rpartition("/")[0])
        tmp = path + ".tmp"
        try:
            self._t.fs_writefile(tmp, data, chunk_size=1024, progress_callback=progress)
        except OSError as exc:
            raise DeviceError(f"cannot write {path} on the board: {exc}",
                              hint="is the board's filesystem full? `mpremote df` shows it") from exc
        except TransportError as exc:
            raise DeviceError(f"lost the board on {self.port}: {exc}", hint=_HINT) from exc
        # one path relative: MicroPython's VfsPosix mishandles two absolute ones (docs/board.md)
        self.exec(f"import os\nos.chdir('/')\nos.rename({tmp!r}, {path.lstrip('/')!r})")

    def makedirs(self, path: str) -> None:
        """Make a directory and its parents on the board (no error when they exist)."""
        if path.strip("/"):
            self.exec(f"import os\np = ''\nfor d in {path.strip('/').split('/')!r}:\n"
                      " p += '/' + d\n try:\n  os.mkdir(p)\n except OSError:\n  pass\n")

    def remove(self, path: str) -> None:
        """Remove a file, then its parent directories that became empty (missing is fine)."""
        self.exec(f"import os\np = {path!r}\ntry:\n os.remove(p)\nexcept OSError:\n pass\n"
                  "while '/' in p.strip('/'):\n p = p.rpartition('/')[0]\n try:\n"
                  "  os.rmdir(p)\n except OSError:\n  break\n")

    def reset_to_app(self) -> None:
        """Soft reset from the friendly REPL, so boot.py and then main.py (the app) run; close."""
        try:
            self._t.exit_raw_repl()
            self._t.read_until(1, b">>> ", timeout=2)
            self._t.serial.write(b"\x04")
        except (TransportError, serial.SerialException, OSError) as exc:
            raise DeviceError(f"lost the board on {self.port}: {exc}", hint=_HINT) from exc
        finally:
            self._t.close()
