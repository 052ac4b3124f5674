"""Benchmark `edgehook board deploy` against a plain `mpremote fs cp -r` on the virtual board.

Measures, on one virtual board, the wall time of: a first deploy, a re-deploy of the unchanged
app, a re-deploy after one file changed, and mpremote copying the same tree (`fs cp -r`) — the
baseline, measured in the same run. Both are run as their command-line tools, process start
included. Prints the medians and the ratios against the baseline.

    python bench/deploy.py [--app firmware] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgehook.board.deploy import app_files
from edgehook.board.vboard import REPO_FIRMWARE, VirtualBoard


def run(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, default=REPO_FIRMWARE, help="app tree to deploy")
    parser.add_argument("--rounds", type=int, default=5, help="repetitions of each case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app"
        subprocess.run(["cp", "-r", str(args.app), str(app)], check=True)
        flash = Path(tmp) / "flash"
        flash.mkdir()
        files = [path for _, path in app_files(app)]
        size = sum(p.stat().st_size for p in files)
        changed = next(p for p in files if p.suffix == ".py" and p.name != "main.py")
        with VirtualBoard(flash, heap="2M") as vb:
            deploy = [sys.executable, "-m", "edgehook", "board", "deploy", "--port", vb.port,
                      "--dir", str(app), "--no-reset"]
            tops = [str(p) for p in sorted(app.iterdir()) if p.name in {f.relative_to(app).parts[0]
                                                                       for f in files}]
            copy = [sys.executable, "-m", "mpremote", "connect", vb.port, "fs", "cp", "-r",
                    *tops, ":"]
            times: dict[str, list[float]] = {"first": [], "unchanged": [], "one changed": [],
                                              "mpremote cp -r": []}
            for i in range(args.rounds):
                for p in flash.iterdir():
                    subprocess.run(["rm", "-rf", str(p)], check=True)
                times["first"].append(run(deploy))
                times["unchanged"].append(run(deploy))
                changed.write_text(changed.read_text() + f"\n# round {i}\n")
                times["one changed"].append(run(deploy))
                times["mpremote cp -r"].append(run(copy))
    base = statistics.median(times["mpremote cp -r"])
    print(f"app: {len(files)} files, {size} bytes of source; {args.rounds} rounds; medians")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:15s} {med * 1000:8.0f} ms   baseline/this = {base / med:5.2f}x")


if __name__ == "__main__":
    main()
