"""Deploy-time settings of the bundle: --set k=v, environment, the git-ignored secrets file.

Precedence: --set, then the environment (EDGEHOOK_WEBHOOK_URL / EDGEHOOK_WEBHOOK_SECRET for the
default endpoint), then `<bundle>/secrets.local.json`, then the manifest's defaults. Secret
values are never part of what `redacted()` shows.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from edgehook.bundle.manifest import Manifest
from edgehook.errors import UsageError

SECRETS_FILE = "secrets.local.json"
ENDPOINT_KEYS = ("url", "secret", "timeout", "enabled")
_ENDPOINT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
HIDDEN = "<hidden>"


@dataclass
class Settings:
    """Resolved settings: plain values by key, and the endpoints with url, secret, headers."""

    values: dict[str, Any] = field(default_factory=dict)
    endpoints: list[dict] = field(default_factory=list)

    def redacted(self) -> dict[str, Any]:
        """Everything but the secrets, for people to read."""
        shown: dict[str, Any] = dict(self.values)
        for ep in self.endpoints:
            shown[f"{ep['name']}.url"] = ep["url"]
            shown[f"{ep['name']}.secret"] = HIDDEN if ep.get("secret") else None
            shown[f"{ep['name']}.timeout"] = ep["timeout"]
            for name in ep["headers"]:
                shown[f"{ep['name']}.headers.{name}"] = HIDDEN
        return shown


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """`key=value` strings as a dict; a missing `=` is a UsageError."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad --set {item.split('=')[0]!r}", hint="use --set key=value, e.g. --set webhook.url=https://…")
        out[key.strip()] = value
    return out


def read_secrets_file(path: Path) -> dict[str, Any]:
    """The flat key -> value object of a secrets file; {} when it does not exist."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}", hint="it must be a JSON object of key: value") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path} must be a JSON object", hint='e.g. {"webhook.secret": "whsec_…"}')
    return data


_KIND_TEXT = {"int": "an integer", "number": "a number", "numbers": "comma-separated numbers"}


def _convert(key: str, value: Any, kind: str | None, low: float | None = None) -> Any:
    """`value` as the setting's type; below `low` (the manifest's `min`) is a UsageError."""
    try:
        if kind == "int":
            out: Any = int(value)
            numbers = [out]
        elif kind == "number":
            number = float(value)
            out = int(number) if number.is_integer() else number
            numbers = [number]
        elif kind == "numbers":
            items = value if isinstance(value, list) else str(value).split(",")
            numbers = [float(v) for v in items]
            if not numbers or any(n <= 0 for n in numbers):
                raise ValueError("needs positive numbers")
            out = [int(n) if n.is_integer() else n for n in numbers]
        else:
            return value
        if any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
            raise ValueError("needs a finite number")
        if low is not None and any(n < low for n in numbers):
            raise ValueError(f"at least {low:g}")
    except (TypeError, ValueError) as exc:
        raise UsageError(f"setting {key}: bad value {value!r} ({exc})",
                         hint=f"{key} takes {_KIND_TEXT.get(kind or '', kind)}") from exc
    return out


def check_secret(name: str, secret: str) -> None:
    """A Standard Webhooks secret: whsec_ + base64 of 24..64 bytes."""
    raw = secret[6:] if secret.startswith("whsec_") else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UsageError(f"{name}.secret is not whsec_<base64>", hint="make one with `edgehook bundle secret`") from exc
    if not 24 <= len(key) <= 64:
        raise UsageError(f"{name}.secret holds {len(key)} bytes; Standard Webhooks wants 24 to 64",
                         hint="make one with `edgehook bundle secret`")


def new_secret() -> str:
    """A fresh whsec_ secret of 32 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def _endpoint(name: str, raw: dict[str, Any], require: bool, timeout_min: float | None) -> dict | None:
    url, secret = raw.get("url"), raw.get("secret")
    if not url:
        return None
    parsed = urlparse(str(url))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(f"{name}.url must be an http(s) URL", hint=f"--set {name}.url=https://example.com/hook")
    if require and not secret:
        raise UsageError(f"endpoint {name} has no secret", hint=f"--set {name}.secret=whsec_… or EDGEHOOK_WEBHOOK_SECRET")
    if secret:
        check_secret(name, str(secret))
    return {
        "name": name,
        "url": str(url),
        "secret": str(secret or ""),
        "timeout": _convert(f"{name}.timeout", raw.get("timeout", 15), "number", timeout_min),
        "headers": {str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
        "enabled": str(raw.get("enabled", "true")).lower() not in ("false", "0", "no", "off"),
    }


def resolve_settings(
    manifest: Manifest,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    secrets_file: Path | None = None,
    require_endpoint: bool = True,
) -> Settings:
    """All settings of the bundle; an unknown key or a bad value is a UsageError."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    merged.update(read_secrets_file(secrets_file or manifest.root / SECRETS_FILE))
    default_ep = manifest.endpoints[0] if manifest.endpoints else "webhook"
    for key, var in ((f"{default_ep}.url", "EDGEHOOK_WEBHOOK_URL"), (f"{default_ep}.secret", "EDGEHOOK_WEBHOOK_SECRET")):
        if env.get(var):
            merged[key] = env[var]
    merged.update(overrides or {})
    fixed = {k: v for k, v in manifest.settings.items() if not k.startswith("<")}
    values = {k: spec.get("default") for k, spec in fixed.items()}
    raw_eps: dict[str, dict[str, Any]] = {name: {} for name in manifest.endpoints}
    for key, value in merged.items():
        if key in fixed:
            values[key] = _convert(key, value, fixed[key].get("type"), fixed[key].get("min"))
            continue
        name, _, rest = key.partition(".")
        if not _ENDPOINT_NAME.match(name) or name in {k.split(".")[0] for k in fixed}:
            raise UsageError(f"unknown setting {key}", hint="see the settings in cloud/README.md")
        if rest.startswith("headers.") and len(rest) > 8:
            raw_eps.setdefault(name, {}).setdefault("headers", {})[rest[8:]] = value
        elif rest in ENDPOINT_KEYS:
            raw_eps.setdefault(name, {})[rest] = value
        else:
            raise UsageError(f"unknown setting {key}", hint=f"an endpoint takes {', '.join(ENDPOINT_KEYS)}, headers.<Name>")
    timeout_min = (manifest.settings.get("<endpoint>.timeout") or {}).get("min")
    endpoints = [ep for name, raw in raw_eps.items() if (ep := _endpoint(name, raw, require_endpoint, timeout_min))]
    if require_endpoint and not endpoints:
        raise UsageError("no webhook endpoint configured",
                         hint=f"--set {default_ep}.url=URL --set {default_ep}.secret=whsec_… (or EDGEHOOK_WEBHOOK_URL / _SECRET)")
    return Settings(values, endpoints)
