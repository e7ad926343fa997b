"""The events simulator and the events API client, against each other over real HTTP on 127.0.0.1.

No sleeping: the client's `sleep` is a recorder, so waits are asserted, not spent."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from flows.events.client import EventsApiClient, RetryPolicy
from flows.events.errors import (
    EventsAuthError,
    EventsRequestError,
    EventsResponseError,
    EventsRetriesExhaustedError,
)
from flows.events.simulator import DatasetConfig, EventsSimulator, FaultConfig, generate_attendances

TOKEN = "s3cr3t-token-for-tests-7f1c"
FAST = RetryPolicy(max_attempts=8, base_delay=0.25, max_delay=2.0, max_retry_after=5.0)


@pytest.fixture
def simulator():
    started: list[EventsSimulator] = []

    def make(**kwargs) -> EventsSimulator:
        sim = EventsSimulator(token=kwargs.pop("token", TOKEN), **kwargs)
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def crawl(sim: EventsSimulator, **kwargs) -> tuple[list, EventsApiClient, Sleeps]:
    sleeps = Sleeps()
    client = EventsApiClient(sim.base_url, kwargs.pop("token", TOKEN), sleep=sleeps,
                             retry=kwargs.pop("retry", FAST), **kwargs)
    with client:
        pages = list(client.iter_pages(sim.dataset.org_id))
    return pages, client, sleeps


def test_every_record_exactly_once_across_pages_under_429s_and_500s(simulator):
    sim = simulator(dataset=DatasetConfig(attendances=437, seed=3),
                    faults=FaultConfig(rate_limit_probability=0.2, server_error_probability=0.2,
                                       retry_after=2, seed=11))
    pages, client, sleeps = crawl(sim, per_page=20)

    ids = [r["id"] for p in pages for r in p.records]
    expected = [r["id"] for r in sim.attendances]
    assert ids == expected  # every record, once, in order
    assert len(set(ids)) == 437
    assert [p.number for p in pages] == list(range(1, 23))  # ceil(437 / 20) pages
    assert all(p.count == 437 for p in pages)
    # the faults did happen, and were retried
    faults = [r.fault for r in sim.requests]
    assert faults.count("rate_limit") >= 2 and faults.count("server_error") >= 2
    assert client.stats.retries == faults.count("rate_limit") + faults.count("server_error")
    assert client.stats.requests == len(sim.requests)
    # a 429 waits exactly its Retry-After; a 500 waits a bounded backoff
    assert sleeps.count(2.0) == faults.count("rate_limit")
    assert all(0 < s <= FAST.max_delay for s in sleeps)


def test_retry_after_is_capped_and_missing_header_falls_back_to_backoff(simulator):
    sim = simulator(dataset=DatasetConfig(attendances=30), faults=FaultConfig(rate_limit_probability=0.5, retry_after=3600, seed=1))
    pages, _, sleeps = crawl(sim, per_page=10, retry=RetryPolicy(max_attempts=10, base_delay=0.1, max_delay=0.4, max_retry_after=7))
    assert sum(len(p.records) for p in pages) == 30
    assert sleeps and set(sleeps) == {7.0}

    sim2 = simulator(dataset=DatasetConfig(attendances=30), faults=FaultConfig(rate_limit_probability=0.5, retry_after=None, seed=1))
    _, _, sleeps2 = crawl(sim2, per_page=10, retry=RetryPolicy(max_attempts=10, base_delay=0.1, max_delay=0.4))
    assert sleeps2 and all(0 < s <= 0.4 for s in sleeps2)


def test_backoff_is_exponential_bounded_and_jittered():
    import random

    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.5)
    rng = random.Random(0)
    waits = [policy.backoff(a, rng) for a in range(1, 8)]
    caps = [1, 2, 4, 8, 8, 8, 8]
    assert all(cap * 0.5 <= w <= cap for w, cap in zip(waits, caps))
    assert len({round(w, 6) for w in waits[3:]}) > 1  # jitter: the capped waits differ


def test_retries_exhausted_raise_a_clear_error_without_the_token(simulator, caplog):
    sim = simulator(dataset=DatasetConfig(attendances=50), faults=FaultConfig(fail_pages=frozenset({2})))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(EventsRetriesExhaustedError) as info:
        crawl(sim, per_page=20, retry=RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=0.2))
    err = info.value
    assert err.status == 500 and err.attempts == 4 and err.pages_fetched == 1
    assert err.path == f"/v1/organizations/{sim.dataset.org_id}/attendances?per_page=20&page=2"
    message = str(err)
    assert "HTTP 500" in message and "4 attempts" in message and err.path in message
    assert "127.0.0.1" not in message
    for text in (message, repr(err), caplog.text):
        assert TOKEN not in text
    assert caplog.text.count("retrying") == 3


def test_connection_errors_are_retried_then_reported():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    client = EventsApiClient(f"http://127.0.0.1:{port}/v1", TOKEN, sleep=sleeps,
                             retry=RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=0.1))
    with pytest.raises(EventsRetriesExhaustedError) as info:
        list(client.iter_pages(5))
    assert info.value.status is None and "connection error" in str(info.value)
    assert len(sleeps) == 2 and TOKEN not in str(info.value)


def test_read_timeout_is_enforced_and_retried():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (kernel backlog) but never answers
    try:
        port = listener.getsockname()[1]
        client = EventsApiClient(f"http://127.0.0.1:{port}/v1", TOKEN, timeout=(1.0, 0.2), sleep=Sleeps(),
                                 retry=RetryPolicy(max_attempts=2, base_delay=0.0))
        with pytest.raises(EventsRetriesExhaustedError) as info:
            list(client.iter_pages(5))
        assert "timeout" in str(info.value) and info.value.attempts == 2
    finally:
        listener.close()


def test_simulator_rejects_a_bad_or_missing_token(simulator):
    sim = simulator(dataset=DatasetConfig(attendances=5))
    url = f"{sim.base_url}/organizations/{sim.dataset.org_id}/attendances"
    assert requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 403
    assert requests.get(url, timeout=5).status_code == 403
    assert requests.get(url, headers={"Authorization": TOKEN}, timeout=5).status_code == 403  # no "Bearer"
    ok = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert ok.status_code == 200 and len(ok.json()["data"]) == 5
    assert [r.status for r in sim.requests] == [403, 403, 403, 200]
    assert TOKEN not in repr(sim.requests) and TOKEN not in repr(sim)

    with pytest.raises(EventsAuthError) as info:
        crawl(sim, token="not-the-token")
    assert info.value.status == 403 and "EVENTS_API_TOKEN" in str(info.value)
    assert "not-the-token" not in str(info.value)


def test_unknown_organization_is_a_request_error_not_retried(simulator):
    sim = simulator(dataset=DatasetConfig(attendances=5, org_id=7))
    client = EventsApiClient(sim.base_url, TOKEN, sleep=Sleeps(), retry=FAST)
    with pytest.raises(EventsRequestError) as info:
        list(client.iter_pages(8))
    assert info.value.status == 404 and len(sim.requests) == 1


def test_updated_since_filters_on_modified_date(simulator):
    sim = simulator(dataset=DatasetConfig(attendances=200, seed=5))
    cut = sorted(r["modified_date"] for r in sim.attendances)[120]
    client = EventsApiClient(sim.base_url, TOKEN, per_page=50, sleep=Sleeps())
    got = [r["id"] for p in client.iter_pages(sim.dataset.org_id, updated_since=cut) for r in p.records]
    assert got == [r["id"] for r in sim.attendances if r["modified_date"] >= cut]
    assert 0 < len(got) < 200


def test_data_is_deterministic_by_seed_and_uses_reserved_contact_data():
    a = generate_attendances(DatasetConfig(attendances=300, seed=9))
    assert a == generate_attendances(DatasetConfig(attendances=300, seed=9))
    assert a != generate_attendances(DatasetConfig(attendances=300, seed=10))
    emails = [e["address"] for r in a for e in r["person"]["email_addresses"]]
    phones = [p["number"] for r in a for p in r["person"]["phone_numbers"]]
    assert emails and all(e.endswith(("@example.org", "@example.net")) for e in emails)
    assert phones and all("".join(c for c in p if c.isdigit())[-7:-2] == "55501" for p in phones)
    van_fields = [f for r in a for f in r["custom_signup_field_values"] if f["custom_field_name"] == "VAN ID"]
    assert 0.3 * len(a) < len(van_fields) < 0.9 * len(a)


class _ForeignNext(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"count": 2, "next": "http://elsewhere.invalid/v1/organizations/1/attendances?page=2",
                           "previous": None, "data": [{"id": 1}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_next_link_to_another_host_is_refused():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForeignNext)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        client = EventsApiClient(f"http://127.0.0.1:{server.server_address[1]}/v1", TOKEN, sleep=Sleeps())
        pages = client.iter_pages(1)
        assert [r["id"] for r in next(pages).records] == [1]
        with pytest.raises(EventsResponseError, match="another host"):
            next(pages)
    finally:
        server.shutdown()
        server.server_close()


def test_simulator_cli_serves_until_stopped():
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.events.simulator", "--port", "0", "--attendances", "7"],
        stdout=subprocess.PIPE, text=True, env={"EVENTS_API_TOKEN": TOKEN, "PATH": ""},
    )
    try:
        line = proc.stdout.readline()
        url = line.split()[2]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert TOKEN not in line
        body = requests.get(f"{url}/organizations/1/attendances", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=5).json()
        assert body["count"] == 7 and body["next"] is None
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
