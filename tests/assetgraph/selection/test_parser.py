"""String -> AST, without a graph; errors are typed and point at the problem."""

import pytest

from assetgraph.errors import SelectionSyntaxError, UnknownSelectorMethod
from assetgraph.selection import And, Leaf, Not, Or, Traverse, parse

CASES = {
    "raw/signups": Leaf("key", "raw/signups"),
    "key:raw/signups": Leaf("key", "raw/signups"),
    "+sync/van_source_codes": Traverse(Leaf("key", "sync/van_source_codes"), None, 0),
    "raw/signups+": Traverse(Leaf("key", "raw/signups"), 0, None),
    "2+marts/x": Traverse(Leaf("key", "marts/x"), 2, 0),
    "marts/x+1": Traverse(Leaf("key", "marts/x"), 0, 1),
    "1+marts/x+3": Traverse(Leaf("key", "marts/x"), 1, 3),
    "+marts/x+": Traverse(Leaf("key", "marts/x"), None, None),
    "tag:nightly": Leaf("tag", "nightly"),
    "group:staging": Leaf("group", "staging"),
    "kind:dbt": Leaf("kind", "dbt"),
    "owner:data@example.org": Leaf("owner", "data@example.org"),
    "raw/*": Leaf("key", "raw/*"),
    "*assignments": Leaf("key", "*assignments"),
    'tag:"two words"': Leaf("tag", "two words"),
    "raw/a raw/b": Or((Leaf("key", "raw/a"), Leaf("key", "raw/b"))),
    "raw/a or raw/b": Or((Leaf("key", "raw/a"), Leaf("key", "raw/b"))),
    "raw/a  raw/b   raw/c": Or((Leaf("key", "raw/a"), Leaf("key", "raw/b"), Leaf("key", "raw/c"))),
    "kind:dbt and tag:nightly": And((Leaf("kind", "dbt"), Leaf("tag", "nightly"))),
    "not kind:dbt": Not(Leaf("kind", "dbt")),
    "a and b c": Or((And((Leaf("key", "a"), Leaf("key", "b"))), Leaf("key", "c"))),
    "a and (b c)": And((Leaf("key", "a"), Or((Leaf("key", "b"), Leaf("key", "c"))))),
    "+(a b)": Traverse(Or((Leaf("key", "a"), Leaf("key", "b"))), None, 0),
    "not a and b": And((Not(Leaf("key", "a")), Leaf("key", "b"))),
    "+tag:nightly": Traverse(Leaf("tag", "nightly"), None, 0),
    '"and"': Leaf("key", "and"),
    "state:modified+": Traverse(Leaf("state", "modified"), 0, None),
    "state:modified.body": Leaf("state", "modified.body"),
    "1+state:new and not status:failed": And((Traverse(Leaf("state", "new"), 1, 0), Not(Leaf("status", "failed")))),
    "status:stale": Leaf("status", "stale"),
}


@pytest.mark.parametrize("text,expected", list(CASES.items()))
def test_parse(text, expected):
    assert parse(text) == expected


ERRORS = {
    "": "empty selection",
    "   ": "empty selection",
    "(raw/a": "missing ')'",
    "raw/a)": "unexpected ')'",
    "+ raw/a": "'+' must be directly followed",
    "tag:": "needs a value",
    "a and": "expected an asset term",
    "not": "expected an asset term",
    'tag:"open': "unterminated",
    "a(b)": "expected a space",
    "and a": "expected an asset term",
}


@pytest.mark.parametrize("text,reason", list(ERRORS.items()))
def test_syntax_errors(text, reason):
    with pytest.raises(SelectionSyntaxError) as info:
        parse(text)
    assert reason in str(info.value)
    assert info.value.text == text


def test_unknown_method_is_named():
    with pytest.raises(UnknownSelectorMethod) as info:
        parse("colour:blue")
    assert info.value.method == "colour"
    assert "tag" in info.value.known


def test_error_points_at_position():
    with pytest.raises(SelectionSyntaxError) as info:
        parse("raw/a (raw/b")
    assert info.value.position == len("raw/a (raw/b")
