"""The volume circuit breaker against seeded catalog history (real Postgres)."""

from __future__ import annotations

import datetime as dt

import pytest

from assetgraph import catalog
from assetgraph.specs import CheckStatus
from quality import checks
from quality.breaker import BreakerConfig, decide
from quality.errors import ConfigValueError
from tests.quality.conftest import run_checks, sql


def _seed_syncs(wh, counts, *, use_metadata=False):
    catalog.ensure_catalog(wh)
    now = dt.datetime(2026, 1, 20, 3, 0)
    for i, n in enumerate(counts):
        at = now - dt.timedelta(days=len(counts) - i)
        catalog.record_materialization(
            wh, run_id=f"hist-{i}", asset_key="sync/van_source_codes", partition_key=None,
            status="success", started_at=at, finished_at=at,
            row_count=None if use_metadata else n, metadata={"applied": n} if use_metadata else {},
        )
    # failures never count towards the baseline
    catalog.record_materialization(
        wh, run_id="hist-failed", asset_key="sync/van_source_codes", partition_key=None,
        status="failed", started_at=now, finished_at=now, row_count=100_000,
    )


def _mart_rows(wh, n):
    sql(wh, "delete from marts.van_source_code_assignments")
    sql(wh, "insert into marts.van_source_code_assignments"
            " select g, 101, 'form', 'f1', null, now() from generate_series(1, %s) as g", (n,))


def test_a_tenfold_jump_trips_the_breaker(contract, monkeypatch):
    for var in ("CIRCUIT_BREAKER_FACTOR", "CIRCUIT_BREAKER_MAX_ROWS", "CIRCUIT_BREAKER_MIN_ROWS"):
        monkeypatch.delenv(var, raising=False)
    _seed_syncs(contract, [1] * 3 + [150] * 7, use_metadata=True)  # only the last 7 count
    _mart_rows(contract, 1500)
    (res,) = run_checks([checks.volume_circuit_breaker], contract, "tonight").values()
    assert checks.volume_circuit_breaker.spec.blocking
    assert res.status is CheckStatus.FAILED
    assert res.metadata["tonight"] == 1500 and res.metadata["baseline"] == 150.0
    assert res.metadata["limit"] == 450 and res.metadata["history_runs"] == 7
    assert "1,500" in res.message and "150.0" in res.message and "450" in res.message

    _mart_rows(contract, 400)
    (ok,) = run_checks([checks.volume_circuit_breaker], contract, "tonight-2").values()
    assert ok.status is CheckStatus.PASSED, ok.message

    monkeypatch.setenv("CIRCUIT_BREAKER_FACTOR", "2")
    (stricter,) = run_checks([checks.volume_circuit_breaker], contract, "tonight-3").values()
    assert stricter.status is CheckStatus.FAILED and stricter.metadata["limit"] == 300


def test_without_history_only_the_cap_applies(contract, monkeypatch):
    monkeypatch.setenv("CIRCUIT_BREAKER_MAX_ROWS", "1000")
    _mart_rows(contract, 1000)
    (res,) = run_checks([checks.volume_circuit_breaker], contract, "first-night").values()
    assert res.status is CheckStatus.PASSED and res.metadata["baseline"] is None
    _mart_rows(contract, 1001)
    (res,) = run_checks([checks.volume_circuit_breaker], contract, "first-night-2").values()
    assert res.status is CheckStatus.FAILED and "no successful syncs" in res.message
    monkeypatch.setenv("CIRCUIT_BREAKER_FACTOR", "lots")
    (bad,) = run_checks([checks.volume_circuit_breaker], contract, "bad-config").values()
    assert bad.status is CheckStatus.ERROR and "CIRCUIT_BREAKER_FACTOR" in bad.message


def test_decision_rules():
    cfg = BreakerConfig(factor=3, max_rows=50_000, min_rows=100, history=7)
    assert not decide(90, [2, 3], cfg).tripped  # tiny baseline: the floor applies
    assert decide(101, [2, 3], cfg).tripped
    assert decide(60_000, [30_000] * 7, cfg).tripped  # the cap wins over the factor
    assert decide(50_000, [], cfg).limit == 50_000
    with pytest.raises(ConfigValueError):
        BreakerConfig.from_env({"CIRCUIT_BREAKER_MAX_ROWS": "-1"})
