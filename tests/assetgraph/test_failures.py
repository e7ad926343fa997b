"""Transient or deterministic: the classification behind asset retries, on real errors (a closed
port, a real HTTP server answering 503/404, a real Postgres lock timeout and syntax error, the
project's own error classes)."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import pytest
import requests

from assetgraph.errors import SelectionSyntaxError
from assetgraph.execution.failures import failure_message, is_transient
from assetgraph.warehouse import connect
from flows.landing.errors import ConfigurationError, EmptyFileError, LandingFailedError, MissingColumnError
from flows.events.errors import EventsAuthError, EventsRetriesExhaustedError
from sync.errors import FailureFractionExceeded, RequestFailed, SyncConfigError, SyncLockedError


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


class _Status(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(int(self.path.strip("/")))
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_status_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _raised(fn):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - the error is what we test
        return exc
    raise AssertionError("expected an error")


def test_connection_errors_are_transient():
    port = _closed_port()
    assert is_transient(_raised(lambda: socket.create_connection(("127.0.0.1", port), timeout=5)))
    assert is_transient(_raised(lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=5)))
    # urllib wraps the refused connection in URLError (an OSError): the cause decides
    assert is_transient(_raised(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)))


@pytest.mark.parametrize("status, transient", [(503, True), (500, True), (429, True), (404, False), (400, False)])
def test_http_errors_by_status(http_status_server, status, transient):
    response = requests.get(f"{http_status_server}/{status}", timeout=10)
    assert is_transient(_raised(response.raise_for_status)) is transient
    assert is_transient(_raised(lambda: urllib.request.urlopen(f"{http_status_server}/{status}", timeout=10))) is transient


def test_postgres_lock_timeout_is_transient_and_bad_sql_is_not(warehouse):
    with connect(warehouse) as holder, connect(warehouse) as waiter:
        with holder.cursor() as cur:
            cur.execute("create table t (id int)")
            holder.commit()
            cur.execute("lock table t in exclusive mode")
        with waiter.cursor() as cur:
            cur.execute("set lock_timeout = '100ms'")
            lock_error = _raised(lambda: cur.execute("lock table t in exclusive mode"))
        waiter.rollback()
        with waiter.cursor() as cur:
            syntax_error = _raised(lambda: cur.execute("selec 1"))
        waiter.rollback()
        holder.rollback()
    assert isinstance(lock_error, psycopg2.errors.LockNotAvailable) and is_transient(lock_error)
    assert isinstance(syntax_error, psycopg2.errors.SyntaxError) and not is_transient(syntax_error)


def test_unreachable_postgres_is_transient_and_a_missing_database_is_not(warehouse):
    import dataclasses

    missing = dataclasses.replace(warehouse, dbname="no_such_database")
    assert not is_transient(_raised(lambda: psycopg2.connect(**missing.dsn_kwargs())))
    port = _closed_port()
    assert is_transient(_raised(lambda: psycopg2.connect(host="127.0.0.1", port=port, user="x", dbname="x",
                                                         connect_timeout=5)))


def test_the_projects_errors_say_what_they_are():
    deterministic = [
        EmptyFileError("b.csv", "is empty (0 bytes)"),
        MissingColumnError("d.csv", "email", 11),
        LandingFailedError([EmptyFileError("b.csv"), MissingColumnError("d.csv", "email", 11)]),
        ConfigurationError("SIGNUPS_TIMEZONE", "Mars/Olympus", "is not a known IANA time zone"),
        SyncConfigError("EVERYACTION_API_KEY", "not set"),
        FailureFractionExceeded(5, 10, 0.1),
        RequestFailed("POST", "/people/1/codes", "HTTP 401: check EVERYACTION_API_KEY/EVERYACTION_DB", 1),
        EventsAuthError(method="GET", path="/events", status=401),
        SelectionSyntaxError("a and", 5, "unexpected end"),
        ValueError("a bug"),
    ]
    transient = [
        SyncLockedError(),
        RequestFailed("GET", "/people/1", "no answer after retries", 5),
        EventsRetriesExhaustedError(method="GET", path="/events", status=503, attempts=5, last_error="HTTP 503"),
    ]
    assert [is_transient(e) for e in deterministic] == [False] * len(deterministic)
    assert [is_transient(e) for e in transient] == [True] * len(transient)


def test_an_explicit_marker_wins_over_its_cause():
    try:
        try:
            raise ConnectionResetError("peer reset")
        except ConnectionResetError as cause:
            raise SyncConfigError("EVERYACTION_API_URL", "not an EveryAction URL") from cause
    except SyncConfigError as exc:
        assert not is_transient(exc)


def test_failure_message_prefixes_only_unexpected_errors():
    assert failure_message(EmptyFileError("b.csv", "is empty (0 bytes)")) == "b.csv: is empty (0 bytes)"
    assert failure_message(KeyError("van_id")) == "KeyError: 'van_id'"
    assert failure_message(urllib.error.URLError("refused")) == "URLError: <urlopen error refused>"
