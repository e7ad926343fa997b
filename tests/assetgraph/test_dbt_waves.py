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
