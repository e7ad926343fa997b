"""One dbt invocation for a chain of dbt assets, with the real dbt worker on the second
project: what dbt's build skips and what the asset layer decides must still agree."""

from assetgraph.config import load_settings
from assetgraph.execution import AssetStatus, materialize
from assetgraph.loader import load_project
from assetgraph.warehouse import connect
from tests.assetgraph.cases.second_project import write_project

COUNTRY_IS_US = "base/base_orders:accepted_values_base_orders_country__US"


def _with_failing_test(root):
    (root / "models" / "base" / "base_orders.yml").write_text(
        "version: 2\nmodels:\n  - name: base_orders\n    columns:\n      - name: country\n"
        "        tests:\n          - accepted_values:\n              values: ['US']\n"
    )


def test_a_chain_is_one_invocation_and_an_allowed_failure_still_builds_below(tmp_path, shop_env, prefect_api):
    project = load_project(load_settings())
    report = materialize(project, "*", warehouse=shop_env)
    assert report.succeeded, [(str(o.key), o.message) for o in report.outcomes]
    assert len({o.metadata["dbt_invocation"] for o in report.outcomes}) == 1  # seed, view, table: one build

    # a blocking dbt test on base_orders fails (CA): dbt's build skips the table below it, and
    # so does the asset layer
    _with_failing_test(tmp_path / "shop")
    project = load_project(load_settings())
    with connect(shop_env) as conn, conn.cursor() as cur:
        cur.execute("update shop_raw.orders set amount = amount + 1")
    report = materialize(project, "*", warehouse=shop_env)
    by_key = {str(o.key): o for o in report.outcomes}
    assert [str(c.key) for c in by_key["base/base_orders"].checks if c.blocks] == [COUNTRY_IS_US]
    assert by_key["reporting/revenue_by_country"].status is AssetStatus.SKIPPED
    with connect(shop_env) as conn, conn.cursor() as cur:
        cur.execute("select sum(revenue) from shop.revenue_by_country")
        assert cur.fetchone()[0] == 22  # the last good table is untouched

    # an operator allows the failed test: the table is built after all, by its own invocation,
    # although the shared build had skipped it
    report = materialize(project, "*", warehouse=shop_env, allow_failed_checks=[COUNTRY_IS_US])
    by_key = {str(o.key): o for o in report.outcomes}
    revenue = by_key["reporting/revenue_by_country"]
    assert report.succeeded and revenue.status is AssetStatus.SUCCESS
    assert revenue.metadata["dbt_invocation"] > by_key["base/base_orders"].metadata["dbt_invocation"]
    with connect(shop_env) as conn, conn.cursor() as cur:
        cur.execute("select sum(revenue) from shop.revenue_by_country")
        assert cur.fetchone()[0] == 25


def test_a_step_counts_as_through_once_its_node_and_blocking_tests_passed_in_an_ended_invocation(
        tmp_path, shop_env):
    # what lets a step below start (and join a batch) before its parent's task has finished:
    # decided from the parent's last ended invocation only (no worker runs here)
    from assetgraph.execution._dbt import DbtInvoker, DbtNodeResult, DbtRunResult
    from assetgraph.execution.runner import plan_selection
    from assetgraph.execution.steps import RunContext, passed_in_dbt

    _with_failing_test(tmp_path / "shop")
    project = load_project(load_settings())
    steps = {str(s.key): s for s in plan_selection(project, "*").steps}
    base = steps["base/base_orders"]
    base_uid = project.graph.spec(base.key).metadata["dbt_unique_id"]
    test_uid = project.dbt.node_for_check[next(k for k in project.graph.checks if str(k) == COUNTRY_IS_US)]
    selector = f"path:{project.graph.spec(base.key).metadata['path']}"

    def ctx_after(node_status, test_status, allowed=()):
        invoker = DbtInvoker(tmp_path, tmp_path, "dev")
        nodes = (DbtNodeResult(base_uid, "model", node_status, "", None, 3, 0.1),
                 DbtNodeResult(test_uid, "test", test_status, "", 1 if test_status == "fail" else 0, None, 0.1))
        invoker.latest[selector] = DbtRunResult(True, nodes=nodes, invocation=1, selected=(selector,))
        return RunContext(project=project, warehouse=shop_env, run_id="r", dbt=invoker,
                          allow_failed_checks=frozenset(allowed))

    assert passed_in_dbt(ctx_after("success", "pass"), base)
    assert not passed_in_dbt(ctx_after("success", "fail"), base)  # its blocking test failed
    assert passed_in_dbt(ctx_after("success", "fail", [COUNTRY_IS_US]), base)  # the operator allowed it
    assert not passed_in_dbt(ctx_after("skipped", "skipped"), base)  # dbt skipped it
    assert not passed_in_dbt(ctx_after("error", "skipped"), base)
    empty = RunContext(project=project, warehouse=shop_env, run_id="r", dbt=DbtInvoker(tmp_path, tmp_path, "dev"))
    assert not passed_in_dbt(empty, base)  # no invocation of it has ended yet
