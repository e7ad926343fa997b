"""`import_export` on the hand-written corpus: what each Civis object becomes, the files, the
report, idempotency, --dry-run, and that the generated SQL passes sqlfluff, dbt parse and the
Redshift-compatibility check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from assetgraph.ext.civis.importing import import_export
from tests.ext.civis import import_corpus as corpus
from tests.ext.civis.import_fixtures import export, imported, project, snapshot  # noqa: F401 (pytest fixtures)


def _report(root):
    return json.loads((root / "reports" / "civis-migration.json").read_text())


def _entry(report, type_, id_):
    return next(o for o in report["objects"] if o["type"] == type_ and o["id"] == id_)


def test_every_sql_script_becomes_what_the_corpus_expects(imported):
    root, _, _ = imported
    report = _report(root)
    assert len(corpus.SQL) >= 15
    for id_, want in corpus.EXPECTED.items():
        entry = _entry(report, "sql", id_)
        models = [k for k in entry["keys"] if not k.startswith("civis/")]
        assert models == want["models"], (id_, entry)
        for key in models:
            schema, table = key.split("/")
            assert (root / "dbt_project" / "models" / schema / f"{table}.sql").is_file()
            assert (root / "dbt_project" / "models" / schema / f"{table}.yml").is_file()
        if want.get("stub"):
            assert want["stub"] in entry["keys"], entry
            func = want["stub"].split("/")[1]
            stub = (root / "flows" / "civis" / f"{func}.py").read_text()
            assert "NotImplementedError" in stub
            kept = (root / "dbt_project" / "analyses" / "civis" / f"{func}.sql").read_text()
            assert "{% raw %}" in kept
        if want["attention"]:
            assert any(want["attention"] in item for item in entry["needs_attention"]), entry
        else:
            assert not [i for i in entry["needs_attention"] if "waived" not in i], entry


def test_model_configs_follow_the_redshift_ddl(imported):
    root, _, _ = imported
    models = root / "dbt_project" / "models" / "analytics"
    daily = (models / "daily_signups.sql").read_text()
    assert "dist='signup_date'" in daily and "sort=['signup_date', 'signup_source']" in daily
    assert "schema='analytics'" in daily and "alias='daily_signups'" in daily
    # Redshift idioms became portable SQL / dbt cross-database macros
    assert "getdate" not in daily.lower() and "dateadd(" not in daily.lower().replace("{{ dateadd(", "")
    assert "{{ dateadd('day', '-3650', current_timestamp()) }}" in daily
    assert "coalesce(source, 'unknown')" in daily and "nvl" not in daily.lower()
    assert "{{ source('raw', 'signups') }}" in daily
    assert "-- Nightly rollup of web signups" in daily and "drop obviously broken rows" in daily
    assert "dist='all'" in (models / "people.sql").read_text()
    summary = (models / "source_summary.sql").read_text()
    assert "grants=({'select': ['group:analysts', 'reporting_user']} if target.type == 'redshift' else {})" in summary
    # temp tables became CTEs, in creation order
    engaged = (models / "engaged_people.sql").read_text()
    assert engaged.index("recent_events as (") < engaged.index("donors as (") < engaged.index("rank() over")
    assert "temp" not in engaged.lower()
    # a table another imported script writes is a ref(); several inserts / declared columns are cast
    assert "{{ ref('people') }}" in (models / "event_counts.sql").read_text()
    assert "{{ ref('vendor_people') }}" in (models / "vendor_counts.sql").read_text()
    assert "cast(id as integer) as person_id" in (models / "people.sql").read_text()
    assert "materialized='view'" in (models / "active_people.sql").read_text()
    # quoted identifiers keep working
    assert "first_source" in (models / "first_touch.sql").read_text()
    recency = (models / "donation_recency.sql").read_text()
    assert "{{ datediff('max(donated_at)', current_timestamp(), 'day') }}" in recency
    assert "decode" not in recency.lower() and "case" in recency.lower()


def test_model_yml_has_provenance_and_inferred_tests(imported):
    root, _, _ = imported
    models = root / "dbt_project" / "models" / "analytics"
    doc = yaml.safe_load((models / "donor_totals.yml").read_text())
    node = doc["models"][0]
    assert node["name"] == "donor_totals"
    civis = node["config"]["meta"]["civis"]
    assert civis == {"id": 104, "type": "sql", "name": "Donor totals", "author": "Dana Organizer",
                     "updated_at": "2024-11-02T08:15:00.000Z"}
    assert "Civis sql script 104" in node["description"]
    tests = {c["name"]: c["data_tests"] for c in node["columns"]}
    assert "unique" in tests["person_id"]  # the GROUP BY key
    people = yaml.safe_load((models / "people.yml").read_text())["models"][0]
    assert {c["name"]: c["data_tests"] for c in people["columns"]}["person_id"] == ["not_null", "unique"]
    daily = yaml.safe_load((models / "daily_signups.yml").read_text())["models"][0]
    assert daily["data_tests"] == [{"unique_together": {"arguments": {"columns": ["signup_date", "signup_source"]}}}]
    # NVL(source, 'unknown') cannot be null: blocking; a bare key may hold one null group: warn
    by_col = {c["name"]: c["data_tests"] for c in daily["columns"]}
    assert by_col["signup_source"] == ["not_null"]
    assert by_col["signup_date"] == [{"not_null": {"config": {"severity": "warn"}}}]


def test_sources_cover_what_nothing_imported_writes(imported):
    root, _, _ = imported
    doc = yaml.safe_load((root / "dbt_project" / "models" / "civis__sources.yml").read_text())
    tables = {(s["name"], t["name"]) for s in doc["sources"] for t in s["tables"]}
    # raw.signups is already a source of the project (its own __sources.yml): reused, not redefined
    assert tables == {("raw", "donations"), ("raw", "events"), ("raw", "vendor_list")}
    report = _report(root)
    assert _entry(report, "import", 901)["keys"] == ["raw/signups", "raw/events", "raw/donations"]
    assert any("crm.events" in i and "raw.events" in i for i in _entry(report, "import", 901)["needs_attention"])


def test_workflow_order_becomes_deps_and_its_schedule_selects_its_tasks(imported):
    root, _, _ = imported
    report = _report(root)
    wf = _entry(report, "workflow", 401)
    assert wf["keys"] == ["analytics/people", "analytics/donor_totals", "analytics/engaged_people"]
    assert wf["schedule"]["cron"] == "15 2 * * 0" and wf["schedule"]["timezone"] == "America/New_York"
    assert wf["schedule"]["selection"] == "analytics/people analytics/donor_totals analytics/engaged_people"
    models = root / "dbt_project" / "models" / "analytics"
    assert "-- depends_on: {{ ref('people') }}" in (models / "donor_totals.sql").read_text()
    assert "-- depends_on: {{ ref('donor_totals') }}" in (models / "engaged_people.sql").read_text()


def test_a_schedule_that_would_only_run_stubs_is_created_paused(imported):
    root, _, _ = imported
    entry = _entry(_report(root), "sql", 110)
    assert entry["schedule"]["active"] is False and entry["schedule"]["cron"] == "45 4 * * *"
    assert any("created paused" in item for item in entry["needs_attention"])
    assert _entry(_report(root), "sql", 101)["schedule"]["active"] is True


def test_report_files(imported):
    root, _, result = imported
    report = _report(root)
    assert {o["type"] for o in report["objects"]} == {"sql", "python3", "container", "workflow", "import"}
    for o in report["objects"]:
        assert set(o) == {"type", "id", "name", "became", "keys", "schedule", "needs_attention"}
    md = (root / "reports" / "civis-migration.md").read_text()
    assert "| sql 101 Daily signups rollup |" in md and "## Needs attention" in md
    assert result.objects == len(report["objects"])
    assert "reports/civis-migration.json" in result.created
    # what archive reads (contract.read_report) and verify compares (`models`)
    from assetgraph.ext.civis.contract import REPORT_PATH, read_report

    objects = read_report(root / REPORT_PATH)
    assert [(o.type, o.id) for o in objects] == [(o["type"], o["id"]) for o in report["objects"]]
    assert {k for o in objects for k in o.keys if not k.startswith(("civis/", "raw/"))} == set(report["models"])
    assert all(o.kind.report_type == o.type for o in objects)


def test_generated_models_pass_sqlfluff(imported):
    root, _, _ = imported
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("sqlfluff")), "lint", "dbt_project/models/analytics",
         "--config", ".sqlfluff"],
        cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "All Finished" in proc.stdout


def test_generated_models_compile_for_redshift_and_pass_the_compat_check(imported):
    from assetgraph.dbt.redshift_compat import check_project

    root, _, _ = imported
    report = check_project(root / "dbt_project", root / "profiles", "prod", sqlfluff=True)
    assert report.ok, report.format()
    migrated = {k.split("/")[1] for want in corpus.EXPECTED.values() for k in want["models"]}
    assert len(migrated) == 12
    assert {f"model.pipeline.{m}" for m in migrated} <= set(report.checked)


def test_python_modules_load_as_assets(imported, monkeypatch):
    from assetgraph.definitions import load_definitions

    root, _, _ = imported
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m == "flows" or m.startswith("flows.")]:
        monkeypatch.delitem(sys.modules, name)
    defs = load_definitions(["flows.civis"])
    keys = {str(a.key) for a in defs.assets}
    assert {"civis/push_signups_to_van", "civis/hello_hourly", "civis/score_people",
            "civis/donor_export_to_s3", "civis/vendor_list_load"} <= keys
    van = (root / "flows" / "civis" / "push_signups_to_van.py").read_text()
    assert "_PASSWORD" not in van.split("# ---- the Civis script ----")[1].replace("# Push new signups into VAN. VAN_PASSWORD", "")
    assert 'secret("VAN")' in van and 'secret("VAN", "username")' in van
    assert 'params["SOURCE_TABLE"]' in van and '"SOURCE_TABLE": "analytics.people"' in van
    # forget the copy's `flows` (popped, not monkeypatch.delitem: its undo would put them back)
    for name in [m for m in sys.modules if m == "flows" or m.startswith("flows.")]:
        sys.modules.pop(name)


def test_importing_twice_changes_nothing_and_a_changed_script_updates_its_model(project, export):
    first = import_export(export, project, dry_run=False)
    assert first.created and not first.changed
    before = snapshot(project)
    again = import_export(export, project, dry_run=False)
    assert not again.created and not again.changed and not again.removed
    assert snapshot(project) == before
    assert "nothing changed" in again.lines()[-1] or any("nothing changed" in line for line in again.lines())

    name, sql, schedule = corpus.SQL[104]
    changed_sql = sql.replace("COUNT(*) AS gifts", "COUNT(*) AS gifts, MAX(amount) AS largest_gift")
    corpus.write_export(export, sql_overrides={104: changed_sql})
    third = import_export(export, project, dry_run=False)
    assert "dbt_project/models/analytics/donor_totals.sql" in third.changed
    assert "largest_gift" in (project / "dbt_project/models/analytics/donor_totals.sql").read_text()
    assert not [p for p in third.changed if p.endswith(".sql") and "donor_totals" not in p]


def test_dry_run_writes_nothing_and_shows_what_it_would_write(project, export):
    before = snapshot(project)
    result = import_export(export, project, dry_run=True)
    assert snapshot(project) == before
    lines = result.lines()
    assert "would create dbt_project/models/analytics/daily_signups.sql" in lines
    assert "would create civis_schedules.py" in lines
    assert any(line.startswith("21 Civis object(s): ") and
               "file(s) would be created, 0 would be updated, 0 would be removed, 0 unchanged" in line for line in lines)
    assert not [line for line in lines if "[tool.assetgraph] modules" in line]  # the template loads flows.civis.*


def test_a_project_that_does_not_load_the_migrated_modules_is_told_how(project, export):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(', "flows.civis.*"', ""))
    lines = import_export(export, project, dry_run=True).lines()
    hint = [line for line in lines if "[tool.assetgraph] modules" in line]
    assert hint == ['add "flows.civis.*" to [tool.assetgraph] modules in pyproject.toml: the project does not '
                    "load 9 migrated asset module(s) (flows.civis.donor_export_to_s3, flows.civis.dynamic_partition_swap, "
                    "flows.civis.hello_hourly, flows.civis.incremental_events, flows.civis.push_signups_to_van, "
                    "flows.civis.refresh_via_procedure, flows.civis.score_people, "
                    "flows.civis.table_then_patch_unsplittable, flows.civis.vendor_list_load)"]


def test_a_script_removed_from_the_export_loses_its_files(project, export):
    import_export(export, project, dry_run=False)
    (export / "scripts" / "sql" / "113.json").unlink()
    result = import_export(export, project, dry_run=False)
    assert "dbt_project/models/analytics/donation_recency.sql" in result.removed
    assert not (project / "dbt_project/models/analytics/donation_recency.sql").exists()


def test_an_interrupted_import_is_finished_or_discarded(project, export):
    from assetgraph.ext.civis import importing

    # killed after staging was READY: the next import completes the move first
    stage = project / importing.STAGING / "abc"
    (stage / "files" / "x").mkdir(parents=True)
    (stage / "files" / "x" / "late.txt").write_text("moved")
    (stage / "plan.json").write_text(json.dumps({"write": ["x/late.txt"], "remove": []}))
    (stage / "READY").write_text("ready\n")
    # killed while staging: discarded
    (project / importing.STAGING / "def" / "files").mkdir(parents=True)
    (project / importing.STAGING / "def" / "files" / "half.txt").write_text("half")
    import_export(export, project, dry_run=False)
    assert (project / "x" / "late.txt").read_text() == "moved"
    assert not (project / importing.STAGING).exists()
    assert not list(project.rglob("half.txt"))


def test_one_table_name_in_two_schemas_keeps_both_keys(project, export):
    """dbt model names are global: both become <schema>__<table>, keys stay <schema>/<table>."""
    from assetgraph.dbt.manifest import assets_from_manifest, load_manifest
    from assetgraph.dbt.project import ensure_manifest

    body = corpus.sql_script(118, "Reporting people", "DROP TABLE IF EXISTS reporting.people;\n"
                             "CREATE TABLE reporting.people AS SELECT person_id FROM analytics.people;")
    (export / "scripts" / "sql" / "118.json").write_text(json.dumps(body))
    import_export(export, project, dry_run=False)
    models = project / "dbt_project" / "models"
    assert (models / "analytics" / "analytics__people.sql").is_file()
    assert "{{ ref('analytics__people') }}" in (models / "reporting" / "reporting__people.sql").read_text()
    assert "alias='people'" in (models / "reporting" / "reporting__people.sql").read_text()
    manifest = load_manifest(ensure_manifest(project / "dbt_project", project / "profiles", "dev"))
    keys = {str(s.key) for s in assets_from_manifest(manifest).specs}
    assert {"analytics/people", "reporting/people", "analytics/event_counts"} <= keys
    assert _entry(_report(project), "sql", 118)["keys"] == ["reporting/people"]
