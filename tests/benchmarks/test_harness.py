"""The benchmark harness: goals, the table, results.json, a failing benchmark, one real run."""

import json
import shutil

import pytest

from benchmarks.__main__ import BENCHMARKS
from benchmarks.harness import Benchmark, Measure, render_table, run_all, write_results


def test_ratio_and_goals():
    faster = Measure("P1", "landing", 800.0, 1000.0, "psql", "rows/s", ">= 0.7")
    assert faster.ratio == pytest.approx(0.8) and faster.goal_met is True
    slower = Measure("P4", "overhead", 3.0, 2.0, "dbt build", "s", "<= 1.25")
    assert slower.ratio == pytest.approx(1.5) and slower.goal_met is False
    assert Measure("P2", "memory", 3.0, None, "", "MiB").ratio is None
    assert Measure("P2", "memory", 3.0, None, "", "MiB").goal_met is None


def test_a_failing_benchmark_is_shown_and_the_others_still_run(tmp_path, capsys):
    def broken(quick):
        raise RuntimeError("warehouse went away")

    def fine(quick):
        return [Measure("P9", "fine", 1.0, 4.0, "base", "s", "<= 0.5")]

    measures = run_all([Benchmark(("P8",), "broken", broken), Benchmark(("P9",), "fine", fine)], quick=True)
    assert [(m.id, m.status) for m in measures] == [("P8", "FAILED"), ("P9", "measured")]
    assert "warehouse went away" in measures[0].detail
    table = render_table(measures)
    assert "FAILED" in table and "0.25x" in table and "yes" in table

    out = tmp_path / "results.json"
    write_results(out, measures, quick=True, argv=["--quick"])
    data = json.loads(out.read_text())
    assert data["quick"] is True and data["machine"]["cores"] >= 1 and data["machine"]["python"]
    assert data["measures"][1]["ratio"] == 0.25 and data["measures"][1]["goal_met"] is True


def test_only_selects_measures():
    seen = []
    bench = [Benchmark(("P1",), "a", lambda q: seen.append("a") or []), Benchmark(("P3", "P4"), "b", lambda q: seen.append("b") or [])]
    run_all(bench, quick=True, only=["p4"])
    assert seen == ["b"]


def test_every_issue_measure_has_a_benchmark():
    ids = {i for b in BENCHMARKS for i in b.ids}
    assert {"P1", "P2", "P3", "P4", "P5", "P6", "P7", "M1"} <= ids


@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium not installed (CI installs it)")
def test_a_real_benchmark_through_the_harness():
    (m,) = run_all(BENCHMARKS, quick=True, only=["P7"])
    assert m.status == "measured" and m.unit == "s"
    assert 0 < m.ours < m.baseline  # a 500-model catalog page loads well inside the 2 s bound
