"""Building the bundle: the library inlined into one self-contained `function(…){…}` per object.

Octave's Action Runner has no modules, so each action and task becomes one ES5.1 function whose
body starts with "use strict", the deploy-time `SETTINGS` object and the library's functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import esprima

from edgehook.bundle.manifest import Manifest, ObjectSpec
from edgehook.bundle.settings import HIDDEN, Settings
from edgehook.cloud import es5
from edgehook.errors import UsageError


@dataclass(frozen=True)
class BuiltObject:
    """One action or task ready for the REST API (fields as Octave's objects)."""

    kind: str  # action | task
    name: str
    fields: dict  # description, js, and source (action) or period (task)

    @property
    def js(self) -> str:
        return str(self.fields["js"])


@dataclass(frozen=True)
class Bundle:
    """The built bundle for one company: streams to ensure and objects to create or update."""

    company: str
    streams: list[dict]
    objects: list[BuiltObject]


def _substitute(text: str, values: dict[str, object]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def js_settings(manifest: Manifest, settings: Settings, company: str, hide_secrets: bool = False) -> dict:
    """The SETTINGS object the library reads (see cloud/lib/delivery.js)."""
    policy = {k.split(".", 1)[1]: v for k, v in settings.values.items() if k.startswith("policy.")}
    endpoints = []
    for ep in settings.endpoints:
        if not ep["enabled"]:
            continue
        secret = HIDDEN if hide_secrets and ep["secret"] else ep["secret"]
        headers = {k: (HIDDEN if hide_secrets else v) for k, v in ep["headers"].items()}
        endpoints.append({"name": ep["name"], "url": ep["url"], "secret": secret, "timeout": ep["timeout"], "headers": headers})
    streams = {s.path.rsplit("/", 1)[-1]: _substitute(s.path, {"company": company}) for s in manifest.streams}
    return {
        "company": company,
        "deliveriesStream": streams.get("deliveries"),
        "endpointsStream": streams.get("endpoints"),
        "commandsStream": streams.get("commands"),
        "endpoints": endpoints,
        "policy": policy,
        "batch": settings.values.get("task.batch", 50),
    }


def _js_literal(value: object) -> str:
    # JSON is an ES5 expression once U+2028/U+2029 are escaped (they end lines in ES5 strings).
    return json.dumps(value, sort_keys=True).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def inline(source: str, library: list[tuple[str, str]], settings: dict, what: str) -> str:
    """`source` (one function expression) with the settings and library put at its body's start."""
    try:
        tree = esprima.parseScript("(" + source + "\n)", {"range": True})
    except esprima.Error as exc:
        raise UsageError(f"{what}: not a JavaScript function: {exc}", hint="each file holds one function(event){…}") from exc
    body = tree.body
    if len(body) != 1 or body[0].expression.type != "FunctionExpression":
        raise UsageError(f"{what}: the file must hold exactly one function expression", hint="function(event){…}")
    func = body[0].expression
    start, end = func.range[0] - 1, func.range[1] - 1
    brace = func.body.range[0] - 1
    parts = [source[start:brace + 1], '\n"use strict";\nvar SETTINGS = ', _js_literal(settings), ";\n"]
    for name, text in library:
        parts.append(f"// ---- {name} ----\n{text.strip()}\n")
    parts.append("// ---- " + what + " ----")
    parts.append(source[brace + 1:end])
    return "".join(parts)


def check(js: str, what: str) -> None:
    """UsageError unless `js` passes the ES5.1 strict check of `edgehook cloud check`."""
    found = es5.problems(js)
    if found:
        raise UsageError(f"{what} is not ES5.1 strict: " + "; ".join(str(p) for p in found[:3]),
                         hint="fix the bundle source; `edgehook cloud check FILE` shows every problem")


def build_object(manifest: Manifest, spec: ObjectSpec, settings: Settings, company: str, hide_secrets: bool = False) -> BuiltObject:
    """One action or task of the manifest, built and checked."""
    library = [(p.relative_to(manifest.root).as_posix(), p.read_text()) for p in manifest.library]
    what = spec.file.relative_to(manifest.root).as_posix()
    js = inline(spec.file.read_text(), library, js_settings(manifest, settings, company, hide_secrets), what)
    check(js, what)
    subs: dict[str, object] = {"company": company, **settings.values}
    fields: dict[str, object] = {"description": spec.name, "js": js}
    if spec.kind == "action":
        fields["source"] = _substitute(spec.source, subs)
    else:
        period = _substitute(str(spec.period), subs)
        try:
            fields["period"] = float(period) if "." in period else int(period)
        except ValueError as exc:
            raise UsageError(f"task {spec.name}: bad period {period!r}", hint="--set task.period=SECONDS") from exc
    return BuiltObject(spec.kind, spec.name, fields)


def forward_sources(settings: Settings, company: str, devices: list[str]) -> list[str]:
    """The forwarding action's sources: `forward.source`, else every device x observation stream."""
    explicit = [s.strip() for s in str(settings.values.get("forward.source") or "").split(",") if s.strip()]
    if explicit:
        return explicit
    streams = [s.strip() for s in str(settings.values.get("forward.streams") or "").split(",") if s.strip()]
    return [f"/{company}/devices/{d}/{s}" for d in devices for s in streams]


def wanted_devices(settings: Settings) -> list[str] | None:
    """The devices named by `forward.devices`; None for `*` (every device at deploy time)."""
    text = str(settings.values.get("forward.devices") or "*").strip()
    return None if text == "*" else [d.strip() for d in text.split(",") if d.strip()]


def build_bundle(manifest: Manifest, settings: Settings, company: str, hide_secrets: bool = False,
                 devices: list[str] | None = None) -> Bundle:
    """Every object of the manifest for `company`; an action with several sources is one per source.

    `devices` are the devices forwarded when `forward.devices` is `*` (the caller lists them).
    """
    named = wanted_devices(settings)
    sources_value = ",".join(forward_sources(settings, company, named if named is not None else devices or []))
    settings = Settings({**settings.values, "forward.source": sources_value}, settings.endpoints)
    objects: list[BuiltObject] = []
    for spec in manifest.objects:
        built = build_object(manifest, spec, settings, company, hide_secrets)
        sources = [s.strip() for s in str(built.fields.get("source", "")).split(",") if s.strip()]
        if built.kind == "action" and not sources:
            continue  # nothing to forward from yet (no device): the CLI says so
        if built.kind == "action" and "{" in spec.source.replace("{company}", ""):  # one action per source
            for source in sources:
                objects.append(BuiltObject("action", f"{spec.name} {source}", {**built.fields, "source": source,
                                                                               "description": f"{spec.name} {source}"}))
        else:
            objects.append(built)
    streams = [{"path": _substitute(s.path, {"company": company}), "description": s.description, "capacity": s.capacity}
               for s in manifest.streams]
    return Bundle(company, streams, objects)


def write_bundle(bundle: Bundle, out: Path) -> list[Path]:
    """Each built function to `<out>/<name>.js` (one per manifest object) and `<out>/bundle.json`."""
    paths = []
    index = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for obj in bundle.objects:
            path = out / (obj.name.split(" ")[0] + ".js")
            path.write_text(obj.js + "\n")
            paths.append(path)
            index.append({"kind": obj.kind, "file": path.name, **{k: v for k, v in obj.fields.items() if k != "js"}})
        (out / "bundle.json").write_text(json.dumps({"company": bundle.company, "streams": bundle.streams,
                                                     "objects": index}, indent=2) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write the bundle to {out}: {exc.strerror or exc}",
                         hint="pass --out a folder you can write") from exc
    return paths
