"""The offline Redshift check: the denylist on SQL strings, the shipped project, and a project
with a deliberately incompatible model."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from assetgraph.dbt.redshift_compat import check_sql, find_denylisted, main
from tests.dbt.conftest import PROFILES_DIR, PROJECT_DIR

COMPATIBLE = """
with ranked as (
    select
        van_id,
        listagg(form_id, ',') within group (order by submitted_at) as forms,
        row_number() over (partition by email order by submitted_at) as n,
        regexp_replace(phone, '[^0-9]', '') as digits,
        json_extract_path_text(payload, 'a') as a,
        split_to_array(tags, ',') as tag_list,
        greatest(a, b) as latest,
        case when x = 'filter' then 1 end as uuid,
        count(distinct van_id) as people
    from "raw"."signups" as signups  -- RAW is a reserved word in Redshift
    where coalesce(a, 0) <> coalesce(b, 0) and note <> 'string_agg(x)'
    group by van_id, email, submitted_at, phone, payload, tags, a, b, x
)
select distinct van_id from ranked
"""

CASES = {
    "ON CONFLICT": "insert into t (a) values (1) on conflict (a) do nothing",
    "DISTINCT ON": "select distinct on (van_id) van_id, form_id from t order by van_id, at",
    "aggregate FILTER (WHERE ...)": "select count(*) filter (where a > 1) as n from t",
    "ARRAY[...] constructor": "select array[1, 2] as xs",
    "array type": "select cast(x as int[]) as xs from t",
    "array function array_length()": "select array_length(xs, 1) as n from t",
    "UNNEST (arrays)": "select unnest(xs) as x from t",
    "JSONB": "select cast(payload as jsonb) as p from t",
    "JSON operator ->>": "select payload ->> 'a' as a from t",
    "UUID": "select cast(id as uuid) as id from t",
    "generate_series": "select g from generate_series(1, 10) as g",
    "STRING_AGG": "select string_agg(form_id, ',') as forms from t",
    "ARRAY_AGG": "select array_agg(form_id) as forms from t",
    "IS DISTINCT FROM": "select * from t where a is distinct from b",
    "IS NOT DISTINCT FROM": "select * from t where a is not distinct from b",
}


@pytest.mark.parametrize("construct", sorted(CASES))
def test_denylist_catches(construct):
    findings = find_denylisted(CASES[construct])
    assert construct in {f.construct for f in findings}, findings


def test_denylist_passes_compatible_sql():
    assert check_sql(COMPATIBLE) == []


def test_denylist_reports_line_and_snippet():
    sql = "select a,\n  string_agg(b, ',') as bs\nfrom t\ngroup by a"
    (finding,) = find_denylisted(sql)
    assert (finding.construct, finding.line) == ("STRING_AGG", 2)
    assert "string_agg(b" in finding.detail


def test_denylist_falls_back_to_tokens_when_sqlglot_cannot_parse():
    sql = "select distinct on (a) a, b from t where ((("
    assert "DISTINCT ON" in {f.construct for f in find_denylisted(sql)}


def test_sqlfluff_parse_errors_are_findings():
    findings = check_sql("select a from t where")
    assert findings and findings[0].checker == "sqlfluff"


BAD_MODEL = """
select distinct on (van_id)
    van_id,
    string_agg(form_id, ',') over (partition by van_id) as forms
from {{ ref('stg_signups') }}
order by van_id, submitted_at
"""

# Postgres-only SQL in the incremental branch only: a first-run compile alone would miss it.
BAD_INCREMENTAL_MODEL = """
{{ config(materialized='incremental', unique_key='van_id') }}
select van_id, submitted_at from {{ ref('stg_signups') }}
{% if is_incremental() %}
where submitted_at > (select max(submitted_at) from {{ this }})
    and form_id is distinct from 'test'
{% endif %}
"""
SHIPPED_MODELS = (
    "stg_signups", "stg_event_attendances", "int_people_first_touch", "van_source_code_assignments",
)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The CLI on a copy of the shipped project plus two incompatible models: one check (two
    offline compiles) serves both the shipped models' verdict and the bad models'."""
    project = tmp_path_factory.mktemp("compat") / "dbt_project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    marts = project / "models" / "marts"
    (marts / "postgres_only_people.sql").write_text(BAD_MODEL)
    (marts / "postgres_only_increments.sql").write_text(BAD_INCREMENTAL_MODEL)
    return subprocess.run(
        [sys.executable, "-m", "assetgraph.dbt.redshift_compat", "--project-dir", str(project),
         "--profiles-dir", str(PROFILES_DIR)],
        capture_output=True, text=True, timeout=300,
    )


def test_shipped_models_are_redshift_compatible(cli_run):
    out = cli_run.stdout
    assert "6 model(s) checked" in out, out + cli_run.stderr
    flagged = [ln for ln in out.splitlines() if any(f" {m} [" in ln for m in SHIPPED_MODELS)]
    assert flagged == []
    # the shipped models' incremental branch was compiled and checked too
    assert "postgres_only_increments" in out


def test_incompatible_models_are_caught_by_name_and_construct(cli_run):
    assert cli_run.returncode == 1, cli_run.stdout + cli_run.stderr
    out = cli_run.stdout
    lines = [ln for ln in out.splitlines() if "postgres_only_people [" in ln]
    assert any("DISTINCT ON" in ln for ln in lines), out
    assert any("STRING_AGG" in ln for ln in lines), out
    lines = [ln for ln in out.splitlines() if "postgres_only_increments [" in ln]
    assert any("IS DISTINCT FROM" in ln and "incremental branch" in ln for ln in lines), out


def test_cli_reports_a_project_that_does_not_compile(tmp_path, capsys):
    assert main(["--project-dir", str(tmp_path), "--profiles-dir", str(PROFILES_DIR)]) == 2
    assert "no dbt_project.yml" in capsys.readouterr().err
