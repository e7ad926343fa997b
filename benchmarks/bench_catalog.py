"""Catalog site at scale: a generated 500-model dbt manifest, rendered, then loaded in Chromium.

    python -m benchmarks.bench_catalog [--models 500] [--repeat 5]

1. Generates a dbt manifest of `--models` models in five folders (staging, intermediate, marts,
   reporting, exports) over 40 sources, 1-3 parents each, two tests per model (deterministic).
2. Builds the asset graph from it exactly as `assetgraph` does (`assets_from_manifest`) and gives
   every asset ten recorded materializations and check results (in memory; no warehouse needed).
3. Renders the site (`write_site`) and opens `index.html` and one asset page in headless Chromium
   from `file://`, `--repeat` times each, reading the browser's own navigation timing
   (`loadEventEnd`). Baseline, in the same run: a page of the same size in bytes holding only
   plain text, so the ratio shows what the diagram and script cost over the bytes alone.
Prints the medians, the ratio to the baseline and to the 2 s bound (goal: index under 2 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

__all__ = ["main", "synthetic_manifest"]

BOUND_SECONDS = 2.0
FOLDERS = ("staging", "intermediate", "marts", "reporting", "exports")


def synthetic_manifest(models: int, seed: int = 5) -> dict:
    """A dbt-shaped manifest: sources, models layered by folder, two tests per model."""
    rng = random.Random(seed)
    sources = {
        f"source.bench.src_{i % 8}.table_{i}": {
            "resource_type": "source", "source_name": f"src_{i % 8}", "name": f"table_{i}",
            "schema": "raw", "identifier": f"table_{i}", "description": f"raw table {i}",
        }
        for i in range(40)
    }
    nodes: dict[str, dict] = {}
    by_folder: dict[str, list[str]] = {f: [] for f in FOLDERS}
    for i in range(models):
        folder = FOLDERS[min(len(FOLDERS) - 1, i * len(FOLDERS) // models)]
        level = FOLDERS.index(folder)
        name = f"{folder[:3]}_model_{i:04d}"
        uid = f"model.bench.{name}"
        if level == 0:
            parents = rng.sample(sorted(sources), rng.randint(1, 2))
        else:
            pool = [u for f in FOLDERS[:level] for u in by_folder[f]][-200:]
            parents = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
        nodes[uid] = {
            "resource_type": "model", "name": name, "fqn": ["bench", folder, name],
            "original_file_path": f"models/{folder}/{name}.sql", "schema": folder,
            "description": f"Model {i} of the {folder} layer.",
            "config": {"materialized": "view" if level == 0 else "table", "meta": {"owner": "analytics"}},
            "depends_on": {"nodes": parents}, "checksum": {"checksum": f"{i:064x}"}, "tags": [folder],
        }
        by_folder[folder].append(uid)
        for test in ("not_null", "unique"):
            nodes[f"test.bench.{test}_{name}_id"] = {
                "resource_type": "test", "name": f"{test}_{name}_id", "attached_node": uid,
                "depends_on": {"nodes": [uid]}, "config": {"severity": "ERROR"},
            }
    return {"metadata": {"project_name": "bench"}, "nodes": nodes, "sources": sources}


def _facts(models: int):
    from assetgraph.catalog_site.facts import (
        AssetFacts, CheckFacts, CheckRun, Materialization, RunFacts, SiteFacts,
    )
    from assetgraph.dbt.manifest import assets_from_manifest
    from assetgraph.graph import AssetGraph

    dbt = assets_from_manifest(synthetic_manifest(models))
    graph = AssetGraph.build(dbt.specs, dbt.checks)
    now = dt.datetime(2026, 11, 23, 7, 0)
    rng = random.Random(9)
    assets = []
    for k in graph.keys:
        history = tuple(
            Materialization(f"run-{n:02d}", None, "success" if rng.random() > 0.05 else "failed",
                            now - dt.timedelta(days=n, seconds=30), now - dt.timedelta(days=n),
                            rng.randint(0, 10**6), 1, "", {})
            for n in range(10)
        )
        checks = tuple(
            CheckFacts(c, tuple(CheckRun(f"run-{n:02d}", "passed" if rng.random() > 0.03 else "failed", "", {},
                                         now - dt.timedelta(days=n)) for n in range(10)))
            for c in graph.checks_for(k)
        )
        assets.append(AssetFacts(
            spec=graph.spec(k), upstream=tuple(sorted(map(str, graph.parents(k)))),
            downstream=tuple(sorted(map(str, graph.children(k)))), history=history,
            last_success_at=now, stale=False, checks=checks,
            sql="select 1" if graph.spec(k).kind.value == "dbt" else None, sql_is_compiled=True,
        ))
    runs = (RunFacts("run-00", "+exports", "success", now - dt.timedelta(minutes=9), now, "bench", ""),)
    return graph, SiteFacts(tuple(assets), runs, now)


def _load_seconds(browser, path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        outside: list[str] = []
        page.on("request", lambda r: None if r.url.startswith("file://") else outside.append(r.url))
        page.goto(path.as_uri(), wait_until="load")
        ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        page.close()
        if outside:
            raise RuntimeError(f"{path.name} made network requests: {outside[:3]}")
        times.append(ms / 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_catalog")
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from assetgraph.catalog_site import page_name, write_site

    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise RuntimeError("Chromium not found: apt-get install -y chromium (or set CHROMIUM_PATH)")
    graph, facts = _facts(args.models)
    with tempfile.TemporaryDirectory(prefix="assetgraph-bench-catalog-") as tmp:
        out = Path(tmp) / "site"
        t0 = time.perf_counter()
        index = write_site(facts, out)
        render_s = time.perf_counter() - t0
        size = index.stat().st_size
        plain = Path(tmp) / "plain.html"
        plain.write_text("<!doctype html><meta charset='utf-8'><pre>" + "x" * size + "</pre>", encoding="utf-8")
        biggest = max(facts.assets, key=lambda a: len(a.downstream) + len(a.upstream))
        asset_page = out / "assets" / page_name(biggest.key)

        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium,
                args=["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu"],
            )
            _load_seconds(browser, index, 1)  # warm the browser and the file cache
            index_s = _load_seconds(browser, index, args.repeat)
            plain_s = _load_seconds(browser, plain, args.repeat)
            asset_s = _load_seconds(browser, asset_page, args.repeat)
            browser.close()
    result = {
        "models": args.models, "assets": len(graph.keys), "index_bytes": size, "render_s": round(render_s, 3),
        "index_load_s": round(index_s, 3), "plain_load_s": round(plain_s, 3), "asset_page_load_s": round(asset_s, 3),
        "ratio_plain": round(index_s / plain_s, 2) if plain_s else None,
        "ratio_bound": round(index_s / BOUND_SECONDS, 3), "goal_met": index_s < BOUND_SECONDS,
    }
    print(f"{args.models} models -> {len(graph.keys)} assets, index.html {size / 1024:.0f} KiB, rendered in {render_s:.2f} s")
    print(f"index load  {index_s:.3f} s (median of {args.repeat}) = {result['ratio_bound']:.2f}x the {BOUND_SECONDS:g} s bound;"
          f" {result['ratio_plain']:.2f}x a plain page of the same size ({plain_s:.3f} s)")
    print(f"asset page  {asset_s:.3f} s ({biggest.key})")
    return result


if __name__ == "__main__":
    main()
