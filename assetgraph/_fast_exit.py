"""End a process: without tearing down its interpreter once its work is done, and a helper
process as soon as the process that started it is gone.

Profiled (py-spy, `materialize kind:dbt`): after its last line the process spent 0.7 s (load ~3)
to 3.6 s (load ~8, 2 cores) freeing its heap one object at a time (dbt's manifest,
great-expectations, pandas: the main thread in finalisation, no Python frames), work nobody
waits for. The console script and the dbt worker end here once everything is written.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import NoReturn

__all__ = ["exit_now", "exit_with_parent"]


def exit_now(code: int) -> NoReturn:
    """Flush logs and streams, run multiprocessing's finalisers (they unlink the named
    semaphores dbt made, as atexit would; otherwise the resource tracker reports them leaked),
    then `os._exit(code)`."""
    logging.shutdown()
    if "multiprocessing" in sys.modules:
        from multiprocessing import util

        util._run_finalizers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or gone: nothing left to lose
            pass
    os._exit(code)


def exit_with_parent(parent: int, every: float = 0.2) -> None:
    """In a helper process (the dbt worker): exit as soon as `parent` is no
    longer our parent (it exited or was killed; we were re-parented). A daemon thread checks
    `os.getppid()`: unlike PR_SET_PDEATHSIG, it does not fire when the parent's *thread* that
    started us ends, and it works on every POSIX system."""
    if os.getppid() != parent:
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
