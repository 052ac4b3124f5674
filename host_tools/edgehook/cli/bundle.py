"""`edgehook bundle`, `edgehook deploy` and `edgehook deliveries`: the Cloud Action bundle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from edgehook.errors import UsageError

OCTAVE_URL = "https://octave-api.sierrawireless.io/v5.0"
LOCAL_URL = "http://127.0.0.1:8765/v5.0"

_bundle_option = click.option(
    "--bundle", "bundle_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Bundle folder with manifest.json (default: the bundle shipped with edgehook, cloud/).")
_set_option = click.option(
    "--set", "assignments", multiple=True, metavar="KEY=VALUE",
    help="A setting, e.g. webhook.url=https://… or webhook.secret=whsec_… (repeatable).")
_secrets_option = click.option(
    "--secrets", "secrets_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="JSON file of settings kept out of git (default: <bundle>/secrets.local.json).")


def _client(cloud_url: str | None, company: str | None, target: str | None = None):  # noqa: ANN202
    from edgehook.octave.client import OctaveClient

    if cloud_url is None and target is not None:
        cloud_url = os.environ.get("EDGEHOOK_CLOUD_URL") or (OCTAVE_URL if target == "octave" else LOCAL_URL)
    return OctaveClient.from_env(cloud_url, company)


def _cloud_options(func):  # noqa: ANN001, ANN202
    func = click.option("--company", default=None, help="Company (default: EDGEHOOK_COMPANY).")(func)
    return click.option("--cloud", "cloud_url", default=None,
                        help="REST base URL, e.g. http://127.0.0.1:8765/v5.0 (default: EDGEHOOK_CLOUD_URL).")(func)


@click.group()
def bundle() -> None:
    """Build the Cloud Action bundle (cloud/) and make webhook secrets."""


@bundle.command()
@_bundle_option
@_set_option
@_secrets_option
@click.option("--company", default="demo", show_default=True, help="Company the stream paths are built for.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("build/bundle"),
              show_default=True, help="Folder for the built functions and bundle.json.")
@click.option("--include-secrets", is_flag=True, help="Write secret values into the built files (default: <hidden>).")
def build(bundle_dir: Path | None, assignments: tuple[str, ...], secrets_file: Path | None, company: str,
          out: Path, include_secrets: bool) -> None:
    """Inline the library into one self-contained ES5.1 function per action and task, and check each."""
    from edgehook.bundle.build import build_bundle, write_bundle
    from edgehook.bundle.manifest import load_manifest
    from edgehook.bundle.settings import parse_assignments, resolve_settings

    manifest = load_manifest(bundle_dir)
    settings = resolve_settings(manifest, parse_assignments(assignments), secrets_file=secrets_file,
                                require_endpoint=False)
    built = build_bundle(manifest, settings, company, hide_secrets=not include_secrets, devices=["{device}"])
    for path, obj in zip(write_bundle(built, out), built.objects, strict=True):
        where = obj.fields.get("source") or f"every {obj.fields.get('period')} s"
        click.echo(f"{obj.kind:6} {obj.name:24} {len(obj.js):6} chars  ES5.1 ok  {where}  -> {path}")
    if not settings.endpoints:
        click.echo("note: no endpoint configured; set webhook.url and webhook.secret before deploying", err=True)


@bundle.command()
def secret() -> None:
    """Print a new Standard Webhooks signing secret (whsec_ + 32 random bytes, base64)."""
    from edgehook.bundle.settings import new_secret

    click.echo(new_secret())


@click.command()
@click.option("--target", type=click.Choice(["local", "octave"]), default="local", show_default=True,
              help="Default REST base when neither --cloud nor EDGEHOOK_CLOUD_URL is given.")
@_cloud_options
@_bundle_option
@_set_option
@_secrets_option
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def deploy(target: str, cloud_url: str | None, company: str | None, bundle_dir: Path | None,
           assignments: tuple[str, ...], secrets_file: Path | None, dry_run: bool, as_json: bool) -> None:
    """Build, check, then create or update the bundle's streams, actions and tasks (by name).

    Settings come from --set, then EDGEHOOK_WEBHOOK_URL / EDGEHOOK_WEBHOOK_SECRET, then the
    secrets file; secret values are never printed.
    """
    from edgehook.bundle.build import build_bundle, wanted_devices
    from edgehook.bundle.deploy import deploy_bundle
    from edgehook.bundle.manifest import load_manifest
    from edgehook.bundle.settings import parse_assignments, resolve_settings

    manifest = load_manifest(bundle_dir)
    settings = resolve_settings(manifest, parse_assignments(assignments), secrets_file=secrets_file)
    client = _client(cloud_url, company, target)
    devices = None
    if wanted_devices(settings) is None:
        devices = sorted(str(d.get("name")) for d in client.list_objects("device", limit=10_000))
    built = build_bundle(manifest, settings, client.company, devices=devices)
    changes = deploy_bundle(client, built, [o.name for o in manifest.objects], dry_run=dry_run)
    if as_json:
        click.echo(json.dumps({"dryRun": dry_run, "company": client.company, "changes": [c.__dict__ for c in changes]}))
        return
    verb = {"created": "would create", "updated": "would update", "deleted": "would delete"} if dry_run else {}
    for c in changes:
        extra = f" ({', '.join(c.fields)})" if c.fields else ""
        click.echo(f"{verb.get(c.op, c.op):13} {c.kind:6} {c.name}{extra}")
    if devices == []:
        click.echo("warning: no device in this company yet, so nothing is forwarded; deploy again once the "
                   "bridge has registered the device, or --set forward.devices=NAME", err=True)
    eps = ", ".join(f"{e['name']} -> {_public_url(e['url'])}" for e in settings.endpoints)
    click.echo(f"{'dry run: nothing changed' if dry_run else 'deployed'} to {client.base_url} company {client.company}; "
               f"endpoints: {eps} (secrets hidden)")


def _public_url(url: str) -> str:
    """The URL without user info and query (either may carry a token)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}" + \
        ("?…" if parts.query else "")


