"""The dbt worker process (`execution._dbt_worker`): real dbt on the second project, real
processes and SIGKILL."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from assetgraph.config import load_settings
from assetgraph.errors import DbtError
from assetgraph.execution._dbt import DbtInvoker, DbtWorkerLost
from assetgraph.execution.failures import is_transient


def _invoker(shop_env):
    s = load_settings()
    return DbtInvoker(s.dbt_project_dir, s.dbt_profiles_dir, s.dbt_target, shop_env.dbt_env())


def _gone(pid, within=30.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def test_a_killed_worker_fails_one_invocation_transiently_and_the_next_starts_anew(shop_env):
    dbt = _invoker(shop_env)
    try:
        first = dbt.build_many(["countries"])
        assert first.success and first.node("seed.shop.countries").status == "success"
        pid = dbt._worker.pid
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(DbtWorkerLost) as lost:
            dbt.build_many(["countries"])
        assert is_transient(lost.value)  # a task retry may run it again
        again = dbt.build_many(["countries"])
        assert again.success and dbt._worker.pid != pid
    finally:
        dbt.close()


def test_a_parse_error_is_one_clear_deterministic_error(shop_env, tmp_path):
    s = load_settings()
    (s.dbt_project_dir / "models" / "base" / "broken.sql").write_text("select {{ ref('no_such_model') }}\n")
    dbt = _invoker(shop_env)
    try:
        with pytest.raises(DbtError) as err:
            dbt.build_many(["countries"])
        assert not is_transient(err.value) and "no_such_model" in str(err.value)
        assert "\n" not in str(err.value)
    finally:
        dbt.close()


def test_the_worker_ends_when_its_run_is_killed(shop_env):
    """SIGKILL the process that runs dbt: its worker does not outlive it."""
    code = textwrap.dedent("""
        import sys
        from assetgraph.config import load_settings
        from assetgraph.execution._dbt import DbtInvoker
        from assetgraph.warehouse import resolve_warehouse
        s = load_settings()
        dbt = DbtInvoker(s.dbt_project_dir, s.dbt_profiles_dir, s.dbt_target, resolve_warehouse().dbt_env())
        dbt.prepare()
        print(dbt._worker.pid, flush=True)
        sys.stdin.read()
    """)
    run = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        worker = int(run.stdout.readline())
        os.kill(worker, 0)  # alive while its run is
        run.kill()
        run.wait()
        assert _gone(worker)
    finally:
        run.kill()
        run.wait()
        run.stdin.close()
        run.stdout.close()
