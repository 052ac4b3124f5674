"""Loads the bundle's ES5 library into a real QuickJS context and calls its functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import quickjs

CLOUD = Path(__file__).resolve().parents[2] / "cloud"
LIBRARY = ["lib/crypto.js", "lib/webhook.js", "lib/policy.js"]


class JsLib:
    """A QuickJS context holding the library; `call` passes arguments and results as JSON."""

    def __init__(self, files: list[str] | None = None, prelude: str = "") -> None:
        self.ctx = quickjs.Context()
        self.ctx.eval('"use strict";' + prelude)
        for name in files or LIBRARY:
            self.ctx.eval((CLOUD / name).read_text())

    def call(self, name: str, *args: Any) -> Any:
        text = json.dumps(list(args))
        out = self.ctx.eval(f"JSON.stringify({name}.apply(null, JSON.parse({json.dumps(text)})))")
        return None if out is None else json.loads(out)
