"""A local stand-in for the Mobilize America API v1 attendances endpoint, for dev and tests.

    GET /v1/organizations/{org_id}/attendances?per_page=N&page=P&updated_since=UNIX
    Authorization: Bearer <token>

Modelled on the public API documentation (facts only): JSON `{"count", "next", "previous",
"data"}`; paging with `per_page` (default 25) and `page`, `next`/`previous` are absolute links
or null; `updated_since` filters on the attendance's `modified_date` (Unix seconds); a missing
or wrong token answers 403; errors are `{"data": null, "error": {...}}`. An attendance carries
`id`, `created_date`, `modified_date` (Unix seconds), `person` (`given_name`, `family_name`,
`email_addresses`, `phone_numbers`, `postal_addresses`, each a list of `{..., "primary"}`),
`event` (`id`, `title`, `event_type`, `timezone`; the real object has more), `timeslot`
(`id`, `start_date`, `end_date`), `sponsor`, `status`, `attended` (true/false/null) and
`referrer` (`utm_source`, `utm_medium`, `utm_campaign`, `utm_term`, `utm_content`, `url`).

**VAN ID.** Mobilize has no VAN ID field. Here a share of people carry one in
`custom_signup_field_values` as `{"custom_field_id", "custom_field_name": "VAN ID",
"text_value"}`: it *stands in* for a VAN match an organisation might collect with a custom
signup field, and its shape is a simplification. Against the real API the loader's `van_id` is
usually null and dbt matches attendees to VAN IDs by email.

Data is invented and deterministic by seed: `example.org`/`.net` emails, 555-01xx phones.
`DatasetConfig.malformed_fraction` makes some records unparseable the way real ones can be
(`id` omitted, as the API does for some coordinated/independent cases; `timeslot` null; a
non-numeric `start_date`). `FaultConfig` injects 429 (with `Retry-After`) and 500 answers by
seeded probability, or a 500 on every request for chosen pages. Every request is recorded in
`requests` (method, path, query, status, fault; never headers, so never the token).

In-process: `sim = EventsSimulator(token=...).start()` gives the base URL (`.../v1`), `sim.stop()`
ends it (also a context manager). Stand-alone: `python -m flows.events.simulator --port 0`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import json
import logging
import os
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Sequence
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = [
    "DEV_TOKEN",
    "DatasetConfig",
    "FaultConfig",
    "RequestRecord",
    "generate_attendances",
    "EventsSimulator",
    "main",
]

log = logging.getLogger("flows.events.simulator")

DEV_TOKEN = "local-events-simulator-token"  # only ever accepted by this simulator
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 1000

_FIRST = ("Ana", "Marcus", "Priya", "José", "Keisha", "Liam", "Mei", "Omar", "Fatima", "Dmitri",
          "Grace", "Tyrone", "Sofía", "Hannah", "Andre", "Kwame", "Ingrid", "Rosa", "Malik", "Yuki")
_LAST = ("Rivera", "O'Brien", "Nguyen", "Okafor", "Smith-Jones", "García", "Kowalski", "Haddad",
         "Johnson", "Lindqvist", "Washington", "Patel", "Moreau", "Tanaka", "Brown", "Mensah")
_ASCII = str.maketrans({"é": "e", "í": "i", "á": "a", "'": "", " ": ""})
_DOMAINS = ("example.org", "example.net")
_EVENT_TYPES = ("CANVASS", "PHONE_BANK", "TEXT_BANK", "MEETING", "TRAINING", "HOUSE_PARTY")
_EVENT_WORDS = ("Weekend", "Neighborhood", "Climate", "Get Out The Vote", "Volunteer", "Community")
_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
_UTM = (("facebook", "paid_social"), ("email", "email"), ("partner-org", "referral"),
        ("Instagram", "social"), ("sms", "text"), (None, None), (None, None))
_DEFECTS = ("missing_id", "no_timeslot", "bad_start_date")


@dataclass(frozen=True)
class DatasetConfig:
    """What the simulator serves: `attendances` records for one organization, their timeslots
    spread over `days` days from `start` (UTC)."""

    attendances: int = 500
    events: int = 12
    start: dt.date = dt.date(2026, 11, 1)
    days: int = 7
    seed: int = 0
    org_id: int = 1
    van_id_fraction: float = 0.6  # people who carry a "VAN ID" custom field
    malformed_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.attendances < 0 or self.events < 1 or self.days < 1:
            raise ValueError("attendances must be >= 0, events and days >= 1")
        for name in ("van_id_fraction", "malformed_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


@dataclass(frozen=True)
class FaultConfig:
    """Injected failures, drawn per authorised data request from `random.Random(seed)`."""

    rate_limit_probability: float = 0.0  # 429
    server_error_probability: float = 0.0  # 500
    retry_after: int | None = 1  # seconds sent in Retry-After with a 429; None: no header
    fail_pages: frozenset[int] = field(default_factory=frozenset)  # always 500 for these pages
    seed: int = 0

    def __post_init__(self) -> None:
        p = self.rate_limit_probability + self.server_error_probability
        if min(self.rate_limit_probability, self.server_error_probability) < 0 or p > 1:
            raise ValueError("fault probabilities must be >= 0 and sum to at most 1")


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    status: int
    fault: str | None = None  # "rate_limit", "server_error", "fail_page" or None


def _unix(value: dt.datetime) -> int:
    return int(value.timestamp())


def _person(rng: random.Random, pid: int, van_fraction: float) -> tuple[dict[str, Any], int | None]:
    first, last = _FIRST[pid % len(_FIRST)], _LAST[(pid * 7 + 3) % len(_LAST)]
    local = f"{first}.{last}".translate(_ASCII).lower()
    email = f"{local}{pid}@{_DOMAINS[pid % len(_DOMAINS)]}"
    digits = f"{200 + pid % 700:03d}55501{pid % 100:02d}"
    phone = rng.choice((digits, f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"+1{digits}"))
    created = _unix(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)) + pid * 3600
    person = {
        "id": 90000 + pid,
        "user_id": 190000 + pid,
        "created_date": created,
        "modified_date": created,
        "given_name": first,
        "family_name": last,
        # The API sends an empty list when the person's data may not be shared.
        "email_addresses": [] if pid % 53 == 0 else [{"primary": True, "address": email}],
        "phone_numbers": [] if pid % 17 == 0 else [{"primary": True, "number": phone}],
        "postal_addresses": [{"primary": True, "postal_code": f"{(pid * 7919) % 100000:05d}"}],
        "sms_opt_in_status": rng.choice(("UNSPECIFIED", "OPT_IN", "OPT_OUT")),
    }
    van_id = 100000 + pid * 13 if (pid * 2654435761 % 1000) < van_fraction * 1000 else None
    return person, van_id


def generate_attendances(config: DatasetConfig) -> list[dict[str, Any]]:
    """The data set, in `id` order (what the endpoint pages through). Same config, same data."""
    rng = random.Random(config.seed)
    day0 = dt.datetime.combine(config.start, dt.time(), tzinfo=dt.timezone.utc)
    events = []
    for e in range(config.events):
        slots = []
        for s in range(rng.randint(1, 3)):
            start = day0 + dt.timedelta(days=rng.randrange(config.days), hours=rng.randint(14, 22))
            slots.append({"id": 50000 + e * 10 + s, "start_date": _unix(start),
                          "end_date": _unix(start + dt.timedelta(hours=2))})
        word, kind = rng.choice(_EVENT_WORDS), rng.choice(_EVENT_TYPES)
        events.append({
            "id": 3000 + e,
            "title": f"{word} {kind.replace('_', ' ').title()} #{e + 1}",
            "event_type": kind,
            "timezone": rng.choice(_ZONES),
            "_slots": slots,
        })
    sponsor = {"id": config.org_id, "name": "Example Organizing Project", "slug": "example-organizing"}
    people = max(1, (config.attendances * 2) // 3)
    out: list[dict[str, Any]] = []
    next_id = 700000 + rng.randrange(1000)
    for _ in range(config.attendances):
        next_id += rng.randint(1, 3)
        pid = rng.randrange(people)
        person, van_id = _person(rng, pid, config.van_id_fraction)
        event = rng.choice(events)
        slot = dict(rng.choice(event["_slots"]))
        created = slot["start_date"] - rng.randint(3600, 14 * 86400)
        attended = rng.choice((True, True, False, None))
        modified = slot["end_date"] + rng.randint(600, 86400) if attended is not None else created
        source, medium = rng.choice(_UTM)
        record: dict[str, Any] = {
            "id": next_id,
            "created_date": created,
            "modified_date": modified,
            "person": person,
            "event": {k: v for k, v in event.items() if not k.startswith("_")},
            "timeslot": slot,
            "sponsor": sponsor,
            "status": "CONFIRMED" if attended else rng.choice(("REGISTERED", "CONFIRMED", "CANCELLED")),
            "attended": attended,
            "referrer": {"utm_source": source, "utm_medium": medium, "utm_campaign": None,
                         "utm_term": None, "utm_content": None, "url": None},
            "custom_signup_field_values": (
                [{"custom_field_id": 1, "custom_field_name": "VAN ID", "text_value": str(van_id)}]
                if van_id is not None else []
            ),
        }
        if rng.random() < config.malformed_fraction:
            defect = rng.choice(_DEFECTS)
            if defect == "missing_id":
                del record["id"]
            elif defect == "no_timeslot":
                record["timeslot"] = None
            else:
                record["timeslot"] = {**slot, "start_date": "TBD"}
        out.append(record)
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: "EventsSimulator") -> None:
        self.sim = sim
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end on their own
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.command, urlsplit(self.path).path)

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
              fault: str | None = None) -> None:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        parts = urlsplit(self.path)
        query = tuple(sorted((k, v) for k, vs in parse_qs(parts.query).items() for v in vs))
        # recorded before answering: a client may act on the answer at once
        self.server.sim._record(RequestRecord(self.command, parts.path, query, status, fault))
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        sim = self.server.sim
        parts = urlsplit(self.path)
        segments = parts.path.strip("/").split("/")
        if len(segments) != 4 or segments[:2] != ["v1", "organizations"] or segments[3] != "attendances":
            return self._send(404, {"data": None, "error": {"detail": "Not found."}})
        if not sim._authorised(self.headers.get("Authorization", "")):
            return self._send(403, {"data": None, "error": {"detail": "Invalid or missing API key."}})
        if segments[2] != str(sim.dataset.org_id):
            return self._send(404, {"data": None, "error": {"detail": "Not found."}})
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        errors: dict[str, list[str]] = {}
        per_page = page = since = None
        try:
            per_page = min(int(query.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
            if per_page < 1:
                raise ValueError
        except ValueError:
            errors["per_page"] = ["A positive integer is required."]
        try:
            page = int(query.get("page", 1))
        except ValueError:
            errors["page"] = ["A valid integer is required."]
        try:
            since = int(query["updated_since"]) if "updated_since" in query else None
        except ValueError:
            errors["updated_since"] = ["A valid integer is required."]
        if errors:
            return self._send(400, {"data": None, "error": errors})
        assert per_page is not None and page is not None
        fault = sim._draw_fault(page)
        if fault == "rate_limit":
            after = sim.faults.retry_after
            headers = {"Retry-After": str(after)} if after is not None else {}
            throttled = {"data": None, "error": {"detail": "Request was throttled."}}
            return self._send(429, throttled, headers, fault)
        if fault is not None:
            return self._send(500, "<h1>Server Error (500)</h1>", fault=fault)
        rows = [r for r in sim.attendances if since is None or r["modified_date"] >= since]
        pages = max(1, -(-len(rows) // per_page))
        if page < 1 or page > pages:
            return self._send(404, {"data": None, "error": {"detail": "Invalid page."}})
        base = f"http://{self.headers.get('Host') or sim.address}{parts.path}"

        def link(p: int) -> str | None:
            if p < 1 or p > pages:
                return None
            params: dict[str, int] = {"per_page": per_page, "page": p}
            if since is not None:
                params["updated_since"] = since
            return f"{base}?{urlencode(params)}"

        data = rows[(page - 1) * per_page: page * per_page]
        self._send(200, {"count": len(rows), "next": link(page + 1), "previous": link(page - 1),
                         "data": data})


class EventsSimulator:
    """The simulated API on 127.0.0.1. `start()` returns the base URL; `stop()` ends it."""

    def __init__(
        self,
        *,
        token: str = DEV_TOKEN,
        dataset: DatasetConfig | None = None,
        faults: FaultConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not token:
            raise ValueError("the simulator needs a non-empty token")
        self._token = token
        self.dataset = dataset or DatasetConfig()
        self.faults = faults or FaultConfig()
        self.attendances: tuple[dict[str, Any], ...] = tuple(generate_attendances(self.dataset))
        self._host, self._port = host, port
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"EventsSimulator(address={self.address!r}, attendances={len(self.attendances)})"

    @property
    def address(self) -> str:
        if self._server is None:
            return f"{self._host}:{self._port}"
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the events simulator is not running")
        return f"http://{self.address}/v1"

    @property
    def requests(self) -> tuple[RequestRecord, ...]:
        with self._lock:
            return tuple(self._log)

    def start(self) -> str:
        if self._server is None:
            self._server = _Server((self._host, self._port), self)
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                            name="events-simulator", daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> "EventsSimulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authorised(self, header: str) -> bool:
        return hmac.compare_digest(header.encode(), f"Bearer {self._token}".encode())

    def _draw_fault(self, page: int) -> str | None:
        with self._lock:
            draw = self._rng.random()
        if page in self.faults.fail_pages:
            return "fail_page"
        if draw < self.faults.rate_limit_probability:
            return "rate_limit"
        if draw < self.faults.rate_limit_probability + self.faults.server_error_probability:
            return "server_error"
        return None

    def _record(self, entry: RequestRecord) -> None:
        with self._lock:
            self._log.append(entry)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.events.simulator",
                                     description="Serve a local Mobilize-style attendances API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--org-id", type=int, default=1)
    parser.add_argument("--attendances", type=int, default=500)
    parser.add_argument("--events", type=int, default=12)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 11, 1))
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--malformed-fraction", type=float, default=0.0)
    parser.add_argument("--rate-limit-probability", type=float, default=0.0)
    parser.add_argument("--error-probability", type=float, default=0.0)
    parser.add_argument("--retry-after", type=int, default=1)
    args = parser.parse_args(argv)
    token = os.environ.get("EVENTS_API_TOKEN") or DEV_TOKEN
    sim = EventsSimulator(
        token=token,
        dataset=DatasetConfig(attendances=args.attendances, events=args.events, start=args.start,
                              days=args.days, seed=args.seed, org_id=args.org_id,
                              malformed_fraction=args.malformed_fraction),
        faults=FaultConfig(rate_limit_probability=args.rate_limit_probability,
                           server_error_probability=args.error_probability,
                           retry_after=args.retry_after, seed=args.seed),
        host=args.host, port=args.port,
    )
    url = sim.start()
    where = "$EVENTS_API_TOKEN" if os.environ.get("EVENTS_API_TOKEN") else "the built-in dev token"
    print(f"events simulator: {url} (org {args.org_id}, {len(sim.attendances)} attendances; "
          f"accepts {where})", flush=True)
    print(f"  export EVENTS_API_URL={url} EVENTS_ORG_ID={args.org_id}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
