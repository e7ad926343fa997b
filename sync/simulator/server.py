"""A local EveryAction (NGP VAN) API simulator: a real HTTP server on 127.0.0.1.

Implements what the sync uses, faithfully enough to test it:
- HTTP basic auth: user `default`, password `API_KEY|1` (EveryAction) or `API_KEY|0` (MyVoters);
- `POST /v4/people/{vanId}/codes` with `{"codeId": N}` -> 204; unknown person -> 404, unknown
  code -> 400, both with `{"errors": [{"code": ..., "text": ...}]}`;
- `GET /v4/people/{vanId}?$expand=codes` -> the person with the codes applied to them;
- the origin-source-code rule: a source code applied within 24 h of the person's creation
  becomes their Origin Source Code; only the first one does;
- latency and seeded fault injection: 429 with an integer Retry-After, 500, a hang (no answer
  until the client gives up) and a connection reset; a hang or reset may happen *after* the
  code was applied, as on a real network, so a client must check before it retries;
- a request log, a log of applications, and a live in-flight counter with its maximum;
- a hold: after `hold_after` applications, code requests wait (unanswered, nothing applied)
  until `release()`, so a test can kill a client at a known point with requests in flight;
- control over HTTP for a simulator in its own process (it outlives a killed client):
  `GET /_sim/stats` (counts, applications, in-flight maximum, held requests) and
  `POST /_sim/release`.

`python -m sync.simulator --port 0 --people 1000` prints its base URL and serves until ^C
(`--auto-people`: any positive VAN ID is a person; `--hold-after N`: the hold above).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import random
import re
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable
from urllib.parse import urlsplit

__all__ = ["Faults", "Simulator", "Person"]

_CODES = re.compile(r"^/v4/people/(\d+)/codes/?$")
_PERSON = re.compile(r"^/v4/people/(\d+)/?$")


@dataclass(frozen=True)
class Faults:
    """Probabilities per request (seeded). `hang_seconds` must exceed the client's timeout."""

    p429: float = 0.0
    p500: float = 0.0
    p_hang: float = 0.0
    p_reset: float = 0.0
    retry_after: int = 1
    hang_seconds: float = 2.0
    latency: float = 0.0
    seed: int = 0


@dataclass
class Person:
    van_id: int
    created_at: dt.datetime
    codes: list[tuple[int, dt.datetime]] = field(default_factory=list)
    origin_source_code: int | None = None


