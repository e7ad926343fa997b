"""Python assets and checks: decorators that pair a spec with a function, and the loader that
collects them from modules. No global registry: whatever a module exposes is what exists."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import logging
import pkgutil
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping, Sequence

from assetgraph.errors import ConfigError, DuplicateAssetError
from assetgraph.keys import AssetKey, CheckKey, CoercibleToAssetKey
from assetgraph.specs import (
    AssetKind,
    AssetSpec,
    CheckResult,
    CheckSpec,
    DailyPartitions,
    FreshnessPolicy,
    MaterializeResult,
)

__all__ = [
    "AssetContext",
    "AssetDefinition",
    "CheckDefinition",
    "asset",
    "asset_check",
    "load_definitions",
    "expand_modules",
    "Definitions",
]


@dataclass
class AssetContext:
    """What an asset or check function gets at run time."""

    key: AssetKey
    run_id: str
    warehouse: Any  # assetgraph.warehouse.Warehouse (typed loosely to keep imports light)
    partition: str | None = None
    dry_run: bool = False
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("assetgraph"))
    options: Mapping[str, Any] = field(default_factory=dict)
    # For a check run right after its asset materialized in this step: what the asset returned
    # (e.g. which loads it landed, so a check can validate just those). None otherwise
    # (`assetgraph check`, which looks at what is in the warehouse now).
    materialization: MaterializeResult | None = None


@dataclass(frozen=True)
class AssetDefinition:
    spec: AssetSpec
    fn: Callable[[AssetContext], MaterializeResult | None]
    origin: str = ""

    @property
    def key(self) -> AssetKey:
        return self.spec.key

    def __call__(self, context: AssetContext) -> MaterializeResult | None:
        return self.fn(context)


@dataclass(frozen=True)
class CheckDefinition:
    spec: CheckSpec
    fn: Callable[[AssetContext], CheckResult]
    origin: str = ""

    @property
    def key(self) -> CheckKey:
        return self.spec.key


def asset(
    key: CoercibleToAssetKey,
    *,
    deps: Iterable[CoercibleToAssetKey] = (),
    kind: AssetKind | str = AssetKind.PYTHON,
    group: str | None = None,
    tags: Iterable[str] = (),
    owners: Iterable[str] = (),
    description: str | None = None,
    freshness: FreshnessPolicy | None = None,
    partitions: DailyPartitions | None = None,
    retries: int = 0,
    code_version: str | None = None,
    supports_dry_run: bool = False,
) -> Callable[[Callable[[AssetContext], Any]], AssetDefinition]:
    """Declare a Python asset::

        @asset("raw/signups", tags=["nightly"], partitions=DailyPartitions("2026-01-01"))
        def signups(context: AssetContext) -> MaterializeResult: ...

    `supports_dry_run=True`: with `materialize --dry-run` the function is called with
    `context.dry_run` set and must only report what it would do (no side effects).
    """

    def wrap(fn: Callable[[AssetContext], Any]) -> AssetDefinition:
        spec = AssetSpec.create(
            key,
            deps=deps,
            kind=kind,
            group=group,
            tags=tags,
            owners=owners,
            description=(description if description is not None else (fn.__doc__ or "")).strip(),
            freshness=freshness,
            partitions=partitions,
            retries=retries,
            code_version=code_version or _source_version(fn),
            metadata={"supports_dry_run": True} if supports_dry_run else None,
        )
        return AssetDefinition(spec=spec, fn=fn, origin=f"{fn.__module__}.{fn.__qualname__}")

    return wrap


def _source_version(fn: Callable[..., Any]) -> str | None:
    """Without an explicit `code_version`: a hash of the function's source, so a changed
    function is `state:modified` and a retry notices it. None when the source is unavailable."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return None
    return "src-" + hashlib.sha256(source.encode()).hexdigest()[:12]


