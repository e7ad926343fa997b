"""The benchmark harness: goals, the table, results.json, a failing benchmark, sizes, and a real
run of `python -m benchmarks --quick --only P5` (two CLIs as subprocesses, ~20 s)."""

import json
import shutil

import pytest

from benchmarks.__main__ import BENCHMARKS, EXPECTED, main
from benchmarks.harness import NOT_YET, Benchmark, Measure, render_markdown, render_table, run_all, write_results


def test_ratio_and_goals():
    faster = Measure("P1", "landing", 800.0, 1000.0, "psql", "rows/s", ">= 0.7")
    assert faster.ratio == pytest.approx(0.8) and faster.goal_met is True
    slower = Measure("P4", "overhead", 3.0, 2.0, "dbt build", "s", "<= 1.25")
    assert slower.ratio == pytest.approx(1.5) and slower.goal_met is False
    assert Measure("P2", "memory", 3.0, None, "", "MiB").ratio is None
    assert Measure("P2", "memory", 3.0, None, "", "MiB").goal_met is None


def test_a_failing_benchmark_is_shown_and_the_others_still_run(tmp_path):
    def broken(sizes, ids):
        raise RuntimeError("warehouse went away")

    def fine(sizes, ids):
        return [Measure("P9", "fine", 1.0, 4.0, "base", "s", "<= 0.5", detail=f"rows={sizes['rows']}")]

    runs = run_all([Benchmark(("P8",), "broken", broken), Benchmark(("P9",), "fine", fine, {"rows": 10})], quick=True,
                   expected=["P8", "P9", "P10"])
    measures = [m for r in runs for m in r.measures]
    assert [(m.id, m.status) for m in measures] == [("P8", "FAILED"), ("P9", "measured"), ("P10", NOT_YET)]
    assert "warehouse went away" in measures[0].detail
    table = render_table(measures)
    assert "FAILED" in table and "0.25x" in table and "yes" in table and NOT_YET in table

    out = tmp_path / "results.json"
    write_results(out, runs, quick=True, argv=["--quick"])
    data = json.loads(out.read_text())
    assert data["quick"] is True and data["machine"]["cores"] >= 1 and data["machine"]["python"]
    assert data["measures"][1]["ratio"] == 0.25 and data["measures"][1]["goal_met"] is True
    assert data["measures"][2]["status"] == NOT_YET
    assert {"ids": ["P9"], "title": "fine", "sizes": {"rows": 10}}.items() <= data["benchmarks"][1].items()

    # the README's table comes from the same file: `python -m benchmarks --markdown results.json`
    md = render_markdown(data).splitlines()
    assert md[2].startswith("| P8 | broken | FAILED |")
    assert md[3] == "| P9 | fine | 1 s | 4 s (base) | 0.25× | <= 0.5 | yes |"
    assert md[4].startswith(f"| P10 | - | {NOT_YET} |")
    assert md[-1].startswith("`python -m benchmarks --quick` (--quick: tiny sizes") and "cores" in md[-1]


def test_only_selects_measures_and_tells_the_benchmark_which():
    seen = []
    bench = [Benchmark(("P1",), "a", lambda s, ids: seen.append(("a", ids)) or []),
             Benchmark(("P3", "P4"), "b", lambda s, ids: seen.append(("b", ids)) or [])]
    run_all(bench, quick=True, only=["p4"])
    assert seen == [("b", frozenset({"P4"}))]


def test_sizes_default_quick_and_overrides():
    b = Benchmark(("P1",), "a", lambda s, ids: [], {"rows": 1_000_000, "repeat": 3, "on": "small"}, {"rows": 100})
    assert b.sizes_for(False) == {"rows": 1_000_000, "repeat": 3, "on": "small"}
    assert b.sizes_for(True) == {"rows": 100, "repeat": 3, "on": "small"}
    assert b.sizes_for(True, {"repeat": "5", "on": "big", "other": "1"}) == {"rows": 100, "repeat": 5, "on": "big"}


