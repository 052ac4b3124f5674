"""What a person sees of a running bridge: a rich live table, or one plain log line per interval."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _age(ts: float | None) -> str:
    if ts is None:
        return "-"
    age = time.time() - ts
    if age < 0 or age > 86400 * 365:
        return time.strftime("%H:%M:%S", time.localtime(ts))
    return f"{age:.0f} s ago" if age < 120 else f"{age / 60:.0f} min ago"


def _value(v: Any) -> str:
    text = repr(v) if not isinstance(v, str) else v
    return text if len(text) <= 40 else text[:37] + "..."


# lines of the view besides the resource rows (head, link line, outbox table, two 3-line panels,
# the resources table's title, header and border)
_FIXED_LINES = 26


def _fitting(resources: list[dict], height: int | None) -> tuple[list[dict], int]:
    """The resources that fit in `height` lines (those with values first), and how many do not."""
    if height is None or len(resources) <= max(1, height - _FIXED_LINES):
        return resources, 0
    room = max(1, height - _FIXED_LINES - 1)  # one line says how many are left out
    keep = sorted(resources, key=lambda r: (r["timestamp"] is None, r["path"]))[:room]
    return sorted(keep, key=lambda r: r["path"]), len(resources) - len(keep)


def render(snap: dict[str, Any], height: int | None = None) -> Group:
    """The live view: link, outbox, uploads, errors, then as many resources as fit in `height`."""
    box = snap["outbox"]
    states = box["states"]
    sess = snap["session"]
    dec = snap["decoder"]
    link = snap["link"]
    link_style = "green" if link == "open" and snap["synced"] else "yellow"
    head = Text.assemble(
        ("link ", "bold"), (f"{snap['port']} {link}", link_style),
        f"  synced={'yes' if snap['synced'] else 'no'}  ORP v{snap['peer_version'] or '?'}",
        ("   cloud ", "bold"), f"{snap['cloud']}  {snap['upload_rate']:.1f} events/s",
        ("   device ", "bold"), snap["device"],
    )
    res = Table(title="resources", expand=True)
    for col in ("path", "kind", "type", "last value", "units", "when", "pushes"):
        res.add_column(col, overflow="fold")
    shown, hidden = _fitting(snap["resources"], height)
    for r in shown:
        res.add_row(r["path"], r["kind"], r["dtype"], _value(r["value"]), r["units"] or "",
                    _age(r["timestamp"]), str(r["pushes"]))
    if hidden:
        res.add_row(f"… {hidden} more (no room)", "", "", "", "", "", "", style="dim")
    counters = box["counters"]
    out = Table(title="outbox", expand=True)
    for col in ("pending", "retrying", "delivered", "failed", "dropped", "bytes", "refused full"):
        out.add_column(col, justify="right")
    out.add_row(str(states["pending"]), str(states["retrying"]), str(counters["delivered"]),
                str(counters["failed"]), str(counters["dropped_oldest"] + counters["expired"]),
                str(box["open_bytes"]), str(counters["rejected_full"]))
    link_line = Text(
        f"frames in {sess['rx_packets']}  out {sess['tx_packets']}  pushes acked "
        f"{sess['pushes_acked']} (duplicates {sess['pushes_duplicate']}, refused "
        f"{sess['pushes_refused']})  crc errors {dec['crc_errors']}  junk bytes {dec['junk_bytes']}"
        f"  bad packets {sess['bad_packets']}  commands {snap['commands_handled']}")
    errors = Text("\n".join(snap["errors"][-3:]) or "none", style="red" if snap["errors"] else "dim")
    events = Text("\n".join(snap.get("events", [])[-3:]) or "none", style="dim")
    # what a person must see first (link, outbox, errors) comes before the long resource list
    return Group(head, link_line, out, Panel(errors, title="recent errors"),
                 Panel(events, title="recent events"), res)


def plain_line(snap: dict[str, Any]) -> str:
    """One log line with the same facts, for a pipe or a log file."""
    box = snap["outbox"]
    c = box["counters"]
    sess = snap["session"]
    return (
        f"link={snap['link']} synced={'yes' if snap['synced'] else 'no'} "
        f"resources={len(snap['resources'])} acked={sess['pushes_acked']} "
        f"outbox_open={box['open']} delivered={c['delivered']} failed={c['failed']} "
        f"dropped={c['dropped_oldest'] + c['expired']} refused_full={c['rejected_full']} "
        f"cloud={snap['cloud']} rate={snap['upload_rate']:.1f}/s "
        f"crc_errors={snap['decoder']['crc_errors']} commands={snap['commands_handled']}"
    )