def asset_check(
    asset: CoercibleToAssetKey,
    *,
    name: str | None = None,
    blocking: bool = True,
    description: str | None = None,
    extra_deps: Iterable[CoercibleToAssetKey] = (),
) -> Callable[[Callable[[AssetContext], CheckResult]], CheckDefinition]:
    """Declare a Python check on an asset; `blocking=True` stops everything downstream."""

    def wrap(fn: Callable[[AssetContext], CheckResult]) -> CheckDefinition:
        spec = CheckSpec(
            key=CheckKey(AssetKey.from_coercible(asset), name or fn.__name__),
            blocking=blocking,
            description=(description if description is not None else (fn.__doc__ or "")).strip(),
            source="python",
            extra_deps=tuple(AssetKey.from_coercible(d) for d in extra_deps),
        )
        return CheckDefinition(spec=spec, fn=fn, origin=f"{fn.__module__}.{fn.__qualname__}")

    return wrap


@dataclass(frozen=True)
class Definitions:
    assets: tuple[AssetDefinition, ...] = ()
    checks: tuple[CheckDefinition, ...] = ()
    check_factories: tuple[Callable[..., Iterable[CheckDefinition]], ...] = ()

    def asset_by_key(self) -> dict[AssetKey, AssetDefinition]:
        return {a.key: a for a in self.assets}


def _collect(module: ModuleType) -> tuple[list[AssetDefinition], list[CheckDefinition]]:
    assets: list[AssetDefinition] = []
    checks: list[CheckDefinition] = []
    for value in vars(module).values():
        if isinstance(value, AssetDefinition):
            assets.append(value)
        elif isinstance(value, CheckDefinition):
            checks.append(value)
        elif isinstance(value, (list, tuple)) and value and all(
            isinstance(v, CheckDefinition) for v in value
        ):
            checks.extend(value)
    return assets, checks


def _submodules(entry: str) -> list[str]:
    """The public submodules of the package an entry `pkg.*` names (see expand_modules)."""
    package = entry[:-2]
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError as exc:
        parents = {".".join(package.split(".")[: i + 1]) for i in range(package.count(".") + 1)}
        if exc.name in parents:
            return []  # the package (or a parent) does not exist yet: the glob matches nothing
        raise ConfigError(f"cannot import asset module {entry!r}: {exc}") from exc
    except ImportError as exc:
        raise ConfigError(f"cannot import asset module {entry!r}: {exc}") from exc
    if spec is None:
        return []
    if spec.submodule_search_locations is None:
        raise ConfigError(f"asset modules entry {entry!r}: {package} is a module, not a package")
    names = sorted(m.name for m in pkgutil.iter_modules(spec.submodule_search_locations))
    return [f"{package}.{name}" for name in names if not name.startswith("_")]


def expand_modules(entries: Sequence[str]) -> tuple[str, ...]:
    """The modules `[tool.assetgraph] modules` entries name: `a.b` is itself; `a.b.*` is every
    public submodule of the package `a.b` (one level, by name; `_private` ones left out), found
    on disk without importing them, and nothing while `a.b` does not exist, so a project can
    list a package that a tool fills later (the template lists `flows.civis.*`)."""
    out: list[str] = []
    for entry in entries:
        out += _submodules(entry) if entry.endswith(".*") else [entry]
    return tuple(dict.fromkeys(out))


def load_definitions(modules: Sequence[str]) -> Definitions:
    """Import each module (`pkg.*` entries expanded, see expand_modules) and collect the assets
    and checks it exposes."""
    assets: dict[AssetKey, AssetDefinition] = {}
    checks: dict[CheckKey, CheckDefinition] = {}
    for name in expand_modules(modules):
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"cannot import asset module {name!r}: {exc}") from exc
        found_assets, found_checks = _collect(module)
        for a in found_assets:
            if a.key in assets and assets[a.key] is not a:
                raise DuplicateAssetError(str(a.key), [assets[a.key].origin, a.origin])
            assets[a.key] = a
        for c in found_checks:
            checks[c.key] = c
    return Definitions(assets=tuple(assets.values()), checks=tuple(checks.values()))
