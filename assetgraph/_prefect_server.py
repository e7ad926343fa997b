"""The project's own Prefect server, managed like the embedded warehouse.

`make nightly` and the Prefect-using CLI commands call `ensure_prefect_api()` before Prefect is
imported:

- `PREFECT_API_URL` set: that server is used; nothing is started.
- `ASSETGRAPH_PREFECT_SERVER=ephemeral`: Prefect's in-process ephemeral API (tests only: its
  concurrency leases never expire, so a killed run would wedge later ones).
- otherwise: a `prefect server start` of our own, home `.prefect/` in the project root
  (`ASSETGRAPH_PREFECT_HOME` overrides), UI on, bound to 127.0.0.1, detached (its own session)
  so it outlives the command; the next command reuses it in a few milliseconds.

State lives in the home: `server.json` (pid, port), `server.log`, `server.lock`. A `flock` on
the lock file serialises start/stop between processes, so two commands started at once share
one server. On reuse the recorded pid must be alive, must be our `prefect server start` on the
recorded port (`/proc/<pid>/cmdline`: a recycled pid is not ours) and `/api/health` must
answer; otherwise the stale server is killed, the file replaced and a new one started. The
server keeps its concurrency leases on disk (Prefect's filesystem lease storage), so a restart
does not lose the leases of slots that are still counted.

`python -m assetgraph._prefect_server start|stop|status` is what the Makefile calls.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

from assetgraph.errors import PrefectServerError

__all__ = ["LocalServer", "ensure_prefect_api", "ensure_local_server", "stop_local_server", "prefect_home"]

_STATE, _LOG, _LOCK = "server.json", "server.log", "server.lock"
_LEASES = "prefect.server.concurrency.lease_storage.filesystem"
_DEFAULT_PORT = 4200


@dataclass(frozen=True)
class LocalServer:
    pid: int
    port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def prefect_home(root: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("ASSETGRAPH_PREFECT_HOME"):
        return Path(env["ASSETGRAPH_PREFECT_HOME"])
    from assetgraph.config import find_root

    return (root or find_root()) / ".prefect"


def ensure_prefect_api(root: Path | None = None, announce: Callable[[str], None] | None = None) -> str | None:
    """Point this process at a Prefect API (see the module docstring); returns its URL, or None
    for Prefect's ephemeral mode. Call before anything imports Prefect."""
    say = announce or (lambda line: print(line, file=sys.stderr, flush=True))
    url = os.environ.get("PREFECT_API_URL", "").strip()
    if url:  # the user's own server: nothing to start, nothing to announce (errors stay one line)
        return url
    if os.environ.get("ASSETGRAPH_PREFECT_SERVER", "").strip().lower() == "ephemeral":
        return None
    server = ensure_local_server(prefect_home(root))
    os.environ["PREFECT_API_URL"] = server.api_url
    os.environ["PREFECT_UI_URL"] = server.ui_url
    say(f"Prefect UI: {server.ui_url}")
    return server.api_url


