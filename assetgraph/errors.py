"""One exception base for the asset layer; subclasses carry structured fields and build
their own messages, so callers can both print them and inspect them."""

from __future__ import annotations

from typing import Sequence

__all__ = [
    "AssetGraphError",
    "ProjectNotFoundError",
    "InvalidAssetKey",
    "SelectionSyntaxError",
    "UnknownAssetError",
    "UnknownSelectorMethod",
    "GraphError",
    "DuplicateAssetError",
    "CycleError",
    "ManifestError",
    "WarehouseError",
    "DbtError",
    "ConfigError",
    "SelectionContextError",
    "StateError",
    "RetryError",
    "WorkPoolError",
    "PrefectApiError",
    "PrefectServerError",
]


class AssetGraphError(Exception):
    """Base of every error the asset layer raises on purpose."""


class ConfigError(AssetGraphError):
    pass


class ProjectNotFoundError(ConfigError):
    """Neither a dbt project nor asset modules were found: an empty graph would hide that."""

    def __init__(self, start: str) -> None:
        self.start = start
        super().__init__(
            f"no project found: no dbt_project.yml in {start} or its parents (or --project-dir, "
            "DBT_PROJECT_DIR), and no asset modules ([tool.assetgraph] modules in a "
            "pyproject.toml, or ASSETGRAPH_MODULES)"
        )


class InvalidAssetKey(AssetGraphError):
    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"invalid asset key {value!r}: {reason}")


class SelectionSyntaxError(AssetGraphError):
    def __init__(self, text: str, position: int, reason: str) -> None:
        self.text = text
        self.position = position
        self.reason = reason
        pointer = " " * position + "^"
        super().__init__(f"cannot parse selection: {reason}\n  {text}\n  {pointer}")


class UnknownSelectorMethod(AssetGraphError):
    def __init__(self, method: str, known: Sequence[str]) -> None:
        self.method = method
        self.known = tuple(known)
        super().__init__(f"unknown selector method {method!r}; known: {', '.join(sorted(known))}")


class UnknownAssetError(AssetGraphError):
    def __init__(self, term: str, close_matches: Sequence[str] = ()) -> None:
        self.term = term
        self.close_matches = tuple(close_matches)
        hint = f"; did you mean {', '.join(self.close_matches)}?" if self.close_matches else ""
        super().__init__(f"no asset matches {term!r}{hint}")


class GraphError(AssetGraphError):
    pass


class DuplicateAssetError(GraphError):
    def __init__(self, key: str, origins: Sequence[str]) -> None:
        self.key = key
        self.origins = tuple(origins)
        super().__init__(f"asset {key!r} is defined more than once: {', '.join(origins)}")


class CycleError(GraphError):
    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__("the asset graph has a cycle: " + " -> ".join(cycle))


class ManifestError(AssetGraphError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"dbt manifest {path}: {reason}")


class WarehouseError(AssetGraphError):
    pass


class DbtError(AssetGraphError):
    def __init__(self, command: str, reason: str) -> None:
        self.command = command
        self.reason = reason
        super().__init__(f"dbt {command} failed: {reason}")


class SelectionContextError(AssetGraphError):
    """A `state:`/`status:` term that cannot be answered (bad value, or no state given)."""

    def __init__(self, term: str, reason: str) -> None:
        self.term = term
        self.reason = reason
        super().__init__(f"selection {term!r}: {reason}")


class StateError(AssetGraphError):
    """`--state DIR` is missing or holds no readable dbt manifest."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"--state {path}: {reason}")


class RetryError(AssetGraphError):
    """`assetgraph retry` cannot find or plan the run it was asked to retry."""


class WorkPoolError(AssetGraphError):
    """A work pool declared in code that cannot be created or used as declared."""

    def __init__(self, pool: str, reason: str) -> None:
        self.pool = pool
        self.reason = reason
        super().__init__(f"work pool {pool!r}: {reason}")


class PrefectApiError(AssetGraphError):
    """The Prefect API cannot be reached or is not a Prefect API."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Prefect API at {url or '(PREFECT_API_URL not set)'}: {reason}")
class PrefectServerError(AssetGraphError):
    """The project's local Prefect server (home `.prefect/`) could not be started or reached."""

    def __init__(self, home: object, reason: str) -> None:
        self.home = home
        self.reason = reason
        super().__init__(f"local Prefect server ({home}): {reason}")
