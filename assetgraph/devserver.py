"""A real Prefect server on 127.0.0.1 for tests, benchmarks and local trials.

    with local_prefect_server(Path("/tmp/prefect-home")) as api_url:
        ...  # PREFECT_API_URL=api_url for anything that should use it

It runs `prefect server start` in a subprocess with its own PREFECT_HOME (its own SQLite
database), no UI and no analytics, waits (bounded) until `/health` answers, and stops it on exit.
Unlike Prefect's ephemeral in-process server, it is started once and shared by every run, as a
team's server is in production.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from assetgraph._prefect_server import _terminate, free_port, spawn_server, wait_healthy

__all__ = ["local_prefect_server", "free_port"]


@contextmanager
def local_prefect_server(home: Path, timeout: float = 120.0) -> Iterator[str]:
    """Start a Prefect server; yields its API URL (`http://127.0.0.1:PORT/api`)."""
    port = free_port()
    proc = spawn_server(home, port, ui=False, detached=False)
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(proc, url, home, timeout)
        yield url
    finally:
        _terminate(proc.pid)
        proc.wait()
