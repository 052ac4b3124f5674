"""`edgehook demo`: the whole pipeline on this machine, with a live view and a summary."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from edgehook.errors import RemoteError

SETTLE = 20.0  # seconds the demo waits at the end for readings in flight


def _table(snap: dict[str, Any]) -> Any:
    from rich.table import Table

    lat = snap["latency_ms"]
    table = Table(title=f"edgehook demo — {snap['elapsed']:.0f} s (Ctrl-C to stop)", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("readings sent by the board", str(snap["readings"] if snap["readings"] is not None else "-"))
    table.add_row("events stored in the cloud", str(snap["events"]))
    states = snap["deliveries"]
    table.add_row("deliveries", "  ".join(f"{s}: {states.get(s, 0)}" for s in ("delivered", "pending", "retrying", "failed")))
    table.add_row("webhook requests", f"{snap['posts']} posts ({snap['messages']} messages, {snap['verified']} "
                  f"signatures ok), {snap['checks']} status checks")
    if lat["p50"] is not None:
        table.add_row("reading → webhook", f"p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms")
    return table


def _summary(snap: dict[str, Any]) -> str:
    from edgehook.bundle.demo import in_flight

    states = snap["deliveries"]
    lat = snap["latency_ms"]
    lines = [
        f"edgehook demo: {snap['elapsed']:.0f} s",
        f"  readings sent    {snap['readings']}",
        f"  events stored    {snap['events']}",
        "  deliveries       " + ", ".join(f"{s} {states.get(s, 0)}" for s in ("delivered", "pending", "retrying", "failed")),
        f"  webhook posts    {snap['posts']} for {snap['messages']} messages ({snap['verified']} signatures verified), "
        f"{snap['checks']} status checks of 202s",
    ]
    if lat["p50"] is not None:
        lines.append(f"  latency          reading → first webhook post: p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms")
    left = in_flight(snap)
    if any(left.values()):
        lines.append(f"  still in flight  {left['outbox']} readings in the bridge's outbox, {left['unrecorded']} events "
                     f"without a delivery record, {left['open']} deliveries pending or retrying")
    return "\n".join(lines)


@click.command()
@click.option("--duration", type=click.FloatRange(min=1), default=None,
              help="Stop after this many seconds (default: run until Ctrl-C).")
@click.option("--dir", "work", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the cloud database, outbox and logs here (default: a temporary folder, removed).")
@click.option("--seed", default=1, show_default=True, help="Seed of the board's simulated sensors.")
@click.option("--heap", default="48wk", show_default=True,
              help="MicroPython heap of the virtual board (48wk: what 48 KiB holds on an ESP32).")
@click.option("--plain", is_flag=True, help="Plain progress lines instead of the live view.")
def demo(duration: float | None, work: Path | None, seed: int, heap: str, plain: bool) -> None:
    """Run everything here: local cloud, bundle, webhook receiver, virtual board and bridge.

    Readings flow from the firmware on the virtual board through the bridge into the local cloud,
    where the bundled Cloud Action posts them to a loopback webhook receiver that answers mostly
    201, sometimes 202 (finished on a later status check) and now and then 503 (retried).
    """
    from rich.console import Console
    from rich.live import Live

    from edgehook.bundle.demo import Demo

    def stop_on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM ends the demo as Ctrl-C does: summary, everything stopped

    signal.signal(signal.SIGTERM, stop_on_term)
    folder = work or Path(tempfile.mkdtemp(prefix="edgehook-demo-"))
    console = Console()
    run = Demo(folder, seed=seed, heap=heap)
    done = False
    try:
        run.start(progress=lambda text: console.print(f"[dim]demo:[/] {text}"))
        end = time.monotonic() + duration if duration else None
        console.print(f"[dim]demo:[/] webhook receiver at {run.receiver.url}; cloud {run.env['EDGEHOOK_CLOUD_URL']}")
        try:
            if plain or not console.is_terminal:
                _watch(run, end, 5.0, lambda snap: click.echo(" | ".join(line.strip() for line in _summary(snap).splitlines()[2:4])))
            else:
                with Live(_table(run.snapshot()), console=console, refresh_per_second=4) as live:
                    _watch(run, end, 0.5, lambda snap: live.update(_table(snap)))
        except KeyboardInterrupt:
            pass
        console.print(f"[dim]demo:[/] board stopped; waiting up to {SETTLE:.0f} s for readings in flight "
                      "(Ctrl-C to skip)")
        try:
            run.settle(SETTLE)
        except KeyboardInterrupt:
            pass
        snap = run.snapshot()
        done = True
    except KeyboardInterrupt:  # while starting: nothing went wrong, nothing to keep
        done = True
        raise
    finally:
        run.stop()
        if not work:
            if done:
                shutil.rmtree(folder, ignore_errors=True)
            else:  # the logs the error points to stay for a look
                click.echo(f"edgehook demo: logs kept in {folder}", err=True)
    click.echo(_summary(snap))
    if work:
        click.echo(f"  files            {folder} (cloud.db, outbox.db, cloud.log, bridge.log)")


def _watch(run: Any, end: float | None, every: float, show: Callable[[dict[str, Any]], None]) -> None:
    """Show a snapshot every `every` s until `end` (None: until Ctrl-C); a part that died ends it."""
    while end is None or time.monotonic() < end:
        time.sleep(min(every, max(0.1, end - time.monotonic())) if end else every)
        dead = run.stopped()
        if dead:
            raise RemoteError(f"demo: {', '.join(dead)} stopped", hint=f"logs in {run.work}")
        try:
            show(run.snapshot())
        except RemoteError:
            if run.stopped():
                raise
            continue  # every part runs: a count that could not be read now is read next time


COMMANDS = [demo]
