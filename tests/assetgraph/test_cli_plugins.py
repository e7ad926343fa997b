"""The `assetgraph.cli` entry-point group: installed packages add sub-command groups.

A real distribution is made on disk (a `.dist-info` with `entry_points.txt` on PYTHONPATH), so
importlib.metadata finds it exactly as it finds an installed plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ASSETGRAPH = Path(sys.executable).parent / "assetgraph"


def _install_fake_plugins(root: Path) -> dict[str, str]:
    (root / "hello_plugin.py").write_text(textwrap.dedent('''
        import typer
        app = typer.Typer(no_args_is_help=True)

        @app.command()
        def greet(name: str) -> None:
            print(f"hello {name}")

        @app.command()
        def other() -> None:
            print("other")
        not_an_app = 42
    '''))
    info = root / "hello_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[assetgraph.cli]\nhello = hello_plugin:app\nbroken = no_such_module_xyz:app\n"
        "odd = hello_plugin:not_an_app\nlist = hello_plugin:app\n"
    )
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))


def test_plugins_are_added_and_a_broken_one_costs_one_warning(tmp_path):
    env = _install_fake_plugins(tmp_path)
    proc = subprocess.run([str(ASSETGRAPH), "hello", "greet", "ana"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hello ana"
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2 and "'broken'" in warnings[0] + warnings[1] and "'odd'" in warnings[0] + warnings[1]
    assert "Traceback" not in proc.stderr

    # a plugin cannot take over a core command: `list` is still the core's
    helped = subprocess.run([str(ASSETGRAPH), "--help"], capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "hello" in helped.stdout and "civis" in helped.stdout
    assert "List assets in graph order" in helped.stdout
