"""The serial link: open the port (waiting while it is absent), bulk reads, locked writes, reopen.

Reads take whatever the port holds in one call (`read(in_waiting or 1)` with a short timeout):
pyserial's readline reads byte by byte and cannot keep up with a flood (toolchain notes §6).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import serial

from edgehook.errors import DeviceError

log = logging.getLogger(__name__)


class LinkLost(Exception):
    """The port went away (unplugged, closed by the other side, I/O error)."""


class SerialLink:
    """One serial port that can be absent, vanish and come back."""

    def __init__(
        self,
        port: str,
        baud: int = 115200,
        read_timeout: float = 0.05,
        retry_interval: float = 0.5,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.port = port
        self.baud = baud
        self.read_timeout = read_timeout
        self.retry_interval = retry_interval
        self.on_event = on_event or (lambda text: None)
        self.state = "closed"
        self.opens = 0
        self.attempts = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self._ser: serial.Serial | None = None
        self._url = "://" in port
        self._wlock = threading.Lock()

    def open_wait(self, stop: threading.Event) -> bool:
        """Open the port, waiting (one message, not one per try) while it is absent; False on stop."""
        announced = False
        while not stop.is_set():
            self.attempts += 1
            try:
                self._open()
                self.state = "open"
                self.opens += 1
                self.on_event(f"port {self.port} open")
                return True
            except DeviceError as exc:
                self.state = "waiting"
                if not announced:
                    self.on_event(f"waiting for {self.port}: {exc.message} (retrying every "
                                  f"{self.retry_interval:g} s)")
                    announced = True
            stop.wait(self.retry_interval)
        return False

    def _open(self) -> None:
        if not self._url and not os.path.exists(self.port):
            raise DeviceError(f"{self.port} does not exist")
        try:
            ser = serial.serial_for_url(self.port, baudrate=self.baud, timeout=self.read_timeout,
                                        write_timeout=2.0, do_not_open=True)
            ser.open()
        except (OSError, ValueError, serial.SerialException) as exc:  # ValueError: a setting it refuses
            raise DeviceError(f"cannot open {self.port}: {exc}") from exc
        try:
            ser.reset_input_buffer()
        except (OSError, serial.SerialException):
            pass
        self._ser = ser

    def read(self) -> bytes:
        """What the port holds now (b"" after the read timeout); LinkLost when it is gone."""
        ser = self._ser
        if ser is None:
            raise LinkLost("port closed")
        try:
            if self._url:  # socket:// reports in_waiting as 0 or 1: read a block with the timeout
                data = ser.read(4096)
            else:
                data = ser.read(ser.in_waiting or 1)
        except (OSError, serial.SerialException, TypeError, AttributeError) as exc:
            raise LinkLost(str(exc) or exc.__class__.__name__) from exc
        if not data and not self._url and not os.path.exists(self.port):
            raise LinkLost(f"{self.port} disappeared")
        self.bytes_in += len(data)
        return bytes(data)

    def write(self, data: bytes) -> None:
        """Write all bytes (thread-safe); OSError when the port is closed or fails."""
        with self._wlock:
            ser = self._ser
            if ser is None:
                raise OSError("port closed")
            try:
                ser.write(data)
            except (serial.SerialException, OSError) as exc:
                raise OSError(f"write to {self.port} failed: {exc}") from exc
            self.bytes_out += len(data)

    def close(self, state: str = "closed") -> None:
        with self._wlock:
            ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except (OSError, serial.SerialException):
                pass
        self.state = state

