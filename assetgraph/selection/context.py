"""What some selection methods need beyond the graph, handed to `resolve` by the caller.

`parse` stays pure: `state:` and `status:` leaves are parsed like any other, and only
resolving them needs a `SelectionContext`, built by whoever has the I/O at hand (the CLI:
`assetgraph.state.selection_context`, which reads `--state DIR` and the catalog). Values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from assetgraph.keys import AssetKey

__all__ = ["SelectionContext", "StateDiff", "STATE_VALUES", "STATUS_VALUES"]

# `state:` values: `modified` is any change (new included, as in dbt); `modified.<what>` one kind.
STATE_VALUES = (
    "modified", "new", "modified.body", "modified.configs", "modified.relation", "modified.macros",
    "modified.checks", "modified.code_version",
)
STATUS_VALUES = ("failed", "stale", "never")


@dataclass(frozen=True)
class StateDiff:
    """How the current project differs from a saved state: per asset, the kinds of change
    (`new`, `body`, `configs`, `relation`, `macros`, `checks`, `code_version`)."""

    changes: Mapping["AssetKey", frozenset[str]] = field(default_factory=dict)
    source: str = ""  # where the state came from, for messages

    def matching(self, value: str) -> set["AssetKey"]:
        if value == "modified":
            return {k for k, kinds in self.changes.items() if kinds}
        kind = value.split(".", 1)[1] if value.startswith("modified.") else value
        return {k for k, kinds in self.changes.items() if kind in kinds}


@dataclass(frozen=True)
class SelectionContext:
    state: StateDiff | None = None
    # `status:` value -> the assets in that status (read from the catalog)
    statuses: Mapping[str, frozenset["AssetKey"]] | None = None
