"""`plan_retry`: what a retry runs, from a run's recorded rows (pure; no warehouse, no Prefect)."""

import pytest

from assetgraph.catalog import CheckRow, RunRecord, StepRow
from assetgraph.config import Settings
from assetgraph.execution.plan import Plan, Step, restrict_plan
from assetgraph.execution.retry import plan_retry
from assetgraph.keys import AssetKey
from assetgraph.loader import load_project
from tests.assetgraph.cases import toy_assets  # noqa: F401 - the graph's module


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    return load_project(Settings(root=root, modules=("tests.assetgraph.cases.toy_assets",), dbt_project_dir=None,
                                 dbt_profiles_dir=root, dbt_target="dev"))


def run(partitions=(), metadata=None, status="failed"):
    return RunRecord("r1", "+sync/codes", tuple(partitions), status, None, None, "cli", "", None, metadata or {})


def version(project, key):
    return project.graph.spec(AssetKey.from_user_string(key)).code_version


def test_a_failed_partition_reruns_alone_and_its_downstream_waits_only_for_it(toy):
    rows = [
        StepRow("raw/people", "2026-11-01", "success", version(toy, "raw/people")),
        StepRow("raw/people", "2026-11-02", "failed", version(toy, "raw/people")),
        StepRow("marts/assignments", None, "skipped", version(toy, "marts/assignments")),
        StepRow("sync/codes", None, "skipped", version(toy, "sync/codes")),
    ]
    plan = plan_retry(toy, run(["2026-11-01", "2026-11-02"]), rows, [])
    assert [(s.id, s.upstream) for s in plan.plan.steps] == [
        ("raw/people[2026-11-02]", ()),
        ("marts/assignments", ("raw/people[2026-11-02]",)),
        ("sync/codes", ("marts/assignments",)),
    ]
    assert plan.plan.partitions == ("2026-11-02",)
    assert not plan.changed


def test_a_run_that_died_reruns_what_never_started(toy):
    meta = {"steps": {"keys": ["raw/people", "marts/assignments", "sync/codes"]}}
    rows = [StepRow("raw/people", None, "success", version(toy, "raw/people"))]
    plan = plan_retry(toy, run(metadata=meta, status="running"), rows, [])
    assert [(i.step_id, i.reason) for i in plan.items] == [("marts/assignments", "not run"), ("sync/codes", "not run")]


def test_changed_code_reruns_a_step_that_succeeded_and_says_so(toy):
    rows = [
        StepRow("raw/people", None, "success", "src-older"),
        StepRow("marts/assignments", None, "success", version(toy, "marts/assignments")),
        StepRow("sync/codes", None, "failed", version(toy, "sync/codes")),
        StepRow("raw/gone", None, "failed", None),
    ]
    plan = plan_retry(toy, run(), rows, [])
    assert [(i.step_id, i.reason) for i in plan.items] == [("raw/people", "code changed"), ("sync/codes", "failed")]
    assert plan.changed[0].code_changed == f"src-older -> {version(toy, 'raw/people')}"
    assert plan.dropped == ("raw/gone",)


def test_failed_blocking_checks_are_rechecked_and_overrides_kept(toy):
    rows = [
        StepRow("marts/assignments", None, "success", version(toy, "marts/assignments")),
        StepRow("sync/codes", None, "skipped", version(toy, "sync/codes")),
    ]
    checks = [
        CheckRow("marts/assignments", "van_id_unique", None, True, "failed"),
        CheckRow("marts/assignments", "volume_warning", None, False, "failed"),  # warn: blocks nothing
    ]
    meta = {"options": {"allow_failed_checks": ["marts/assignments:volume_warning", "gone:check"],
                        "full_refresh": True}}
    plan = plan_retry(toy, run(metadata=meta), rows, checks)
    assert [(s.id, s.recheck) for s in plan.plan.steps] == [
        ("marts/assignments", ("van_id_unique",)), ("sync/codes", ()),
    ]
    assert plan.allow_failed_checks == ("marts/assignments:volume_warning",) and plan.full_refresh
    # a checks-only step of that retry whose check failed again is rechecked again, not rebuilt
    meta2 = {"steps": {"keys": ["marts/assignments", "sync/codes"], "recheck": {"marts/assignments": ["van_id_unique"]}}}
    again = plan_retry(toy, run(metadata=meta2), [StepRow("sync/codes", None, "skipped", None)],
                       [CheckRow("marts/assignments", "van_id_unique", None, True, "failed")])
    assert [(s.id, s.recheck) for s in again.plan.steps] == [
        ("marts/assignments", ("van_id_unique",)), ("sync/codes", ()),
    ]


def test_a_failed_unit_test_rebuilds_its_model(toy):
    rows = [StepRow("marts/assignments", None, "success", version(toy, "marts/assignments"))]
    checks = [CheckRow("marts/assignments", "van_id_unique", None, True, "failed", "dbt_unit_test")]
    plan = plan_retry(toy, run(), rows, checks)
    assert [(s.id, s.recheck) for s in plan.plan.steps] == [("marts/assignments", ())]  # dbt skipped the build


def test_nothing_to_retry_after_a_clean_run(toy):
    rows = [StepRow(k, None, "success", version(toy, k)) for k in ("marts/assignments", "sync/codes")]
    plan = plan_retry(toy, run(status="success"), rows, [])
    assert plan.items == () and plan.plan.steps == ()


def test_restrict_plan_reconnects_through_dropped_steps():
    a, b, c = (AssetKey.from_user_string(k) for k in ("x/a", "x/b", "x/c"))
    plan = Plan((Step(a, None, ()), Step(b, None, ("x/a",)), Step(c, None, ("x/b",))), ())
    kept = restrict_plan(plan, {"x/a": (), "x/c": ("chk",)})
    assert [(s.id, s.upstream, s.recheck) for s in kept.steps] == [("x/a", (), ()), ("x/c", ("x/a",), ("chk",))]
