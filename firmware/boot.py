"""Runs first at every boot: keeps system log lines off the serial that carries ORP frames."""

import sys

if sys.platform == "esp32":
    import esp

    esp.osdebug(None)
