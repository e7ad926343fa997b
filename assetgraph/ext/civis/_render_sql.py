"""A table rebuild as dbt model SQL that runs on Redshift (prod) and Postgres (dev).

Table references become `ref()` / `source()`; Redshift-only functions become dbt's
cross-database macros (`dateadd`, `datediff`, `current_timestamp`, `listagg`); `NVL`, `::`,
`DECODE` become portable SQL. The text is then formatted by sqlfluff with the project's own
`.sqlfluff` (lower case, trailing commas, explicit aliases), so `make lint` passes.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Callable, Mapping

from sqlglot import exp

from assetgraph.ext.civis._sql import DIALECT, TableName, TableWrite

__all__ = ["render_model_sql", "format_sql", "config_block"]

_TOKEN = "__ag_jinja_{}__"


class _Jinja:
    """Placeholders in the syntax tree, replaced by Jinja after SQL generation."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def hole(self, jinja_expr: str) -> exp.Column:
        self.values.append(jinja_expr)
        return exp.column(_TOKEN.format(len(self.values) - 1))

    def table_hole(self, jinja_expr: str, alias: str | None) -> exp.Table:
        self.values.append(jinja_expr)
        table = exp.Table(this=exp.to_identifier(_TOKEN.format(len(self.values) - 1)))
        if alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        return table

    def sql_string(self, node: exp.Expression) -> str:
        """A SQL fragment as a Jinja string expression (for a macro argument)."""
        text = node.sql(DIALECT, normalize_functions="lower")
        parts = re.split(r"(__ag_jinja_\d+__)", text)
        out = []
        for part in parts:
            m = re.fullmatch(r"__ag_jinja_(\d+)__", part)
            if m:
                out.append(self.values[int(m.group(1))])
            elif part:
                out.append(repr(part))
        return " ~ ".join(out) or "''"

    def fill(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            return "{{ " + self.values[int(m.group(1))] + " }}"

        return re.sub(r'"?__ag_jinja_(\d+)__"?', sub, text)


def _unit(node: exp.Expression) -> str:
    unit = node.args.get("unit")
    return (unit.name if isinstance(unit, exp.Expression) else str(unit or "day")).lower()


def _portable(tree: exp.Expression, jinja: _Jinja) -> list[str]:
    """Rewrite Redshift-only functions in place; returns notes on what stays Redshift-only."""
    notes: list[str] = []

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.CurrentTimestamp):
            return jinja.hole("current_timestamp()")
        if isinstance(node, (exp.TsOrDsAdd, exp.DateAdd, exp.TimestampAdd)):
            amount = jinja.sql_string(node.expression)
            return jinja.hole(f"dateadd({_unit(node)!r}, {amount}, {jinja.sql_string(node.this)})")
        if isinstance(node, (exp.TsOrDsDiff, exp.DateDiff, exp.TimestampDiff)):
            start, end = jinja.sql_string(node.expression), jinja.sql_string(node.this)
            return jinja.hole(f"datediff({start}, {end}, {_unit(node)!r})")
        if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.GroupConcat):
            concat = node.this
            sep = concat.args.get("separator")
            order = node.expression
            args = [jinja.sql_string(concat.this), repr(sep.sql(DIALECT)) if sep else "\"','\""]
            if isinstance(order, exp.Order):
                args.append(repr(order.sql(DIALECT)))
            return jinja.hole(f"listagg({', '.join(args)})")
        if type(node).__name__ == "DecodeCase":
            return exp.maybe_parse(node.sql("postgres"), dialect="postgres")
        if isinstance(node, exp.ConvertTimezone):
            notes.append("CONVERT_TIMEZONE has no Postgres equivalent: the model runs on Redshift only")
        return node

    # children first, so a function inside another's argument is rewritten too
    for node in reversed(list(tree.walk(bfs=False))):
        new = rewrite(node)
        if new is not node:
            if node is tree:
                raise ValueError("a query cannot be a single function call")
            node.replace(new)
    return notes


def _references(tree: exp.Expression, jinja: _Jinja, relation: Callable[[TableName], str]) -> None:
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        if not table.name or (not table.db and table.name.lower() in ctes):
            continue
        if table.name.startswith("__ag_jinja_"):
            continue
        name = TableName.of(table)
        alias = table.alias or None
        if alias is None and not any(isinstance(table.parent, k) for k in (exp.Subquery,)):
            alias = name.name  # keep `schema.table.col` style references readable
        new = jinja.table_hole(relation(name), alias)
        table.replace(new)
        if table.db and alias == name.name:
            for col in tree.find_all(exp.Column):
                if col.table.lower() == name.name and (col.db or "").lower() == name.schema:
                    col.set("db", None)


