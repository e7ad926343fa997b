"""Run a `SuiteSpec` with Great Expectations 1.x inside the warehouse and turn every expectation
result into a `CheckResult`.

- One ephemeral GX context per process (created lazily, reused), usage statistics off, no
  progress bars. GX calls are serialised with one lock (the runner runs assets in threads).
- The data source is SQL: `add_or_update_postgres`, or `add_or_update_redshift` when the
  warehouse kind is redshift (configuration only; GX on Redshift needs the SQLAlchemy Redshift
  dialect installed). Expectations run as SQL in the database; no rows are pulled into pandas.
- Result format: counts only (`SUMMARY` with no unexpected lists). Only for a column-map
  expectation that found unexpected rows is a second, small query made for up to 5 samples, and
  every sample is masked unless its column is one the suite reveals (codes, channels).
- An expectation GX cannot run (`exception_info.raised_exception`, e.g. no SQL implementation)
  is a check ERROR, never a pass; so is a failing value-set query or an unreachable table.
- The suite is validated once per (warehouse, run, asset, scope); each check of the suite
  then takes its own result from that validation (the runner calls the checks one by one).
- Scope: a backfill validates its partition; a nightly run of an asset that reports the loads
  it landed (`load_ids` in its metadata, for a suite with a `load_column`) validates just
  those rows, so a night's checks cost what the night landed; `assetgraph check` validates the
  whole table. A scope is validated on a short-lived copy of its rows (`_copy_scope`). Every
  result says what it validated (`validated` in its metadata).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

# Telemetry off everywhere (design rule), whatever the environment says; set before GX imports.
os.environ["GX_ANALYTICS_ENABLED"] = "false"

from quality._deferred_imports import GX_UNUSED_MODULES, defer  # noqa: E402

for _module in GX_UNUSED_MODULES:  # ~0.6 s of GX's import that SQL suites never use
    defer(_module)

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

# GX logs INFO lines (temporary docs directories, ...) that say nothing to a pipeline's user.
import logging as _logging  # noqa: E402

for _name in ("great_expectations", "great_expectations.data_context.types.base"):
    _logging.getLogger(_name).setLevel(_logging.WARNING)

from assetgraph.specs import CheckResult  # noqa: E402
from assetgraph.warehouse import Warehouse, connect  # noqa: E402
from quality.errors import DataSourceError, QualityError, SuiteDefinitionError, ValueSetError  # noqa: E402
from quality.masking import mask_samples, mask_value, scrub_text  # noqa: E402
from quality.suites import EnvInt, ExpectationSpec, SqlValues, SuiteSpec  # noqa: E402

__all__ = [
    "Scope",
    "datasource_factory",
    "validate_suite",
    "expectation_result",
    "clear_cache",
]

# counts only: no unexpected values or rows come back from the warehouse
_SUMMARY = {"result_format": "SUMMARY", "partial_unexpected_count": 0, "include_unexpected_rows": False}
_SAMPLES = {"result_format": "BASIC", "partial_unexpected_count": 5, "include_unexpected_rows": False}
_SCHEMA_EXPECTATIONS = {
    "ExpectColumnValuesToBeInTypeList", "ExpectColumnValuesToBeOfType", "ExpectColumnToExist",
}
_CACHE_SIZE = 16

_lock = threading.RLock()
_context: Any = None
_sources: dict[str, str] = {}  # data source name -> connection URL it was registered with
_cache: "OrderedDict[tuple, _Validation]" = OrderedDict()


@dataclass(frozen=True)
class Scope:
    """Which rows of the suite's table a validation reads: one partition (a backfill), the
    loads this run landed (a nightly run of an asset that reports `load_ids`), or all."""

    partition: str | None = None
    load_ids: tuple[str, ...] | None = None

    @classmethod
    def of(cls, suite: SuiteSpec, context: Any) -> "Scope":
        if context.partition is not None and suite.partition_column:
            return cls(partition=context.partition)
        done = getattr(context, "materialization", None)
        ids = (done.metadata or {}).get("load_ids") if done is not None else None
        if suite.load_column and isinstance(ids, (list, tuple)):
            return cls(load_ids=tuple(sorted({str(i) for i in ids})))
        return cls()


_LOAD_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass
class _Validation:
    results: dict[str, CheckResult]
    pending: set[str]


# --- context and data sources --------------------------------------------------------------


def _get_context() -> Any:
    global _context
    if _context is None:
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        _context = ctx
    return _context


def datasource_factory(wh: Warehouse) -> str:
    """The GX data source type for a warehouse: `redshift` or `postgres`."""
    return "redshift" if wh.kind == "redshift" else "postgres"


def _source_name(wh: Warehouse) -> str:
    ident = f"{wh.kind}|{wh.host}|{wh.port}|{wh.user}|{wh.dbname}"
    return "warehouse_" + hashlib.sha1(ident.encode()).hexdigest()[:12]


def _datasource(wh: Warehouse) -> Any:
    ctx = _get_context()
    name = _source_name(wh)
    url = wh.sqlalchemy_url()
    if _sources.get(name) == url:
        return ctx.data_sources.get(name)
    factory = getattr(ctx.data_sources, f"add_or_update_{datasource_factory(wh)}")
    try:
        ds = factory(name=name, connection_string=url)
    except Exception as exc:
        raise DataSourceError(wh.describe(), _first_line(exc, wh)) from None
    _sources[name] = url
    return ds


@dataclass(frozen=True)
class _Scoped:
    """A scoped batch: the rows of `where`, copied to `name` beside the table for validation."""

    name: str
    where: str
    what: str  # for messages and results


def _scope_of(suite: SuiteSpec, scope: Scope) -> _Scoped | None:
    """The scoped batch of `scope`; None: the whole table."""
    if scope.partition is not None and suite.partition_column:
        day = dt.date.fromisoformat(scope.partition).isoformat()  # validated: safe to inline
        where = f"{suite.partition_column} = cast('{day}' as date)"
        what = f"{suite.table} partition {day}"
    elif scope.load_ids is not None and suite.load_column:
        bad = [i for i in scope.load_ids if not _LOAD_ID.match(i)]
        if bad:
            raise SuiteDefinitionError(suite.name, f"load id {bad[0][:70]!r} is not a plain identifier")
        ids = ", ".join(f"'{i}'" for i in scope.load_ids)  # checked above: safe to inline
        where = f"{suite.load_column} in ({ids})" if ids else "1 = 0"
        n = len(scope.load_ids)
        what = f"{suite.table}, the {n} load{'s' if n != 1 else ''} of this run"
    else:
        return None
    digest = hashlib.sha1(f"{suite.table} {where} {os.getpid()} {threading.get_ident()}".encode()).hexdigest()
    return _Scoped(f"{_copy_prefix(suite)}{int(time.time())}_{digest[:8]}", where, what)


def _copy_prefix(suite: SuiteSpec) -> str:
    """Names of scope copies: `_gx_scope_<table>_<unix seconds>_<digest>` (at most 60 chars)."""
    return f"_gx_scope_{suite.table_name[:30]}_"


_STALE_COPY_SECONDS = 24 * 3600  # no validation takes a day: a copy this old was left by a killed run


def _quoted(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'  # `raw` is a reserved word on Redshift (names are checked identifiers)


def _copy_scope(wh: Warehouse, suite: SuiteSpec, scoped: _Scoped) -> bool:
    """Copy the scope's rows to a short-lived table beside the table (unlogged on Postgres);
    False, copying nothing, when the scope holds every row of the table (a first night).
    A copy, not a view or a GX query asset, measured at 1M rows + 1 % (a night's load):
    - every expectation over a view re-reads the table, and GX's sample query (`... LIMIT 5`)
      is planned as a scan from the first page, which holds no row of tonight: 0.96 s for
      that query alone, against one indexed read of tonight's pages into the copy;
    - a GX query asset took 2-4x the time and +265 MiB of memory (measured on 517k rows)."""
    table = _quoted(suite.schema_name, suite.table_name)
    with connect(wh) as conn, conn.cursor() as cur:
        _drop_stale_copies(cur, suite)
        cur.execute(f"select 1 from {table} where not coalesce({scoped.where}, false) limit 1")
        if cur.fetchone() is None:
            return False
        unlogged = "unlogged " if wh.kind == "postgres" else ""
        cur.execute(f"create {unlogged}table {_quoted(suite.schema_name, scoped.name)} as "
                    f"select * from {table} where {scoped.where}")
    return True


def _drop_stale_copies(cur: Any, suite: SuiteSpec) -> None:
    """Drop the scope copies of this table a killed run left behind (they hold personal data)."""
    prefix = _copy_prefix(suite)
    cur.execute("select table_name from information_schema.tables where table_schema = %s and table_name like %s",
                (suite.schema_name, prefix.replace("_", "\\_") + "%"))
    shape = re.compile(re.escape(prefix) + r"(\d{10})_[0-9a-f]{8}")
    for (name,) in cur.fetchall():
        found = shape.fullmatch(name)
        if found and int(found.group(1)) < time.time() - _STALE_COPY_SECONDS:
            cur.execute(f"drop table if exists {_quoted(suite.schema_name, name)}")


@contextlib.contextmanager
def _batch(wh: Warehouse, suite: SuiteSpec, scope: Scope) -> Iterator[tuple[Any, str]]:
    """The GX batch for `scope`, and a description of it for the results."""
    scoped = _scope_of(suite, scope)
    schema, table, name, target = suite.schema_name, suite.table_name, suite.table, suite.table
    copied = False
    if scoped is not None:
        target = scoped.what
        try:
            copied = _copy_scope(wh, suite, scoped)
        except Exception as exc:
            raise DataSourceError(target, _first_line(exc, wh)) from None
        if copied:
            table, name = scoped.name, f"{schema}.{scoped.name}"
    ds = None
    try:
        ds = _datasource(wh)
        try:
            asset = ds.get_asset(name)
        except LookupError:
            try:
                asset = ds.add_table_asset(name, table_name=table, schema_name=schema)
            except Exception as exc:
                raise DataSourceError(target, _first_line(exc, wh)) from None
        try:
            bd = asset.get_batch_definition("whole")
        except (KeyError, LookupError, ValueError):
            bd = asset.add_batch_definition_whole_table("whole")
        try:
            batch = bd.get_batch()
        except Exception as exc:
            raise DataSourceError(target, _first_line(exc, wh)) from None
        yield batch, target
    finally:
        if copied:
            if ds is not None:
                with contextlib.suppress(Exception):
                    ds.delete_asset(name)
            with contextlib.suppress(Exception), connect(wh) as conn, conn.cursor() as cur:
                cur.execute(f"drop table if exists {_quoted(schema, table)}")


# --- building expectations ------------------------------------------------------------------


def _read_values(wh: Warehouse, values: SqlValues) -> list[Any]:
    try:
        with connect(wh) as conn, conn.cursor() as cur:
            cur.execute(values.query)
            return [row[0] for row in cur.fetchall()]
    except QualityError:
        raise
    except Exception as exc:
        raise ValueSetError(values.label, _first_line(exc, wh)) from None


def _resolve(spec: ExpectationSpec, wh: Warehouse) -> tuple[dict[str, Any], dict[str, Any]]:
    """Concrete kwargs for GX, plus metadata about run-time values (sizes of value sets)."""
    kwargs: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for key, value in spec.kwargs.items():
        if isinstance(value, SqlValues):
            resolved = _read_values(wh, value)
            kwargs[key] = resolved
            meta[f"{key}_size"] = len(resolved)
            meta[f"{key}_source"] = value.label
        elif isinstance(value, EnvInt):
            kwargs[key] = value.resolve()
            meta[key] = kwargs[key]
        else:
            kwargs[key] = value
    return kwargs, meta


def _expectation(suite: SuiteSpec, spec: ExpectationSpec, kwargs: Mapping[str, Any]) -> Any:
    cls = getattr(gxe, spec.expectation, None)
    if cls is None:
        raise SuiteDefinitionError(suite.name, f"{spec.check}: GX has no expectation {spec.expectation}")
    try:
        return cls(**kwargs, meta={"check": spec.check})
    except Exception as exc:
        raise SuiteDefinitionError(suite.name, f"{spec.check}: {_first_line(exc)}") from None


# --- mapping results ------------------------------------------------------------------------


def _first_line(exc: BaseException | str, wh: Warehouse | None = None) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    secrets = (wh.password,) if wh is not None and wh.password else ()
    return scrub_text(line, secrets)[:500]


def _raised(exception_info: Mapping[str, Any] | None) -> str | None:
    """The exception message if GX reports one (flat or keyed by metric), else None."""
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else [
        v for v in exception_info.values() if isinstance(v, Mapping)
    ]
    for info in infos:
        flag = info.get("raised_exception")
        if flag is True or str(flag).lower() == "true":
            return str(info.get("exception_message") or "GX raised an exception")
    return None


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _expected_text(spec: ExpectationSpec, kwargs: Mapping[str, Any]) -> str:
    """`spec.expected` with `{kwarg}` fields filled from the resolved kwargs (numbers only)."""
    fields = _Fields()
    for k, v in kwargs.items():
        if v is None:
            fields[k] = "none"
        elif isinstance(v, int) and not isinstance(v, bool):
            fields[k] = f"{v:,}"
        elif isinstance(v, float):
            fields[k] = f"{v:g}"
    try:
        text = (spec.expected or spec.expectation).format_map(fields)
    except (ValueError, IndexError):
        text = spec.expected or spec.expectation
    mostly = kwargs.get("mostly")
    if mostly is not None and "%" not in text:
        text += f" (mostly {mostly:.0%})"
    return text


def _observed(
    suite: SuiteSpec, spec: ExpectationSpec, result: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    meta: dict[str, Any] = {}
    if "unexpected_count" in result:
        for k in ("element_count", "unexpected_count", "missing_count"):
            if result.get(k) is not None:
                meta[k] = int(result[k])
        pct = result.get("unexpected_percent")
        if pct is not None:
            meta["unexpected_percent"] = round(float(pct), 4)
        n, total = meta.get("unexpected_count", 0), meta.get("element_count", 0)
        pct_text = f" ({meta['unexpected_percent']:.2f}%)" if n and "unexpected_percent" in meta else ""
        return f"{n:,} of {total:,} rows unexpected{pct_text}", meta
    value = result.get("observed_value")
    if spec.expectation == "UnexpectedRowsExpectation":
        n = int(value or 0)
        meta["unexpected_count"] = n
        return f"{n:,} unexpected rows", meta
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        meta["observed_value"] = value
        return f"{value:,}", meta
    if value is None:
        return "", meta
    reveal = spec.expectation in _SCHEMA_EXPECTATIONS or spec.column in suite.reveal_columns
    shown = mask_value(value, reveal=reveal) if isinstance(value, (str, int, float)) else "(masked)"
    meta["observed_value"] = shown
    return str(shown), meta


def _to_result(suite: SuiteSpec, built: "_Built", vr: Any, target: str) -> CheckResult:
    spec = built.spec
    base = {"expectation": spec.expectation, "expected": _expected_text(spec, built.kwargs), "validated": target,
            **built.extra}
    if spec.column:
        base["column"] = spec.column
    error = _raised(getattr(vr, "exception_info", None))
    if error is not None:
        first = error.strip().splitlines()[0] if error.strip() else "GX raised an exception"
        return CheckResult.errored(
            f"{spec.expectation} could not run: {scrub_text(first)[:400]}", **base, gx_exception=True
        )
    observed, meta = _observed(suite, spec, dict(getattr(vr, "result", None) or {}))
    if not observed and spec.expectation == "ExpectColumnToExist":
        observed = "column present" if vr.success else "column missing"
    meta = {**base, "observed": observed, **meta}
    label = spec.expected or spec.expectation
    if vr.success is True:
        return CheckResult.passed(f"{label}: {observed or 'ok'}", **meta)
    if vr.success is False:
        return CheckResult.failed(f"{label}: {observed or 'failed'}", **meta)
    return CheckResult.errored(f"{spec.expectation} returned no verdict", **meta)


def _attach_samples(
    suite: SuiteSpec, batch: Any, failed: list["_Built"], out: dict[str, CheckResult]
) -> None:
    """A second, small validation of the column-map expectations that found unexpected rows,
    for up to 5 samples each; masked unless the column is one the suite reveals."""
    if not failed:
        return
    sample_suite = gx.ExpectationSuite(name=f"{suite.name}__samples")
    for b in failed:
        sample_suite.add_expectation(b.expectation.copy())
    try:
        res = batch.validate(sample_suite, result_format=_SAMPLES)
    except Exception:
        return  # samples are a convenience; the verdict stands without them
    by_check = {b.spec.check: b.spec for b in failed}
    for vr in res.results:
        spec = by_check.get((vr.expectation_config.meta or {}).get("check"))
        if spec is None or spec.check not in out:
            continue
        values = (vr.result or {}).get("partial_unexpected_list") or []
        reveal = bool(spec.column and spec.column in suite.reveal_columns)
        samples = mask_samples(values, reveal=reveal, limit=5)
        if samples:
            prior = out[spec.check]
            meta = {**prior.metadata, "samples_masked": samples}
            out[spec.check] = CheckResult(prior.status, prior.message, meta)


# --- validation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Built:
    spec: ExpectationSpec
    expectation: Any  # the GX expectation instance
    kwargs: Mapping[str, Any]
    extra: Mapping[str, Any]  # metadata about run-time values


def _errored(specs: Iterable[ExpectationSpec], message: str) -> dict[str, CheckResult]:
    return {e.check: CheckResult.errored(message, expectation=e.expectation) for e in specs}


def _build(suite: SuiteSpec, wh: Warehouse) -> tuple[Any, dict[str, _Built], dict[str, CheckResult]]:
    """The GX suite, the expectations in it, and errors for those that could not be built."""
    gx_suite = gx.ExpectationSuite(name=suite.name)
    built: dict[str, _Built] = {}
    errors: dict[str, CheckResult] = {}
    for spec in suite.expectations:
        try:
            kwargs, extra = _resolve(spec, wh)
            exp = _expectation(suite, spec, kwargs)
        except QualityError as exc:
            errors[spec.check] = CheckResult.errored(str(exc), expectation=spec.expectation)
            continue
        gx_suite.add_expectation(exp)
        built[spec.check] = _Built(spec, exp, kwargs, extra)
    return gx_suite, built, errors


def validate_suite(
    suite: SuiteSpec, wh: Warehouse, partition: str | None = None, scope: Scope | None = None
) -> dict[str, CheckResult]:
    """Validate the whole suite once; one CheckResult per expectation, keyed by check name.
    `scope` (default: `partition`, else the whole table) says which rows."""
    scope = scope or Scope(partition=partition)
    with _lock:
        try:
            with _batch(wh, suite, scope) as (batch, target):
                return _validate(suite, wh, batch, target)
        except QualityError as exc:
            return _errored(suite.expectations, str(exc))


def _validate(suite: SuiteSpec, wh: Warehouse, batch: Any, target: str) -> dict[str, CheckResult]:
    gx_suite, built, out = _build(suite, wh)
    if not built:
        return out
    try:
        res = batch.validate(gx_suite, result_format=_SUMMARY)
    except Exception as exc:
        reason = f"validation of {suite.name} raised: {_first_line(exc, wh)}"
        return {**out, **_errored([b.spec for b in built.values()], reason)}
    with_unexpected: list[_Built] = []
    for vr in res.results:
        b = built.get((vr.expectation_config.meta or {}).get("check"))
        if b is None:
            continue
        out[b.spec.check] = result = _to_result(suite, b, vr, target)
        if result.metadata.get("unexpected_count") and "element_count" in result.metadata:
            with_unexpected.append(b)
    missing = [b.spec for check, b in built.items() if check not in out]
    out.update(_errored(missing, f"GX returned no result for this expectation of {suite.name}"))
    _attach_samples(suite, batch, with_unexpected, out)
    return out


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def expectation_result(suite: SuiteSpec, check: str, context: Any) -> CheckResult:
    """The result of one expectation of `suite` for this run (validating the suite if needed)."""
    wh: Warehouse = context.warehouse
    scope = Scope.of(suite, context)
    key = (_source_name(wh), context.run_id, suite.name, scope)
    with _lock:
        entry = _cache.get(key)
        if entry is None or check not in entry.pending:
            results = validate_suite(suite, wh, scope=scope)
            entry = _Validation(results=results, pending={e.check for e in suite.expectations})
            _cache[key] = entry
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        entry.pending.discard(check)
        if not entry.pending:
            _cache.pop(key, None)
        result = entry.results.get(check)
    if result is None:
        return CheckResult.errored(f"no expectation {check!r} in suite {suite.name}")
    return result
