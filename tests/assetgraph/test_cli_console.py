"""What a user sees: `.venv/bin/assetgraph` run as a real process against a real Prefect server
(started here on 127.0.0.1), the real embedded Postgres and the shipped pipeline.

- malformed signup files: one line per file naming the file and the problem, no traceback, no
  retry (deterministic), the data landed before intact; `--debug` and the Prefect logs still
  have the traceback;
- an unreachable Prefect API: one line;
- piped output names every key in full; tables at 80 columns never cut a key.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.flows.signup_helpers import HEADER, row, scalar, table_fingerprint, write_csv, write_text

ASSETGRAPH = str(Path(sys.executable).with_name("assetgraph"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# file name -> what the one line about it must say
BAD_FILES = {
    "b_empty.csv": "is empty (0 bytes)",
    "c_header_only.csv": "has a header but no data rows",
    "d_no_email.csv": "missing required column 'email'",
    "e_dup_col.csv": "column 'email' appears more than once",
    "f_bad_gzip.csv.gz": "cannot be read",
    "g_latin1.csv": "header row is not valid utf-8",
    "h_too_many_bad.csv": "5 of 15 rows (33.33%) could not be parsed",
    "i_binary.csv": "missing required columns",
    "j_bad_quote.csv": "1 of 1 rows (100.00%) could not be parsed",
}


def _write_bad_files(folder: Path) -> None:
    write_text(folder / "b_empty.csv", b"")
    write_text(folder / "c_header_only.csv", ",".join(HEADER) + "\r\n")
    write_csv(folder / "d_no_email.csv", [row(3)[:5] + row(3)[6:]], header=[h for h in HEADER if h != "email"])
    write_csv(folder / "e_dup_col.csv", [row(4) + ["x"]], header=list(HEADER) + ["email"])
    write_text(folder / "f_bad_gzip.csv.gz", b"\x1f\x8b\x08\x00not gzip at all")
    write_text(folder / "g_latin1.csv", (",".join(HEADER) + "\r\n").replace("email", "e\xe9mail").encode("latin-1"))
    write_csv(folder / "h_too_many_bad.csv", [row(100 + i) for i in range(10)] + [row(200 + i, van="abc") for i in range(5)])
    write_text(folder / "i_binary.csv", bytes(range(1, 256)) * 4)
    write_text(folder / "j_bad_quote.csv", ",".join(HEADER) + '\r\n"s_1,newsletter,2026-11-01T10:00:00Z\r\n')


@pytest.fixture(scope="module")
def prefect_url(tmp_path_factory):
    from assetgraph.devserver import local_prefect_server

    with local_prefect_server(tmp_path_factory.mktemp("prefect-home")) as url:
        yield url


@pytest.fixture
def cli_env(warehouse_env, prefect_url, tmp_path):
    env = {**os.environ, "PREFECT_API_URL": prefect_url, "SIGNUPS_DIR": str(tmp_path / "signups")}
    for name in ("FORCE_COLOR", "COLUMNS", "ASSETGRAPH_DEBUG", "ASSETGRAPH_MODULES"):
        env.pop(name, None)
    return env


def _run(env, *args, **kwargs):
    return subprocess.run([ASSETGRAPH, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=600, **kwargs)


def _task_runs(prefect_url: str, flow_run_id: str):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: prefect_url}), get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return runs, logs


def test_malformed_files_one_line_each_no_traceback_no_retry(cli_env, warehouse_env, prefect_url, tmp_path):
    folder = tmp_path / "signups"
    write_csv(folder / "a_good.csv", [row(i) for i in range(1, 21)])
    first = _run(cli_env, "materialize", "raw/signups")
    assert first.returncode == 0, first.stdout + first.stderr
    before = table_fingerprint(warehouse_env)
    assert before[0] == 20

    _write_bad_files(folder)
    result = _run(cli_env, "materialize", "raw/signups")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    summary = result.stdout.splitlines()
    for name, problem in BAD_FILES.items():
        lines = [line for line in summary if name in line]
        assert len(lines) == 1 and problem in lines[0], (name, lines)
        # once in the run's live log too: a retry would have shown every file twice
        assert len([line for line in result.stderr.splitlines() if name in line]) <= 1, result.stderr

    # not retried: one attempt in the catalog and in Prefect, and the data landed before is intact
    (run_id, attempts, transient), = [
        (r, a, m) for r, a, m in _rows(warehouse_env, "select run_id, attempts, metadata from "
                                       "asset_catalog.materializations where status = 'failed'")
    ]
    assert attempts == 1 and '"transient": false' in transient
    assert table_fingerprint(warehouse_env) == before
    assert scalar(warehouse_env, "select count(*) from raw._loaded_files") == 1
    task_runs, logs = _task_runs(prefect_url, run_id)
    (task_run,) = [t for t in task_runs if t.name.startswith("raw/signups")]
    assert task_run.run_count == 1 and task_run.state.is_failed()
    # the Prefect logs keep the traceback
    assert any("Traceback" in log.message and "LandingFailedError" in log.message for log in logs)

    debug = _run(cli_env, "materialize", "raw/signups", "--debug")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr and "LandingFailedError" in debug.stderr


def _rows(wh, sql):
    from assetgraph.warehouse import connect

    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_bad_config_is_one_line(cli_env, tmp_path):
    write_csv(tmp_path / "signups" / "a.csv", [row(1)])
    result = _run({**cli_env, "SIGNUPS_TIMEZONE": "Mars/Olympus"}, "materialize", "raw/signups")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if "SIGNUPS_TIMEZONE" in line]
    assert lines == ["✗ raw/signups: SIGNUPS_TIMEZONE='Mars/Olympus': is not a known IANA time zone"]


def test_an_unreachable_prefect_api_is_one_line(cli_env, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_csv(tmp_path / "signups" / "a.csv", [row(1)])
    result = _run({**cli_env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}, "materialize", "raw/signups")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: cannot reach the Prefect API (http://127.0.0.1:{port}/api/); is the server running, and is "
        "PREFECT_API_URL right? (run with --debug for the traceback)"
    ]


def test_piped_list_and_status_name_every_key_in_full(warehouse_env):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    listed = subprocess.run(f"{ASSETGRAPH} list | grep marts/van_source_code_assignments", shell=True, env=env,
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()  # the asset itself, and sync/van_source_codes naming it as a dependency
    assert [line.split("\t")[:3] for line in lines if line.startswith("marts/")] == [
        ["marts/van_source_code_assignments", "dbt", "marts"]]
    assert any(line.startswith("sync/van_source_codes\t") for line in lines)

    keys = [k for k in _run(env, "list", "--json").stdout.split('"key": "')[1:]]
    keys = [k.split('"')[0] for k in keys]
    status = _run(env, "status")
    assert status.returncode == 0, status.stderr
    assert [line.split("\t")[0] for line in status.stdout.splitlines()] == keys
    assert "sync/van_source_codes\tsync\tnever\t-\t-\t-\t-" in status.stdout.splitlines()


@pytest.mark.parametrize("command", ["list", "status"])
def test_tables_at_80_columns_keep_every_key_whole(warehouse_env, command):
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "80"}
    result = _run(env, command)
    assert result.returncode == 0, result.stderr
    text = ANSI.sub("", result.stdout)
    assert max(len(line) for line in text.splitlines()) <= 80
    piped = {k: v for k, v in env.items() if k != "FORCE_COLOR"}
    keys = [line.split("\t")[0] for line in _run(piped, command).stdout.splitlines()]
    assert "marts/van_source_code_assignments" in keys
    for key in keys:
        assert re.search(rf"│ {re.escape(key)}\s+│", text), key
