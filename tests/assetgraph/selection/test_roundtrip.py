"""`parse(str(ast)) == ast` for every case the parser accepts, and the grammar is covered."""

import pytest

from assetgraph.selection import METHODS, parse
from tests.assetgraph.selection.test_parser import CASES

MORE = [
    "+sync/van_source_codes raw/signups+",
    "(tag:nightly or group:staging) and not kind:source",
    "not (a b)",
    "2+(a and b)+",
    'tag:"x y" "2"+',
    "+(not a)",
    "a and (b and c)",
]


@pytest.mark.parametrize("text", list(CASES) + MORE)
def test_round_trip(text):
    ast = parse(text)
    assert parse(str(ast)) == ast


def test_every_method_is_in_the_cases():
    used = {leaf_method for text in CASES for leaf_method in METHODS if text.startswith(leaf_method + ":") or f" {leaf_method}:" in text}
    assert used == set(METHODS), f"methods without a parser case: {set(METHODS) - used}"
