"""Bad input: one clear message naming the Civis object, and nothing written."""

from __future__ import annotations

import json

import pytest

from assetgraph.ext.civis.errors import (
    CivisCycleError,
    CivisExportFileError,
    CivisMigrationError,
    CivisSqlParseError,
    CivisTableConflictError,
)
from assetgraph.ext.civis.importing import import_export
from tests.ext.civis import import_corpus as corpus
from tests.ext.civis.import_fixtures import export, project, snapshot  # noqa: F401 (pytest fixtures)


def _fails(export, project, error):
    before = snapshot(project)
    with pytest.raises(error) as info:
        import_export(export, project, dry_run=False)
    assert snapshot(project) == before, "a failed import wrote files"
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_malformed_json(export, project):
    (export / "scripts" / "sql" / "103.json").write_text('{"id": 103, "name": "Event counts", "sql": ')
    message = _fails(export, project, CivisExportFileError)
    assert message.startswith("sql script scripts/sql/103.json: not valid JSON (line 1")


def test_a_body_without_its_sql(export, project):
    body = corpus.sql_script(104, "Donor totals", "")
    del body["sql"]
    (export / "scripts" / "sql" / "104.json").write_text(json.dumps(body))
    message = _fails(export, project, CivisExportFileError)
    assert message == 'sql script 104 "Donor totals": has no \'sql\' text (scripts/sql/104.json)'


def test_a_bad_schedule(export, project):
    body = json.loads((export / "workflows" / "401.json").read_text())
    body["schedule"]["scheduledDays"] = [7]
    (export / "workflows" / "401.json").write_text(json.dumps(body))
    message = _fails(export, project, CivisExportFileError)
    assert message.startswith('workflow 401 "Nightly fundraising": schedule.scheduledDays values must be 0-6')


def test_sql_sqlglot_cannot_parse(export, project):
    body = corpus.sql_script(113, "Donation recency", "CREATE TABLE analytics.x AS SELECT (1 + FROM raw.donations;")
    (export / "scripts" / "sql" / "113.json").write_text(json.dumps(body))
    message = _fails(export, project, CivisSqlParseError)
    assert message.startswith('sql script 113 "Donation recency": sqlglot (redshift) cannot parse the SQL at line 1')


def test_a_cycle_between_scripts(export, project):
    # 102 builds analytics.people from raw.signups; make 107 write raw.signups from analytics.people
    body = corpus.sql_script(107, "Loop back", "DROP TABLE IF EXISTS raw.signups;\n"
                             "CREATE TABLE raw.signups AS SELECT person_id AS id FROM analytics.people;")
    (export / "scripts" / "sql" / "107.json").write_text(json.dumps(body))
    (export / "imports" / "901.json").unlink()  # the import also lands raw.signups
    message = _fails(export, project, CivisCycleError)
    assert message.startswith("cycle between scripts: ")
    assert 'sql script 102 "People table" writes analytics.people' in message
    assert 'sql script 107 "Loop back" writes raw.signups' in message


def test_two_scripts_writing_one_table(export, project):
    body = corpus.sql_script(117, "Second donor totals", "DROP TABLE IF EXISTS analytics.donor_totals;\n"
                             "CREATE TABLE analytics.donor_totals AS SELECT 1 AS person_id;")
    (export / "scripts" / "sql" / "117.json").write_text(json.dumps(body))
    message = _fails(export, project, CivisTableConflictError)
    assert message.startswith('table analytics.donor_totals is written by sql script 104 "Donor totals"'
                              ' and by sql script 117 "Second donor totals"')


def test_an_empty_export(tmp_path, project):
    (tmp_path / "empty").mkdir()
    message = _fails(tmp_path / "empty", project, CivisMigrationError)
    assert "holds no Civis objects" in message


def test_a_workflow_definition_that_is_not_yaml(export, project):
    body = json.loads((export / "workflows" / "401.json").read_text())
    body["definition"] = "version: '2.0'\n  tasks: [unclosed"
    (export / "workflows" / "401.json").write_text(json.dumps(body))
    message = _fails(export, project, CivisMigrationError)
    assert message.startswith('workflow 401 "Nightly fundraising": its definition is not valid YAML')
