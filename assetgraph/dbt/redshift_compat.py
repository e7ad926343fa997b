"""Check, offline, that a dbt project's models compile to SQL that Redshift can run.

Works for any dbt project whose profile has a Redshift target (default `prod`); knows nothing of
the shipped one. Two checks run on each model's compiled SQL:

- **sqlfluff** parses it with the `redshift` dialect (parse errors only: lint rules are style,
  `make lint` covers them). It catches e.g. `::jsonb`, `::uuid`, `ON CONFLICT`, `IS DISTINCT FROM`.
- **a denylist** over sqlglot's syntax tree and tokens catches what Redshift lacks but the
  redshift grammars accept: `DISTINCT ON`, aggregate `FILTER (WHERE ...)`, arrays (`ARRAY[...]`,
  `int[]`, array functions, `UNNEST`), JSONB, UUID, `generate_series`, `STRING_AGG`/`ARRAY_AGG`,
  `IS [NOT] DISTINCT FROM`, `ON CONFLICT`, Postgres JSON/array operators (`->`, `->>`, `@>`).

How the SQL is rendered without a warehouse: `dbt compile --target prod --no-introspect
--no-populate-cache` on a temporary copy of the project. `is_incremental()` needs a connection,
so the copy gets one extra macro overriding it; the project is compiled twice, once with
`is_incremental()` false (first run) and once true (the incremental branch), and both are
checked. Other introspection (`run_query`, `get_columns_in_relation`) still fails to compile,
and is reported as such.

    python -m assetgraph.dbt.redshift_compat [--project-dir D] [--profiles-dir P] [--target T]

exits 0 when every model passes, 1 with a listing of violations, 2 when the project does not
compile. No imports of Prefect or great-expectations; sqlfluff is imported only when used.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

from assetgraph.config import load_settings
from assetgraph.dbt.project import dbt_env, dbt_executable
from assetgraph.errors import ConfigError, DbtError

__all__ = [
    "Finding",
    "Violation",
    "CompatReport",
    "find_denylisted",
    "find_parse_errors",
    "check_sql",
    "compile_models",
    "check_project",
    "main",
]

DIALECT = "redshift"
INCREMENTAL_ENV = "ASSETGRAPH_COMPAT_INCREMENTAL"
_OVERRIDE_FILE = "__assetgraph_redshift_compat.sql"
# Rendered when `execute` is true only, so dbt's parser never records the env var.
_OVERRIDE_MACRO = """\
{# Written by assetgraph.dbt.redshift_compat into a temporary copy: compile without a warehouse. #}
{% macro is_incremental() %}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {{ return(env_var('""" + INCREMENTAL_ENV + """', 'false') == 'true') }}
{% endmacro %}
"""
_COPY_IGNORE = shutil.ignore_patterns("target", "logs", ".git", ".venv", "__pycache__")


# --------------------------------------------------------------------------------------------
# Findings on one SQL string


@dataclass(frozen=True)
class Finding:
    """One construct Redshift cannot run, found in one SQL string."""

    construct: str  # e.g. "DISTINCT ON", "STRING_AGG", "sqlfluff parse error"
    line: int | None  # line in the SQL checked (the compiled SQL for a model)
    detail: str = ""  # the offending SQL or the parser's message
    checker: str = "denylist"  # "denylist" | "sqlfluff"

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.construct}{where}{detail}"


# Structural constructs, found on sqlglot's syntax tree (precise: a column named `uuid` or a
# CTE named `filter` is no finding).
def _ast_findings(tree: exp.Expression) -> Iterator[tuple[str, exp.Expression]]:
    for node in tree.walk():
        if isinstance(node, exp.OnConflict):
            yield "ON CONFLICT", node
        elif isinstance(node, exp.Distinct) and node.args.get("on") is not None:
            yield "DISTINCT ON", node
        elif isinstance(node, exp.Filter):
            yield "aggregate FILTER (WHERE ...)", node
        elif isinstance(node, exp.NullSafeNEQ):
            yield "IS DISTINCT FROM", node
        elif isinstance(node, exp.NullSafeEQ):
            yield "IS NOT DISTINCT FROM", node
        elif isinstance(node, exp.DataType):
            if node.this == exp.DataType.Type.ARRAY:
                yield "array type", node
            elif node.this == exp.DataType.Type.JSONB:
                yield "JSONB", node
            elif node.this == exp.DataType.Type.UUID:
                yield "UUID", node
        elif type(node).__name__.startswith("JSONB"):
            yield "JSONB", node


# Functions Redshift lacks, found on tokens: sqlglot's tree normalises some of them away
# (`STRING_AGG` and Redshift's own `LISTAGG` become the same node).
_FUNCTIONS = {
    "string_agg": "STRING_AGG",
    "array_agg": "ARRAY_AGG",
    "generate_series": "generate_series",
    "gen_random_uuid": "UUID",
    "uuid_generate_v4": "UUID",
    "unnest": "UNNEST (arrays)",
    "to_jsonb": "JSONB",
}
_ARRAY_FUNCTIONS = {
    "array_length", "array_to_string", "string_to_array", "array_upper", "array_lower",
    "array_append", "array_prepend", "array_cat", "array_remove", "array_replace",
    "array_position", "array_positions", "array_ndims", "array_dims", "cardinality",
}
_OPERATORS = {
    TokenType.ARROW: "JSON operator ->",
    TokenType.DARROW: "JSON operator ->>",
    TokenType.HASH_ARROW: "JSON operator #>",
    TokenType.DHASH_ARROW: "JSON operator #>>",
    TokenType.AT_GT: "containment operator @>",
    TokenType.LT_AT: "containment operator <@",
}
_TEXT_TOKENS = {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.RAW_STRING}


def _word(token: Token | None) -> str:
    if token is None or token.token_type in _TEXT_TOKENS:
        return ""
    return token.text.lower()


def _token_findings(tokens: Sequence[Token], structural: bool) -> Iterator[tuple[str, Token]]:
    """Function names and operators; with `structural`, also what `_ast_findings` finds (a
    cruder fallback for SQL that sqlglot cannot parse)."""
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        word = _word(tok)
        calls = nxt is not None and nxt.token_type == TokenType.L_PAREN
        if tok.token_type in _OPERATORS:
            yield _OPERATORS[tok.token_type], tok
        elif word == "array" and nxt is not None and nxt.token_type == TokenType.L_BRACKET:
            yield "ARRAY[...] constructor", tok
        elif calls and word in _FUNCTIONS:
            yield _FUNCTIONS[word], tok
        elif calls and word in _ARRAY_FUNCTIONS:
            yield f"array function {word}()", tok
        elif calls and word.startswith("jsonb_"):
            yield "JSONB", tok
        elif structural:
            yield from _structural_tokens(tokens, i, tok, word)


def _structural_tokens(
    tokens: Sequence[Token], i: int, tok: Token, word: str
) -> Iterator[tuple[str, Token]]:
    def w(k: int) -> str:
        return _word(tokens[i + k]) if 0 <= i + k < len(tokens) else ""

    if word == "distinct" and w(1) == "on":
        if w(-1) != "is" and not (w(-1) == "not" and w(-2) == "is"):
            yield "DISTINCT ON", tok
    elif word == "filter" and w(1) == "(" and w(2) == "where":
        yield "aggregate FILTER (WHERE ...)", tok
    elif word == "on" and w(1) == "conflict":
        yield "ON CONFLICT", tok
    elif word == "is" and w(1) == "distinct" and w(2) == "from":
        yield "IS DISTINCT FROM", tok
    elif word == "is" and w(1) == "not" and w(2) == "distinct" and w(3) == "from":
        yield "IS NOT DISTINCT FROM", tok
    elif word in ("jsonb", "uuid") and (w(-1) == "::" or (w(-1) == "as" and w(1) in (")", "["))):
        yield ("JSONB" if word == "jsonb" else "UUID"), tok
    elif word == "[" and w(1) == "]":
        yield "array type", tok


def _line_of(node: exp.Expression) -> int | None:
    lines = [n.meta["line"] for n in node.walk() if n._meta and "line" in n.meta]
    return min(lines) if lines else None


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def find_denylisted(sql: str) -> list[Finding]:
    """Constructs Redshift lacks, one finding per construct (its first occurrence)."""
    try:
        tokens = sqlglot.tokenize(sql, read=DIALECT)
    except SqlglotError as exc:
        return [Finding("unreadable SQL", None, _snippet(str(exc), 160))]
    found: dict[str, Finding] = {}
    try:
        trees = [t for t in sqlglot.parse(sql, read=DIALECT) if t is not None]
    except SqlglotError:
        trees = None  # fall back to token patterns for the structural constructs too
    for tree in trees or ():
        for construct, node in _ast_findings(tree):
            if construct not in found:
                line = _line_of(node) or _line_of_word(tokens, _HINTS.get(construct, ""))
                text = node.sql(DIALECT)
                if isinstance(node, exp.DataType) and line:
                    text = _line_text(sql, line)  # a bare type name says little
                found[construct] = Finding(construct, line, _snippet(text))
    for construct, tok in _token_findings(tokens, structural=trees is None):
        if construct not in found:
            found[construct] = Finding(construct, tok.line, _snippet(_line_text(sql, tok.line)))
    return sorted(found.values(), key=lambda f: (f.line or 0, f.construct))


# A word that starts each tree construct, to find its line when the tree does not record one.
_HINTS = {
    "ON CONFLICT": "conflict", "DISTINCT ON": "distinct", "aggregate FILTER (WHERE ...)": "filter",
    "IS DISTINCT FROM": "distinct", "IS NOT DISTINCT FROM": "distinct", "array type": "[",
    "JSONB": "jsonb", "UUID": "uuid",
}


def _line_of_word(tokens: Sequence[Token], word: str) -> int | None:
    return next((t.line for t in tokens if word and _word(t) == word), None)


def _line_text(sql: str, line: int) -> str:
    lines = sql.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


_LINTER: Any = None


def find_parse_errors(sql: str) -> list[Finding]:
    """sqlfluff's parse errors with the redshift dialect (no style rules, no templating)."""
    global _LINTER
    if _LINTER is None:
        from sqlfluff.core import FluffConfig, Linter

        config = FluffConfig(overrides={"dialect": DIALECT, "templater": "raw"})
        _LINTER = Linter(config=config)
    parsed = _LINTER.parse_string(sql)
    findings = []
    for error in parsed.violations:
        message = error.desc() if hasattr(error, "desc") else str(error)
        findings.append(
            Finding("sqlfluff parse error", getattr(error, "line_no", None),
                    _snippet(message, 160), checker="sqlfluff")
        )
    return findings


def check_sql(sql: str, *, sqlfluff: bool = True) -> list[Finding]:
    """Every finding for one SQL string: the denylist, then sqlfluff's parse errors."""
    findings = find_denylisted(sql)
    if sqlfluff:
        findings += find_parse_errors(sql)
    return findings


# --------------------------------------------------------------------------------------------
# A dbt project


@dataclass(frozen=True)
class Violation:
    """A finding in one model's compiled SQL."""

    model: str  # the model's name
    unique_id: str
    path: str  # the model's file, relative to the project
    finding: Finding
    branch: str = "full"  # "full" (is_incremental() false) or "incremental"

    @property
    def construct(self) -> str:
        return self.finding.construct

    def __str__(self) -> str:
        parts = [f"line {self.finding.line} of compiled SQL"] if self.finding.line else []
        if self.branch == "incremental":
            parts.append("incremental branch")
        where = f" ({', '.join(parts)})" if parts else ""
        detail = f": {self.finding.detail}" if self.finding.detail else ""
        return f"{self.model} [{self.path}]: {self.finding.construct}{where}{detail}"


@dataclass(frozen=True)
class CompatReport:
    target: str
    checked: tuple[str, ...] = ()  # unique ids of the models checked
    violations: tuple[Violation, ...] = ()
    skipped: tuple[str, ...] = field(default=())  # e.g. Python models

    @property
    def ok(self) -> bool:
        return not self.violations

    def format(self) -> str:
        head = f"Redshift compatibility ({self.target} target): {len(self.checked)} model(s)"
        head += " checked"
        if self.ok:
            return head + ", no violations."
        lines = [head + f", {len(self.violations)} violation(s):"]
        lines += [f"  {v}" for v in self.violations]
        if self.skipped:
            lines.append(f"  (not checked: {', '.join(self.skipped)})")
        return "\n".join(lines)


@dataclass(frozen=True)
class CompiledModel:
    unique_id: str
    name: str
    path: str
    sql: str


def _macro_dir(project_dir: Path) -> Path:
    import yaml

    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    paths = config.get("macro-paths") or ["macros"]
    return project_dir / str(paths[0])


def _run_compile(
    project: Path,
    profiles_dir: Path,
    target: str,
    work: Path,
    incremental: bool,
    select: Sequence[str],
    extra_env: dict[str, str] | None,
) -> dict[str, Any]:
    cmd = [
        dbt_executable(), "compile",
        "--project-dir", str(project),
        "--profiles-dir", str(profiles_dir),
        "--target", target,
        "--no-introspect", "--no-populate-cache",
        "--target-path", str(work / "target"),
        "--log-path", str(work / "logs"),
        "--select", *select,
        "--indirect-selection", "empty",
        "--quiet",
    ]
    env = dbt_env({**(extra_env or {}), INCREMENTAL_ENV: "true" if incremental else "false"},
                  placeholders=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        branch = "incremental branch" if incremental else "first run"
        raise DbtError("compile", f"(--target {target}, {branch} of {project.name}):\n{tail}")
    manifest = json.loads((work / "target" / "manifest.json").read_text(encoding="utf-8"))
    return manifest


def _models(manifest: dict[str, Any], work: Path) -> tuple[list[CompiledModel], list[str]]:
    models, skipped = [], []
    project = (manifest.get("metadata") or {}).get("project_name")
    for uid, node in sorted(manifest.get("nodes", {}).items()):
        if node.get("resource_type") != "model" or node.get("package_name") != project:
            continue
        if node.get("language", "sql") != "sql":
            skipped.append(node["name"])
            continue
        sql = node.get("compiled_code")
        if sql is None:  # older manifests: read target/compiled/...
            compiled = work / "target" / "compiled" / project / node["original_file_path"]
            sql = compiled.read_text(encoding="utf-8") if compiled.exists() else None
        if sql is None:
            skipped.append(node["name"])
            continue
        models.append(CompiledModel(uid, node["name"], node["original_file_path"], sql))
    return models, skipped


Compiled = dict[str, tuple[list[CompiledModel], list[str]]]


def compile_models(
    project_dir: Path,
    profiles_dir: Path,
    target: str = "prod",
    *,
    incremental_branch: bool = True,
    select: Sequence[str] = ("resource_type:model",),
    env: dict[str, str] | None = None,
) -> Compiled:
    """Compile the project's own models offline for `target`:
    {"full": (models, skipped names), "incremental": (...)} (the second only when asked)."""
    project_dir = Path(project_dir).resolve()
    if not (project_dir / "dbt_project.yml").is_file():
        raise DbtError("compile", f"{project_dir} has no dbt_project.yml")
    with tempfile.TemporaryDirectory(prefix="redshift_compat_") as tmp:
        work = Path(tmp)
        project = work / project_dir.name
        shutil.copytree(project_dir, project, ignore=_COPY_IGNORE, symlinks=True)
        macro_dir = _macro_dir(project)
        macro_dir.mkdir(parents=True, exist_ok=True)
        (macro_dir / _OVERRIDE_FILE).write_text(_OVERRIDE_MACRO, encoding="utf-8")
        profiles = Path(profiles_dir).resolve()
        manifest = _run_compile(project, profiles, target, work, False, select, env)
        out = {"full": _models(manifest, work)}
        if incremental_branch and _has_incremental(manifest):
            # a second run: partial parsing makes it about half as long as the first
            manifest = _run_compile(project, profiles, target, work, True, select, env)
            out["incremental"] = _models(manifest, work)
        return out


def _has_incremental(manifest: dict[str, Any]) -> bool:
    return any(
        (node.get("config") or {}).get("materialized") in ("incremental", "microbatch")
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model"
    )


def check_project(
    project_dir: Path | str,
    profiles_dir: Path | str,
    target: str = "prod",
    *,
    incremental_branch: bool = True,
    sqlfluff: bool = True,
    env: dict[str, str] | None = None,
) -> CompatReport:
    """Compile every model for `target` offline and check its SQL (see the module docstring)."""
    compiled = compile_models(Path(project_dir), Path(profiles_dir), target,
                              incremental_branch=incremental_branch, env=env)
    violations: list[Violation] = []
    seen_sql: dict[str, str] = {}
    checked: set[str] = set()
    skipped: list[str] = []
    for branch, (models, skipped_here) in compiled.items():
        skipped += [s for s in skipped_here if s not in skipped]
        for model in models:
            checked.add(model.unique_id)
            if seen_sql.get(model.unique_id) == model.sql:
                continue  # not incremental: the same SQL as the first run
            seen_sql[model.unique_id] = model.sql
            # the incremental branch adds only constructs not already reported for the model
            known = {v.construct for v in violations if v.unique_id == model.unique_id}
            for finding in check_sql(model.sql, sqlfluff=sqlfluff):
                if finding.construct not in known:
                    violations.append(
                        Violation(model.name, model.unique_id, model.path, finding, branch)
                    )
    return CompatReport(target, tuple(sorted(checked)), tuple(violations), tuple(skipped))


# --------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assetgraph.dbt.redshift_compat",
        description="Compile a dbt project for its Redshift target offline and list the SQL "
        "constructs Redshift cannot run (exit 1), or confirm there are none (exit 0).",
    )
    parser.add_argument("--project-dir", type=Path, default=None,
                        help="dbt project (default: as `assetgraph` finds it: $DBT_PROJECT_DIR, "
                        "[tool.assetgraph], the nearest dbt_project.yml upwards)")
    parser.add_argument("--profiles-dir", type=Path, default=None,
                        help="dir of profiles.yml (default: $DBT_PROFILES_DIR, [tool.assetgraph], "
                        "the project dir, ~/.dbt)")
    parser.add_argument("--target", default="prod", help="the Redshift target (default: prod)")
    parser.add_argument("--no-incremental-branch", action="store_true",
                        help="check only the first-run SQL of incremental models (one compile)")
    parser.add_argument("--no-sqlfluff", action="store_true", help="denylist only (faster)")
    args = parser.parse_args(argv)

    try:
        settings = load_settings(project_dir=args.project_dir, profiles_dir=args.profiles_dir)
        if settings.dbt_project_dir is None:
            raise ConfigError(
                f"no dbt_project.yml in {Path.cwd()} or its parents (--project-dir, DBT_PROJECT_DIR)"
            )
        report = check_project(settings.dbt_project_dir, settings.dbt_profiles_dir, args.target,
                               incremental_branch=not args.no_incremental_branch,
                               sqlfluff=not args.no_sqlfluff)
    except (DbtError, ConfigError) as exc:
        print(f"redshift_compat: {exc}", file=sys.stderr)
        return 2
    print(report.format())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
