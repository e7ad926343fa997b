"""`.venv/bin/assetgraph civis ...` as a user runs it: a subprocess against the fake Civis API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.ext.civis.estate import LIVE_COUNTS, SECRET, closed_port, fake_civis, record_parity, write_report  # noqa: F401

ASSETGRAPH = Path(sys.executable).parent / "assetgraph"


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full = dict(os.environ, **(env or {}))
    return subprocess.run(
        [str(ASSETGRAPH), "civis", *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=300
    )


def assert_clean(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "Warning" not in proc.stderr  # e.g. civis-python's import-time FutureWarning


def test_the_four_commands_are_there():
    proc = run("--help")
    assert proc.returncode == 0
    for command in ("export", "import", "verify", "archive"):
        assert command in proc.stdout


def test_plugin_loading_keeps_the_cli_light():
    code = (
        "import sys\nfrom assetgraph.cli import app\n"
        "names = [g.name for g in app.registered_groups]\n"
        "heavy = [m for m in ('civis', 'prefect', 'dbt', 'great_expectations', 'requests') if m in sys.modules]\n"
        "print('GROUPS', names, 'HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "GROUPS ['civis'] HEAVY []" in proc.stdout


def test_export_writes_the_files_and_no_secret(fake_civis, tmp_path):
    proc = run("export", str(tmp_path / "export"), env=fake_civis.env())
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc)
    written = {k: len(list((tmp_path / "export" / f).glob("*.json"))) for k, f in
               (("sql", "scripts/sql"), ("python3", "scripts/python3"), ("containers", "scripts/containers"),
                ("workflows", "workflows"), ("imports", "imports"))}
    assert written == LIVE_COUNTS
    assert f"exported {sum(LIVE_COUNTS.values())} Civis objects" in proc.stdout
    assert "scripts/sql/1090.json: a secret value in `sql` was replaced" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr
    for f in (tmp_path / "export").rglob("*.json"):
        assert SECRET not in f.read_text()


def test_export_include_archived(fake_civis, tmp_path):
    proc = run("export", str(tmp_path / "all"), "--include-archived", env=fake_civis.env())
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "all/workflows/4002.json").is_file()


def test_unreachable_api_is_one_line_and_no_files(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/"
    proc = run("export", str(tmp_path / "export"), env={"CIVIS_API_ENDPOINT": url, "CIVIS_API_KEY": "k"})
    assert proc.returncode == 1
    assert_clean(proc)
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith(f"error: Civis API {url}: cannot connect")
    assert list(tmp_path.iterdir()) == []


def test_bad_key_is_one_line(fake_civis, tmp_path):
    proc = run("export", str(tmp_path / "export"), env=dict(fake_civis.env(), CIVIS_API_KEY="nope-nope"))
    assert proc.returncode == 2
    assert_clean(proc)
    assert "the API key was refused (401)" in proc.stderr and "nope-nope" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_missing_key_is_a_usage_error(tmp_path):
    proc = run("export", str(tmp_path / "export"), env={"CIVIS_API_KEY": "", "CIVIS_API_ENDPOINT": "http://127.0.0.1:9/"})
    assert proc.returncode == 2
    assert_clean(proc)
    assert proc.stderr.strip() == "error: Civis API http://127.0.0.1:9/: CIVIS_API_KEY is not set (the key of the Civis user to act as)"


def test_export_into_a_foreign_directory_is_a_usage_error(fake_civis, tmp_path):
    (tmp_path / "notes.md").write_text("x")
    proc = run("export", str(tmp_path), env=fake_civis.env())
    assert proc.returncode == 2
    assert_clean(proc)
    assert "not a Civis export" in proc.stderr


def test_archive_dry_run_then_yes(fake_civis, warehouse_env, tmp_path):
    write_report(tmp_path)
    record_parity(warehouse_env)
    env = dict(fake_civis.env(), ASSETGRAPH_HOME=str(tmp_path))

    dry = run("archive", env=env)
    assert dry.returncode == 0, dry.stderr
    assert_clean(dry)
    assert fake_civis.requests == ()
    assert 'would    sql script 1001 "daily rollup 1"' in dry.stdout
    assert "dry run: nothing sent to Civis" in dry.stdout

    real = run("archive", "--yes", env=env)
    assert real.returncode == 0, real.stderr
    assert_clean(real)
    patched = {r.path for r in fake_civis.requests if r.method in ("PATCH", "PUT")}
    assert patched == {"/scripts/sql/1001", "/scripts/sql/1004", "/scripts/python3/2001", "/workflows/4001", "/imports/5001"}
    assert 'skipped  sql script 1002 "daily rollup 2": verify failed' in real.stdout


def test_archive_without_report_is_a_usage_error(warehouse_env, tmp_path):
    proc = run("archive", env={"ASSETGRAPH_HOME": str(tmp_path)})
    assert proc.returncode == 2
    assert_clean(proc)
    assert "no migration report" in proc.stderr


def test_import_and_verify_reach_their_functions(tmp_path):
    """import/verify are the other half's; here only that they take their arguments and answer
    with one line (their own tests cover what they do)."""
    missing = tmp_path / "no-such-export"
    proc = run("import", str(missing), "--dry-run", env={"ASSETGRAPH_HOME": str(tmp_path)})
    assert_clean(proc)
    assert proc.returncode in (1, 2) and proc.stderr.startswith("error:")
    assert proc.stderr.strip().count("\n") == 0


def test_an_export_killed_midway_leaves_the_last_good_one_and_the_next_run_cleans_up(fake_civis, tmp_path):
    out = tmp_path / "export"
    first = run("export", str(out), env=fake_civis.env())
    assert first.returncode == 0, first.stderr
    good = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*.json")}

    gate = fake_civis.hold("/imports/5001")  # the last object an export reads
    proc = subprocess.Popen(
        [str(ASSETGRAPH), "civis", "export", str(out)], env=dict(os.environ, **fake_civis.env()),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert gate.arrived.wait(120), "the export never reached its last object"
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    finally:
        gate.release()
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*.json")} == good
    assert any(p.name.startswith(".export.export-") for p in tmp_path.iterdir())  # its staging, left behind

    again = run("export", str(out), env=fake_civis.env())
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
