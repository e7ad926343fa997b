"""`export_estate` through the real civis-python client against the fake Civis API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assetgraph.ext.civis._client import MAX_ATTEMPTS, connect
from assetgraph.ext.civis._layout import KINDS
from assetgraph.ext.civis.errors import CivisApiError, CivisExportDirError
from assetgraph.ext.civis.export import export_estate
from tests.ext.civis.estate import LIVE_COUNTS, N_SQL, SECRET, closed_port, estate, fake_civis  # noqa: F401


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_live_object_is_one_file_holding_the_api_body(fake_civis, tmp_path):
    out = tmp_path / "export"
    result = export_estate(out, environ=fake_civis.env())

    assert dict(result.counts) == LIVE_COUNTS
    for kind in KINDS:
        ids = sorted(int(p.stem) for p in (out / kind.folder).glob("*.json"))
        assert len(ids) == LIVE_COUNTS[kind.name], kind.name
    # exactly the body the API returns, keys in the API's order (this one holds no secret)
    body = json.loads((out / "scripts/sql/1003.json").read_text())
    api = fake_civis.get("sql", 1003)
    assert body == api and list(body) == list(api)
    wf = json.loads((out / "workflows/4001.json").read_text())
    assert "civis.run_job" in wf["definition"] and wf["schedule"]["scheduledHours"] == [6]
    imp = json.loads((out / "imports/5001.json").read_text())
    assert imp["syncs"][0]["destination"]["path"] == "raw.people"
    # nothing but the export beside it: the staging directory is gone
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_lists_page_by_page(fake_civis, tmp_path):
    export_estate(tmp_path / "export", environ=fake_civis.env())
    pages = [r for r in fake_civis.calls("GET", "/scripts") if r.path == "/scripts" and r.query.get("type") == "sql"]
    # 56 live SQL scripts at 50 a page: pages 1 and 2, then the empty page 3 ends the listing
    assert [r.query["page_num"] for r in pages] == ["1", "2", "3"]
    assert all(r.query["limit"] == "50" and r.query["archived"] == "false" for r in pages)
    assert len(fake_civis.calls("GET", "/scripts/sql/")) == N_SQL + 1


def test_archived_objects_are_skipped_unless_asked_for(fake_civis, tmp_path):
    export_estate(tmp_path / "live", environ=fake_civis.env())
    assert not (tmp_path / "live/scripts/sql/1091.json").exists()
    assert not (tmp_path / "live/workflows/4002.json").exists()

    result = export_estate(tmp_path / "all", include_archived=True, environ=fake_civis.env())
    for rel in ("scripts/sql/1091.json", "scripts/python3/2002.json", "scripts/containers/3002.json",
                "workflows/4002.json", "imports/5002.json"):
        assert json.loads((tmp_path / "all" / rel).read_text())["archived"] == "true", rel
    assert result.total == sum(LIVE_COUNTS.values()) + 5


def test_no_secret_value_reaches_the_files(fake_civis, tmp_path):
    out = tmp_path / "export"
    result = export_estate(out, environ=fake_civis.env())

    for name, data in _files(out).items():
        assert SECRET.encode() not in data, name
    assert SECRET not in "\n".join(result.lines())
    # credentials stay as ids and names; code that reads a secret from the environment stays
    unload = json.loads((out / "scripts/sql/1090.json").read_text())
    assert unload["credentialId"] == 901 and unload["arguments"]["REDSHIFT"] == 901
    assert "aws_access_key_id=AKIAEXAMPLE" in unload["sql"]
    py = json.loads((out / "scripts/python3/2001.json").read_text())
    assert "os.environ['VAN_PASSWORD']" in py["source"] and py["arguments"] == {"VAN": 555}
    imp = json.loads((out / "imports/5001.json").read_text())
    assert imp["source"]["credentialId"] == 13 and imp["source"]["name"] == "mysql"
    places = {(f, p) for f, p in result.redacted}
    assert places == {
        ("scripts/sql/1090.json", "sql"),
        ("scripts/sql/1090.json", "arguments.DB_PASSWORD"),
        ("scripts/python3/2001.json", "source"),
        ("scripts/containers/3001.json", "dockerCommand"),
        ("imports/5001.json", "source.password"),
    }


def test_a_429_is_retried_after_its_retry_after(fake_civis, tmp_path):
    fake_civis.inject(429, times=2, retry_after=1, path_prefix="/workflows/4001")
    result = export_estate(tmp_path / "export", environ=fake_civis.env())

    assert result.counts["workflows"] == 1
    tries = fake_civis.calls("GET", "/workflows/4001")
    assert len(tries) == 3
    # honoured Retry-After: each retry came at least a second after the 429 (a lower bound only)
    assert tries[1].at - tries[0].at >= 1.0 and tries[2].at - tries[1].at >= 1.0


def test_endless_429s_give_up_bounded_and_write_nothing(fake_civis, tmp_path):
    fake_civis.inject(429, times=1000, retry_after=0, path_prefix="/scripts/containers/")
    with pytest.raises(CivisApiError, match=r"still throttled \(429\), gave up .*: GET /scripts/containers/3001"):
        export_estate(tmp_path / "export", environ=fake_civis.env())
    assert len(fake_civis.calls("GET", "/scripts/containers/")) == MAX_ATTEMPTS
    assert list(tmp_path.iterdir()) == []


def test_a_retry_after_beyond_the_budget_is_not_waited_for(fake_civis, tmp_path):
    fake_civis.inject(429, times=1, retry_after=3600, path_prefix="/workflows/4001")
    with pytest.raises(CivisApiError, match=r"still throttled \(429\)"):
        export_estate(tmp_path / "export", environ=fake_civis.env())
    assert len(fake_civis.calls("GET", "/workflows/4001")) == 1  # gave up instead of sleeping an hour


def test_a_failed_export_leaves_the_previous_one_intact(fake_civis, tmp_path):
    out = tmp_path / "export"
    export_estate(out, environ=fake_civis.env())
    before = _files(out)

    fake_civis.add("sql", {"id": 1500, "name": "new script", "sql": "select 1"})
    fake_civis.inject(500, times=1, path_prefix="/imports/5001")
    with pytest.raises(CivisApiError, match=r"GET /imports/5001 failed \(500\)"):
        export_estate(out, environ=fake_civis.env())
    assert _files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["export"]

    # the next good run replaces it whole: the new script appears, nothing else is left over
    export_estate(out, environ=fake_civis.env())
    after = _files(out)
    assert set(after) == set(before) | {"scripts/sql/1500.json"}


def test_an_empty_estate_is_an_export_with_every_folder(tmp_path):
    from assetgraph.ext.civis.fake import FakeCivis

    with FakeCivis() as fake:
        result = export_estate(tmp_path / "export", environ=fake.env())
    assert result.total == 0
    assert sorted(str(p.relative_to(tmp_path / "export")) for p in (tmp_path / "export").rglob("*")) == [
        "imports", "scripts", "scripts/containers", "scripts/python3", "scripts/sql", "workflows",
    ]


def test_a_directory_that_is_not_an_export_is_refused(fake_civis, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(CivisExportDirError, match="not a Civis export"):
        export_estate(out, environ=fake_civis.env())
    assert (out / "notes.txt").read_text() == "keep me" and fake_civis.requests == ()


def test_a_run_killed_between_the_two_renames_is_recovered(fake_civis, tmp_path):
    out = tmp_path / "export"
    export_estate(out, environ=fake_civis.env())
    before = _files(out)
    # what a SIGKILL after `rename(export, aside)` leaves: no export, the previous one aside,
    # and a staging directory
    out.rename(tmp_path / ".export.previous-abc")
    (tmp_path / ".export.export-def").mkdir()
    fake_civis.inject(500, times=1, path_prefix="/endpoints")
    with pytest.raises(CivisApiError):
        export_estate(out, environ=fake_civis.env())
    assert _files(out) == before  # put back before anything else happened
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_wrong_key_is_one_clear_error(fake_civis, tmp_path):
    env = dict(fake_civis.env(), CIVIS_API_KEY="wrong")
    with pytest.raises(CivisApiError, match="refused") as info:
        export_estate(tmp_path / "export", environ=env)
    assert "wrong" not in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "export").exists()


def test_missing_key_is_one_clear_error(tmp_path):
    with pytest.raises(CivisApiError, match="CIVIS_API_KEY is not set"):
        connect({"CIVIS_API_ENDPOINT": "http://127.0.0.1:9/"})


def test_unreachable_endpoint_is_one_clear_error(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(CivisApiError, match=r"cannot connect \(.*refused.*\)") as info:
        export_estate(tmp_path / "export", environ={"CIVIS_API_ENDPOINT": url, "CIVIS_API_KEY": "k"})
    assert str(info.value).startswith(f"Civis API {url}: ")
    assert list(tmp_path.iterdir()) == []


class _NotCivis(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        body = b"<html><body>a web page, not an API</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def test_an_endpoint_that_is_not_the_api_is_one_clear_error(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotCivis)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with pytest.raises(CivisApiError, match="not the Civis API"):
            export_estate(tmp_path / "export", environ={"CIVIS_API_ENDPOINT": url, "CIVIS_API_KEY": "k"})
    finally:
        server.shutdown()
        server.server_close()
    assert list(tmp_path.iterdir()) == []


def test_the_fake_serves_an_export_back(tmp_path):
    """FakeCivis.from_directory reads the export layout: export -> fake -> export is stable."""
    from assetgraph.ext.civis.fake import FakeCivis

    # bodies with secrets come back redacted, so they would differ: leave them out here
    clean = {k: [o for o in v if o["id"] not in (1090, 2001, 3001, 5001)] for k, v in estate().items()}
    with FakeCivis(clean) as first:
        export_estate(tmp_path / "one", environ=first.env())
    with FakeCivis.from_directory(tmp_path / "one") as second:
        export_estate(tmp_path / "two", environ=second.env())
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    assert len(_files(tmp_path / "one")) == sum(LIVE_COUNTS.values()) - 4
