"""A temporary copy of the repo's dbt project (never the repo's own dbt_project/), and the
hand-written Civis corpus as an export directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.ext.civis import import_corpus as corpus

PROJECT_FILES = ("dbt_project", "profiles", "pyproject.toml", ".sqlfluff", "scheduling.py")


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("target", "logs"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "target" not in p.parts and "logs" not in p.parts}


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.fixture
def export(tmp_path) -> Path:
    return corpus.write_export(tmp_path / "export")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The corpus imported once into a project copy: (project root, export dir, result)."""
    from assetgraph.ext.civis.importing import import_export

    base = tmp_path_factory.mktemp("civis")
    root = copy_project(base / "project")
    exp = corpus.write_export(base / "export")
    result = import_export(exp, root, dry_run=False)
    return root, exp, result
