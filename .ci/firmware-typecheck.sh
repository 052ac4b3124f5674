#!/usr/bin/env bash
# Type-check the firmware with mypy against MicroPython's ESP32 stubs (docs/firmware.md, "Types").
# The stubs are installed once into .typings/firmware (a typeshed layout: stdlib/VERSIONS from
# micropython-stdlib-stubs, the port's modules from micropython-esp32-stubs), pinned as in the
# test extra of pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
STUBS=.typings/firmware
PINS=$(grep -oE 'micropython-(esp32|stdlib)-stubs==[^"]+' pyproject.toml | sort | tr '\n' ' ')
if [ "$(cat "$STUBS/.pins" 2>/dev/null)" != "$PINS" ]; then
  rm -rf "$STUBS"
  # shellcheck disable=SC2086
  "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --target "$STUBS" $PINS
  echo "$PINS" > "$STUBS/.pins"
fi
"$PY" -m mypy --config-file firmware/mypy.ini
