"""Each selector method and the graph walks, against a small in-memory graph."""

import pytest

from assetgraph.errors import UnknownAssetError
from assetgraph.graph import AssetGraph
from assetgraph.keys import AssetKey
from assetgraph.selection import METHODS, parse, resolve, select
from assetgraph.specs import AssetSpec


@pytest.fixture(scope="module")
def graph():
    s = AssetSpec.create
    return AssetGraph.build(
        [
            s("raw/signups", tags=["nightly"], owners=["ana"]),
            s("raw/event_attendances", tags=["nightly"]),
            s("staging/stg_signups", deps=["raw/signups"], kind="dbt"),
            s("staging/stg_events", deps=["raw/event_attendances"], kind="dbt"),
            s("intermediate/int_first_touch", deps=["staging/stg_signups", "staging/stg_events"], kind="dbt"),
            s("marts/assignments", deps=["intermediate/int_first_touch"], kind="dbt", owners=["ben"]),
            s("sync/codes", deps=["marts/assignments"], kind="sync", tags=["nightly"]),
            s("seeds/code_map", kind="dbt"),
        ]
    )


def keys(graph, text):
    return {str(k) for k in resolve(parse(text), graph)}


def test_key(graph):
    assert keys(graph, "raw/signups") == {"raw/signups"}


def test_key_glob(graph):
    assert keys(graph, "raw/*") == {"raw/signups", "raw/event_attendances"}


def test_tag(graph):
    assert keys(graph, "tag:nightly") == {"raw/signups", "raw/event_attendances", "sync/codes"}


def test_group(graph):
    assert keys(graph, "group:staging") == {"staging/stg_signups", "staging/stg_events"}


def test_kind(graph):
    assert keys(graph, "kind:sync") == {"sync/codes"}


def test_owner(graph):
    assert keys(graph, "owner:ben") == {"marts/assignments"}


def test_every_registered_method_has_a_test():
    names = {n.removeprefix("test_") for n in globals() if n.startswith("test_")}
    assert set(METHODS) <= names


def test_all_upstream(graph):
    assert keys(graph, "+marts/assignments") == {
        "raw/signups", "raw/event_attendances", "staging/stg_signups", "staging/stg_events",
        "intermediate/int_first_touch", "marts/assignments",
    }


def test_all_downstream(graph):
    assert keys(graph, "raw/signups+") == {
        "raw/signups", "staging/stg_signups", "intermediate/int_first_touch", "marts/assignments", "sync/codes",
    }


def test_n_layers(graph):
    assert keys(graph, "1+intermediate/int_first_touch") == {
        "intermediate/int_first_touch", "staging/stg_signups", "staging/stg_events",
    }
    assert keys(graph, "raw/signups+2") == {"raw/signups", "staging/stg_signups", "intermediate/int_first_touch"}


def test_union_and_intersection_and_not(graph):
    assert keys(graph, "raw/signups sync/codes") == {"raw/signups", "sync/codes"}
    assert keys(graph, "tag:nightly and raw/*") == {"raw/signups", "raw/event_attendances"}
    assert keys(graph, "kind:dbt and not group:staging") == {
        "intermediate/int_first_touch", "marts/assignments", "seeds/code_map",
    }


def test_select_returns_graph_order(graph):
    order = [str(k) for k in select("+sync/codes", graph)]
    assert order.index("raw/signups") < order.index("staging/stg_signups") < order.index("marts/assignments") < order.index("sync/codes")


def test_unknown_key_names_close_matches(graph):
    with pytest.raises(UnknownAssetError) as info:
        resolve(parse("raw/signup"), graph)
    assert "raw/signups" in info.value.close_matches
    assert "did you mean raw/signups" in str(info.value)


def test_unknown_short_name_suggests_full_key(graph):
    with pytest.raises(UnknownAssetError) as info:
        resolve(parse("stg_signups"), graph)
    assert "staging/stg_signups" in info.value.close_matches


def test_unknown_tag_is_an_error_not_an_empty_selection(graph):
    with pytest.raises(UnknownAssetError) as info:
        resolve(parse("tag:nighty"), graph)
    assert "nightly" in info.value.close_matches


def test_empty_glob_is_an_error(graph):
    with pytest.raises(UnknownAssetError):
        resolve(parse("nothing/*"), graph)


def _ctx(changes=None, statuses=None):
    from assetgraph.selection import SelectionContext, StateDiff

    state = None
    if changes is not None:
        state = StateDiff({AssetKey.from_user_string(k): frozenset(v) for k, v in changes.items()})
    sets = None
    if statuses is not None:
        sets = {name: frozenset(AssetKey.from_user_string(k) for k in ks) for name, ks in statuses.items()}
    return SelectionContext(state=state, statuses=sets)


def test_state(graph):
    """state:modified|new|modified.<kind> read the context and combine like any method."""
    ctx = _ctx({"staging/stg_signups": {"body"}, "seeds/code_map": {"new"}, "sync/codes": {"code_version"}})

    def pick(text):
        return {str(k) for k in resolve(parse(text), graph, ctx)}

    assert pick("state:modified") == {"staging/stg_signups", "seeds/code_map", "sync/codes"}
    assert pick("state:new") == {"seeds/code_map"}
    assert pick("state:modified.body+") == {
        "staging/stg_signups", "intermediate/int_first_touch", "marts/assignments", "sync/codes",
    }
    assert pick("state:modified and kind:dbt") == {"staging/stg_signups", "seeds/code_map"}
    assert pick("1+state:modified.code_version") == {"sync/codes", "marts/assignments"}
    # nothing modified is an empty selection, not an error
    assert resolve(parse("state:modified.macros"), graph, ctx) == set()


def test_status(graph):
    """status:failed|stale|never read the context; bad values and a missing context are errors."""
    from assetgraph.errors import SelectionContextError

    ctx = _ctx(statuses={"failed": ["marts/assignments"], "stale": [], "never": ["seeds/code_map"]})
    assert {str(k) for k in resolve(parse("status:failed+"), graph, ctx)} == {"marts/assignments", "sync/codes"}
    assert resolve(parse("status:stale"), graph, ctx) == set()
    with pytest.raises(SelectionContextError, match="expected one of failed, stale, never"):
        resolve(parse("status:broken"), graph, ctx)
    with pytest.raises(SelectionContextError, match="needs --state DIR"):
        resolve(parse("state:modified"), graph, ctx)  # no state given
    with pytest.raises(SelectionContextError, match="needs the catalog"):
        resolve(parse("status:failed"), graph)