def render_model_sql(
    write: TableWrite,
    relation: Callable[[TableName], str],
    config: Mapping[str, str],
    extra_header: tuple[str, ...] = (),
) -> tuple[str, list[str]]:
    """(model SQL, notes). `relation(table)` gives `ref('x')` or `source('s', 't')` Jinja."""
    jinja = _Jinja()
    tree = write.query.copy()
    notes = _portable(tree, jinja)
    _references(tree, jinja, relation)
    body = jinja.fill(_is_not_null(tree.sql(DIALECT, pretty=True, pad=4, indent=4)))
    head = config_block(config)
    comments = [f"-- {line.strip()}".rstrip() for c in write.comments for line in c.splitlines()]
    header = list(extra_header) + comments
    text = head + "\n" + "".join(f"{line}\n" for line in header) + "\n" + body + "\n"
    return text, notes


def _is_not_null(sql: str) -> str:
    """sqlglot writes `x IS NOT NULL` as `NOT x IS NULL`: give a plain operand its usual form."""
    return re.sub(r'\bNOT ([A-Za-z_"][\w".]*) IS NULL\b', r"\1 IS NOT NULL", sql)


def config_block(config: Mapping[str, str]) -> str:
    lines = ["{{", "    config("]
    lines += [f"        {k}={v}," for k, v in config.items()]
    lines += ["    )", "}}"]
    return "\n".join(lines) + "\n"


_LINTERS: dict[str, object] = {}
# Stand-ins for what generated models call, for projects whose .sqlfluff lacks them (the repo's
# own .sqlfluff has the same lines, so `make lint` passes on migrated models).
_STUBS = """\
[sqlfluff:templater:jinja]
apply_dbt_builtins = True

[sqlfluff:templater:jinja:macros]
dateadd = {% macro dateadd(datepart, interval, from_date_or_timestamp) %}dateadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }}){% endmacro %}
datediff = {% macro datediff(first_date, second_date, datepart) %}datediff({{ datepart }}, {{ first_date }}, {{ second_date }}){% endmacro %}
current_timestamp = {% macro current_timestamp() %}getdate(){% endmacro %}
listagg = {% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) %}listagg({{ measure }}, {{ delimiter_text }}){% endmacro %}

[sqlfluff:templater:jinja:context]
target = {"type": "redshift", "name": "prod", "schema": "analytics"}
"""


def format_sql(text: str, config_path: Path | None) -> tuple[str, list[str]]:
    """sqlfluff fix with the project's config; returns (text, remaining violations as text)."""
    from sqlfluff.core import FluffConfig, Linter

    key = str(config_path or "")
    linter = _LINTERS.get(key)
    if linter is None:
        with tempfile.TemporaryDirectory(prefix="civis_sqlfluff_") as tmp:
            extra = Path(tmp) / "civis.sqlfluff"
            extra.write_text(_STUBS, encoding="utf-8")  # what the generated models call
            if config_path is not None and config_path.is_file():
                cfg = FluffConfig.from_path(str(config_path.parent), extra_config_path=str(extra))
            else:
                (Path(tmp) / ".sqlfluff").write_text(
                    f"[sqlfluff]\ndialect = {DIALECT}\ntemplater = jinja\n\n" + _STUBS, encoding="utf-8")
                cfg = FluffConfig.from_path(tmp)
        linter = Linter(config=cfg)
        _LINTERS[key] = linter
    fixed = text
    for _ in range(3):
        result = linter.lint_string(fixed, fix=True)  # type: ignore[attr-defined]
        new = result.fix_string()[0]
        if new == fixed:
            break
        fixed = new
    remaining = linter.lint_string(fixed).get_violations()  # type: ignore[attr-defined]
    # What sqlfluff cannot fix (a column named like a keyword, ...) is waived on its line and
    # reported; parse and templating errors are not waivable.
    waive: dict[int, set[str]] = {}
    errors = []
    for v in remaining:
        code = v.rule_code()
        if code in ("PRS", "TMP"):
            errors.append(f"line {v.line_no}: {code} {v.desc()}")
        else:
            waive.setdefault(v.line_no, set()).add(code)
    lines = fixed.split("\n")
    for line_no, codes in waive.items():
        if 0 < line_no <= len(lines):
            lines[line_no - 1] += f"  -- noqa: {', '.join(sorted(codes))}"
    notes = [f"sqlfluff rule {', '.join(sorted(c))} waived on line {n} (review)" for n, c in sorted(waive.items())]
    return "\n".join(lines), errors + notes
