"""The application: resources, ring, a task per sensor with ESPHome-style filters, health and the
ORP client on asyncio, run until Ctrl-C gives the REPL back."""

import asyncio
import gc
import json
import sys
from time import ticks_add, ticks_diff, ticks_ms

import store
from client import Client
from orp import OrpError, parse_bool
from ring import SIZE, Clock, Ring

# statuses answered to a handler call (literals: every name costs heap on a small board):
# 0x40 OK, 0x43 OUT_OF_RANGE, 0x44 NO_MEMORY, 0x45 NOT_PERMITTED, 0x4F BAD_PARAMETER, 0x53 IO_ERROR
HEALTH = (
    ("health/uptime", "s"), ("health/heap_free", "B"), ("health/heap_min", "B"),
    ("health/alloc", "B"), ("health/dropped", None))
_LINK = (
    '{"up":%d,"sent":%d,"frames":%d,"crc":%d,"junk":%d,"bad":%d,"stale":%d,"timeouts":%d,'
    '"rejected":%d,"failed":%d,"buffered":%d,"sensor_errors":%d}'
)


class Sensor:
    """One sensor: its source, settings and filter state. Filters as ESPHome's: delta (None = off,
    0 = only on change, d = moved by at least d since the last sent value), throttle (at most one
    every t s) and heartbeat (at least one every h s even when unchanged); throttle wins."""

    def __init__(self, name, spec, src, idx):
        self.name = name
        self.spec = {k: spec[k] for k in store.KEYS}  # the settings: all the app keeps of the config
        self.src = src
        self.idx = idx
        self.poll = False
        self.errors = 0
        self.sent = False
        self.last = 0.0
        self.at = 0
        self.apply()

    def apply(self):
        """Take the settings at once: sample now, then every period."""
        sp = self.spec
        self.period = sp["period"]
        self.pms = max(1, int(sp["period"] * 1000))
        self.on = sp["enable"]
        self.delta = sp["delta"]
        self.throttle = int(sp["throttle"] * 1000)
        self.heartbeat = int(sp["heartbeat"] * 1000)
        self.due = ticks_ms()

    def passes(self, v, now):
        """True when the value v sampled at ticks_ms `now` is to be sent; remembers it if so."""
        if self.sent:
            age = ticks_diff(now, self.at)
            if self.throttle and age < self.throttle:
                return False
            d = self.delta
            if d is not None:
                moved = v != self.last if d == 0 else abs(v - self.last) >= d
                if not moved and not (self.heartbeat and age >= self.heartbeat):
                    return False
        self.sent = True
        self.last = v
        self.at = now
        return True


