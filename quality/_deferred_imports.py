"""Defer the modules great-expectations imports at module level but a SQL suite never uses.

GX 1.x imports `altair` (charts for its docs renderers) and `scipy.stats` (the KL-divergence
and KS-test expectations) while `import great_expectations` runs. Measured with
`python -X importtime` on the 2-core machine: about 0.16 s and 0.42 s of a 2.3 s import.
A run imports GX on a thread that shares the GIL with Prefect's start and the landing, and
the raw tables' suites wait for that import (night 2 of `make bench`, `benchmarks/README.md`).

`defer(name)` puts a placeholder module in `sys.modules`. `import altair as alt` and
`from scipy import stats` bind the placeholder; the first attribute read on it imports the real
module and serves every later read from it. A suite that does use such an expectation pays
the import then. Only modules not imported yet are deferred.

The standard library's `importlib.util.LazyLoader` cannot do this on Python 3.11: the import
statement itself reads the module's `__spec__`, which makes LazyLoader load the module.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

__all__ = ["defer", "GX_UNUSED_MODULES"]

GX_UNUSED_MODULES = ("altair", "scipy.stats")

_lock = threading.RLock()  # a real import may read another placeholder


class _Deferred(types.ModuleType):
    """Stands in for a module until its first attribute read."""

    def __getattr__(self, attr: str) -> Any:  # called only for attributes not set on the placeholder
        return getattr(_load(self), attr)

    def __dir__(self) -> list[str]:
        return dir(_load(self))


def _load(placeholder: _Deferred) -> types.ModuleType:
    name = placeholder.__name__
    with _lock:
        real = placeholder.__dict__.get("_deferred_real")
        if real is None:
            if sys.modules.get(name) is placeholder:
                del sys.modules[name]
            real = importlib.import_module(name)
            placeholder.__dict__["_deferred_real"] = real
    return real


def defer(name: str) -> bool:
    """Defer importing `name` until it is used; False if it is imported already or missing."""
    with _lock:
        if name in sys.modules:
            return False
        try:
            spec = importlib.util.find_spec(name)  # imports the parent package, not `name`
        except (ImportError, ValueError):
            return False
        if spec is None:
            return False
        placeholder = _Deferred(name)
        placeholder.__spec__ = spec  # what the import statement reads (`_initializing`)
        placeholder.__file__ = spec.origin
        if spec.submodule_search_locations is not None:
            placeholder.__path__ = list(spec.submodule_search_locations)
        sys.modules[name] = placeholder
        return True