# ---- the lock and the state file ------------------------------------------------------------
@contextlib.contextmanager
def _locked(home: Path, timeout: float) -> Iterator[None]:
    import fcntl

    home.mkdir(parents=True, exist_ok=True)
    with open(home / _LOCK, "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PrefectServerError(home, f"another process held {_LOCK} for over {timeout:.0f} s") from None
                time.sleep(0.1)  # another command is starting or stopping the server
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_state(home: Path) -> LocalServer | None:
    try:
        data = json.loads((home / _STATE).read_text())
        return LocalServer(pid=int(data["pid"]), port=int(data["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(home: Path, server: LocalServer) -> None:
    tmp = home / (_STATE + ".tmp")
    tmp.write_text(json.dumps({"pid": server.pid, "port": server.port}))
    os.replace(tmp, home / _STATE)


def _is_ours(server: LocalServer) -> bool:
    """The pid runs `prefect server start ... --port PORT` (not a recycled pid)."""
    try:
        args = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:
            os.kill(server.pid, 0)  # no /proc (macOS): trust a live pid, health decides
            return True
        except OSError:
            return False
    return b"prefect" in args and b"server" in args and str(server.port).encode() in args


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(api_url + "/health", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is free
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- starting and stopping ------------------------------------------------------------------
def spawn_server(home: Path, port: int, ui: bool, detached: bool) -> subprocess.Popen:
    """`prefect server start` on 127.0.0.1:PORT with its own home (SQLite database), output
    appended to `home/server.log`. Shared with devserver.py (the test/bench server)."""
    home.mkdir(parents=True, exist_ok=True)
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_UI_URL")}
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_UI_ENABLED": str(ui).lower(),
        "PREFECT_SERVER_UI_ENABLED": str(ui).lower(),
        # the UI calls this API; without it the browser calls port 4200 ("Unable to connect")
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_UI_API_URL": api,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": _LEASES,
        "DO_NOT_TRACK": "1",
    })
    log_path = home / _LOG
    if log_path.exists() and log_path.stat().st_size > 5 * 2**20:
        os.replace(log_path, home / (_LOG + ".1"))  # keep one old log, bounded
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=detached,  # Ctrl-C on the command does not reach the server
        )


def wait_healthy(proc: subprocess.Popen, api_url: str, home: Path, timeout: float) -> None:
    """Bounded readiness poll; the log's tail in the error when the server dies or stalls."""
    deadline = time.monotonic() + timeout
    while not healthy(api_url):
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = (home / _LOG).read_text(errors="replace")[-1500:] if (home / _LOG).exists() else ""
            what = "exited" if proc.poll() is not None else f"did not answer within {timeout:.0f} s"
            raise PrefectServerError(home, f"the Prefect server {what}; end of {home / _LOG}:\n{tail}")
        time.sleep(0.25)


def _terminate(pid: int, timeout: float = 30.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
            except ChildProcessError:
                pass
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def ensure_local_server(home: Path, timeout: float = 180.0) -> LocalServer:
    """Reuse the healthy server recorded in `home`, or start one (replacing a stale record)."""
    home = home.resolve()
    with _locked(home, timeout):
        current = _read_state(home)
        if current is not None and _is_ours(current):
            deadline = time.monotonic() + min(timeout, 60.0)  # it may still be starting
            while time.monotonic() < deadline:
                if healthy(current.api_url):
                    return current
                time.sleep(0.25)
            _terminate(current.pid)  # alive but not answering: hung, replace it
        (home / _STATE).unlink(missing_ok=True)
        # the last port again (a bookmarked UI keeps working), else 4200, else any free one
        preferred = [p for p in ((current.port if current else None), _DEFAULT_PORT) if p]
        port = next((p for p in preferred if _port_free(p)), None) or free_port()
        for attempt in (1, 2):
            proc = spawn_server(home, port, ui=True, detached=True)
            server = LocalServer(pid=proc.pid, port=port)
            _write_state(home, server)
            try:
                wait_healthy(proc, server.api_url, home, timeout)
                return server
            except PrefectServerError:
                _terminate(proc.pid)
                (home / _STATE).unlink(missing_ok=True)
                if attempt == 2 or _port_free(port):
                    raise
                port = free_port()  # another program took the port meanwhile
        raise AssertionError("unreachable")  # pragma: no cover


def stop_local_server(home: Path | None = None, timeout: float = 60.0) -> bool:
    """Stop the recorded server. True if one was running."""
    home = (home or prefect_home()).resolve()
    if not (home / _STATE).exists():
        return False
    with _locked(home, timeout):
        current = _read_state(home)
        running = current is not None and _is_ours(current)
        if running:
            _terminate(current.pid)
        (home / _STATE).unlink(missing_ok=True)
        return running


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "status"
    home = prefect_home()
    try:
        if command == "start":
            print(f"Prefect UI: {ensure_local_server(home).ui_url}")
        elif command == "stop":
            print("Prefect server: " + ("stopped" if stop_local_server(home) else "not running"))
        elif command == "status":
            current = _read_state(home)
            up = current is not None and _is_ours(current) and healthy(current.api_url)
            print(f"Prefect UI: {current.ui_url} (pid {current.pid})" if up else "Prefect server: not running")
        else:
            print(f"usage: python -m assetgraph._prefect_server start|stop|status (not {command!r})", file=sys.stderr)
            return 2
    except PrefectServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
