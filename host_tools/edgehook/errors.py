"""The errors a user can fix: one line, a hint, and the exit code the CLI uses for them.

Library code raises these; only the CLI prints them (as `edgehook: <message>` plus the hint).
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class EdgehookError(Exception):
    """An error the user can act on. `exit_code` 1 = usage/config, 2 = device/link/remote."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(EdgehookError):
    """Bad arguments, a bad file or a bad configuration (exit 1)."""

    exit_code = 1


class DeviceError(EdgehookError):
    """A serial port, a board or a link that failed (exit 2)."""

    exit_code = 2


class RemoteError(EdgehookError):
    """A cloud or another server that refused or failed (exit 2)."""

    exit_code = 2
