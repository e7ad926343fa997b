"""The dbt wave: ready dbt steps announced together are built by one invocation.

Real threads and a recording stand-in for the dbt call (the dbt side is covered end to end
in tests/test_gate_end_to_end.py, which counts the real invocations of a run)."""

import threading

import pytest

from assetgraph.execution._dbt import DbtRunResult, _Wave


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, selectors):
        with self.lock:
            self.calls.append(list(selectors))
            n = len(self.calls)
        if self.fail:
            raise RuntimeError(f"invocation {n} broke")
        return DbtRunResult(True, invocation=n, selected=tuple(selectors))


def serve_all(wave, selectors, run):
    results, errors = {}, {}

    def one(sel):
        try:
            results[sel] = wave.serve(sel, run)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors[sel] = exc

    threads = [threading.Thread(target=one, args=(s,)) for s in selectors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results, errors


def test_an_announced_wave_is_one_invocation_whoever_arrives_first():
    wave, run = _Wave(), Recorder()
    wave.expect(["a", "b", "c"])
    results, errors = serve_all(wave, ["c", "a", "b"], run)
    assert not errors
    assert len(run.calls) == 1 and sorted(run.calls[0]) == ["a", "b", "c"]
    assert {r.invocation for r in results.values()} == {1}


def test_a_late_step_gets_the_result_its_wave_already_built():
    wave, run = _Wave(), Recorder()
    wave.expect(["a", "b"])
    first = wave.serve("a", run)
    second = wave.serve("b", run)  # b's task started after the wave ran: no second build
    assert run.calls == [["a", "b"]]
    assert first is second


def test_a_retry_or_an_unannounced_step_runs_alone():
    wave, run = _Wave(), Recorder()
    wave.expect(["a", "b"])
    wave.serve("a", run)
    wave.serve("b", run)
    wave.serve("a", run)  # a retry of a: nothing announced any more
    wave.serve("z", run)  # never announced
    assert run.calls == [["a", "b"], ["a"], ["z"]]


def test_a_failed_invocation_fails_every_step_of_its_wave():
    wave, run = _Wave(), Recorder(fail=True)
    wave.expect(["a", "b"])
    with pytest.raises(RuntimeError, match="invocation 1 broke"):
        wave.serve("a", run)
    with pytest.raises(RuntimeError, match="invocation 1 broke"):
        wave.serve("b", run)
    assert run.calls == [["a", "b"]]


def test_waves_announced_separately_do_not_wait_for_each_other():
    wave, run = _Wave(), Recorder()
    wave.expect(["a"])
    wave.serve("a", run)
    wave.expect(["b", "c"])
    results, errors = serve_all(wave, ["b", "c"], run)
    assert not errors
    assert run.calls == [["a"], ["b", "c"]]
    assert results["b"] is results["c"]


# Which pending steps join a batch (`plan.joinable_below`): a pure function over steps.

from assetgraph.execution.plan import Step, joinable_below  # noqa: E402
from assetgraph.keys import AssetKey  # noqa: E402


def _step(name, *upstream):
    return Step(AssetKey.from_user_string(name), None, tuple(upstream))


def _join(pending, batch, python=(), gx_checked=(), finished=(), held=()):
    return [s.id for s in joinable_below(
        pending, batch,
        joins=lambda s: s.id not in python and s.id not in held,
        passes_on=lambda s: s.id not in gx_checked,
        finished_ok=lambda sid: sid in finished,
    )]


def test_a_chain_gated_only_by_dbt_tests_joins_the_batch():
    seed, stg = _step("seeds/map"), _step("staging/stg")
    mid, mart = _step("int/mid", "staging/stg", "seeds/map"), _step("marts/mart", "int/mid")
    assert _join([mid, mart], [seed, stg]) == ["int/mid", "marts/mart"]


def test_nothing_joins_below_an_asset_with_a_check_dbt_does_not_run():
    stg, mid, mart = _step("staging/stg"), _step("int/mid", "staging/stg"), _step("marts/mart", "int/mid")
    # the GX suite on int/mid must pass before the mart is built: the mart waits for its own wave
    assert _join([mid, mart], [stg], gx_checked={"int/mid"}) == ["int/mid"]


def test_a_step_below_a_pending_python_step_waits():
    seed, raw = _step("seeds/map"), _step("raw/rows")
    stg = _step("staging/stg", "raw/rows", "seeds/map")
    assert _join([raw, stg], [seed], python={"raw/rows"}) == []
    # once the Python step has finished well, the staging model can join a later batch
    assert _join([stg], [seed], finished={"raw/rows"}) == ["staging/stg"]


def test_a_step_whose_upstream_failed_or_is_held_never_joins():
    a, b = _step("staging/a"), _step("staging/b")
    c = _step("int/c", "staging/a", "staging/b")
    assert _join([c], [a]) == []  # staging/b neither in the batch nor finished (or it failed)
    assert _join([c], [a, b], held={"int/c"}) == []  # an unselected parent's failing check


def test_a_later_announcement_sees_what_still_waits_and_shares_its_invocation():
    wave, run = _Wave(), Recorder()
    wave.expect(["staging/a"])
    seen = []
    wave.expect(lambda waiting: seen.append(set(waiting)) or ["staging/b", "int/c"])
    results, errors = serve_all(wave, ["staging/a", "staging/b", "int/c"], run)
    assert not errors and seen[0] == {"staging/a"}  # asked again when the batch starts (below)
    assert len(run.calls) == 1 and sorted(run.calls[0]) == ["int/c", "staging/a", "staging/b"]


def test_an_announcement_is_asked_again_when_its_batch_starts():
    # staging/b's wave is announced while staging/a's invocation runs; int/c (below both) can
    # only join once staging/a has passed, which is known when staging/b's batch starts
    wave, run = _Wave(), Recorder()
    a_passed = threading.Event()
    wave.expect(["staging/a"])
    assert wave.serve("staging/a", run).selected == ("staging/a",)
    wave.expect(lambda waiting: ["staging/b"] + (["int/c"] if a_passed.is_set() else []))
    a_passed.set()  # e.g. the invocation's results now show staging/a's node and tests passed
    results, errors = serve_all(wave, ["staging/b", "int/c"], run)
    assert not errors
    assert [sorted(c) for c in run.calls] == [["staging/a"], ["int/c", "staging/b"]]
    assert results["int/c"] is results["staging/b"]


def test_a_node_a_batch_built_is_not_built_again_when_announced_later():
    # int/c joined staging/b's batch; when its own step becomes ready the orchestrator
    # announces it again: its step finds the result, and no later batch rebuilds it
    wave, run = _Wave(), Recorder()
    wave.expect(["staging/b", "int/c"])
    built = wave.serve("staging/b", run)
    wave.expect(lambda waiting: ["int/c"])
    assert wave.serve("int/c", run) is built
    wave.expect(["marts/m"])
    wave.serve("marts/m", run)
    assert run.calls == [["staging/b", "int/c"], ["marts/m"]]
