"""Build the whole asset graph: Python definitions from the configured modules plus the dbt
manifest. Pure assembly, no execution."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from assetgraph.config import Settings, load_settings
from assetgraph.dbt.manifest import DbtAssets, assets_from_manifest, load_manifest
from assetgraph.dbt.project import ensure_manifest
from assetgraph.definitions import Definitions, load_definitions
from assetgraph.errors import DuplicateAssetError, ProjectNotFoundError
from assetgraph.graph import AssetGraph
from assetgraph.specs import AssetKind

__all__ = ["Project", "load_project"]


@dataclass(frozen=True)
class Project:
    settings: Settings
    graph: AssetGraph
    definitions: Definitions
    dbt: DbtAssets | None = None
    python_keys: frozenset = field(default_factory=frozenset)


def load_project(settings: Settings | None = None, *, parse_dbt: bool = True) -> Project:
    settings = settings or load_settings()
    if not settings.modules and settings.dbt_project_dir is None:
        raise ProjectNotFoundError(str(Path.cwd()))
    if settings.modules and str(settings.root) not in sys.path:
        # a team's asset modules live in its repo, next to pyproject.toml (as Dagster's
        # working directory): importable without installing the repo as a package
        sys.path.append(str(settings.root))
    defs = load_definitions(settings.modules)
    python_specs = {a.key: a.spec for a in defs.assets}

    dbt_assets: DbtAssets | None = None
    specs = dict(python_specs)
    if settings.dbt_project_dir is not None:
        path = (
            ensure_manifest(settings.dbt_project_dir, settings.dbt_profiles_dir, settings.dbt_target)
            if parse_dbt
            else settings.dbt_project_dir / "target" / "manifest.json"
        )
        dbt_assets = assets_from_manifest(load_manifest(path))
        for spec in dbt_assets.specs:
            if spec.key in python_specs:
                if spec.kind is AssetKind.SOURCE:
                    continue  # a dbt source landed by a Python asset: the Python asset is it
                raise DuplicateAssetError(
                    str(spec.key), [spec.metadata.get("dbt_unique_id", "dbt"), "python"]
                )
            specs[spec.key] = spec

    checks = [c.spec for c in defs.checks]
    if dbt_assets is not None:
        checks.extend(dbt_assets.checks)
    graph = AssetGraph.build(specs.values(), checks)
    return Project(
        settings=settings,
        graph=graph,
        definitions=defs,
        dbt=dbt_assets,
        python_keys=frozenset(python_specs),
    )
