"""The container image and the deploy workflow, read as files; the image built when it can be.

A container engine and a container registry cannot run here: there is no Docker daemon; podman
and buildah install, but podman cannot run a container (crun is denied `setrlimit`), and the
base image cannot be downloaded (no registry is reachable; never at test time anyway).
`buildah bud --isolation chroot` does build this Dockerfile once a base image is in local
storage (measured on a locally made stand-in). So the Dockerfile is checked line by line, and
built only when a local engine has the base image already (`--pull=never`).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from assetgraph.work_pools import WorkPool
from tests.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
DOCKERIGNORE = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
WORKFLOW = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines() if line.strip()]


def test_the_image_is_slim_python_311_with_the_pinned_runtime_only():
    steps = _instructions()
    (base,) = [args for op, args in steps if op == "ARG" and args.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", base)
    assert [args for op, args in steps if op == "FROM"] == ["${PYTHON_IMAGE}"]
    (install,) = [args for op, args in steps if op == "RUN" and "pip install" in args]
    assert "--constraint constraints.txt '.[template]'" in install  # the wheel is the asset layer only
    env = " ".join(args for op, args in steps if op == "ENV")
    assert "PYTHONPATH=/opt/assetgraph" in env  # flows/, sync/, quality/ are the project's code
    assert not re.search(r"\[.*test.*\]|pytest|playwright|moto", install)  # no test tools


def test_the_image_runs_as_a_non_root_user_with_telemetry_off():
    steps = _instructions()
    env = " ".join(args for op, args in steps if op == "ENV")
    for setting in ("DO_NOT_TRACK=1", "DBT_SEND_ANONYMOUS_USAGE_STATS=false", "PREFECT_SERVER_ANALYTICS_ENABLED=false"):
        assert setting in env
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert [op for op, _ in steps][-2:] == ["USER", "CMD"]  # nothing runs as root after it


def test_the_image_holds_the_dbt_project_where_deployments_start():
    steps = _instructions()
    (workdir,) = [args for op, args in steps if op == "WORKDIR"]
    assert workdir == WorkPool("p", "docker", image="x:1").workdir  # the pull step's directory
    assert ("COPY", f". {workdir}") in steps
    for needed in ("dbt_project", "profiles", "pyproject.toml", "constraints.txt", "scheduling.py",
                   "assetgraph", "flows", "sync", "quality"):
        assert needed not in DOCKERIGNORE and (REPO / needed).exists(), needed
    for left_out in ("tests", ".venv", ".warehouse", ".prefect", ".git", "dbt_project/target"):
        assert left_out in DOCKERIGNORE, left_out


def test_the_workflow_tests_then_builds_and_pushes_then_applies():
    jobs = WORKFLOW["jobs"]
    assert jobs["image"]["needs"] == "test" and jobs["apply"]["needs"] == "image"
    runs = {name: "\n".join(step.get("run", "") for step in job["steps"]) for name, job in jobs.items()}
    assert "make test" in runs["test"]
    assert "docker build" in runs["image"] and "docker push" in runs["image"]
    assert "scheduling.py apply" in runs["apply"]
    env = jobs["apply"]["env"]
    assert env["ASSETGRAPH_IMAGE"] == "${{ needs.image.outputs.ref }}"
    assert env["PREFECT_API_URL"].startswith("${{ vars.") and env["PREFECT_API_KEY"].startswith("${{ secrets.")
    # the registry comes from a variable, credentials from secrets: no registry written in
    image_env = {k: v for step in jobs["image"]["steps"] for k, v in (step.get("env") or {}).items()}
    assert image_env["REGISTRY"] == "${{ vars.IMAGE_REGISTRY }}"
    assert image_env["PASSWORD"].startswith("${{ secrets.")
    for command in re.findall(r"docker (?:build|push|login)[^\n]*", runs["image"]):
        assert not re.search(r"\b[\w-]+\.[a-z]{2,}(?::\d+)?/", command), command  # no host/path literal


@pytest.mark.skipif(not shutil.which("podman"), reason="no podman here: the image cannot be built")
def test_the_image_builds_when_the_base_image_is_here(tmp_path):
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE).group(1)
    present = subprocess.run(["podman", "image", "exists", base], capture_output=True, timeout=120)
    if present.returncode != 0:
        pytest.skip(f"base image {base} is not in local storage and is never downloaded at test time")
    built = subprocess.run(["podman", "build", "--pull=never", "--tag", "localhost/assetgraph:test", str(REPO)],
                           capture_output=True, text=True, timeout=3600)
    assert built.returncode == 0, built.stderr[-3000:]
