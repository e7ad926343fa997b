"""The wheel a team installs: `pip wheel .` builds it from a copy of this repo (offline, no build
isolation), it holds the asset layer only, its runtime requirements hold no test tools, and
installed into a fresh virtualenv it finds a dbt project the way dbt does.

The fresh venv gets the wheel itself from pip (`--no-deps --no-index`); its dependencies (dbt,
networkx, typer, ...) come from this project's venv through a one-line .pth file, because
nothing can be downloaded here. A plain path line in a .pth does not run that venv's own .pth
files, so neither this repo's editable install nor its template code is visible there: the
wheel's copy of `assetgraph` is the one that runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.assetgraph.cases.second_project import write_project
from tests.conftest import REPO

TEST_TOOLS = {"pytest", "moto", "playwright", "cryptography", "setuptools"}
SHOP_KEYS = {"shop_raw/orders", "base/base_orders", "seeds/countries", "reporting/revenue_by_country"}
# what a checkout holds besides sources: never part of a build
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".warehouse", ".prefect", "__pycache__", "*.pyc", ".pytest_cache", "build",
    "*.egg-info", "target", "logs", "reports", "data", "dist",
)


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kwargs)
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src") / "repo"
    shutil.copytree(REPO, src, ignore=_NOT_SOURCES)
    dist = src.parent / "dist"
    proc = _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-build-isolation", "--no-deps",
                 "--no-index", "-q", "-w", str(dist)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = dist.glob("assetgraph_prefect_dbt-*.whl")
    return path


def _requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(zf.read(name).decode())
    return metadata.get_all("Requires-Dist") or []


def _name(requirement: str) -> str:
    head = requirement.split(";")[0].strip()
    for stop in "[<>=!~ (":
        head = head.split(stop)[0]
    return head.lower().replace("_", "-")


def test_wheel_holds_only_the_asset_layer(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"assetgraph"}, top
    assert "assetgraph/cli.py" in names and "assetgraph/catalog_site/static/site.css" in names
    assert not [n for n in names if n.split("/")[0] in ("flows", "sync", "quality", "tests", "benchmarks")]


def test_runtime_requirements_hold_no_test_tools(wheel):
    requirements = _requirements(wheel)
    runtime = {_name(r) for r in requirements if "extra ==" not in r}
    test_extra = {_name(r) for r in requirements if "extra == \"test\"" in r or "extra == 'test'" in r}
    assert "dbt-core" in runtime and "prefect" in runtime
    assert not runtime & TEST_TOOLS, runtime & TEST_TOOLS
    assert TEST_TOOLS <= test_extra, test_extra
    # the template's own needs are extras too, not the library's
    assert not runtime & {"parsons", "great-expectations", "boto3", "dbt-redshift"}


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    proc = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert proc.returncode == 0, proc.stderr
    python = venv / "bin" / "python"
    proc = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                 "-q", str(wheel)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip())
    (purelib / "_project_venv_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # the console script pip writes when it installs dbt-core, so `dbt parse` runs on this venv too
    dbt = venv / "bin" / "dbt"
    dbt.write_text(f"#!{python}\nimport sys\nfrom dbt.cli.main import cli\nsys.exit(cli())\n")
    dbt.chmod(0o755)
    return venv


def _env(tmp_path: Path, venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DBT_PROJECT_DIR", "DBT_PROFILES_DIR", "ASSETGRAPH_", "PYTHONPATH", "VIRTUAL_ENV"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return env


def test_fresh_venv_runs_the_wheel_not_the_repo(fresh_venv, tmp_path):
    code = ("import assetgraph, importlib.util; print(assetgraph.__file__); "
            "print([m for m in ('flows', 'sync', 'quality') if importlib.util.find_spec(m)])")
    proc = _run([str(fresh_venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=_env(tmp_path, fresh_venv))
    assert proc.returncode == 0, proc.stderr
    where, template = proc.stdout.splitlines()
    assert Path(where).is_relative_to(fresh_venv), where
    assert template == "[]"


def test_list_shows_the_dbt_project_it_stands_in(fresh_venv, tmp_path):
    shop = write_project(tmp_path / "shop")
    (shop / "models" / "top_customers.sql").write_text("select country from {{ ref('base_orders') }}\n")
    env = _env(tmp_path, fresh_venv)
    assetgraph = str(fresh_venv / "bin" / "assetgraph")

    proc = _run([assetgraph, "list", "--json"], cwd=shop, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {r["key"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == SHOP_KEYS | {"top_customers"}  # a model at the root of models/: its name
    assert rows["top_customers"]["group"] == "default" and rows["top_customers"]["deps"] == ["base/base_orders"]

    # from inside the project (its parents hold dbt_project.yml), and from elsewhere with --project-dir
    proc = _run([assetgraph, "list", "--json"], cwd=shop / "models" / "base", env=env)
    assert proc.returncode == 0, proc.stderr
    assert {r["key"] for r in json.loads(proc.stdout)} == set(rows)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _run([assetgraph, "list", "seeds/countries+", "--json", "--project-dir", str(shop)], cwd=elsewhere, env=env)
    assert proc.returncode == 0, proc.stderr
    assert [r["key"] for r in json.loads(proc.stdout)] == ["seeds/countries", "reporting/revenue_by_country"]


def test_list_without_a_project_says_so(fresh_venv, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _run([str(fresh_venv / "bin" / "assetgraph"), "list", "--json"], cwd=empty, env=_env(tmp_path, fresh_venv))
    assert proc.returncode != 0
    assert proc.stdout.strip() == ""  # never an empty graph
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no project found" in lines[0] and "dbt_project.yml" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
