"""The unix port as a board (the virtual board): link on the pty (stdin/stdout), simulated
sensors (a sine with noise, a step, a boolean toggle) whose k-th sample depends only on the
seed (EDGEHOOK_SEED), the sensor's name and its parameters; the host's clock; no watchdog."""

import math
import os
import time

import link


class Board:
    platform = "linux"

    def link(self, cfg):
        # Ctrl-C stays with the virtual board's relay: kbd_intr(-1) would restore SIGINT's
        # default action here, and a 0x03 data byte would then kill the process.
        return link.Stdio()

    def source(self, name, spec, cfg):
        if spec["type"] not in ("sine", "step", "toggle"):
            return None
        seed = cfg["seed"]
        env = os.getenv("EDGEHOOK_SEED")
        if env:
            try:
                seed = int(env)
            except ValueError:
                print("config: EDGEHOOK_SEED=%r is not an integer; using %d" % (env, seed))
        return Sim(spec, seed, name)

    def unix_ms(self):
        return time.time_ns() // 1000000

    def reset_cause(self):
        return "power_on"

    def nothing(self, *args):
        pass

    set_clock = take_repl = give_repl = feed = nothing  # host clock, no watchdog, Ctrl-C as is



def noise(seed, salt, k):
    """A deterministic value in [-0.5, 0.5) for sample k."""
    x = (seed * 0x9E37 + salt * 0x85EB + k * 0xC2B3) & 0xFFFFFF
    x ^= x >> 11
    x = (x * 0xE995) & 0xFFFFFF
    x ^= x >> 13
    return (x & 0xFFFF) / 65536 - 0.5


class Sim:
    def __init__(self, spec, seed, name):
        self.kind = spec["type"]
        self.seed = seed
        g = spec.get  # copy the parameters, keep nothing else of the spec: the heap is small
        self.offset = g("offset", 0.0)
        self.amplitude = g("amplitude", 0.0)
        self.cycle = g("cycle", 1.0)
        self.noise = g("noise", 0.0)
        self.low = g("low", 0.0)
        self.high = g("high", 1.0)
        self.hold = g("hold", 1)
        salt = 0
        for c in name:
            salt = (salt * 31 + ord(c)) & 0xFFFF
        self.salt = salt
        self.k = 0
        self.phase = 0.0

    def read(self, period):
        """The next sample; `period` (s) advances the sine's phase."""
        k = self.k
        self.k = k + 1
        if self.kind == "sine":
            v = self.offset + self.amplitude * math.sin(2 * math.pi * self.phase)
            self.phase = (self.phase + period / self.cycle) % 1.0
            return v + 2 * self.noise * noise(self.seed, self.salt, k)
        high = (k // self.hold) % 2
        if self.kind == "toggle":
            return high
        return self.high if high else self.low
