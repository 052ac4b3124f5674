"""What the board keeps on flash: the cloud-set sensor settings (checked, then written atomically:
a temp file and a rename over the old one) and the safe-mode boot counter (issue 3)."""

import json
import os

SETTINGS = "settings.json"
SAFE = "safemode.txt"
KEYS = ("period", "enable", "delta", "throttle", "heartbeat")
_RANGE = {"period": (0.01, 86400), "delta": (0, 1e9), "throttle": (0, 86400), "heartbeat": (0, 86400)}


def check(key, value):
    """The value to keep for a setting; ValueError saying why when it does not fit."""
    if key == "enable":
        if type(value) is not bool:
            raise ValueError("wrong type %s" % type(value).__name__)
        return value
    if key == "delta" and value is None:
        return None  # no delta filter
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError("wrong type %s" % type(value).__name__)
    lo, hi = _RANGE[key]
    if not lo <= value <= hi:
        raise ValueError("out of range %s..%s" % (lo, hi))
    return float(value)


def save(table, path=SETTINGS):
    """Write every sensor's settings; the old file stays whole until the rename."""
    data = {}
    for name, spec in table.items():
        data[name] = {k: spec[k] for k in KEYS}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    try:
        os.rename(tmp, path)
    except OSError:  # FAT cannot rename over an existing file
        os.remove(path)
        os.rename(tmp, path)


def _count(n=None):
    try:
        if n is None:
            with open(SAFE) as f:
                return int(f.read())
        with open(SAFE, "w") as f:
            f.write(str(n))
    except (OSError, ValueError):
        pass  # unreadable counts as 0; a read-only flash must not stop the app
    return 0


def boot(attempts):
    """Count this boot; False (and say so) when the last `attempts` boots all died early."""
    n = _count()
    if n >= attempts:
        _count(0)
        print(
            "edgehook: safe mode: the app died %d times soon after boot, so it stays off this"
            " boot and the REPL is free; reset the board to run it again" % n
        )
        return False
    _count(n + 1)
    return True


def good():
    """The app ran long enough, or stopped cleanly: this boot does not count."""
    _count(0)
