"""`edgehook cloud`: serve the local Octave-compatible cloud, check actions, show runs and events."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from edgehook.errors import UsageError


@click.group()
def cloud() -> None:
    """The local Octave-compatible cloud (REST v5.0 subset, Cloud Actions, Tasks)."""


@cloud.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=Path("edgehook-cloud.db"),
              show_default=True, help="SQLite file holding streams, events, actions, tasks and runs.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless told).")
@click.option("--port", type=int, default=8765, show_default=True, help="TCP port; 0 picks a free one.")
@click.option("--company", default="demo", show_default=True, help="The company name (first path segment).")
@click.option("--manual-clock", is_flag=True, help="The clock stands still until POST .../_clock advances it (tests).")
@click.option("--action-timeout", type=float, default=5.0, show_default=True, help="Wall-clock limit of one run (s).")
@click.option("--memory-mb", type=int, default=32, show_default=True, help="QuickJS memory limit of one run (MB).")
@click.option("--http-timeout", type=float, default=15.0, show_default=True, help="Timeout of one Octave.Http call (s).")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True, help="Worker processes running scripts.")
@click.option("--disable-after", type=click.IntRange(1), default=5, show_default=True,
              help="Consecutive failed runs that disable an action or task.")
@click.option("--max-depth", type=click.IntRange(0), default=8, show_default=True,
              help="Chain depth after which routed events run no more actions.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="warning", show_default=True, help="uvicorn log level.")
def serve(db: Path, host: str, port: int, company: str, manual_clock: bool, action_timeout: float,
          memory_mb: int, http_timeout: float, workers: int, disable_after: int, max_depth: int,
          log_level: str) -> None:
    """Serve the cloud; prints the base URL (alone on the first line), then how to use it."""
    from edgehook.cloud.app import bind
    from edgehook.cloud.app import serve as run_server
    from edgehook.cloud.clock import Clock, ManualClock
    from edgehook.cloud.runner import Limits
    from edgehook.cloud.service import Cloud
    from edgehook.octave.credentials import ensure_credentials

    if company != company.lower() or not company.replace("_", "").replace("-", "").isalnum():
        raise UsageError(f"bad company name {company!r}", hint="lowercase letters, digits, - and _")
    creds, created = ensure_credentials()
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}", hint="try --port 0") from None
    limits = Limits(time_s=action_timeout, memory_bytes=memory_mb << 20, http_timeout_s=http_timeout,
                    workers=workers, disable_after=disable_after, max_depth=max_depth)
    import sqlite3

    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        service = Cloud(db, company, creds, ManualClock() if manual_clock else Clock(), limits)
    except (OSError, sqlite3.DatabaseError) as exc:
        sock.close()
        raise UsageError(f"cannot open the database {db}: {exc}", hint="check the --db path") from None
    h, p = sock.getsockname()[:2]
    url = f"http://{h if ':' not in h else f'[{h}]'}:{p}/v5.0"

    def ready() -> None:
        click.echo(url)
        click.echo(f"edgehook cloud: company {company}, database {db}, OpenAPI at {url[:-5]}/openapi.json")
        if created:
            click.echo(f"edgehook cloud: new credentials for user {creds.user!r} written to {created} (mode 0600)")
        click.echo(f"  export EDGEHOOK_CLOUD_URL={url} EDGEHOOK_COMPANY={company}")

    run_server(service, sock, log_level=log_level, on_ready=ready)


@cloud.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--task", is_flag=True, help="Check as a Task (a function of no argument), not an action.")
def check(files: tuple[Path, ...], task: bool) -> None:
    """Check that each FILE is one ES5.1-strict function, as the Action Runner requires."""
    from edgehook.cloud import es5

    bad = 0
    for path in files:
        source = path.read_text()
        problems = es5.problems(source)
        for p in problems:
            click.echo(f"{path}:{p.line}:{p.column}: {p.message}")
        if not problems:
            try:
                es5.check_function(source, arity=None if task else 1)
            except Exception as exc:
                problems = [exc]  # type: ignore[list-item]
                click.echo(f"{path}: {exc}")
        bad += bool(problems)
        if not problems:
            click.echo(f"{path}: ok")
    if bad:
        raise UsageError(f"{bad} of {len(files)} file(s) are not ES5.1 strict functions",
                         hint="Octave's Action Runner runs ES5.1: use var, function(){}, string concatenation")


@cloud.command()
@click.argument("object_id")
@click.option("--task", is_flag=True, help="OBJECT_ID is a task, not an action.")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True, help="How many runs (newest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def runs(object_id: str, task: bool, limit: int, as_json: bool) -> None:
    """Show the recorded runs of an action (or --task) from EDGEHOOK_CLOUD_URL."""
    from edgehook.octave.client import OctaveClient

    client = OctaveClient.from_env()
    kind = "task" if task else "action"
    resp = client.request("GET", f"/{kind}/{object_id}/runs", params={"limit": limit, "order": "desc"})
    if not resp.ok:
        raise UsageError(f"cannot read runs of {kind} {object_id}: {resp.message()}")
    rows = list(reversed(resp.body or []))
    if as_json:
        for run in rows:
            click.echo(json.dumps(run))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("start", "outcome", "ms", "event", "http", "error / console")
    for run in rows:
        http = ", ".join(f"{h.get('method')} {h.get('status')}" for h in run.get("http") or [])
        note = run.get("error") or " | ".join(run.get("console") or [])
        when = time.strftime("%H:%M:%S", time.localtime(run["start"] / 1000))
        table.add_row(when, run["outcome"], f"{run['duration_ms']:.1f}", run.get("eventId") or "-", http, note[:120])
    Console().print(table)


@cloud.command()
@click.option("--path", "stream_path", required=True, help="Stream path, e.g. /demo/devices/dev1/temp.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they arrive (Ctrl-C stops).")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True, help="How many recent events first.")
@click.option("--filter", "filter_", default=None, help="Octave filter, e.g. \"elems.temp > 30\".")
@click.option("--interval", type=float, default=0.5, show_default=True, help="Poll interval with --follow (s).")
def events(stream_path: str, follow: bool, limit: int, filter_: str | None, interval: float) -> None:
    """Print a stream's events as JSON lines, oldest first (tail -f style with --follow)."""
    from edgehook.octave.client import OctaveClient

    client = OctaveClient.from_env()
    extra = {"filter": filter_} if filter_ else {}
    batch = list(reversed(client.list_events(path=stream_path, limit=limit, order="desc", **extra)))
    seen: set[str] = set()
    last = 0
    while True:
        for ev in batch:
            if ev["id"] not in seen:
                click.echo(json.dumps(ev))
                seen.add(ev["id"])
                last = max(last, ev["creationDate"])
        if not follow:
            return
        time.sleep(interval)
        f = f"creationDate >= {last}" + (f" && ({filter_})" if filter_ else "")
        batch = client.list_events(path=stream_path, filter=f, order="asc", sort="creationDate", limit=10000)
        seen = {ev["id"] for ev in batch if ev["id"] in seen}


COMMANDS = [cloud]