def test_bool_sizes_parse_their_text():
    b = Benchmark(("P2",), "a", lambda s, ids: [], {"with_big": True})
    assert b.sizes_for(False, {"with_big": "false"}) == {"with_big": False}
    assert b.sizes_for(False, {"with_big": "yes"}) == {"with_big": True}
    with pytest.raises(ValueError, match="true or false"):
        b.sizes_for(False, {"with_big": "maybe"})


def test_every_issue_measure_has_a_benchmark():
    ids = {i for b in BENCHMARKS for i in b.ids}
    assert set(EXPECTED) <= ids and {"P1", "P2", "P3", "P4", "P5", "P6", "M1"} <= set(EXPECTED)
    for b in BENCHMARKS:  # every benchmark has default sizes and --quick ones that are smaller or equal
        assert b.sizes, b.title
        for key, value in b.quick.items():
            assert key in b.sizes and value <= b.sizes[key], (b.title, key)


def test_quick_run_of_a_real_measure_through_the_command(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["--quick", "--only", "P5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())

    machine = data["machine"]
    assert machine["cpu"] and machine["cores"] >= 1 and machine["memory_gib"] > 0
    assert machine["python"].startswith("3.") and machine["os"] and machine["date"]
    assert data["quick"] is True and data["command"] == "python -m benchmarks --quick --only P5 --out " + str(out)
    (bench,) = data["benchmarks"]
    assert bench["ids"][:3] == ["P3", "P4", "P5"] and bench["sizes"]["cli_repeat"] == 3 and bench["seconds"] > 0

    by_name = {m["name"]: m for m in data["measures"]}
    assert {m["id"] for m in data["measures"]} == {"P5"}
    ratio = by_name["assetgraph list vs dbt ls"]
    assert ratio["status"] == "measured" and ratio["unit"] == "s" and ratio["goal"] == "<= 0.5"
    assert 0 < ratio["ours"] < 30 and 0 < ratio["baseline"] < 60
    assert ratio["ratio"] == pytest.approx(ratio["ours"] / ratio["baseline"])
    assert isinstance(ratio["goal_met"], bool)
    bound = by_name["assetgraph list vs the 1.5 s bound"]
    assert bound["ours"] == ratio["ours"] and bound["baseline"] == 1.5 and bound["baseline_name"] == "bound"

    for column in ("id", "measure", "ours", "baseline", "ratio", "goal", "met"):
        assert column in printed
    assert "assetgraph list vs dbt ls" in printed and f"{ratio['ratio']:.2f}x" in printed


@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium not installed (CI installs it)")
def test_a_real_benchmark_through_the_harness():
    (run,) = run_all(BENCHMARKS, quick=True, only=["P7"])
    (m,) = run.measures
    assert m.status == "measured" and m.unit == "s"
    assert 0 < m.ours < m.baseline  # a 500-model catalog page loads well inside the 2 s bound


def test_quick_landing_measures_every_peer_with_its_goal():
    """P1 at --quick size for real: ours, Postgres alone, dlt, parsons, pandas and psql."""
    (run,) = run_all(BENCHMARKS, quick=True, only=["P1"])
    by_name = {m.name: m for m in run.measures}
    goals = {name: m.goal for name, m in by_name.items()}
    assert goals == {
        "landing signups vs Postgres alone on the same contract": ">= 0.9",
        "landing signups vs dlt (postgres destination)": ">= 2",
        "landing signups vs parsons (Table.from_csv + Postgres.copy)": ">= 2",
        "landing signups vs pandas to_sql": ">= 10",
        "landing signups vs psql \\copy into a text table": "",  # retired goal: context only
        "Postgres alone (our COPY data) vs psql \\copy": "",
    }
    for m in run.measures:
        assert m.status == "measured" and m.unit == "rows/s" and m.ours > 0 and m.baseline > 0, m
        assert (m.goal_met is None) == (not m.goal)
    ours = {m.ours for m in run.measures if m.name.startswith("landing signups")}
    assert len(ours) == 1  # every line compares the same measurement of our landing
