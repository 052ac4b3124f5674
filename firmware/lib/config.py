"""Configuration: one defaults dict, overridden by config.json, then by the cloud-set settings.json.

Every key is checked at boot: a bad key or value prints one line and falls back to its default,
so a bad file never stops the board from booting (issue 3, "Configuration").
"""

import json

import ring
import store

DEFAULTS = {
    "link": "stdio",  # "stdio": USB REPL serial or the virtual board's pty; "uart": machine.UART
    "uart": 1,  # UART id, pins and baud of the "uart" link (Octave's UART config is 115200 8N1)
    "tx": 17,
    "rx": 16,
    "baud": 115200,
    "preamble": False,  # send "~~" before each frame to wake a module's UART
    "ring": ring.SIZE,  # readings kept while the link is down, 11 bytes each (an ESP32 takes thousands)
    "timeout": 1.0,  # s to wait for a response before retransmitting
    "backoff": 30.0,  # s, cap of the exponential retransmit backoff
    "poll_ms": 5,  # link loop interval while no request is outstanding
    "health": 60.0,  # s between health readings
    "seed": 1,  # seed of the simulated sensors (EDGEHOOK_SEED overrides it on the unix port)
    "wdt": 60,  # s of the ESP32 watchdog fed by the link loop; 0 = off
    "safe_attempts": 5,  # boots that die within safe_window s of starting before safe mode
    "safe_window": 60.0,
    "sensors": None,  # None: the board's default sensors (BOARD_SENSORS)
}

# limits as text, parsed when a key is checked: cheaper on a small heap than a dict of tuples
# ("key low high" for numbers, "key choice choice ..." for strings)
LIMITS = """
link stdio uart
uart 0 2
tx 0 48
rx 0 48
baud 1200 3000000
ring 8 100000
timeout 0.02 60
backoff 0.1 3600
poll_ms 1 1000
health 0.1 86400
seed 0 2147483647
wdt 0 3600
safe_attempts 1 100
safe_window 1 86400
kind input sensor
type sine step toggle mcu_temp adc bme280
quantity temp press hum
hold 1 1000000
cycle 0.01 1e9
atten 0 3
pin 0 48
addr 0 127
i2c 0 1
sda 0 48
scl 0 48
"""

MAX_SENSORS = 60  # 4 resources each and 7 of health: every index fits the ring's byte

# keys every sensor has; "delta" None means no delta filter, 0 means "only on change"
SENSOR = {
    "type": "",
    "period": 10.0,
    "enable": True,
    "delta": None,
    "throttle": 0.0,
    "heartbeat": 0.0,
    "units": "",
    "kind": "input",
}

# per type: its parameters and their defaults (JSON text, parsed once at boot)
PARAMS = """{
 "sine": {"offset": 21.0, "amplitude": 4.0, "cycle": 600.0, "noise": 0.2},
 "step": {"low": 0.0, "high": 100.0, "hold": 6},
 "toggle": {"hold": 5},
 "mcu_temp": {},
 "adc": {"pin": 36, "atten": 3},
 "bme280": {"quantity": "temp", "i2c": 0, "sda": 21, "scl": 22, "addr": 118}
}"""

# the default sensors of each platform (sys.platform)
BOARD_SENSORS = """{
 "linux": {
  "env/temp": {"type": "sine", "period": 5.0, "units": "degC"},
  "env/level": {"type": "step", "period": 5.0, "units": "%", "delta": 0.0, "heartbeat": 60.0},
  "io/door": {"type": "toggle", "period": 2.0, "delta": 0.0, "heartbeat": 60.0}
 },
 "esp32": {
  "mcu/temp": {"type": "mcu_temp", "period": 30.0, "units": "degC", "delta": 0.5, "heartbeat": 600.0},
  "adc/0": {"type": "adc", "period": 10.0, "units": "uV"},
  "env/temp": {"type": "bme280", "period": 30.0, "units": "degC"},
  "env/humidity": {"type": "bme280", "quantity": "hum", "period": 30.0, "units": "%RH"},
  "env/pressure": {"type": "bme280", "quantity": "press", "period": 30.0, "units": "Pa"}
 }
}"""


