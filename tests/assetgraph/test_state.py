"""`state:modified` / `state:new` against a saved dbt manifest (real `dbt parse`), like dbt's:
comment-only SQL changes, seeds by checksum, macros a node calls, yml config; Python assets by
code version; bad `--state` gets one clear message."""

import json
import os
import shutil
import subprocess
import sys
from textwrap import dedent

import pytest
from typer.testing import CliRunner

from assetgraph.cli import app
from assetgraph.state import SavedState, diff_state, load_state, write_state_file
from tests.assetgraph.cases.second_project import use_project, write_project

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def listed(*args):
    code, output = invoke("list", *args, "--json")
    assert code == 0, output
    return {r["key"] for r in json.loads(output)}


@pytest.fixture
def shop(tmp_path, monkeypatch):
    project = write_project(tmp_path / "shop")
    reporting = project / "models" / "reporting"
    (project / "macros").mkdir()
    (project / "macros" / "cents.sql").write_text("{% macro cents(col) %}{{ col }} * 100{% endmacro %}\n")
    (reporting / "revenue_cents.sql").write_text(
        "select country, {{ cents('revenue') }} as cents from {{ ref('revenue_by_country') }}\n"
    )
    (reporting / "orders_count.sql").write_text("select count(*) as n from {{ ref('base_orders') }}\n")
    (reporting / "untouched.sql").write_text("select max(amount) as top from {{ ref('base_orders') }}\n")
    (project / "models" / "base" / "base_refunds.sql").write_text("select 1 as id\n")
    (project / "models" / "base" / "base_refunds.yml").write_text(dedent("""
        version: 2
        models:
          - name: base_refunds
            config:
              materialized: view
    """))
    (reporting / "refunds_report.sql").write_text("select count(*) as n from {{ ref('base_refunds') }}\n")
    use_project(monkeypatch, project, tmp_path)
    return project


def test_state_modified_selects_changed_nodes_like_dbt(shop, tmp_path, warehouse_env):
    listed()  # parses the project: this manifest is "prod"
    state = tmp_path / "prod-state"
    state.mkdir()
    shutil.copy(shop / "target" / "manifest.json", state / "manifest.json")
    assert listed("state:modified", "--state", str(state)) == set()
    code, output = invoke("materialize", "state:modified+", "--state", str(state))
    assert code == 0 and "nothing to materialize" in output  # nothing changed: nothing runs, no error

    reporting = shop / "models" / "reporting"
    orders = reporting / "orders_count.sql"
    orders.write_text("-- only a comment is new\n" + orders.read_text())
    seed = shop / "seeds" / "countries.csv"
    seed.write_text(seed.read_text() + "MX,Mexico\n")
    (shop / "macros" / "cents.sql").write_text("{% macro cents(col) %}({{ col }} * 100){% endmacro %}\n")
    refunds_yml = shop / "models" / "base" / "base_refunds.yml"
    refunds_yml.write_text(refunds_yml.read_text().replace("materialized: view", "materialized: table"))
    (reporting / "brand_new.sql").write_text("select 1 as one\n")

    modified = {"reporting/orders_count", "seeds/countries", "reporting/revenue_cents", "base/base_refunds",
                "reporting/brand_new"}
    assert listed("state:modified", "--state", str(state)) == modified
    assert listed("state:modified+", "--state", str(state)) == modified | {
        "reporting/revenue_by_country", "reporting/refunds_report",
    }
    assert listed("state:new", "--state", str(state)) == {"reporting/brand_new"}
    assert listed("state:modified.macros", "--state", str(state)) == {"reporting/revenue_cents"}
    assert listed("state:modified.configs", "--state", str(state)) == {"base/base_refunds"}
    assert listed("state:modified.body", "--state", str(state)) == {"reporting/orders_count", "seeds/countries"}
    assert listed("state:modified+1 and not seeds/*", "--state", str(state)) == modified - {"seeds/countries"} | {
        "reporting/revenue_by_country", "reporting/refunds_report",
    }

    # `list --state` still imports neither Prefect nor dbt
    code = (
        "import sys\nfrom assetgraph.cli import app\n"
        f"try:\n    app(['list', 'state:modified+', '--state', {str(state)!r}, '--json'])\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "print('HEAVY', [m for m in ('prefect', 'dbt', 'great_expectations') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_bad_state_is_one_clear_message(shop, tmp_path):
    code, output = invoke("list", "state:modified", "--state", str(tmp_path / "missing"))
    assert code == 2 and "--state" in output and "no such folder" in output and "Traceback" not in output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    code, output = invoke("list", "state:modified", "--state", str(broken))
    assert code == 2 and "not valid JSON" in output and "Traceback" not in output
    (broken / "manifest.json").write_text('{"metadata": {}}')
    code, output = invoke("list", "state:modified", "--state", str(broken))
    assert code == 2 and "is it a dbt manifest?" in output
    code, output = invoke("list", "state:modified")
    assert code == 2 and "needs --state DIR" in output
    code, output = invoke("list", "state:modifed", "--state", str(shop / "target"))
    assert code == 2 and "expected one of" in output
    code, output = invoke("materialize", "base/base_orders", "--defer")
    assert code == 2 and "--defer needs --state" in output


def test_python_assets_are_modified_when_their_code_version_changes(toy_project):
    project = toy_project
    written = load_state(write_state_file(project).parent)
    assert diff_state(project, written).changes == {}  # its own state: nothing modified
    versions = dict(written.code_versions)
    assert versions["raw/people"].startswith("src-")  # no explicit code_version: the source's hash
    versions["raw/people"] = "src-older"
    del versions["sync/codes"]
    diff = diff_state(project, SavedState(path=written.path, manifest=None, code_versions=versions))
    assert {str(k): set(v) for k, v in diff.changes.items()} == {
        "raw/people": {"code_version"}, "sync/codes": {"new"},
    }