class Simulator:
    def __init__(
        self,
        api_key: str = "dev-key",
        people: Iterable[int] = (),
        codes: Iterable[int] = (),
        faults: Faults = Faults(),
        auto_people: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        now = dt.datetime.now(dt.timezone.utc)
        self.people: dict[int, Person] = {v: Person(v, now) for v in people}
        self.codes = set(codes)
        self.faults = faults
        self.auto_people = auto_people  # dev: any positive VAN ID exists (created now)
        self.requests: list[dict] = []
        self.applications: list[tuple[int, int]] = []  # (van_id, code_id) per successful apply
        self.in_flight = 0
        self.max_in_flight = 0
        self.hold_after: int | None = None
        self.held = 0
        self._released = threading.Event()
        self._lock = threading.RLock()
        self._rng = random.Random(faults.seed)
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v4/"

    def start(self) -> str:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "Simulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def release(self) -> None:
        """End the hold: held requests go on, and no later one is held."""
        self._released.set()

    def stats(self) -> dict:
        with self._lock:
            return {
                "requests": len(self.requests), "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight, "held": self.held,
                "applications": [list(p) for p in self.applications],
            }

    def _wait_if_held(self) -> None:
        with self._lock:
            if self.hold_after is None or self._released.is_set() or len(self.applications) < self.hold_after:
                return
            self.held += 1
        try:
            self._released.wait(timeout=3600)  # bounded; a test releases or kills us first
        finally:
            with self._lock:
                self.held -= 1

    # ---- state ---------------------------------------------------------------------------
    def applied_counts(self) -> dict[tuple[int, int], int]:
        out: dict[tuple[int, int], int] = {}
        for pair in self.applications:
            out[pair] = out.get(pair, 0) + 1
        return out

    def _person(self, van_id: int) -> Person | None:
        person = self.people.get(van_id)
        if person is None and self.auto_people and van_id > 0:
            person = self.people.setdefault(van_id, Person(van_id, dt.datetime.now(dt.timezone.utc)))
        return person

    def _apply(self, person: Person, code_id: int) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        if not any(c == code_id for c, _ in person.codes):
            person.codes.append((code_id, now))
        if person.origin_source_code is None and now - person.created_at <= dt.timedelta(hours=24):
            person.origin_source_code = code_id
        self.applications.append((person.van_id, code_id))

    def _draw_fault(self) -> str | None:
        f = self.faults
        r = self._rng.random()
        for name, p in (("429", f.p429), ("500", f.p500), ("hang", f.p_hang), ("reset", f.p_reset)):
            if r < p:
                return name
            r -= p
        return None

    # ---- HTTP ----------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet: the request log is ours
                pass

            def _authorised(self) -> bool:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return False
                try:
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                except Exception:
                    return False
                return user == "default" and password in (f"{sim.api_key}|1", f"{sim.api_key}|0")

            def _done(self) -> None:
                """Leave the in-flight count once, just before the client can see the end of
                the request (answer, reset or hang-up), so the count is what the client has open."""
                if not getattr(self, "_counted_out", False):
                    self._counted_out = True
                    with sim._lock:
                        sim.in_flight -= 1

            def _send(self, status: int, body: object | None = None, headers: dict | None = None) -> None:
                self._done()
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

            def _error(self, status: int, code: str, text: str, headers: dict | None = None) -> None:
                self._send(status, {"errors": [{"code": code, "text": text}]}, headers)

            def _hang(self) -> None:
                """Answer nothing until `hang_seconds` pass or the client hangs up (a real
                server notices the closed connection; the in-flight count then drops)."""
                deadline = time.monotonic() + sim.faults.hang_seconds
                while time.monotonic() < deadline:
                    ready, _, _ = select.select([self.connection], [], [], 0.002)
                    if ready:
                        try:
                            if not self.connection.recv(1, socket.MSG_PEEK):
                                break
                        except OSError:
                            break
                self._done()
                self.close_connection = True

            def _reset(self) -> None:
                # SO_LINGER 0: close with RST, as a dropped connection looks to the client
                self._done()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True

            def _handle(self, method: str) -> None:
                self._counted_out = False
                with sim._lock:
                    sim.in_flight += 1
                    sim.max_in_flight = max(sim.max_in_flight, sim.in_flight)
                    fault = sim._draw_fault()
                    apply_before_fault = sim._rng.random() < 0.5
                entry = {"method": method, "path": urlsplit(self.path).path, "fault": fault, "status": None}
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    raw = self.rfile.read(length) if length else b""
                    if method == "POST" and _CODES.match(entry["path"]):
                        sim._wait_if_held()
                    if sim.faults.latency:
                        time.sleep(sim.faults.latency)
                    if not self._authorised():
                        entry["status"] = 401
                        return self._error(401, "UNAUTHORIZED", "Authorization has been denied for this request.")
                    if fault == "429":
                        entry["status"] = 429
                        return self._error(429, "TOO_MANY_REQUESTS", "Too many requests",
                                           {"Retry-After": str(sim.faults.retry_after)})
                    if fault == "500":
                        entry["status"] = 500
                        return self._error(500, "INTERNAL_SERVER_ERROR", "An unexpected error occurred")
                    status = self._route(method, raw, fault, apply_before_fault)
                    entry["status"] = status
                    if fault == "hang":
                        self._hang()
                        return None
                    if fault == "reset":
                        return self._reset()
                    return None
                finally:
                    self._done()
                    with sim._lock:
                        sim.requests.append(entry)

            def _route(self, method: str, raw: bytes, fault: str | None, apply_before_fault: bool) -> int:
                """Act on the request; with a pending hang/reset fault, send nothing (the
                code may or may not have been applied, as with a dropped connection)."""
                silent = fault in ("hang", "reset")
                path = urlsplit(self.path).path
                m = _CODES.match(path)
                if method == "POST" and m:
                    try:
                        code_id = int(json.loads(raw or b"{}")["codeId"])
                    except (ValueError, KeyError, TypeError):
                        self._error(400, "INVALID_PARAMETER", "'codeId' is required and must be an integer")
                        return 400
                    with sim._lock:
                        person = sim._person(int(m.group(1)))
                        if person is None:
                            self._error(404, "NOT_FOUND", "The specified resource cannot be found.")
                            return 404
                        if code_id not in sim.codes:
                            self._error(400, "INVALID_PARAMETER", f"'codeId' {code_id} is not a valid code")
                            return 400
                        if silent and not apply_before_fault:
                            return 204  # dropped before the server acted: nothing applied
                        sim._apply(person, code_id)
                    if not silent:
                        self._send(204)
                    return 204
                m = _PERSON.match(path)
                if method == "GET" and m:
                    with sim._lock:
                        person = sim._person(int(m.group(1)))
                        if person is None:
                            self._error(404, "NOT_FOUND", "The specified resource cannot be found.")
                            return 404
                        body = {
                            "vanId": person.van_id,
                            "dateCreated": person.created_at.isoformat(),
                            "originSourceCode": (
                                {"codeId": person.origin_source_code} if person.origin_source_code else None
                            ),
                            "codes": [
                                {"codeId": c, "dateCreated": at.isoformat()} for c, at in person.codes
                            ],
                        }
                    if not silent:
                        self._send(200, body)
                    return 200
                self._error(404, "NOT_FOUND", "The specified resource cannot be found.")
                return 404

            def _control(self) -> bool:
                """The test-control endpoints (`/_sim/...`); not counted as API requests."""
                path = urlsplit(self.path).path
                if not path.startswith("/_sim/"):
                    return False
                if path == "/_sim/release":
                    sim.release()
                    body = b"{}"
                else:
                    body = json.dumps(sim.stats()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return True

            def do_POST(self) -> None:  # noqa: N802
                if not self._control():
                    self._handle("POST")

            def do_GET(self) -> None:  # noqa: N802
                if not self._control():
                    self._handle("GET")

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sync.simulator")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--people", type=int, default=1000, help="VAN IDs 1..N exist")
    parser.add_argument("--codes", default="1001,1002,1003,1004,1005")
    parser.add_argument("--api-key", default="dev-key")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--auto-people", action="store_true", help="any positive VAN ID is a person")
    parser.add_argument("--hold-after", type=int, default=None, help="hold code requests after N applications")
    args = parser.parse_args()
    sim = Simulator(args.api_key, range(1, args.people + 1), (int(c) for c in args.codes.split(",")),
                    faults=Faults(latency=args.latency), port=args.port, auto_people=args.auto_people)
    sim.hold_after = args.hold_after
    print(sim.start(), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
