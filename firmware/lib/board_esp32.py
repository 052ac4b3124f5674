"""The ESP32 (MicroPython >= 1.22) as a board: the ORP link on the USB REPL serial or a
machine.UART, internal temperature, ADC channels in microvolts, a BME280 when one answers,
the RTC set from SYNC, a watchdog fed by the link loop."""

import time

import esp32
import link
import machine
import micropython

# the ESP32's time counts from 2000-01-01 (a port built with a 1970 epoch needs no offset)
EPOCH = 946684800 if time.gmtime(0)[0] == 2000 else 0
_CAUSES = {
    machine.PWRON_RESET: "power_on",
    machine.HARD_RESET: "hard_reset",
    machine.WDT_RESET: "watchdog",
    machine.DEEPSLEEP_RESET: "deep_sleep",
    machine.SOFT_RESET: "soft_reset",
}


class Uart:
    """The link on a UART wired to an Octave edge (its /io/config "own": "orp")."""

    repl = False  # not the REPL's serial: Ctrl-C is not ours to watch
    eof = False

    def __init__(self, cfg):
        self.u = machine.UART(cfg["uart"], baudrate=cfg["baud"], tx=cfg["tx"], rx=cfg["rx"],
                              rxbuf=1024, timeout=0)

    def readinto(self, buf):
        return self.u.readinto(buf) or 0

    def write(self, data, n=-1):
        if n < 0:
            self.u.write(data)
        else:
            # UART.write is MicroPython's stream write, which takes a length (the stubs omit it)
            self.u.write(data, n)  # type: ignore[call-arg]


class McuTemp:
    def read(self, period):
        if hasattr(esp32, "mcu_temperature"):  # S2, S3, C3...
            return esp32.mcu_temperature()
        return (esp32.raw_temperature() - 32) / 1.8  # the original ESP32 reports Fahrenheit


class Adc:
    def __init__(self, spec):
        self.adc = machine.ADC(machine.Pin(spec["pin"]), atten=spec["atten"])

    def read(self, period):
        return self.adc.read_uv()


class Env:
    """One quantity of a BME280; the three share one device and one measurement."""

    devices: dict = {}

    def __init__(self, spec):
        key = (spec["i2c"], spec["addr"])
        dev = Env.devices.get(key)
        if dev is None:
            from bme280 import BME280

            i2c = machine.I2C(spec["i2c"], sda=machine.Pin(spec["sda"]), scl=machine.Pin(spec["scl"]))
            dev = Env.devices[key] = [BME280(i2c, spec["addr"]), 0, (0.0, 0.0, None)]
        self.dev = dev
        self.q = ("temp", "press", "hum").index(spec["quantity"])
        if self.q == 2 and not dev[0].humidity:
            raise OSError("a BMP280 has no humidity")

    def read(self, period):
        dev = self.dev
        if time.ticks_diff(time.ticks_ms(), dev[1]) > 200:  # one measurement for the three
            dev[2] = dev[0].measure()
            dev[1] = time.ticks_ms()
        return dev[2][self.q]


class Board:
    platform = "esp32"

    def __init__(self):
        self.wdt = None
        self.kbd = False

    def link(self, cfg):
        if cfg["link"] == "uart":
            try:
                return Uart(cfg)
            except (ValueError, OSError) as e:  # a UART or pin this chip lacks: stay reachable
                print("config: 'link' uart %d (tx %d, rx %d): %s; using stdio"
                      % (cfg["uart"], cfg["tx"], cfg["rx"], e))
        return link.Stdio()

    def source(self, name, spec, cfg):
        kind = spec["type"]
        try:
            if kind == "mcu_temp":
                return McuTemp()
            if kind == "adc":
                return Adc(spec)
            if kind == "bme280":
                return Env(spec)
        except (OSError, ValueError) as e:  # absent: no answer on the bus, a pin it lacks
            print("sensor %s: %s" % (name, e))
            return None
        from board_unix import Sim  # the simulated sources work here too

        return Sim(spec, cfg["seed"], name)

    def unix_ms(self):
        if time.gmtime()[0] < 2024:
            return None  # the RTC was never set: wait for SYNC's time
        return time.time_ns() // 1000000 + EPOCH * 1000

    def set_clock(self, sec, us):
        t = time.gmtime(sec - EPOCH)
        machine.RTC().datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], us))

    def reset_cause(self):
        return _CAUSES.get(machine.reset_cause(), "unknown")

    def take_repl(self, lnk, wdt):
        if lnk.repl:  # frames carry any byte: 0x03 must be data while the app owns the REPL
            micropython.kbd_intr(-1)
            self.kbd = True
        if wdt:
            self.wdt = machine.WDT(timeout=wdt * 1000)

    def feed(self):
        if self.wdt:
            self.wdt.feed()

    def give_repl(self, clean):
        if self.kbd:
            micropython.kbd_intr(3)
            self.kbd = False
        if self.wdt and clean:  # a watchdog cannot be stopped: keep the REPL alive with a timer
            wdt = self.wdt
            machine.Timer(0).init(period=1000, callback=lambda t: wdt.feed())
