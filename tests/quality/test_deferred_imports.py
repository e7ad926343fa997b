"""`quality._deferred_imports`: GX's import leaves altair and scipy.stats unloaded until they are
used, and using them then works as if they had been imported. Each case runs in a fresh
interpreter, since the test process may have imported them already."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _run(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_gx_import_leaves_altair_and_scipy_stats_unloaded_until_used() -> None:
    out = _run("""
        import json, sys
        import quality.gx_engine  # imports great_expectations
        before = {
            "altair": type(sys.modules["altair"]).__name__,
            "stats": type(sys.modules["scipy.stats"]).__name__,
            "stats_loaded": "scipy.stats._stats_py" in sys.modules,
            "altair_loaded": "altair.vegalite" in sys.modules,
        }
        # GX's own module holds the placeholders; reading through them imports the real ones
        from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
        entropy = kl.stats.entropy([0.5, 0.5], [0.9, 0.1])
        from scipy import stats
        chart = kl.alt.Chart.__name__
        import altair
        print(json.dumps({
            **before,
            "entropy": entropy,
            "after_stats": type(sys.modules["scipy.stats"]).__name__,
            "after_altair": type(sys.modules["altair"]).__name__,
            "same_entropy": stats.entropy is sys.modules["scipy.stats"].entropy,
            "chart": chart,
            "altair_has_chart": hasattr(altair, "Chart"),
        }))
    """)
    assert out["altair"] == out["stats"] == "_Deferred"
    assert not out["stats_loaded"] and not out["altair_loaded"]
    assert out["entropy"] == pytest.approx(0.5108256, rel=1e-6)  # KL(0.5,0.5 || 0.9,0.1)
    assert out["after_stats"] == out["after_altair"] == "module"  # the real ones replaced them
    assert out["same_entropy"] and out["chart"] == "Chart" and out["altair_has_chart"]


def test_defer_skips_imported_and_missing_modules() -> None:
    out = _run("""
        import json, sys
        import json as already
        from quality._deferred_imports import defer
        print(json.dumps({
            "imported": defer("json"),
            "missing": defer("no_such_module_anywhere"),
            "missing_child": defer("json.no_such_child"),
            "json_is_real": sys.modules["json"] is already,
        }))
    """)
    assert out == {"imported": False, "missing": False, "missing_child": False, "json_is_real": True}


def test_first_use_from_many_threads_loads_once() -> None:
    out = _run("""
        import json, sys, threading
        from quality._deferred_imports import defer
        assert defer("altair")
        placeholder = sys.modules["altair"]
        seen, barrier = [], threading.Barrier(4)
        def use():
            barrier.wait()
            seen.append(placeholder.Chart)
        threads = [threading.Thread(target=use) for _ in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print(json.dumps({"n": len(seen), "one_class": len({id(c) for c in seen}),
                          "real": sys.modules["altair"].Chart is seen[0]}))
    """)
    assert out == {"n": 4, "one_class": 1, "real": True}
