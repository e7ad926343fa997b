"""`[tool.assetgraph] modules` entries: a module name, or `pkg.*` for every public submodule of
a package (what a tool such as `assetgraph civis import` fills later). Real packages on disk."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from assetgraph.config import load_settings
from assetgraph.definitions import expand_modules, load_definitions
from assetgraph.errors import ConfigError
from assetgraph.loader import load_project

_ASSET = 'from assetgraph import asset\n\n\n@asset("{key}")\ndef {name}(context):\n    return None\n'


def _package(root: Path, name: str, modules: dict[str, str]) -> None:
    folder = root / name.replace(".", "/")
    folder.mkdir(parents=True)
    for part in range(1, name.count(".") + 2):
        init = root.joinpath(*name.split(".")[:part]) / "__init__.py"
        if not init.exists():
            init.write_text("")
    for module, text in modules.items():
        if module.endswith("/"):
            (folder / module).mkdir()
            (folder / module / "__init__.py").write_text(text)
        else:
            (folder / f"{module}.py").write_text(text)


@pytest.fixture
def top(tmp_path, monkeypatch):
    """A fresh top-level package name on sys.path (forgotten afterwards)."""
    name = f"agpkg_{uuid.uuid4().hex[:8]}"
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


def test_a_package_glob_names_its_public_submodules_without_importing_them(tmp_path, top):
    _package(tmp_path, f"{top}.flows.moved", {
        "zeta": _ASSET.format(key="moved/zeta", name="zeta"),
        "alpha": _ASSET.format(key="moved/alpha", name="alpha"),
        "_helpers": "raise RuntimeError('a private module is never loaded')\n",
        "nested/": _ASSET.format(key="moved/nested", name="nested"),
    })
    entries = ["os.path", f"{top}.flows.moved.*", "os.path"]
    assert expand_modules(entries) == (
        "os.path", f"{top}.flows.moved.alpha", f"{top}.flows.moved.nested", f"{top}.flows.moved.zeta",
    )
    assert f"{top}.flows.moved.alpha" not in sys.modules  # found on disk, not imported
    defs = load_definitions([f"{top}.flows.moved.*"])
    assert sorted(str(a.key) for a in defs.assets) == ["moved/alpha", "moved/nested", "moved/zeta"]


def test_a_glob_over_a_package_that_does_not_exist_yet_is_empty(tmp_path, top):
    _package(tmp_path, f"{top}.flows", {})
    assert expand_modules([f"{top}.flows.civis.*"]) == ()
    assert expand_modules([f"{top}_absent.civis.*"]) == ()
    assert load_definitions([f"{top}.flows.civis.*"]).assets == ()


def test_a_glob_over_a_module_or_a_broken_package_is_one_clear_error(tmp_path, top):
    _package(tmp_path, f"{top}.flows", {"single": "X = 1\n"})
    with pytest.raises(ConfigError, match=rf"{top}.flows.single is a module, not a package"):
        expand_modules([f"{top}.flows.single.*"])
    _package(tmp_path, f"{top}.broken", {})
    (tmp_path / top / "broken" / "__init__.py").write_text("import no_such_dependency_zz  # noqa\n")
    with pytest.raises(ConfigError, match="No module named 'no_such_dependency_zz'"):
        expand_modules([f"{top}.broken.civis.*"])


def test_the_project_loads_modules_a_tool_added_under_a_glob(tmp_path, top, monkeypatch):
    """A pyproject listing `pkg.*` before the package exists; files added later join the graph
    with no edit of the pyproject (the way `assetgraph civis import` adds flows/civis/*.py)."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(f'[tool.assetgraph]\nmodules = ["{top}.civis.*"]\n')
    monkeypatch.delenv("ASSETGRAPH_MODULES", raising=False)
    monkeypatch.syspath_prepend(str(root))
    settings = load_settings(root=root, environ={})
    assert settings.modules == (f"{top}.civis.*",)
    assert load_project(settings, parse_dbt=False).python_keys == frozenset()

    _package(root, f"{top}.civis", {"hello": _ASSET.format(key="civis/hello", name="hello")})
    sys.modules.pop(top, None)  # a new process in real use; here, forget the empty package
    assert {str(k) for k in load_project(settings, parse_dbt=False).python_keys} == {"civis/hello"}
