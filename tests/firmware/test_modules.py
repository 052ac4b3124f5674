"""Firmware modules run in the real MicroPython interpreter: config checking, the flash store,
the ring, the clock, filters, simulated sensors and safe mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.firmware.edge import FIRMWARE

# the interpreter installed beside this Python (the test extra), also when the venv is not activated
MICROPYTHON = (shutil.which("micropython", path=str(Path(sys.executable).parent))
               or shutil.which("micropython") or "micropython")


def mp(code: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run `code` in MicroPython with the firmware's lib on the path, in `cwd`; its stdout."""
    full_env = {**os.environ, "MICROPYPATH": f"{FIRMWARE / 'lib'}:.frozen", **(env or {})}
    proc = subprocess.run([MICROPYTHON, "-c", textwrap.dedent(code)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def last_json(out: str):
    return json.loads(out.strip().splitlines()[-1])


LOAD = """
import config, json
cfg = config.load("linux")
print(json.dumps(cfg))
"""


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    cfg = last_json(mp(LOAD, tmp_path))
    assert cfg["link"] == "stdio" and cfg["ring"] == 128 and cfg["timeout"] == 1.0
    assert set(cfg["sensors"]) == {"env/temp", "env/level", "io/door"}
    temp = cfg["sensors"]["env/temp"]
    assert temp["type"] == "sine" and temp["units"] == "degC" and temp["delta"] is None
    assert temp["amplitude"] == 4.0 and temp["enable"] is True


def test_a_bad_key_falls_back_alone_with_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({
        "ring": "big", "timeout": -1, "backoff": 5, "nonsense": 1, "link": "carrier-pigeon",
        "health": 2,
        "sensors": {
            "env/temp": {"period": "fast", "amplitude": 1.5, "colour": "red"},
            "io/door": None,
            "x/new": {"type": "step", "period": 1, "high": 5},
            "bad,name": {"type": "sine"},
            "x/typeless": {"period": 1},
        },
    }))
    out = mp(LOAD, tmp_path)
    lines = [ln for ln in out.splitlines() if ln.startswith("config:")]
    cfg = last_json(out)
    assert cfg["ring"] == 128 and cfg["timeout"] == 1.0 and cfg["link"] == "stdio"
    assert cfg["backoff"] == 5.0 and isinstance(cfg["backoff"], float) and cfg["health"] == 2.0
    assert set(cfg["sensors"]) == {"env/temp", "env/level", "x/new"}
    assert cfg["sensors"]["env/temp"]["period"] == 5.0
    assert cfg["sensors"]["env/temp"]["amplitude"] == 1.5
    assert cfg["sensors"]["x/new"]["high"] == 5.0 and cfg["sensors"]["x/new"]["hold"] == 6
    text = "\n".join(lines)
    for needle in ("'ring' wrong type str; using 128", "'timeout' out of range",
                   "unknown key 'nonsense' ignored", "'link' not one of",
                   "env/temp: 'period' wrong type str", "env/temp: unknown key 'colour'",
                   "'bad,name' is not a resource path", "x/typeless: 'type' ''"):
        assert needle in text, text
    assert len(lines) == 8, text


def test_units_too_long_for_a_frame_fall_back(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({
        "sensors": {"env/temp": {"units": "u" * 300}, "x/ok": {"type": "step", "units": "mA"}}}))
    out = mp(LOAD, tmp_path)
    sensors = last_json(out)["sensors"]
    assert sensors["env/temp"]["units"] == "degC" and sensors["x/ok"]["units"] == "mA"
    assert "config: env/temp: 'units' longer than 32 characters; using 'degC'" in out


def test_more_sensors_than_resource_indexes_are_skipped_with_a_line_each(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({
        "sensors": {f"s/{i}": {"type": "toggle"} for i in range(70)}}))
    out = mp(LOAD, tmp_path)
    assert len(last_json(out)["sensors"]) == 60
    skipped = [ln for ln in out.splitlines() if "more than 60 sensors" in ln]
    assert len(skipped) == 70 + 3 - 60, out


def test_a_resource_too_big_to_create_fails_alone(tmp_path: Path) -> None:
    out = mp("""
        import time, client, ring
        class Link:
            repl = False
            eof = False
            def __init__(self):
                self.out = []
            def readinto(self, buf):
                return 0
            def write(self, data, n=-1):
                self.out.append(bytes(data) if n < 0 else bytes(data[:n]))
        class Board:
            def feed(self):
                pass
        class App:
            b = Board()
        cfg = {"timeout": 1.0, "backoff": 30.0, "poll_ms": 5, "preamble": False}
        c = client.Client(Link(), ring.Clock(None), ring.Ring(8), cfg, App())
        c.add("x/" + "p" * 300, "I", "N")
        c.add("ok/value", "I", "N")
        now = time.ticks_ms()
        c._next(now)
        c._next(now)
        print(c.failed, c.state[0], c.op == 0x49, len(c.link.out), b"Pok/value" in c.link.out[-1])
    """, tmp_path)
    assert out.split() == ["1", "3", "True", "1", "True"]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", ""])
def test_a_broken_config_file_means_defaults(tmp_path: Path, content: str) -> None:
    (tmp_path / "config.json").write_text(content)
    out = mp(LOAD, tmp_path)
    assert "config: config.json does not hold a JSON object; ignored" in out
    assert last_json(out)["ring"] == 128


def test_saved_settings_override_config_and_are_checked(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({
        "env/temp": {"period": 2, "enable": False, "delta": 0.5, "throttle": -3},
        "gone/sensor": {"period": 1},
    }))
    out = mp(LOAD, tmp_path)
    temp = last_json(out)["sensors"]["env/temp"]
    assert temp["period"] == 2.0 and temp["enable"] is False and temp["delta"] == 0.5
    assert temp["throttle"] == 0.0
    assert "settings: env/temp: 'throttle' out of range" in out
    assert "settings: 'gone/sensor' is not a sensor; ignored" in out


def test_store_saves_settings_atomically(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text('{"old": 1}')
    out = mp("""
        import store, os
        table = {"a/b": {"period": 2.0, "enable": True, "delta": None, "throttle": 0.0,
                         "heartbeat": 5.0, "type": "sine"}}
        store.save(table)
        print(sorted(os.listdir()))
        try:
            store.check("period", 0)
        except ValueError as e:
            print("err", e)
        try:
            store.check("enable", 1)
        except ValueError as e:
            print("err", e)
        print(store.check("delta", None), store.check("heartbeat", 3))
    """, tmp_path)
    assert "['settings.json']" in out  # no temp file left behind
    assert json.loads((tmp_path / "settings.json").read_text()) == {
        "a/b": {"period": 2.0, "enable": True, "delta": None, "throttle": 0.0, "heartbeat": 5.0}}
    assert "err out of range 0.01..86400" in out and "err wrong type int" in out
    assert "None 3.0" in out


def test_ring_drops_the_oldest_counts_it_and_keeps_an_in_flight_head(tmp_path: Path) -> None:
    out = mp("""
        from ring import Ring
        r = Ring(4)
        for i in range(6):
            r.put(i % 3, 100 + i, i, i * 1.5)
        print(r.n, r.dropped, [r.sec[(r.head + k) % 4] for k in range(r.n)])
        r.busy = True           # the head (sec 102) is being pushed
        r.put(1, 106, 6, 9.0)   # full: the next one (103) goes instead
        print(r.n, r.dropped, [r.sec[(r.head + k) % 4] for k in range(r.n)], r.val[r.head])
        r.pop()
        print(r.n, r.busy, r.sec[r.head])
    """, tmp_path)
    lines = out.strip().splitlines()
    assert lines[0] == "4 2 [102, 103, 104, 105]"
    assert lines[1] == "4 3 [102, 104, 105, 106] 3.0"
    assert lines[2] == "3 False 104"


def test_clock_stamps_readings_before_it_is_set_and_converts_them_after(tmp_path: Path) -> None:
    out = mp("""
        import time
        from ring import Clock, EPOCH2020
        c = Clock(None)
        time.sleep_ms(1100)
        c.tick()
        s, ms = c.s, c.ms
        print(s < 0, c.wall(s, ms))
        c.set(1764768000, 250000)
        print(c.wall(s, ms), c.ts, c.us)
        c.tick()
        print(c.s + EPOCH2020, c.wall(c.s, c.ms), c.ts)
    """, tmp_path)
    lines = out.strip().splitlines()
    assert lines[0] == "True False"
    ok, ts, us = lines[1].split()
    # the reading was taken just before the set: a moment before 1764768000.25
    assert ok == "True" and 1764768000 - 2 <= int(ts) <= 1764768000 and 0 <= int(us) < 1000000
    now, ok2, ts2 = lines[2].split()
    assert ok2 == "True" and now == ts2 == "1764768000"


FILTER = """
from app import Sensor
def spec(**kw):
    d = {"period": 1.0, "enable": True, "delta": None, "throttle": 0.0, "heartbeat": 0.0}
    d.update(kw)
    return d
def run(s, samples):
    return [s.passes(v, t) for t, v in samples]
"""


def test_filters_delta_throttle_heartbeat(tmp_path: Path) -> None:
    out = mp(FILTER + textwrap.dedent("""
        print(run(Sensor("a", spec(), None, 0), [(0, 1), (1, 1), (2, 1)]))
        print(run(Sensor("a", spec(delta=0.0), None, 0), [(0, 1), (1, 1), (2, 2), (3, 2)]))
        print(run(Sensor("a", spec(delta=0.5), None, 0), [(0, 1), (1, 1.4), (2, 1.6), (3, 1.2)]))
        print(run(Sensor("a", spec(delta=0.0, heartbeat=10.0), None, 0),
                  [(0, 1), (5000, 1), (10000, 1), (15000, 1), (20500, 1)]))
        print(run(Sensor("a", spec(throttle=2.0), None, 0), [(0, 1), (1000, 5), (2000, 6), (3000, 7)]))
    """), tmp_path)
    assert out.strip().splitlines() == [
        "[True, True, True]",
        "[True, False, True, False]",
        "[True, False, True, False]",  # 1.6 moved 0.6 from 1; 1.2 moved only 0.4 from 1.6
        "[True, False, True, False, True]",
        "[True, False, True, False]",
    ]


def test_simulated_sensors_are_deterministic_for_a_seed(tmp_path: Path) -> None:
    code = """
        from board_unix import Sim
        import json
        def seq(kind, seed, name="env/temp", **kw):
            spec = {"type": kind, "offset": 21.0, "amplitude": 4.0, "cycle": 10.0, "noise": 0.2,
                    "low": 0.0, "high": 100.0, "hold": 3}
            spec.update(kw)
            s = Sim(spec, seed, name)
            return [s.read(1.0) for _ in range(12)]
        print(json.dumps([seq("sine", 1), seq("sine", 1), seq("sine", 2), seq("sine", 1, "other"),
                          seq("step", 1), seq("toggle", 1, hold=2)]))
    """
    a, b, c, d, step, toggle = last_json(mp(code, tmp_path))
    assert a == b and a != c and a != d
    assert all(21 - 4 - 0.2 <= v <= 21 + 4 + 0.2 for v in a + c + d)
    assert step == [0.0] * 3 + [100.0] * 3 + [0.0] * 3 + [100.0] * 3
    assert toggle == [0, 0, 1, 1] * 3


def test_safe_mode_after_n_early_deaths(tmp_path: Path) -> None:
    code = """
        import store
        print([store.boot(3) for _ in range(4)], store.boot(3))
        store.good()
        print(store.boot(3))
    """
    out = mp(code, tmp_path).strip().splitlines()
    assert "edgehook: safe mode: the app died 3 times soon after boot" in out[0]
    assert out[-2] == "[True, True, True, False] True"  # safe mode once, then it tries again
    assert out[-1] == "True"


FAKE_I2C = """
import struct
class FakeI2C:
    # the BMP280 datasheet's worked example (§3.12) in the calibration registers
    def __init__(self, chip=0x58, *args, **kw):
        self.mem = bytearray(256)
        self.mem[0xD0] = chip
        self.mem[0x88:0xA0] = struct.pack("<Hhh", 27504, 26435, -1000) + struct.pack(
            "<Hhhhhhhhh", 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
        self.mem[0xA1] = 75
        self.mem[0xE1:0xE8] = struct.pack("<hBbBbb", 362, 0, 19, 0x92, 3, 30)
        # raw readings: pressure 415148, temperature 519888, humidity 30000
        self.mem[0xF7:0xFF] = bytes([0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x75, 0x30])
    def readfrom_mem(self, addr, reg, n):
        if addr != 0x76:
            raise OSError(19)  # ENODEV: nothing answers
        return bytes(self.mem[reg:reg + n])
    def writeto_mem(self, addr, reg, data):
        self.mem[reg] = data[0]
"""


def test_bme280_compensation_matches_the_datasheet_example(tmp_path: Path) -> None:
    out = mp(FAKE_I2C + textwrap.dedent("""
        from bme280 import BME280
        bmp = BME280(FakeI2C())
        print(bmp.humidity, bmp.compensate(519888, 415148, 0), bmp.measure())
        bme = BME280(FakeI2C(0x60))
        t, p, h = bme.measure()
        print(bme.humidity, 0 <= h <= 100, bme.h_cal)
        try:
            BME280(FakeI2C(0x61))
        except OSError as e:
            print("no", e)
    """), tmp_path).strip().splitlines()
    assert out[0].startswith("False (25.08, 100653.2")  # datasheet: 25.08 degC, 100653.27 Pa
    assert out[0].endswith("(25.08, 100653.25390625, None)")
    assert out[1] == "True True (75, 362, 0, 306, 57, 30)"  # H4, H5 share the nibbles of 0xE5
    assert out[2] == "no chip id 0x61 at 0x76 is not a BME280/BMP280"


HAL = {
    "machine.py": """
from umachine import *
PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
def reset_cause():
    return WDT_RESET
class Pin:
    def __init__(self, n, *a):
        self.n = n
class ADC:
    def __init__(self, pin, atten=0):
        self.pin = pin.n
        self.atten = atten
    def read_uv(self):
        return 1000 * self.pin + self.atten
class RTC:
    set = None
    def datetime(self, t):
        RTC.set = t
class WDT:
    def __init__(self, timeout):
        self.timeout = timeout
    def feed(self):
        pass
def I2C(bus, sda=None, scl=None):
    import fake_i2c
    return fake_i2c.FakeI2C()
""",
    "esp32.py": "def raw_temperature():\n    return 113\n",
}


def test_esp32_board_layer_with_fake_hardware(tmp_path: Path) -> None:
    hal = tmp_path / "hal"
    hal.mkdir()
    for name, text in HAL.items():
        (hal / name).write_text(textwrap.dedent(text))
    (hal / "fake_i2c.py").write_text(FAKE_I2C)
    env = {"MICROPYPATH": f"{hal}:{FIRMWARE / 'lib'}:.frozen"}
    out = mp("""
        import config, machine
        from board_esp32 import Board
        b = Board()
        cfg = config.load("esp32")
        srcs = {n: b.source(n, s, cfg) for n, s in sorted(cfg["sensors"].items())}
        print(sorted(n for n, s in srcs.items() if s is not None))
        print(srcs["mcu/temp"].read(1), srcs["adc/0"].read(1), srcs["env/temp"].read(1),
              round(srcs["env/pressure"].read(1)))
        print(b.reset_cause())
        b.set_clock(1764768000, 250000)
        print(machine.RTC.set)
        away = dict(cfg["sensors"]["env/temp"], addr=0x77)
        print(b.source("env/other", away, cfg))
    """, tmp_path, env)
    said = [ln for ln in out.splitlines() if ln.startswith("sensor ")]
    assert said == ["sensor env/humidity: a BMP280 has no humidity",
                    "sensor env/other: [Errno 19] ENODEV"]
    out = [ln for ln in out.splitlines() if not ln.startswith("sensor ")]
    assert out[-5] == "['adc/0', 'env/pressure', 'env/temp', 'mcu/temp']"  # a BMP280: no humidity
    assert out[-4] == "45.0 36003 25.08 100653"
    assert out[-3] == "watchdog"
    assert out[-2] == "(2025, 12, 3, 2, 13, 20, 0, 250000)"
    assert out[-1] == "None"


def test_a_uart_the_chip_cannot_open_falls_back_to_the_repl_serial(tmp_path: Path) -> None:
    hal = tmp_path / "hal"
    hal.mkdir()
    for name, text in HAL.items():
        (hal / name).write_text(textwrap.dedent(text))
    with open(hal / "machine.py", "a") as f:
        f.write("class UART:\n    def __init__(self, uid, baudrate, tx, rx, rxbuf, timeout):\n"
                "        if tx > 39:\n            raise ValueError('invalid pin')\n")
    env = {"MICROPYPATH": f"{hal}:{FIRMWARE / 'lib'}:.frozen"}
    out = mp("""
        from board_esp32 import Board
        cfg = {"link": "uart", "uart": 1, "tx": 17, "rx": 16, "baud": 115200}
        print(type(Board().link(cfg)).__name__)
        cfg["tx"] = 48
        print(type(Board().link(cfg)).__name__)
    """, tmp_path, env).splitlines()
    assert out == ["Uart", "config: 'link' uart 1 (tx 48, rx 16): invalid pin; using stdio",
                   "Stdio"]


def test_the_example_config_is_valid_for_an_esp32(tmp_path: Path) -> None:
    shutil.copy(FIRMWARE / "config.example.json", tmp_path / "config.json")
    out = mp(LOAD.replace('"linux"', '"esp32"'), tmp_path)
    assert "config:" not in out
    cfg = last_json(out)
    assert cfg["link"] == "uart" and "env/humidity" not in cfg["sensors"]
