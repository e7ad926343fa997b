"""`assetgraph civis verify [SELECTION]`: build the migrated models into shadow relations and
compare each with the live table Civis still writes.

    result = verify("analytics/*", Path("."))
    print("\\n".join(result.lines())); sys.exit(0 if result.ok else 1)

The shadow build runs `dbt run` on a temporary copy of the project whose
`generate_schema_name` appends `_civis_shadow` to every schema: `analytics.people` is built
as `analytics_civis_shadow.people`, refs between migrated models resolve to shadows, sources
read the live tables. Live tables are only ever read. The shadow schemas are dropped after the
comparison. Each verified key gets one `civis_parity` row in the catalog's check_results
(passed / failed / error, with counts and the masked sample in its metadata); the archive
command reads them.

SELECTION: the asset selection syntax over the migrated models' keys, as one argument
(`"analytics/people analytics/donor_*"`, `group:analytics`); see `contract.select_keys`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assetgraph.ext.civis._parity import Parity, compare
from assetgraph.ext.civis.contract import PARITY_CHECK, REPORT_JSON, select_keys
from assetgraph.ext.civis.errors import CivisVerifyError

__all__ = ["VerifyResult", "ModelParity", "verify", "SHADOW_SUFFIX"]

SHADOW_SUFFIX = "_civis_shadow"
_SHADOW_MACRO = """\
{#- Written by `assetgraph civis verify` into a temporary copy: build into shadow schemas. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ ((custom_schema_name | trim) if custom_schema_name is not none else target.schema) ~ '""" + SHADOW_SUFFIX + """' }}
{%- endmacro %}
"""


@dataclass(frozen=True)
class ModelParity:
    key: str
    relation: str
    status: str  # passed | failed | error
    live_rows: int | None = None
    shadow_rows: int | None = None
    problems: tuple[str, ...] = ()
    sample: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerifyResult:
    models: tuple[ModelParity, ...]
    run_id: str

    @property
    def ok(self) -> bool:
        return bool(self.models) and all(m.status == "passed" for m in self.models)

    def lines(self) -> list[str]:
        width = max([len(m.key) for m in self.models] + [5])
        out = [f"{'model':<{width}}  {'live rows':>9}  {'migrated':>9}  result"]
        for m in self.models:
            live = "-" if m.live_rows is None else str(m.live_rows)
            shadow = "-" if m.shadow_rows is None else str(m.shadow_rows)
            out.append(f"{m.key:<{width}}  {live:>9}  {shadow:>9}  {m.status}")
        for m in self.models:
            for p in m.problems:
                out.append(f"{m.key} ({m.relation}): {p}")
            out += [f"  {s}" for s in m.sample]
        failed = sum(m.status != "passed" for m in self.models)
        out.append(f"{len(self.models)} model(s) verified, {failed} mismatch(es)"
                   + ("" if failed else ": the migration matches the live tables"))
        return out


def _report(project_root: Path) -> dict[str, Any]:
    path = project_root / REPORT_JSON
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CivisVerifyError(f"{REPORT_JSON} not found: run `assetgraph civis import` first") from None
    except ValueError as exc:
        raise CivisVerifyError(f"{REPORT_JSON} is not valid JSON ({exc})") from None


def _select(models: dict[str, Any], selection: str | None) -> list[str]:
    from assetgraph.errors import UnknownAssetError

    try:
        return select_keys(models, selection)
    except UnknownAssetError as exc:
        known = ", ".join(sorted(models)) or "none"
        raise CivisVerifyError(f"{exc.term!r} matches no migrated model (known: {known})") from None


def _shadow_copy(dbt_dir: Path, work: Path) -> Path:
    copy = work / dbt_dir.name
    shutil.copytree(dbt_dir, copy, ignore=shutil.ignore_patterns("target", "logs", ".git", "dbt_packages"))
    for path in copy.rglob("*.sql"):
        if "macro generate_schema_name" in path.read_text(encoding="utf-8", errors="replace"):
            path.unlink()
    macros = copy / "macros"
    macros.mkdir(exist_ok=True)
    (macros / "__civis_shadow_schema.sql").write_text(_SHADOW_MACRO, encoding="utf-8")
    return copy


def _build(project_root: Path, models: list[str], work: Path) -> dict[str, tuple[str, str]]:
    """dbt run of the models (and the migrated models upstream of them) into shadows:
    {model name: (status, message)}."""
    from assetgraph.config import load_settings
    from assetgraph.dbt.project import dbt_env, dbt_executable
    from assetgraph.warehouse import resolve_warehouse

    settings = load_settings(root=project_root)
    if settings.dbt_project_dir is None:
        raise CivisVerifyError(f"{project_root} has no dbt project")
    copy = _shadow_copy(settings.dbt_project_dir, work)
    wh = resolve_warehouse(root=project_root)
    cmd = [dbt_executable(), "run", "--project-dir", str(copy), "--profiles-dir", str(settings.dbt_profiles_dir),
           "--target", settings.dbt_target, "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
           "--select", *[f"+{m},tag:civis" for m in models], "--quiet"]
    proc = subprocess.run(cmd, env=dbt_env(wh.dbt_env()), capture_output=True, text=True, timeout=3600)
    results_path = work / "target" / "run_results.json"
    if not results_path.is_file():
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise CivisVerifyError(f"dbt could not start the shadow build: {tail}")
    results = json.loads(results_path.read_text(encoding="utf-8"))
    out: dict[str, tuple[str, str]] = {}
    for r in results.get("results") or []:
        name = str(r.get("unique_id", "")).split(".")[-1]
        message = " ".join(str(r.get("message") or "").split())[:300]
        out[name] = (str(r.get("status")), message)
    return out


def _record(wh: Any, run_id: str, parities: list[ModelParity], selection: str | None) -> None:
    from assetgraph import catalog

    catalog.ensure_catalog(wh)
    catalog.record_run_start(wh, run_id, f"civis verify {selection or ''}".strip(), [], "civis-verify")
    for m in parities:
        catalog.record_check(
            wh, run_id=run_id, asset_key=m.key, check_name=PARITY_CHECK, partition_key=None, source="civis",
            blocking=False, status=m.status, message="; ".join(m.problems)[:4000],
            metadata={"relation": m.relation, "shadow_relation": _shadow_name(m.relation),
                      "live_rows": m.live_rows, "shadow_rows": m.shadow_rows,
                      "problems": list(m.problems), "sample": list(m.sample)},
        )
    failed = any(m.status != "passed" for m in parities)
    catalog.record_run_end(wh, run_id, "failed" if failed else "success",
                           f"{sum(m.status != 'passed' for m in parities)} mismatch(es)")


def _shadow_name(relation: str) -> str:
    schema, table = relation.split(".", 1)
    return f"{schema}{SHADOW_SUFFIX}.{table}"


def verify(selection: str | None, project_root: Path) -> VerifyResult:
    from assetgraph.warehouse import connect, resolve_warehouse

    project_root = Path(project_root).resolve()
    report = _report(project_root)
    models: dict[str, Any] = report.get("models") or {}
    keys = _select(models, selection)
    if not keys:
        raise CivisVerifyError("the migration report lists no dbt models to verify")
    wh = resolve_warehouse(root=project_root)
    run_id = f"civis-verify-{uuid.uuid4().hex[:12]}"
    parities: list[ModelParity] = []
    with tempfile.TemporaryDirectory(prefix="civis_verify_") as tmp:
        built = _build(project_root, [models[k]["model"] for k in keys], Path(tmp))
        shadow_schemas = {models[k]["relation"].split(".")[0] + SHADOW_SUFFIX for k in models}
        try:
            with connect(wh, autocommit=True) as conn, conn.cursor() as cur:
                for key in keys:
                    info = models[key]
                    status, message = built.get(info["model"], ("skipped", "not built"))
                    if status != "success":
                        parities.append(ModelParity(key, info["relation"], "error",
                                                    problems=(f"the shadow build failed: {message or status}",)))
                        continue
                    schema, table = info["relation"].split(".", 1)
                    try:
                        parity: Parity = compare(cur, (schema, table), (schema + SHADOW_SUFFIX, table))
                    except Exception as exc:  # a SQL error on one model must not stop the others
                        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                        parities.append(ModelParity(key, info["relation"], "error",
                                                    problems=(f"cannot compare: {first}",)))
                        continue
                    parities.append(ModelParity(key, info["relation"], "passed" if parity.ok else "failed",
                                                parity.live_rows, parity.shadow_rows, parity.problems,
                                                parity.sample))
        finally:
            with connect(wh) as conn, conn.cursor() as cur:
                for schema in sorted(shadow_schemas):
                    cur.execute(f'drop schema if exists "{schema}" cascade')
    _record(wh, run_id, parities, selection)
    return VerifyResult(tuple(parities), run_id)