@click.group()
def deliveries() -> None:
    """Webhook delivery records: list, show, replay; re-enable an endpoint after a 410."""


def _short(value: object, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(ms: object) -> str:
    import datetime as dt

    if not isinstance(ms, (int, float)):
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@deliveries.command("list")
@_cloud_options
@click.option("--state", type=click.Choice(["delivered", "pending", "retrying", "failed"]), default=None,
              help="Only records in this state.")
@click.option("--endpoint", default=None, help="Only records of this endpoint.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_cmd(cloud_url: str | None, company: str | None, state: str | None, endpoint: str | None, limit: int,
             as_json: bool) -> None:
    """List delivery records, newest first (stuck ones flagged)."""
    from rich.console import Console
    from rich.table import Column, Table

    from edgehook.bundle.deliveries import list_deliveries, stuck

    records = list_deliveries(_client(cloud_url, company), state=state, limit=limit, endpoint=endpoint)
    if as_json:
        for rec in records:
            click.echo(json.dumps({k: v for k, v in rec.items() if k != "body"}))
        return
    late = {r["recordId"] for r in stuck(records)}
    console = Console()
    if not console.is_terminal:  # a pipe or a file does not wrap: give the table its natural width
        console = Console(width=200)
    wide = console.width >= 150  # room for the webhook id too (`show` takes either id)
    # the ids are what `show` and `replay` take: never cut, whatever the width
    head: list[Column | str] = [Column("record", no_wrap=True, min_width=25), Column("state", no_wrap=True, min_width=9), "endpoint"]
    table = Table(*head, *([Column("webhook id", no_wrap=True, min_width=36)] if wide else []),
                  "device", "att", "status", "next attempt", "reason")
    for r in records:
        table.add_row(r["recordId"], r.get("state", "?") + (" (stuck)" if r["recordId"] in late else ""),
                      r.get("endpoint"), *([r.get("webhookId")] if wide else []), _short(r.get("device"), 16),
                      str(r.get("attempts")), str(r.get("lastStatus") or "-"), _when(r.get("nextAttemptAt")),
                      _short(r.get("reason"), 50))
    console.print(table)
    click.echo(f"{len(records)} record(s)")


@deliveries.command()
@_cloud_options
@click.argument("ident")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
def show(cloud_url: str | None, company: str | None, ident: str, as_json: bool) -> None:
    """Show the records of IDENT: a record id (e…), a webhook id (msg_…), a record hash or a source event id."""
    from edgehook.bundle.deliveries import find_deliveries

    records = find_deliveries(_client(cloud_url, company), ident)
    if not records:
        raise UsageError(f"no delivery record matches {ident}", hint="`edgehook deliveries list` shows the ids")
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    for rec in records:
        click.echo(f"record {rec['recordId']} (version {rec.get('version')})")
        for key in ("state", "endpoint", "webhookId", "reason", "attempts", "checks", "replays", "lastStatus",
                    "lastError", "statusUrl", "location", "sourceEventId", "sourcePath", "device", "stream"):
            click.echo(f"  {key:14} {rec.get(key)}")
        for key in ("deviceTime", "createdAt", "updatedAt", "deliveredAt", "nextAttemptAt"):
            click.echo(f"  {key:14} {_when(rec.get(key))}")
        click.echo(f"  {'response':14} {_short(rec.get('response'), 200)}")
        click.echo(f"  {'body':14} {_short(rec.get('body'), 200)}")


@deliveries.command()
@_cloud_options
@click.argument("ident", required=False)
@click.option("--failed", is_flag=True, help="Replay every failed delivery.")
def replay(cloud_url: str | None, company: str | None, ident: str | None, failed: bool) -> None:
    """Deliver again IDENT's records (or every failed one), with the same webhook id.

    The records become `retrying`, due now; the deliveries task posts them on its next run.
    """
    from edgehook.bundle.deliveries import replay as do_replay

    records = do_replay(_client(cloud_url, company), ident, failed)
    if not records:
        raise UsageError("nothing to replay" if failed else f"no delivery record matches {ident}",
                         hint="`edgehook deliveries list --state failed` shows what failed")
    click.echo(f"replay requested for {len(records)} deliver{'y' if len(records) == 1 else 'ies'}; "
               "the deliveries task posts them on its next run")


@deliveries.command()
@_cloud_options
@click.argument("endpoint")
def enable(cloud_url: str | None, company: str | None, endpoint: str) -> None:
    """Re-enable ENDPOINT after a 410 Gone marked it off."""
    from edgehook.bundle.deliveries import enable_endpoint

    enable_endpoint(_client(cloud_url, company), endpoint)
    click.echo(f"endpoint {endpoint} enabled; replay its failed deliveries with `edgehook deliveries replay --failed`")


@deliveries.command()
@_cloud_options
def endpoints(cloud_url: str | None, company: str | None) -> None:
    """Show the endpoints' recorded states (gone after a 410, active after enable)."""
    from edgehook.bundle.deliveries import endpoint_states

    states = endpoint_states(_client(cloud_url, company))
    if not states:
        click.echo("no endpoint has been marked gone")
    for s in states:
        click.echo(f"{s.get('endpoint')}: {s.get('state')} since {_when(s.get('since'))}")


COMMANDS = [bundle, deploy, deliveries]