class App:
    def __init__(self, b, cfg):
        self.b = b
        self.table = {}
        self.health_ms = int(cfg["health"] * 1000)
        self.window = cfg["safe_window"]
        self.wdt = cfg["wdt"]
        self.clock = Clock(b.unix_ms())
        try:
            self.ring = Ring(cfg["ring"])
        except MemoryError:  # a ring the config allows but this heap cannot hold
            print("config: 'ring' %d does not fit in the heap; using %d" % (cfg["ring"], SIZE))
            self.ring = Ring(SIZE)
        self.lnk = b.link(cfg)
        cl = self.cl = Client(self.lnk, self.clock, self.ring, cfg, self)
        self.sensors = []
        self.outs = {}  # output resource index -> (sensor, setting)
        table = cfg["sensors"]
        for name in list(table):
            spec = table.pop(name)  # let each spec go once used: the heap is small
            src = b.source(name, spec, cfg)
            if src is None:
                print("sensor %s: no %s on this board; skipped" % (name, spec["type"]))
                continue
            dt = "B" if spec["type"] == "toggle" else "N"
            idx = cl.add(name + "/value", "S" if spec["kind"] == "sensor" else "I", dt, spec["units"])
            s = Sensor(name, spec, src, idx)
            self.table[name] = s.spec
            self.sensors.append(s)
            for key, dt, units in (("period", "N", "s"), ("enable", "B", None), ("filter", "J", None)):
                self.outs[cl.add(name + "/" + key, "O", dt, units)] = (s, key)
        self.h = [cl.add(n, "I", "N", u) for n, u in HEALTH]
        cl.set_latest(cl.add("health/reset_cause", "I", "S"), b.reset_cause())
        self.h_link = cl.add("health/link", "I", "J")
        self.readings = self.seen = self.alloc = 0
        self.a0 = 1 << 30
        self.heap_min = 1 << 30
        self.crash = None

    def put(self, i, v):
        """Buffer one reading with the time it was taken."""
        c = self.clock
        c.tick()
        self.ring.put(i, c.s, c.ms, v)
        if self.ring.dropped != self.seen:
            self.seen = self.ring.dropped
            self.cl.set_latest(self.h[4], self.seen)
        self.readings += 1
        if self.readings >= 16:
            self.measure()

    def measure(self):
        """Bytes allocated per reading over the last 16 (all tasks included), from gc.mem_alloc
        between two collections; few enough readings that no automatic collection falls between."""
        a = gc.mem_alloc()
        if a >= self.a0:
            self.alloc = (a - self.a0) // self.readings
        gc.collect()
        self.a0 = gc.mem_alloc()
        self.readings = 0

    def call(self, i, data):
        """A handler call on an output: check, apply at once, persist; the status to answer."""
        t = self.outs.get(i)
        if t is None:
            return 0x45  # NOT_PERMITTED
        s, key = t
        try:
            if key == "filter":
                new = json.loads(data)
                if not isinstance(new, dict) or not new:
                    raise TypeError
                for k in new:
                    if k not in store.KEYS[2:]:  # delta, throttle, heartbeat
                        raise TypeError
            else:
                new = {key: parse_bool(data) if key == "enable" else float(data)}
            for k in new:
                new[k] = store.check(k, new[k])
            s.spec.update(new)
            s.apply()
            store.save(self.table)
            return 0x40
        except OSError:
            return 0x53  # IO_ERROR: applied, but it would not survive a reboot
        except MemoryError:
            return 0x44  # NO_MEMORY
        except (ValueError, TypeError, OrpError) as e:
            return 0x43 if e.args and "range" in str(e.args[0]) else 0x4F

    def poll(self, i):
        for s in self.sensors:
            if s.idx == i:
                s.poll = True
                return 0x40
        return 0x45  # NOT_PERMITTED

    async def sample(self, s):
        """One sensor: sample every period while enabled; settings changes act within 100 ms."""
        while self.cl.running:
            now = ticks_ms()
            wait = ticks_diff(s.due, now)
            if s.poll or (s.on and wait <= 0):
                s.due = ticks_add(now, s.pms)
                wait = s.pms
                try:
                    v = s.src.read(s.period)
                except Exception:
                    v = None
                    s.errors += 1
                if v is not None and (s.poll or s.passes(v, now)):
                    self.put(s.idx, v)
                s.poll = False
            await asyncio.sleep_ms(min(wait, 100) if wait > 0 else 100)

    async def health(self):
        """Health readings every `health` s (heap_min: the lowest free heap after a collection)."""
        cl = self.cl
        h = self.h
        good = False
        while cl.running:
            gc.collect()
            free = gc.mem_free()
            self.heap_min = min(self.heap_min, free)
            self.clock.tick()
            self.put(h[0], self.clock.up)
            self.put(h[1], free)
            self.put(h[2], self.heap_min)
            if self.alloc:
                self.put(h[3], self.alloc)
            cl.set_latest(h[4], self.ring.dropped)
            cl.set_latest(self.h_link, self.link_stats())
            if not good and self.clock.up >= self.window:
                good = True
                store.good()
            end = ticks_add(ticks_ms(), self.health_ms)
            while cl.running and ticks_diff(end, ticks_ms()) > 0:
                await asyncio.sleep_ms(min(100, ticks_diff(end, ticks_ms())))

    def link_stats(self):
        cl = self.cl
        d = cl.dfr
        return _LINK % (
            cl.up, cl.sent, d.frames, d.crc_errors, d.junk,
            cl.bad + d.oversize, cl.stale, cl.timeouts, cl.rejected, cl.failed, self.ring.n,
            sum(s.errors for s in self.sensors))

    def _error(self, loop, ctx):
        self.crash = ctx.get("exception")
        self.cl.running = False

    async def run(self):
        asyncio.get_event_loop().set_exception_handler(self._error)
        for s in self.sensors:
            asyncio.create_task(self.sample(s))
        asyncio.create_task(self.health())
        self.b.take_repl(self.lnk, self.wdt)
        await self.cl.run()


def main(cfg):
    """Run the app on the checked config; returns when Ctrl-C gives the REPL back."""
    if sys.platform == "esp32":
        from board_esp32 import Board
    else:
        from board_unix import Board  # type: ignore[no-redef]
    b = Board()
    app = App(b, cfg)
    del cfg
    gc.collect()
    try:
        asyncio.run(app.run())
    except KeyboardInterrupt:
        pass
    except Exception as e:
        app.crash = e
    finally:
        app.cl.running = False
        b.give_repl(app.crash is None)
        asyncio.new_event_loop()
    if app.crash is not None:
        raise app.crash  # the board's watchdog (if on) resets it; safe mode counts the boot
    store.good()
    print("\nedgehook: app stopped; the REPL is yours")
