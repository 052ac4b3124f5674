"""Where the Octave user and token come from: the environment, else a 0600 credentials file."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from edgehook.errors import UsageError

ENV_USER = "EDGEHOOK_USER"
ENV_TOKEN = "EDGEHOOK_TOKEN"
ENV_FILE = "EDGEHOOK_CREDENTIALS"


@dataclass(frozen=True)
class Credentials:
    """An Octave user name and its master token (sent as X-Auth-User / X-Auth-Token)."""

    user: str
    token: str

    def __repr__(self) -> str:  # never show the token in logs or tracebacks
        return f"Credentials(user={self.user!r}, token=<hidden>)"


def credentials_path() -> Path:
    """The credentials file: $EDGEHOOK_CREDENTIALS or ~/.config/edgehook/credentials.json."""
    env = os.environ.get(ENV_FILE)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".config" / "edgehook" / "credentials.json"


def from_env() -> Credentials | None:
    """Credentials from EDGEHOOK_USER / EDGEHOOK_TOKEN when both are set."""
    user, token = os.environ.get(ENV_USER), os.environ.get(ENV_TOKEN)
    if user and token:
        return Credentials(user, token)
    return None


def load_file(path: Path | None = None) -> Credentials | None:
    """Credentials from the file, None when it does not exist; a bad file is a UsageError."""
    path = path or credentials_path()
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return Credentials(str(data["user"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"cannot read the credentials file {path}: {exc}",
            hint="fix or delete the file (it holds {\"user\": ..., \"token\": ...})",
        ) from exc


def resolve_credentials(path: Path | None = None) -> Credentials:
    """The environment first, then the credentials file; neither is a UsageError with a hint."""
    creds = from_env() or load_file(path)
    if creds is None:
        raise UsageError(
            "no Octave credentials",
            hint=f"set {ENV_USER} and {ENV_TOKEN}, or start `edgehook cloud serve` once "
            f"(it writes {path or credentials_path()})",
        )
    return creds


def write_file(creds: Credentials, path: Path | None = None) -> Path:
    """Write the credentials file with mode 0600 (created that way, never world-readable)."""
    path = path or credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"user": creds.user, "token": creds.token}, fh)
    os.chmod(path, 0o600)
    return path


def ensure_credentials(path: Path | None = None, user: str = "edgehook") -> tuple[Credentials, Path | None]:
    """Credentials for a server: env, else the file, else new ones written to the file.

    Returns the credentials and the path of a file that was just created (None otherwise).
    """
    creds = from_env() or load_file(path)
    if creds is not None:
        return creds, None
    creds = Credentials(user, secrets.token_urlsafe(24))
    return creds, write_file(creds, path)
