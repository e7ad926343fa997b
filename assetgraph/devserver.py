"""A real Prefect server on 127.0.0.1 for tests, benchmarks and local trials.

    with local_prefect_server(Path("/tmp/prefect-home")) as api_url:
        ...  # PREFECT_API_URL=api_url for anything that should use it

It runs `prefect server start` in a subprocess with its own PREFECT_HOME (its own SQLite
database), no UI and no analytics, waits (bounded) until `/health` answers, and stops it on exit.
Unlike Prefect's ephemeral in-process server, it is started once and shared by every run, as a
team's server is in production.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from assetgraph.errors import AssetGraphError

__all__ = ["local_prefect_server", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_prefect_server(home: Path, timeout: float = 120.0) -> Iterator[str]:
    """Start a Prefect server; yields its API URL (`http://127.0.0.1:PORT/api`)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "false",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": ""}
    log_path = home / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + timeout
        try:
            while True:  # readiness poll, bounded
                try:
                    urllib.request.urlopen(url + "/health", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise AssetGraphError(
                            "the Prefect server did not start: " + log_path.read_text(errors="replace")[-2000:]
                        ) from None
                    time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
