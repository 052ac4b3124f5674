"""The edge side of an ORP session: SYNC, answers to every asset request, handler calls to the asset.

Transport-free: `feed()` takes the payloads of valid frames and writes the answers through the
`write` callable in one go. Pushes in one batch share one outbox commit (group commit) and are
answered `p@` only after it (issue 6: nothing acked before it is durable).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from edgehook.bridge.outbox import Outbox, Reading
from edgehook.bridge.resources import ResourceTable
from edgehook.orp import OrpError, Packet, Status, decode_value, encode_value, parse

log = logging.getLogger(__name__)

SYNC_INTERVAL = 5.0  # s between SYNCs until the asset answers (Octave edge behaviour, ref. C.6)
V1_SEQ = 0x3031  # the ASCII "01" segment a v1 peer sends where v2 has a sequence number
_KINDS = {"I": "input", "O": "output", "S": "sensor"}


@dataclass
class SessionStats:
    """Counters of one bridge run (the status view and the logs read them)."""

    rx_packets: int = 0
    tx_packets: int = 0
    requests: int = 0
    pushes_acked: int = 0
    pushes_duplicate: int = 0
    pushes_refused: int = 0
    bad_packets: int = 0
    unexpected: int = 0
    syncs_sent: int = 0
    syncs_answered: int = 0
    handler_calls: int = 0
    handler_failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Call:
    seq: int
    event: threading.Event
    status: Status | None = None


class EdgeSession:
    """One asset's session: resource table, outbox hand-off, SYNC state and pending handler calls."""

    def __init__(
        self,
        device: str,
        table: ResourceTable,
        outbox: Outbox,
        write: Callable[[bytes], Any],
        clock: Callable[[], float] = time.time,
        sync_interval: float = SYNC_INTERVAL,
        mtu: int = 1024,
    ) -> None:
        self.device = device
        self.table = table
        self.outbox = outbox
        self.write = write
        self.clock = clock
        self.sync_interval = sync_interval
        self.mtu = mtu
        self.stats = SessionStats()
        self.peer_version: int | None = None
        self.synced = False
        self.last_rx: float | None = None
        self.errors: deque[str] = deque(maxlen=20)
        self._last_sync: float | None = None
        self._seq = 0
        self._calls: dict[int, _Call] = {}
        self._call_lock = threading.Lock()
        self._state_lock = threading.Lock()

    # -- SYNC ---------------------------------------------------------------------------------
    def tick(self) -> None:
        """Send a SYNC when one is due: at start and every `sync_interval` s until answered."""
        now = self.clock()
        if self.synced:
            return
        if self._last_sync is None or now - self._last_sync >= self.sync_interval:
            self.send_sync()

    def send_sync(self) -> None:
        self._last_sync = self.clock()
        pkt = Packet("Y", "1", self._next_seq(), timestamp=self.clock(),
                     sent=self.stats.tx_packets, received=self.stats.rx_packets, mtu=self.mtu)
        self.stats.syncs_sent += 1
        self._send([pkt])

    def resync(self) -> None:
        """Forget the peer's state (silent link or reopened port) and SYNC again now."""
        self.synced = False
        self.send_sync()

    def link_lost(self) -> None:
        """The port went away: fail pending handler calls and SYNC again once it is back."""
        self.synced = False
        self._last_sync = None
        with self._state_lock:
            for call in self._calls.values():
                call.status = Status.CLOSED
                call.event.set()

    # -- incoming -----------------------------------------------------------------------------
    def feed(self, payloads: list[bytes]) -> None:
        """Handle the payloads of valid frames; write all answers after one outbox commit."""
        if not payloads:
            return
        self.last_rx = self.clock()
        replies: list[Packet | None] = []
        pushes: list[tuple[int, Reading]] = []
        for payload in payloads:
            self.stats.rx_packets += 1
            reply = self._handle(payload, pushes, len(replies))
            replies.append(reply)
        if pushes:
            self._commit(pushes, replies)
        self._send([r for r in replies if r is not None])

    def _handle(self, payload: bytes, pushes: list[tuple[int, Reading]], slot: int) -> Packet | None:
        try:
            pkt = parse(payload)
        except OrpError as exc:
            return self._bad_packet(payload, exc)
        ptype = pkt.type
        if ptype == "y":
            self.stats.syncs_answered += 1
            self.synced, self.peer_version = True, 2
            return None
        if ptype == "C":
            self._call_answered(pkt)
            return None
        if not ptype.isupper() or ptype in "YCB":
            self.stats.unexpected += 1
            self._error(f"unexpected {pkt.name} packet from the asset")
            return None
        self.stats.requests += 1
        if pkt.seq == V1_SEQ and self.peer_version != 2:
            self.peer_version, self.synced = 1, True
        if ptype == "P":
            return self._push(pkt, pushes, slot)
        return self._reply(pkt, self._request(pkt))

    def _request(self, pkt: Packet) -> Status | Packet:
        t, path = pkt.type, pkt.path
        if t in _KINDS:
            return self.table.create(path, _KINDS[t], pkt.flag, pkt.units)
        if t == "D":
            return self.table.delete(path)
        if t == "R":
            return self.table.delete(path, kind="sensor")
        if t in "HK":
            return self.table.set_handler(path, t == "H")
        if t == "E":
            try:
                value = decode_value("J", pkt.data)
            except OrpError:
                return Status.FORMAT_ERROR
            return self.table.set_example(path, value)
        if t == "G":
            return self._get(pkt)
        return Status.NOT_IMPLEMENTED

    def _get(self, pkt: Packet) -> Status | Packet:
        res = self.table.get(pkt.path)
        if res is None:
            return Status.NOT_FOUND
        if not res.has_value:
            return Status.UNAVAILABLE
        return Packet("g", Status.OK.value, pkt.seq, timestamp=res.timestamp,
                      data=encode_value(res.dtype, res.value))

    def _push(self, pkt: Packet, pushes: list[tuple[int, Reading]], slot: int) -> Packet | None:
        status, res = self.table.check_push(pkt.path, pkt.flag)
        if status is Status.OK:
            try:
                value = decode_value(pkt.flag, pkt.data)
                json.dumps(value, allow_nan=False)  # NaN / Infinity: no JSON can carry them up
            except (OrpError, ValueError) as exc:
                self._error(f"push to {pkt.path}: {exc}")
                status = Status.FORMAT_ERROR
        if status is not Status.OK or res is None or pkt.path is None:
            self.stats.pushes_refused += 1
            return self._reply(pkt, status)
        ts = pkt.timestamp if pkt.timestamp is not None else self.clock()
        pushes.append((slot, Reading(self.device, pkt.path, ts, pkt.flag, value, res.units)))
        return self._reply(pkt, Status.OK)  # provisional: _commit sets the real status

    def _commit(self, pushes: list[tuple[int, Reading]], replies: list[Packet | None]) -> None:
        try:
            results = self.outbox.add_many(r for _, r in pushes)
        except Exception as exc:  # a disk or database failure: the asset keeps the readings
            log.error("outbox commit failed: %s", exc)
            self._error(f"outbox commit failed: {exc}")
            results = ["error"] * len(pushes)
        for (slot, reading), result in zip(pushes, results, strict=True):
            reply = replies[slot]
            assert reply is not None
            if result in ("added", "duplicate"):
                self.table.record_value(reading.path, reading.value, reading.timestamp)
                self.stats.pushes_acked += 1
                if result == "duplicate":
                    self.stats.pushes_duplicate += 1
                continue
            reply.flag = (Status.NO_MEMORY if result == "full" else Status.IO_ERROR).value
            self.stats.pushes_refused += 1
            if result == "full":
                self._error("outbox full: push refused, the asset keeps the reading")

    def _bad_packet(self, payload: bytes, exc: OrpError) -> Packet | None:
        self.stats.bad_packets += 1
        self._error(f"bad packet {payload[:24]!r}: {exc}")
        if len(payload) < 4:
            return None
        ptype = chr(payload[0])
        seq = payload[2] << 8 | payload[3]
        if exc.field == "type":
            return Packet("?", Status.UNSUPPORTED.value, seq)
        if ptype in "IODHKPGESR":
            return Packet(ptype.lower(), Status.FORMAT_ERROR.value, seq)
        return None

    def _reply(self, pkt: Packet, result: Status | Packet) -> Packet:
        if isinstance(result, Packet):
            return result
        return Packet(pkt.type.lower(), result.value, pkt.seq)

    # -- handler calls (edge → asset) ---------------------------------------------------------
    def call_handler(self, path: str, value: Any, timeout: float = 3.0) -> Status:
        """Set an output's value and deliver it as a `c` handler call; the asset's `C` status."""
        res = self.table.get(path)
        if res is None:
            return Status.NOT_FOUND
        if res.kind != "output":
            return Status.BAD_PARAMETER
        try:
            data = encode_value(res.dtype, value)
        except (OrpError, TypeError, ValueError):
            return Status.FORMAT_ERROR
        now = self.clock()
        self.table.record_value(path, value, now)
        if not res.handler:
            return Status.NOT_POSSIBLE
        with self._call_lock:  # one outstanding handler call at a time
            seq = self._next_seq() if self.peer_version != 1 else V1_SEQ
            call = _Call(seq, threading.Event())
            with self._state_lock:
                self._calls[seq] = call
            try:
                self.stats.handler_calls += 1
                self._send([Packet("c", res.dtype, seq, path=path, timestamp=now, data=data)])
                if not call.event.wait(timeout):
                    call.status = Status.TIMEOUT
            finally:
                with self._state_lock:
                    self._calls.pop(seq, None)
        status = call.status or Status.TIMEOUT
        if status is not Status.OK:
            self.stats.handler_failures += 1
            self._error(f"handler call {path}: {status.name}")
        return status

    def _call_answered(self, pkt: Packet) -> None:
        with self._state_lock:
            call = self._calls.get(pkt.seq or 0)
            if call is None and self.peer_version == 1 and self._calls:
                call = next(iter(self._calls.values()))
        if call is None:
            self.stats.unexpected += 1
            return
        call.status = pkt.status or Status.FAULT
        call.event.set()

    # -- helpers ------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        if self._seq == V1_SEQ:  # never look like a v1 segment
            self._seq += 1
        return self._seq

    def _send(self, packets: list[Packet]) -> None:
        if not packets:
            return
        data = b"".join(p.frame() for p in packets)
        try:
            self.write(data)
        except OSError as exc:
            self._error(f"write failed: {exc}")
            return
        self.stats.tx_packets += len(packets)

    def _error(self, text: str) -> None:
        self.errors.append(f"{time.strftime('%H:%M:%S')} {text}")
        log.warning("%s", text)
