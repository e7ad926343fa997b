"""Finding the project the way dbt does: --project-dir, DBT_PROJECT_DIR, [tool.assetgraph], then
the working directory and its parents; profiles from --profiles-dir, DBT_PROFILES_DIR,
[tool.assetgraph], the project directory, ~/.dbt. Pure file-system tests, no dbt run."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetgraph.config import load_settings
from assetgraph.errors import ConfigError, ProjectNotFoundError
from assetgraph.loader import load_project


def _dbt_project(path: Path, profiles: bool = False) -> Path:
    path.mkdir(parents=True)
    (path / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    if profiles:
        (path / "profiles.yml").write_text("p: {}\n")
    return path


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_working_directory_and_its_parents(tmp_path, home, monkeypatch):
    project = _dbt_project(tmp_path / "shop", profiles=True)
    (project / "models" / "staging").mkdir(parents=True)
    monkeypatch.chdir(project / "models" / "staging")
    settings = load_settings(environ={})
    assert settings.dbt_project_dir == project.resolve()
    assert settings.dbt_profiles_dir == project.resolve()  # the project directory holds profiles.yml
    assert settings.modules == ()


def test_option_beats_env_beats_working_directory(tmp_path, home, monkeypatch):
    here = _dbt_project(tmp_path / "here")
    env_project = _dbt_project(tmp_path / "from_env")
    option_project = _dbt_project(tmp_path / "from_option")
    monkeypatch.chdir(here)
    env = {"DBT_PROJECT_DIR": "../from_env"}  # relative to the working directory, as in dbt
    assert load_settings(environ=env).dbt_project_dir == env_project.resolve()
    assert load_settings(environ=env, project_dir=option_project).dbt_project_dir == option_project.resolve()
    assert load_settings(environ={}).dbt_project_dir == here.resolve()


def test_profiles_fall_back_to_home_dbt(tmp_path, home, monkeypatch):
    project = _dbt_project(tmp_path / "shop")
    monkeypatch.chdir(project)
    assert load_settings(environ={}).dbt_profiles_dir == home / ".dbt"
    elsewhere = tmp_path / "profiles_here"
    elsewhere.mkdir()
    (elsewhere / "profiles.yml").write_text("p: {}\n")
    assert load_settings(environ={"DBT_PROFILES_DIR": str(elsewhere)}).dbt_profiles_dir == elsewhere.resolve()
    assert load_settings(environ={}, profiles_dir=elsewhere).dbt_profiles_dir == elsewhere.resolve()


def test_named_directory_without_its_file_is_an_error(tmp_path, home, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="--project-dir=.*has no dbt_project.yml"):
        load_settings(environ={}, project_dir=tmp_path)
    with pytest.raises(ConfigError, match="DBT_PROJECT_DIR=.*has no dbt_project.yml"):
        load_settings(environ={"DBT_PROJECT_DIR": str(tmp_path)})
    _dbt_project(tmp_path / "shop")
    with pytest.raises(ConfigError, match="DBT_PROFILES_DIR=.*has no profiles.yml"):
        load_settings(environ={"DBT_PROFILES_DIR": str(tmp_path)}, project_dir=tmp_path / "shop")


def test_pyproject_table_configures_modules_and_paths(tmp_path, home, monkeypatch):
    repo = tmp_path / "repo"
    _dbt_project(repo / "transform")
    (repo / "warehouse_profiles").mkdir()
    (repo / "warehouse_profiles" / "profiles.yml").write_text("p: {}\n")
    (repo / "pyproject.toml").write_text(
        '[tool.assetgraph]\nmodules = ["team_assets"]\n'
        'dbt_project_dir = "transform"\ndbt_profiles_dir = "warehouse_profiles"\n'
    )
    (repo / "src").mkdir()
    monkeypatch.chdir(repo / "src")  # the table is found upwards, its paths are relative to it
    settings = load_settings(environ={})
    assert settings.root == repo.resolve()
    assert settings.modules == ("team_assets",)
    assert settings.dbt_project_dir == (repo / "transform").resolve()
    assert settings.dbt_profiles_dir == (repo / "warehouse_profiles").resolve()
    assert load_settings(environ={"ASSETGRAPH_MODULES": ""}).modules == ()


def test_modules_of_the_repo_import_without_installing_it(tmp_path, home, monkeypatch):
    repo = tmp_path / "team_repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text('[tool.assetgraph]\nmodules = ["team_assets_xyz"]\n')
    (repo / "team_assets_xyz.py").write_text(
        "from assetgraph import asset\n\n@asset(key='raw/members')\ndef members(context):\n    return None\n"
    )
    monkeypatch.chdir(tmp_path)  # not the repo: only the table's root makes the module importable
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    project = load_project(load_settings(root=repo, environ={}))
    assert [str(k) for k in project.graph.keys] == ["raw/members"]
    assert project.dbt is None


def test_nothing_found_is_an_error_not_an_empty_graph(tmp_path, home, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.dbt_project_dir is None and settings.modules == ()
    with pytest.raises(ProjectNotFoundError, match="no project found: no dbt_project.yml in"):
        load_project(settings)
