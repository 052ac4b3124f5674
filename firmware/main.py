"""Runs the edgehook app at boot unless safe mode keeps it off; Ctrl-C outside an ORP frame gives
the REPL back. The config checker is unloaded before the app starts, to leave the heap to it."""

import gc
import sys


def _config():
    import config
    import store

    cfg = config.load(sys.platform)
    if not store.boot(cfg["safe_attempts"]):
        cfg = None
    for name in ("config", "store"):
        sys.modules.pop(name, None)
    return cfg


def _run(cfg):
    gc.collect()
    if cfg is not None:
        import app

        app.main(cfg)


_run(_config())
