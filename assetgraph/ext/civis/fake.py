"""A local fake of the Civis API, for tests and demos: HTTP on 127.0.0.1, never the network.

The real civis-python client talks to it: point `CIVIS_API_ENDPOINT` at `fake.url` and
`CIVIS_API_KEY` at `fake.api_key` (or use `fake.env()`). `APIClient()` first downloads the API
spec from `GET /endpoints` (see `_fake_spec.py`), then calls:

- `GET /scripts?type=sql|python3|containers`, `GET /workflows`, `GET /imports`: page by page
  (`limit` 20 by default, at most 50; `page_num` from 1; a page past the end is `[]`), with the
  `X-Pagination-*` headers; archived objects only with `archived=true|all` (default `false`);
  newest `updatedAt` first unless `order`/`order_dir` say otherwise. List items are summaries
  (no SQL, source, definition or syncs), as in the real API.
- `GET /scripts/{sql,python3,containers}/{id}`, `/workflows/{id}`, `/imports/{id}`: the object.
- `PATCH /scripts/<kind>/{id}`, `PATCH /workflows/{id}`, `PUT /imports/{id}`: update fields; a
  `schedule` object is merged key by key. Body keys may be snake_case (as civis-python sends
  them) or camelCase; the log keeps the body as sent.
- `PUT .../{id}/archive` with `{"status": true|false}`.

Every request is logged (`fake.requests`: method, path, query, JSON body; never the key), and
`fake.inject(429, times=2, retry_after=1)` makes the next requests fail, for retry tests;
`fake.hold(path_prefix)` makes requests wait until released (to act while a client is mid-call).
Objects are seeded from a dict `{"sql": [obj, ...], "workflows": [...]}` or from a directory laid
out like an export (`FakeCivis.from_directory`). Run one by hand with
`python -m assetgraph.ext.civis.fake DIR [--port N]`.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

from assetgraph.ext.civis._fake_spec import SCRIPT_KINDS, api_spec
from assetgraph.ext.civis._layout import KIND_BY_NAME, KINDS, is_archived

__all__ = ["FakeCivis", "LoggedRequest", "Hold"]

DEFAULT_LIMIT = 20
MAX_LIMIT = 50
_JOB_TYPES = {
    "sql": "JobTypes::SqlRunner",
    "python3": "JobTypes::PythonDocker",
    "containers": "JobTypes::ContainerDocker",
}
_SUMMARY_FIELDS = {
    "script": (
        "id", "name", "type", "createdAt", "updatedAt", "author", "state", "finishedAt",
        "projects", "parentId", "isTemplate", "fromTemplateId", "links", "timeZone", "lastRun",
        "archived",
    ),
    "workflows": (
        "id", "name", "description", "valid", "fileId", "user", "state", "schedule",
        "allowConcurrentExecutions", "timeZone", "nextExecutionAt", "archived", "createdAt",
        "updatedAt",
    ),
    "imports": (
        "id", "name", "syncType", "source", "destination", "schedule", "isOutbound", "jobType",
        "state", "createdAt", "updatedAt", "lastRun", "user", "timeZone", "archived",
    ),
}
_EPOCH = "2024-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # without the query string, e.g. "/scripts/sql/12"
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    at: float = 0.0  # time.monotonic() when it arrived


@dataclass(frozen=True)
class Hold:
    """Requests under `path_prefix` wait (up to `timeout` s) until `release()`; `arrived` is set
    when the first one comes in. For tests that act while a client is mid-request."""

    path_prefix: str
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    timeout: float = 300.0

    def release(self) -> None:
        self.released.set()


@dataclass
class _Fault:
    status: int
    remaining: int
    path_prefix: str
    retry_after: int | None


class _Reply(Exception):
    """Raised inside a route to answer with an error status."""

    def __init__(self, status: int, error: str, description: str, headers: Mapping[str, str] | None = None):
        self.status = status
        self.body = {"error": error, "errorDescription": description, "code": status}
        self.headers = dict(headers or {})


class FakeCivis:
    """The fake API's state (objects, log, faults) and its HTTP server. Use as a context manager."""

    def __init__(
        self,
        objects: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        *,
        api_key: str = "fake-civis-key",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self._port = port
        self._lock = threading.Lock()
        self._objects: dict[str, dict[int, dict[str, Any]]] = {k.name: {} for k in KINDS}
        self._log: list[LoggedRequest] = []
        self._faults: list[_Fault] = []
        self._holds: list[Hold] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for kind, items in (objects or {}).items():
            for obj in items:
                self.add(kind, obj)

    # ---- state -------------------------------------------------------------------------------
    @classmethod
    def from_directory(cls, path: Path, **kwargs: Any) -> "FakeCivis":
        """Seed from a directory laid out like an export: `scripts/sql/<id>.json`, ..."""
        fake = cls(**kwargs)
        for kind in KINDS:
            for file in sorted((Path(path) / kind.folder).glob("*.json")):
                fake.add(kind.name, json.loads(file.read_text()))
        return fake

    def add(self, kind: str, obj: Mapping[str, Any]) -> None:
        if kind not in KIND_BY_NAME:
            raise ValueError(f"unknown Civis object kind {kind!r}; one of {sorted(KIND_BY_NAME)}")
        item = copy.deepcopy(dict(obj))
        if not isinstance(item.get("id"), int):
            raise ValueError(f"{kind} object needs an integer id: {obj!r:.80}")
        item.setdefault("archived", "false")
        item.setdefault("createdAt", _EPOCH)
        item.setdefault("updatedAt", item["createdAt"])
        if kind in _JOB_TYPES:
            item.setdefault("type", _JOB_TYPES[kind])
        with self._lock:
            self._objects[kind][item["id"]] = item

    def get(self, kind: str, object_id: int) -> dict[str, Any]:
        """The object as the fake holds it now (a copy)."""
        with self._lock:
            return copy.deepcopy(self._objects[kind][object_id])

    @property
    def requests(self) -> tuple[LoggedRequest, ...]:
        with self._lock:
            return tuple(self._log)

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[LoggedRequest]:
        """Logged requests with this method (any if None) whose path starts with the prefix."""
        return [
            r for r in self.requests
            if (method is None or r.method == method.upper()) and r.path.startswith(path_prefix)
        ]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def inject(self, status: int, *, times: int = 1, path_prefix: str = "/", retry_after: int | None = None) -> None:
        """Answer the next `times` requests under `path_prefix` with `status` (429: throttled)."""
        with self._lock:
            self._faults.append(_Fault(status, times, path_prefix, retry_after))

    def hold(self, path_prefix: str, timeout: float = 300.0) -> Hold:
        """Make requests under `path_prefix` wait until the returned Hold is released."""
        gate = Hold(path_prefix, timeout=timeout)
        with self._lock:
            self._holds.append(gate)
        return gate

    # ---- server ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Civis API is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def env(self) -> dict[str, str]:
        return {"CIVIS_API_ENDPOINT": self.url, "CIVIS_API_KEY": self.api_key}

    def start(self) -> "FakeCivis":
        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-civis", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        with self._lock:
            for gate in self._holds:
                gate.release()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> "FakeCivis":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- request handling (called from the server's threads) ---------------------------------
    def _handle(self, method: str, raw_path: str, headers: Mapping[str, str], raw_body: bytes) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(raw_path)
        path = "/" + parts.path.strip("/")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            body = json.loads(raw_body) if raw_body.strip() else None
        except ValueError:
            body = raw_body.decode("utf-8", "replace")
        with self._lock:
            self._log.append(LoggedRequest(method, path, query, copy.deepcopy(body), time.monotonic()))
            gates = [g for g in self._holds if path.startswith(g.path_prefix) and not g.released.is_set()]
        for gate in gates:
            gate.arrived.set()
            gate.released.wait(gate.timeout)
        try:
            if isinstance(body, str):
                raise _Reply(400, "bad_request", "The request body is not JSON.")
            self._authorize(headers)
            self._maybe_fault(path)
            status, payload, extra = self._route(method, path.strip("/").split("/"), query, _camel_keys(body))
        except _Reply as reply:
            return reply.status, reply.body, reply.headers
        return status, payload, extra

    def _authorize(self, headers: Mapping[str, str]) -> None:
        given = headers.get("Authorization", "")
        key = None
        if given.startswith("Basic "):
            try:
                key = base64.b64decode(given[6:]).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                key = None
        elif given.startswith("Bearer "):
            key = given[7:]
        if key != self.api_key:
            raise _Reply(
                401, "unauthorized", "The API key is missing, invalid or expired.",
                {"WWW-Authenticate": 'Basic realm="Civis API"'},
            )

    def _maybe_fault(self, path: str) -> None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and path.startswith(fault.path_prefix):
                    fault.remaining -= 1
                    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                    error = "too_many_requests" if fault.status == 429 else "injected"
                    raise _Reply(fault.status, error, f"Injected {fault.status} by the fake.", headers)

    def _route(self, method: str, seg: list[str], query: Mapping[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        if seg == ["endpoints"] and method == "GET":
            return 200, api_spec(), {}
        if seg[0] == "scripts":
            if len(seg) == 1 and method == "GET":
                wanted = [t for t in query.get("type", ",".join(SCRIPT_KINDS)).split(",") if t]
                unknown = [t for t in wanted if t not in SCRIPT_KINDS]
                if unknown:
                    raise _Reply(400, "bad_request", f"Unknown script type {unknown[0]!r}.")
                return self._list(wanted, query, "script")
            if len(seg) >= 3 and seg[1] in SCRIPT_KINDS:
                return self._item(seg[1], seg[2], seg[3:], method, body)
        if seg[0] in ("workflows", "imports"):
            if len(seg) == 1 and method == "GET":
                return self._list([seg[0]], query, seg[0])
            if len(seg) >= 2:
                return self._item(seg[0], seg[1], seg[2:], method, body)
        raise _Reply(404, "not_found", "The requested resource could not be found.")

    def _list(self, kinds: list[str], query: Mapping[str, str], shape: str) -> tuple[int, Any, dict[str, str]]:
        archived = query.get("archived", "false").lower()
        if archived not in ("true", "false", "all"):
            raise _Reply(400, "bad_request", "archived must be true, false or all.")
        try:
            limit = min(max(int(query.get("limit", DEFAULT_LIMIT)), 1), MAX_LIMIT)
            page = max(int(query.get("page_num", 1)), 1)
        except ValueError:
            raise _Reply(400, "bad_request", "limit and page_num must be integers.") from None
        order = {"name": "name", "created_at": "createdAt"}.get(query.get("order", ""), "updatedAt")
        descending = query.get("order_dir", "desc").lower() != "asc"
        with self._lock:
            items = [
                copy.deepcopy(obj) for kind in kinds for obj in self._objects[kind].values()
                if archived == "all" or is_archived(obj) == (archived == "true")
            ]
        items.sort(key=lambda o: (str(o.get(order) or ""), o["id"]), reverse=descending)
        total = len(items)
        chunk = items[(page - 1) * limit: page * limit]
        fields = _SUMMARY_FIELDS[shape]
        headers = {
            "X-Pagination-Current-Page": str(page),
            "X-Pagination-Per-Page": str(limit),
            "X-Pagination-Total-Entries": str(total),
            "X-Pagination-Total-Pages": str(max(1, -(-total // limit))),
        }
        return 200, [{k: o[k] for k in fields if k in o} for o in chunk], headers

    def _item(self, kind: str, raw_id: str, rest: list[str], method: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        try:
            object_id = int(raw_id)
        except ValueError:
            raise _Reply(404, "not_found", "The requested resource could not be found.") from None
        with self._lock:
            obj = self._objects[kind].get(object_id)
            if obj is None:
                raise _Reply(404, "not_found", f"{kind} {object_id} could not be found.")
            if not rest and method == "GET":
                return 200, copy.deepcopy(obj), {}
            if not rest and (method == "PATCH" or (method == "PUT" and kind == "imports")):
                if not isinstance(body, dict):
                    raise _Reply(400, "bad_request", "The request body must be a JSON object.")
                if method == "PUT":
                    missing = [k for k in ("name", "syncType", "isOutbound") if k not in body]
                    if missing:
                        raise _Reply(400, "bad_request", f"Missing required field {missing[0]!r}.")
                _update(obj, body)
                return 200, copy.deepcopy(obj), {}
            if rest == ["archive"] and method == "PUT":
                if not isinstance(body, dict) or not isinstance(body.get("status"), bool):
                    raise _Reply(400, "bad_request", "status (a boolean) is required.")
                obj["archived"] = "true" if body["status"] else "false"
                obj["updatedAt"] = _now()
                return 200, copy.deepcopy(obj), {}
        raise _Reply(404, "not_found", "The requested resource could not be found.")


def _camel_keys(value: Any) -> Any:
    """Request bodies arrive in snake_case (civis-python sends its parameter names); the API
    stores camelCase. Keys that are not lowercase snake words (argument names such as
    `DB_PASSWORD`) stay as they are."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and key.islower() and "_" in key and key.replace("_", "").isalnum():
                head, *rest = key.split("_")
                key = head + "".join(w.capitalize() for w in rest)
            out[key] = item if key == "arguments" else _camel_keys(item)
        return out
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _update(obj: dict[str, Any], body: Mapping[str, Any]) -> None:
    for key, value in body.items():
        if key == "schedule" and isinstance(value, dict) and isinstance(obj.get("schedule"), dict):
            obj["schedule"].update(copy.deepcopy(value))
        elif key not in ("id", "archived"):
            obj[key] = copy.deepcopy(value)
    obj["updatedAt"] = _now()


def _handler_for(fake: FakeCivis) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeCivis/1.0"
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, payload, headers = fake._handle(self.command, self.path, dict(self.headers), raw)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return  # the fake keeps its own log; nothing on stderr

    return Handler


def main(argv: list[str] | None = None) -> None:
    """`python -m assetgraph.ext.civis.fake DIR [--port N]`: serve an export directory."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="fake-civis-key")
    args = parser.parse_args(argv)
    fake = FakeCivis.from_directory(args.directory, api_key=args.api_key, port=args.port).start()
    print(f"CIVIS_API_ENDPOINT={fake.url}\nCIVIS_API_KEY={fake.api_key}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
