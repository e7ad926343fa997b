"""A run's background warm-up: what its plan needs is imported on another thread from the start,
and nothing else is."""

import subprocess
import sys
import textwrap

from assetgraph.execution._warm import warm_up
from assetgraph.execution.plan import build_plan
from assetgraph.execution.runner import _warm_imports
from assetgraph.loader import load_project
from tests.conftest import REPO


def test_warm_up_imports_on_its_own_thread_and_ignores_a_broken_module(tmp_path, monkeypatch):
    (tmp_path / "warm_probe.py").write_text(textwrap.dedent("""
        import threading
        IMPORTED_ON = threading.current_thread().name
    """))
    (tmp_path / "warm_broken.py").write_text("raise RuntimeError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    thread = warm_up(["warm_broken", "warm_probe"])
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert sys.modules["warm_probe"].IMPORTED_ON == "assetgraph-warm-up"  # the broken one did not stop it
    assert warm_up([]) is None  # nothing to do: no thread


def test_only_a_plan_with_a_gx_check_warms_great_expectations():
    # the shipped project, as `assetgraph materialize` loads it (dbt manifest included)
    project = load_project()
    graph = project.graph
    mart = build_plan(graph, {k for k in graph.specs if str(k) == "marts/van_source_code_assignments"})
    staging = build_plan(graph, {k for k in graph.specs if str(k) == "staging/stg_event_attendances"})
    assert _warm_imports(project, mart) == {"quality.gx_engine"}
    assert _warm_imports(project, staging) == set()
    # and loading the project (as every command does) does not import GX
    probe = "import sys; from assetgraph.loader import load_project; load_project(); print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
