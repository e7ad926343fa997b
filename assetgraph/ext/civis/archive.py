"""`assetgraph civis archive [SELECTION] [--yes] [--archive]`: switch Civis off, object by object,
only where the migration is proven.

An object qualifies when it needs no attention and the latest `civis_parity` check of every one
of its asset keys passed (see contract.py). Without `yes` nothing is sent to Civis: each line
says what would happen. With `yes` the object's schedule is turned off through the API (its
other schedule fields kept, so it can be turned back on as it was); with `archive` too, the
object is archived. Objects that do not qualify are listed as skipped, with the reason.

SELECTION uses the asset selection syntax over the report's keys (a key, a glob such as
`staging/*`, `group:staging`); an object is selected when any of its keys is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from assetgraph.errors import AssetGraphError
from assetgraph.ext.civis._client import CivisSession, connect
from assetgraph.ext.civis.contract import PARITY_CHECK, REPORT_PATH, MigratedObject, read_report, select_keys
from assetgraph.ext.civis.errors import CivisApiError, CivisArchiveError

__all__ = ["ArchiveDecision", "ArchiveOutcome", "ArchiveResult", "decide", "latest_parity", "archive_objects"]


@dataclass(frozen=True)
class ArchiveDecision:
    obj: MigratedObject
    eligible: bool
    reason: str = ""  # why not, when not eligible


@dataclass(frozen=True)
class ArchiveOutcome:
    obj: MigratedObject
    status: str  # done | would | skipped | failed
    detail: str

    def line(self) -> str:
        return f"{self.status:<8} {self.obj.label}: {self.detail}"


@dataclass(frozen=True)
class ArchiveResult:
    outcomes: tuple[ArchiveOutcome, ...]
    dry_run: bool

    @property
    def ok(self) -> bool:
        return not any(o.status == "failed" for o in self.outcomes)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def lines(self) -> list[str]:
        out = [o.line() for o in self.outcomes]
        if not self.outcomes:
            out.append("no Civis objects selected")
        summary = ", ".join(
            f"{self.count(s)} {s}" for s in ("done", "would", "skipped", "failed") if self.count(s)
        )
        if summary:
            out.append(summary + (" (dry run: nothing sent to Civis; add --yes)" if self.dry_run else ""))
        return out


def decide(objects: Iterable[MigratedObject], parity: Mapping[str, str]) -> tuple[ArchiveDecision, ...]:
    """Pure: which objects may be switched off, given each key's latest `civis_parity` status."""
    out = []
    for obj in objects:
        if obj.needs_attention:
            more = f" (+{len(obj.needs_attention) - 1} more)" if len(obj.needs_attention) > 1 else ""
            out.append(ArchiveDecision(obj, False, f"needs attention: {obj.needs_attention[0]}{more}"))
            continue
        if not obj.keys:
            out.append(ArchiveDecision(obj, False, "not verified: it became no asset to compare"))
            continue
        unverified = [k for k in obj.keys if k not in parity]
        failed = [f"{k} ({parity[k]})" for k in obj.keys if k in parity and parity[k] != "passed"]
        if failed:
            out.append(ArchiveDecision(obj, False, "verify failed: " + ", ".join(failed)))
        elif unverified:
            out.append(ArchiveDecision(obj, False, "not verified: no civis_parity result for " + ", ".join(unverified)))
        else:
            out.append(ArchiveDecision(obj, True))
    return tuple(out)


def latest_parity(warehouse: Any, keys: Sequence[str]) -> dict[str, str]:
    """The status of the latest `civis_parity` check result of each key that has one."""
    from assetgraph.catalog import SCHEMA, catalog_exists
    from assetgraph.warehouse import connect as connect_warehouse

    if not keys:
        return {}
    with connect_warehouse(warehouse) as conn, conn.cursor() as cur:
        if not catalog_exists(cur):
            return {}
        cur.execute(
            f"""
            select asset_key, status from (
                select asset_key, status,
                       row_number() over (partition by asset_key order by evaluated_at desc) as rn
                from {SCHEMA}.check_results
                where check_name = %s and asset_key in %s
            ) as ranked
            where rn = 1
            """,
            (PARITY_CHECK, tuple(keys)),
        )
        return {key: status for key, status in cur.fetchall()}


def _select(objects: Sequence[MigratedObject], selection: str | None) -> list[MigratedObject]:
    if not selection:
        return list(objects)
    chosen = set(select_keys((k for o in objects for k in o.keys), selection))
    return [o for o in objects if chosen.intersection(o.keys)]


def archive_objects(
    selection: str | None,
    project_root: Path,
    *,
    yes: bool = False,
    archive: bool = False,
    warehouse: Any = None,
    session: CivisSession | None = None,
    environ: Mapping[str, str] | None = None,
) -> ArchiveResult:
    """Decide per object from the report and the catalog; with `yes`, act through the API."""
    objects = _select(read_report(Path(project_root) / REPORT_PATH), selection)
    if warehouse is None and objects:
        from assetgraph.warehouse import resolve_warehouse

        warehouse = resolve_warehouse(root=Path(project_root))  # where verify recorded its checks
    try:
        parity = latest_parity(warehouse, sorted({k for o in objects for k in o.keys}))
    except AssetGraphError:
        raise
    except Exception as exc:  # the catalog is an input here: name it, no traceback
        raise CivisArchiveError("the catalog", f"cannot read civis_parity results ({type(exc).__name__}: {exc})") from None
    decisions = decide(objects, parity)
    if yes and any(d.eligible for d in decisions):
        session = session or connect(environ)
    outcomes = [_act(d, session if yes else None, archive) for d in decisions]
    return ArchiveResult(tuple(outcomes), dry_run=not yes)


def _act(decision: ArchiveDecision, session: CivisSession | None, archive: bool) -> ArchiveOutcome:
    obj = decision.obj
    if not decision.eligible:
        return ArchiveOutcome(obj, "skipped", decision.reason)
    if session is None:
        plan = "turn off its schedule" + (" and archive it" if archive else "")
        return ArchiveOutcome(obj, "would", f"verified; would {plan}")
    try:
        current = session.get(obj.kind, obj.id)
        if current is None:
            return ArchiveOutcome(obj, "failed", "not found in Civis (404)")
        done = []
        if (current.get("schedule") or {}).get("scheduled"):
            session.unschedule(obj.kind, obj.id, current)
            done.append("schedule turned off")
        else:
            done.append("schedule was already off")
        if archive:
            session.archive(obj.kind, obj.id)
            done.append("archived")
    except CivisApiError as exc:
        return ArchiveOutcome(obj, "failed", exc.reason)
    return ArchiveOutcome(obj, "done", ", ".join(done))
