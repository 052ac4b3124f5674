"""`edgehook bridge` (serial ⇄ Octave) and `edgehook outbox status|list` (what the outbox holds)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from edgehook.errors import UsageError

ENV_URL = "EDGEHOOK_CLOUD_URL"
ENV_COMPANY = "EDGEHOOK_COMPANY"


def default_outbox(device: str) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "edgehook" / f"outbox-{device}.db"


def _parse_map(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        segment, sep, stream = item.partition("=")
        if not sep or not segment or not stream:
            raise UsageError(f"bad --map {item!r}", hint="use SEGMENT=STREAM, e.g. env=environment")
        out[segment] = stream
    return out


@click.command("bridge")
@click.option("--port", required=True, help="Serial port of the board (e.g. /dev/ttyUSB0, or a pty).")
@click.option("--baud", type=click.IntRange(min=1), default=115200, show_default=True, help="Baud rate.")
@click.option("--cloud", "cloud_url", envvar=ENV_URL,
              help=f"Octave REST base, e.g. https://octave-api.sierrawireless.io/v5.0 [env {ENV_URL}].")
@click.option("--company", envvar=ENV_COMPANY, help=f"Octave company name [env {ENV_COMPANY}].")
@click.option("--device", required=True, help="Device name in the cloud (streams /<co>/devices/<device>/...).")
@click.option("--outbox", "outbox_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Outbox file (SQLite) [default: ~/.local/state/edgehook/outbox-<device>.db].")
@click.option("--offline", is_flag=True, help="No cloud: answer the board and keep readings in the outbox.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Uploads in flight at once.")
@click.option("--max-records", type=click.IntRange(min=1), default=100_000, show_default=True, help="Outbox limit: open records.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=64 * 1024 * 1024, show_default=True, help="Outbox limit: open bytes.")
@click.option("--policy", type=click.Choice(["reject-new", "drop-oldest"]), default="reject-new",
              show_default=True, help="When the outbox is full: refuse pushes (the board keeps "
              "buffering) or drop the oldest reading (counted).")
@click.option("--ttl", type=click.FloatRange(min=0, min_open=True), help="Drop readings not uploaded after this many seconds (counted).")
@click.option("--map", "maps", multiple=True, metavar="SEGMENT=STREAM",
              help="Send resources under SEGMENT to another stream (a name under the device, or a "
              "full /<co>/... path). Repeatable.")
@click.option("--elems-prefix", default="", help="Nest event elems under this path (e.g. orp/asset).")
@click.option("--silence", type=click.FloatRange(min=0), default=15.0, show_default=True,
              help="No frame for this many seconds: SYNC again; twice as long: reopen the port (0: never).")
@click.option("--command-interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between polls of the device's :command stream.")
@click.option("--backoff-max", type=click.FloatRange(min=0.1), default=60.0, show_default=True, help="Longest wait between upload retries (s).")
@click.option("--plain", is_flag=True, help="Plain log lines even on a terminal (no live table).")
@click.option("--status-every", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Seconds between plain status lines.")
def bridge(port: str, baud: int, cloud_url: str | None, company: str | None, device: str,
           outbox_path: Path | None, offline: bool, concurrency: int, max_records: int,
           max_bytes: int, policy: str, ttl: float | None, maps: tuple[str, ...],
           elems_prefix: str, silence: float, command_interval: float, backoff_max: float,
           plain: bool, status_every: float) -> None:
    """Bridge a board's ORP serial link to the Octave cloud (or `edgehook cloud serve`).

    Plays the Octave edge's side of ORP: answers the board's requests, keeps every pushed reading
    in a durable outbox before acknowledging it, uploads them as events and delivers commands
    from /<co>/devices/<device>/:command as handler calls. Credentials come from EDGEHOOK_USER /
    EDGEHOOK_TOKEN or the credentials file; the token is never shown.
    """
    from edgehook.bridge.service import Bridge, BridgeConfig
    from edgehook.octave.credentials import resolve_credentials

    creds = None
    if not offline:
        if not cloud_url or not company:
            raise UsageError("no cloud to upload to",
                             hint=f"pass --cloud and --company (or set {ENV_URL} / {ENV_COMPANY}), "
                             "or --offline to only buffer")
        creds = resolve_credentials()
    cfg = BridgeConfig(
        port=port, device=device, outbox=outbox_path or default_outbox(device), baud=baud,
        cloud_url=None if offline else cloud_url, company=company, credentials=creds,
        concurrency=concurrency, max_records=max_records, max_bytes=max_bytes, policy=policy,
        ttl=ttl, stream_map=_parse_map(maps), elems_prefix=elems_prefix, silence=silence,
        command_interval=command_interval, backoff_max=backoff_max)
    live = sys.stdout.isatty() and not plain
    if live:  # warnings show in the table's panels; log lines would tear the live display
        logging.getLogger("edgehook").setLevel(logging.ERROR)
    else:
        logging.getLogger("edgehook").setLevel(min(logging.getLogger().level, logging.INFO))
        logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service = Bridge(cfg)
    click.echo(f"edgehook bridge: {port} -> {cloud_url if creds else 'offline'} as {device}; "
               f"outbox {cfg.outbox}", err=True)
    service.start()
    try:
        if live:
            _live(service, stop)
        else:
            _plain(service, stop, status_every)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


def _live(service: Any, stop: threading.Event) -> None:
    from rich.live import Live

    from edgehook.bridge.view import render

    with Live(render(service.snapshot()), refresh_per_second=4, screen=False) as live:
        while not stop.wait(0.25):
            live.update(render(service.snapshot(), height=live.console.size.height))


def _plain(service: Any, stop: threading.Event, every: float) -> None:
    from edgehook.bridge.view import plain_line

    log = logging.getLogger("edgehook.bridge")
    last = 0.0
    while not stop.wait(0.25):
        if time.monotonic() - last >= every:
            last = time.monotonic()
            log.info("%s", plain_line(service.snapshot()))
    log.info("stopping: %s", plain_line(service.snapshot()))


@click.group("outbox")
def outbox() -> None:
    """Inspect a bridge's outbox file (works while the bridge runs)."""


@outbox.command("status")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def outbox_status(file: Path) -> None:
    """Print the outbox counters, depth by state and limits as JSON."""
    from edgehook.bridge.outbox import open_existing

    box = open_existing(file)
    try:
        click.echo(json.dumps(box.status(), indent=2))
    finally:
        box.close()


@outbox.command("list")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--state", type=click.Choice(["pending", "retrying", "delivered", "failed", "dropped"]),
              help="Only records in this state.")
@click.option("--limit", type=int, default=None, help="At most this many records.")
def outbox_list(file: Path, state: str | None, limit: int | None) -> None:
    """Print the records (one JSON object a line); failed and dropped ones carry their reason."""
    from edgehook.bridge.outbox import open_existing

    box = open_existing(file)
    try:
        for rec in box.records(state=state, limit=limit):
            click.echo(json.dumps(rec.to_json(), sort_keys=True))
    finally:
        box.close()


COMMANDS = [bridge, outbox]
