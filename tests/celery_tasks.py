"""Tasks that exist only for the reliability tests; a test worker loads them with -I."""

import functools
import importlib
import os
import time
from pathlib import Path

from portal.celery import app


@app.task(name="tests.slow_once", soft_time_limit=290, time_limit=300)
def slow_once(path: str) -> None:
    """Note each attempt in ``path``; the first one hangs so that a test can kill it."""
    log = Path(path)
    with log.open("a") as f:
        f.write(f"start {os.getpid()}\n")
    if log.read_text().count("start") == 1:
        time.sleep(120)
    with log.open("a") as f:
        f.write("done\n")


def _pause_where_told() -> None:
    """With PORTAL_TEST_PAUSE_IN=module:function and PORTAL_TEST_PAUSE_FILE=path, this worker
    writes its process id to the file when it reaches the function and then waits there, so
    that a test can kill it at exactly that point (loading, matching…)."""
    where, marker = os.environ.get("PORTAL_TEST_PAUSE_IN"), os.environ.get("PORTAL_TEST_PAUSE_FILE")
    if not (where and marker):
        return
    module_name, function_name = where.split(":")
    module = importlib.import_module(module_name)
    original = getattr(module, function_name)

    @functools.wraps(original)
    def paused(*args, **kwargs):
        with Path(marker).open("a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(600)
        return original(*args, **kwargs)

    setattr(module, function_name, paused)


_pause_where_told()
