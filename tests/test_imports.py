"""The import structure: no module imports itself back through others (any import statement,
at the top or inside a function), the asset layer imports no template package, and a source's
folder under flows/ uses the landing engine, never the other way round. Read from the source
text (ast), nothing is imported."""

from __future__ import annotations

import ast

import networkx as nx

from tests.conftest import REPO

PACKAGES = ("assetgraph", "flows", "sync", "quality")
TEMPLATE = ("flows", "sync", "quality")


def _module_name(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> nx.DiGraph:
    files = {_module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                # `from pkg import module` names the module; `from module import name` the module
                hit = target if target in files else None
                if hit and hit != name:
                    graph.add_edge(name, hit)
                    break
    return graph


def test_no_module_import_cycles():
    cycles = list(nx.simple_cycles(_import_graph()))
    assert cycles == [], cycles


def test_asset_layer_imports_no_template_code():
    graph = _import_graph()
    bad = [(a, b) for a, b in graph.edges if a.startswith("assetgraph") and b.split(".")[0] in TEMPLATE]
    assert bad == []


def test_landing_engine_imports_no_source():
    graph = _import_graph()
    bad = [(a, b) for a, b in graph.edges
           if a.startswith("flows.landing") and b.startswith("flows.") and not b.startswith("flows.landing")]
    assert bad == []
    # and the sources use it: a new source is a folder on top of the engine
    assert graph.has_edge("flows.signups.assets", "flows.landing.table_spec")
