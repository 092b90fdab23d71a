"""Tasks that exist only for the reliability tests; a test worker loads them with -I."""

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