def check(key, value, default):
    """The value if it fits the default's type and the key's limits, else raise ValueError(why)."""
    if key in store.KEYS:
        return store.check(key, value)
    if default is None or isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if default is None and value is None:
            return None
    else:
        ok = type(value) is type(default)
    if not ok:
        raise ValueError("wrong type %s" % type(value).__name__)
    at = LIMITS.find("\n" + key + " ")
    if at >= 0:
        lim = LIMITS[at + len(key) + 2 : LIMITS.index("\n", at + 1)].split()
        if isinstance(value, str):
            if value not in lim:
                raise ValueError("not one of %s" % lim)
        elif not float(lim[0]) <= value <= float(lim[1]):
            raise ValueError("out of range %s..%s" % tuple(lim))
    elif isinstance(value, str) and len(value) > 32:  # units: a create frame must fit the MTU
        raise ValueError("longer than 32 characters")
    if isinstance(default, float):
        value = float(value)
    return value


def _merge(out, spec, base, name):
    """Check each key of spec against base's default; print a line for each bad one."""
    for key in spec:
        if key not in base:
            print("config: %sunknown key %r ignored" % (name, key))
            continue
        try:
            out[key] = check(key, spec[key], base[key])
        except ValueError as e:
            print("config: %s%r %s; using %r" % (name, key, e.args[0], out[key]))


def _sensor(name, spec, base, params):
    if not isinstance(spec, dict):
        print("config: %s: not an object; %s" % (name, "using the default" if base else "skipped"))
        return base
    out = dict(SENSOR)
    out.update(base or {})
    kind = spec.get("type", out["type"])
    if kind not in params:
        print("config: %s: 'type' %r is not a sensor type; %s" % (name, kind, "using %r" % out["type"] if base else "skipped"))
        if not base:
            return None
        kind = out["type"]
    out["type"] = kind
    for key, value in params[kind].items():
        out.setdefault(key, value)
    base = dict(out)
    base.pop("type")  # checked above
    _merge(out, {k: v for k, v in spec.items() if k != "type"}, base, name + ": ")
    return out


def _read(path):
    """The parsed file, None when it is absent; a broken file says so and counts as absent."""
    try:
        with open(path) as f:
            spec = json.load(f)
    except OSError:
        return None
    except ValueError:
        spec = None
    if not isinstance(spec, dict):
        print("config: %s does not hold a JSON object; ignored" % path)
        return None
    return spec


def load(platform, path="config.json", saved=store.SETTINGS):
    """Defaults <- config.json <- settings.json, every value checked."""
    cfg = dict(DEFAULTS)
    spec = _read(path) or {}
    sensors = spec.pop("sensors", None)
    _merge(cfg, spec, DEFAULTS, "")
    # the sensor table: the board's defaults, changed, added or (null) removed by config.json
    params = json.loads(PARAMS)
    cfg["sensors"] = table = {}
    for name, spec in json.loads(BOARD_SENSORS).get(platform, {}).items():
        table[name] = _sensor(name, spec, None, params)
    if not isinstance(sensors, dict):
        if sensors is not None:
            print("config: 'sensors' must be an object; using the board's defaults")
        sensors = {}
    for name, spec in sensors.items():
        if not (0 < len(name) <= 40 and name[0] != "/" and "," not in name and "//" not in name):
            print("config: sensor name %r is not a resource path; skipped" % name)
        elif spec is None:
            table.pop(name, None)
        else:
            table[name] = _sensor(name, spec, table.get(name), params)
            if table[name] is None:
                table.pop(name)
    for name in list(table)[MAX_SENSORS:]:  # the ring keeps a resource index in one byte
        print("config: more than %d sensors; %r skipped" % (MAX_SENSORS, name))
        table.pop(name)
    for name, spec in (_read(saved) or {}).items():
        if name not in table or not isinstance(spec, dict):
            print("config: settings: %r is not a sensor; ignored" % name)
            continue
        _merge(table[name], spec, {k: SENSOR[k] for k in store.KEYS}, "settings: %s: " % name)
    return cfg
