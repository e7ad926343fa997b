"""A small Python-only graph for runner tests. CALLS records which functions ran."""

from assetgraph import CheckResult, MaterializeResult, asset, asset_check
from assetgraph.specs import DailyPartitions

CALLS: list[str] = []
FLAKY = {"remaining_failures": 0, "deterministic": False}
CHECK_SHOULD_FAIL = {"value": True}


@asset("raw/people", tags=["nightly"], partitions=DailyPartitions("2026-01-01"))
def people(context):
    CALLS.append(f"raw/people[{context.partition}]")
    return MaterializeResult(row_count=10, metadata={"partition": context.partition})


@asset("marts/assignments", deps=["raw/people"], retries=2)
def assignments(context):
    CALLS.append("marts/assignments")
    if FLAKY["remaining_failures"] > 0:
        FLAKY["remaining_failures"] -= 1
        if FLAKY["deterministic"]:
            raise ValueError("assignments.csv: column 'van_id' is not a number")
        raise ConnectionError("transient warehouse hiccup")
    return MaterializeResult(row_count=7)


@asset_check("marts/assignments", blocking=True)
def van_id_unique(context):
    if CHECK_SHOULD_FAIL["value"]:
        return CheckResult.failed("2 duplicated van_ids", duplicates=2)
    return CheckResult.passed()


@asset_check("marts/assignments", blocking=False)
def volume_warning(context):
    return CheckResult.failed("volume looks low (warn only)")


@asset("sync/codes", deps=["marts/assignments"], kind="sync", tags=["nightly"], supports_dry_run=True)
def codes(context):
    if context.dry_run:
        return MaterializeResult(metadata={"would_apply": 7})
    CALLS.append("sync/codes")
    return MaterializeResult(row_count=7)


@asset("raw/broken")
def broken(context):
    CALLS.append("raw/broken")
    raise ValueError("file signups.csv line 3: missing column 'email'")


@asset("marts/after_broken", deps=["raw/broken"])
def after_broken(context):
    CALLS.append("marts/after_broken")
    return MaterializeResult(row_count=1)
