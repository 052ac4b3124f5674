"""List parameters of Octave's find endpoints (start, limit, sort, order, filter, only)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from edgehook.cloud.errors import Invalid
from edgehook.cloud.filters import MISSING, Predicate, lookup, parse_filter

MAX_LIMIT = 10000


@dataclass
class ListParams:
    start: int = 0
    limit: int = 20
    sort: str = "creationDate"
    order: str = "desc"
    filter: Predicate | None = None
    only: list[str] | None = None

    @classmethod
    def parse(cls, query: Mapping[str, Any], default_sort: str = "creationDate") -> ListParams:
        """From query parameters (or an Octave.Event.find options object); Invalid on bad ones."""
        order = str(query.get("order") or "desc").lower()
        if order not in ("asc", "desc"):
            raise Invalid(f"order must be 'asc' or 'desc', not {order!r}")
        only = query.get("only")
        return cls(
            start=_int(query, "start", 0, 0, None),
            limit=_int(query, "limit", 20, 1, MAX_LIMIT),
            sort=str(query.get("sort") or default_sort),
            order=order,
            filter=parse_filter(query.get("filter")),
            only=[f.strip() for f in str(only).split(",") if f.strip()] if only else None,
        )

    def apply(self, items: Iterable[dict]) -> list[dict]:
        """Filter, sort, page and project plain dicts (items come in insertion order)."""
        pred = self.filter
        rows = [it for it in items if pred is None or pred(it)]
        rows = sort_items(rows, self.sort, self.order == "desc")
        return [self.project(r) for r in rows[self.start : self.start + self.limit]]

    def project(self, item: dict) -> dict:
        if not self.only:
            return item
        out: dict = {}
        for field in self.only:
            value = lookup(item, field)
            if value is MISSING:
                continue
            node = out
            parts = field.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        return out


def sort_items(rows: list[dict], key: str, descending: bool) -> list[dict]:
    """Stable sort on a dotted key; missing values and mixed types sort as their type rank."""

    def rank(item: dict) -> tuple:
        v = lookup(item, key)
        if v is MISSING or v is None:
            return (0, 0)
        if isinstance(v, bool):
            return (1, int(v))
        if isinstance(v, (int, float)):
            return (2, v)
        if isinstance(v, str):
            return (3, v)
        return (4, str(v))

    # ties keep insertion order ascending, newest first descending
    return sorted(rows[::-1] if descending else rows, key=rank, reverse=descending)


def _int(query: Mapping[str, Any], name: str, default: int, lo: int, hi: int | None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be an integer, not {raw!r}") from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise Invalid(f"{name} must be {bound}, got {value}")
    return value
