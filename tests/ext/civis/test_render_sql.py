"""One script's SQL -> model SQL: Redshift idioms become portable SQL or dbt cross-database
macros, and the text is sqlfluff-formatted even in a project whose .sqlfluff knows nothing of
those macros."""

from __future__ import annotations

import subprocess

from assetgraph.ext.civis._objects import CivisObject
from assetgraph.ext.civis._render_sql import format_sql, render_model_sql
from assetgraph.ext.civis._sql import plan_script
from tests.conftest import REPO


def _model(sql: str) -> str:
    plan = plan_script(CivisObject("sql", 1, "t", "scripts/sql/1.json", {"sql": sql}))
    assert not plan.leftovers, plan.leftovers
    (write,) = plan.writes
    text, _ = render_model_sql(write, lambda t: f"source({t.schema!r}, {t.name!r})", {"materialized": "'table'"})
    return text


def test_redshift_functions_become_portable():
    text = _model("CREATE TABLE a.t AS SELECT NVL(x, 0) AS x, y::varchar(5) AS y, "
                  "DATEADD(month, 1, GETDATE()) AS m, DATEDIFF(day, d, SYSDATE) AS n, "
                  "LISTAGG(name, ';') WITHIN GROUP (ORDER BY name) AS names, "
                  "DECODE(k, 1, 'one', 'other') AS k FROM s.src GROUP BY 1, 2, 3, 4, 6")
    assert "COALESCE(x, 0)" in text and "CAST(y AS VARCHAR(5))" in text
    assert "{{ dateadd('month', '1', current_timestamp()) }}" in text
    assert "{{ datediff('d', current_timestamp(), 'day') }}" in text
    assert "{{ listagg('name', \"';'\", 'ORDER BY name') }}" in text
    assert "CASE WHEN k = 1 THEN 'one' ELSE 'other' END" in text
    assert "GETDATE" not in text and "SYSDATE" not in text and "NVL" not in text


def test_insert_columns_and_declared_types_shape_the_model():
    text = _model("CREATE TABLE a.t (id INT NOT NULL, label VARCHAR(10), extra DATE);\n"
                  "INSERT INTO a.t (label, id) SELECT name, pk FROM s.one;\n"
                  "INSERT INTO a.t SELECT pk, name, d FROM s.two;")
    first, second = text.split("UNION ALL")
    assert first.index("CAST(pk AS INTEGER) AS id") < first.index("CAST(name AS VARCHAR(10)) AS label") \
        < first.index("CAST(NULL AS DATE) AS extra")
    assert "CAST(d AS DATE) AS extra" in second


def test_format_sql_with_and_without_the_project_stubs(tmp_path):
    text = ("{{ config(materialized='table', grants=({'select': ['x']} if target.type == 'redshift' else {})) }}"
            "\n\nSELECT {{ dateadd('day', '-3', current_timestamp()) }} AS d FROM {{ source('raw', 'x') }}\n")
    bare = tmp_path / "bare"
    bare.mkdir()
    main_cfg = subprocess.run(["git", "show", "main:.sqlfluff"], cwd=REPO, capture_output=True, text=True)
    (bare / ".sqlfluff").write_text(main_cfg.stdout if main_cfg.returncode == 0 else "[sqlfluff]\ndialect = redshift\n")
    for config in (REPO / ".sqlfluff", bare / ".sqlfluff", None):
        fixed, problems = format_sql(text, config)
        assert not [p for p in problems if " TMP " in p or " PRS " in p], (config, problems)
        if config is not None:  # sqlfluff's defaults keep upper case: only the project's rules lower it
            assert "select {{ dateadd(" in fixed and " as d" in fixed
