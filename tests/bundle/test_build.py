"""Manifest, settings and `edgehook bundle build`: self-contained ES5.1 functions, secrets kept out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import quickjs
from click.testing import CliRunner

from edgehook.bundle.build import build_bundle
from edgehook.bundle.manifest import load_manifest
from edgehook.bundle.settings import new_secret, resolve_settings
from edgehook.cli import cli
from edgehook.cloud import es5
from edgehook.errors import UsageError

SECRET = new_secret()
BASE = {"webhook.url": "https://hooks.example/in", "webhook.secret": SECRET}


def test_every_built_function_is_self_contained_es5(tmp_path: Path) -> None:
    manifest = load_manifest()
    built = build_bundle(manifest, resolve_settings(manifest, BASE, env={}), "acme", devices=["b1"])
    kinds = sorted({(o.kind, o.name.split(" ")[0]) for o in built.objects})
    assert kinds == [("action", "edgehook-control"), ("action", "edgehook-deliver"), ("action", "edgehook-forward"),
                     ("task", "edgehook-deliveries")]
    for obj in built.objects:
        assert es5.problems(obj.js) == []
        assert obj.js.startswith("function(") and '"use strict";' in obj.js
        ctx = quickjs.Context()  # compiles alone: no module, no global the runner lacks
        ctx.eval("var f = (" + obj.js + ");")
        assert ctx.eval("typeof f") == "function"
        assert ctx.eval("typeof hmacSha256") == "undefined"  # the library lives inside the function
    sources = sorted(o.fields["source"] for o in built.objects if o.name.startswith("edgehook-forward"))
    assert sources == [f"/acme/devices/b1/{s}" for s in sorted(["env", "io", "mcu", "adc", "health"])]
    task = next(o for o in built.objects if o.kind == "task")
    assert task.fields["period"] == 5


def test_settings_precedence_set_then_env_then_secrets_file(tmp_path: Path) -> None:
    manifest = load_manifest()
    secrets_file = tmp_path / "secrets.local.json"
    other = new_secret()
    secrets_file.write_text(json.dumps({"webhook.url": "https://file/", "webhook.secret": other, "task.period": 9}))
    s = resolve_settings(manifest, {}, env={}, secrets_file=secrets_file)
    assert (s.endpoints[0]["url"], s.endpoints[0]["secret"], s.values["task.period"]) == ("https://file/", other, 9)
    s = resolve_settings(manifest, {}, env={"EDGEHOOK_WEBHOOK_URL": "https://env/"}, secrets_file=secrets_file)
    assert s.endpoints[0]["url"] == "https://env/"
    s = resolve_settings(manifest, {"webhook.url": "https://set/"}, env={"EDGEHOOK_WEBHOOK_URL": "https://env/"},
                         secrets_file=secrets_file)
    assert s.endpoints[0]["url"] == "https://set/"
    assert SECRET not in json.dumps(s.redacted()) and other not in json.dumps(s.redacted())


@pytest.mark.parametrize(
    "settings,message",
    [({}, "no webhook endpoint"), ({"webhook.url": "ftp://x/"}, r"http\(s\) URL"),
     ({"webhook.url": "https://x/"}, "has no secret"),
     ({"webhook.url": "https://x/", "webhook.secret": "whsec_%%%"}, "not whsec_"),
     ({"webhook.url": "https://x/", "webhook.secret": "whsec_AAAA"}, "24 to 64"),
     ({**BASE, "policy.maxAttempts": "many"}, "policy.maxAttempts: bad value"),
     ({**BASE, "webhook.colour": "red"}, "unknown setting webhook.colour"),
     ({**BASE, "policy.bogus": "1"}, "unknown setting policy.bogus"),
     # below the manifest's `min`: each would deploy a bundle that never delivers (or a refused task)
     ({**BASE, "policy.maxAttempts": "0"}, "policy.maxAttempts: bad value .*at least 1"),
     ({**BASE, "task.period": "-1"}, "task.period: bad value .*at least 1"),
     ({**BASE, "task.batch": "0"}, "task.batch: bad value"),
     ({**BASE, "webhook.timeout": "-3"}, "webhook.timeout: bad value .*at least 0.1"),
     ({**BASE, "webhook.timeout": "nan"}, "webhook.timeout: bad value .*finite"),
     ({**BASE, "policy.retrySchedule": ""}, "policy.retrySchedule: bad value")],
)
def test_bad_settings_are_usage_errors(settings: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_settings(load_manifest(), settings, env={})


def test_two_endpoints_and_extra_headers() -> None:
    second = new_secret()
    s = resolve_settings(load_manifest(), {**BASE, "audit.url": "http://127.0.0.1:1/a", "audit.secret": second,
                                           "audit.headers.Authorization": "Bearer t", "audit.timeout": "3"}, env={})
    assert [e["name"] for e in s.endpoints] == ["webhook", "audit"]
    assert s.endpoints[1]["headers"] == {"Authorization": "Bearer t"} and s.endpoints[1]["timeout"] == 3
    assert "Bearer t" not in json.dumps(s.redacted())


def test_bundle_build_cli_hides_secrets(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["bundle", "build", "--out", str(out), "--company", "acme",
                                   "--set", f"webhook.secret={SECRET}", "--set", "webhook.url=https://h/"])
    assert res.exit_code == 0, res.output
    assert "ES5.1 ok" in res.output and SECRET not in res.output
    files = sorted(p.name for p in out.iterdir())
    assert files == ["bundle.json", "edgehook-control.js", "edgehook-deliver.js", "edgehook-deliveries.js",
                     "edgehook-forward.js"]
    text = (out / "edgehook-forward.js").read_text()
    assert SECRET not in text and '"secret": "<hidden>"' in text
    index = json.loads((out / "bundle.json").read_text())
    assert {o["kind"] for o in index["objects"]} == {"action", "task"}


def test_bundle_build_into_a_folder_it_cannot_make_is_a_usage_error(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    res = CliRunner().invoke(cli, ["bundle", "build", "--out", str(afile / "out")], standalone_mode=False)
    assert isinstance(res.exception, UsageError) and "cannot write the bundle" in str(res.exception)


def test_bad_manifest_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"actions": [{"name": "a", "source": "/x/y", "file": "nope.js"}]}')
    with pytest.raises(UsageError, match="no file nope.js"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2")
    with pytest.raises(UsageError, match="cannot read"):
        load_manifest(tmp_path)
    with pytest.raises(UsageError, match="no bundle manifest"):
        load_manifest(tmp_path / "missing")
    for text, message in [('{"actions": 5}', "`actions` must be a list"),
                          ('{"library": "lib/a.js"}', "`library` must be a list"),
                          ('{"settings": {"a": 5}}', "`settings` must be an object of objects"),
                          ('{"streams": [{"path": "/{company}/x", "capacity": "big"}]}', "capacity must be")]:
        (tmp_path / "manifest.json").write_text(text)
        with pytest.raises(UsageError, match=message):
            load_manifest(tmp_path)
