"""The asset catalog site: a static folder of HTML, CSS and JS that shows last night.

    write_catalog_site(project, warehouse, Path("reports/catalog"),
                       links={"Data-quality report": Path("reports/quality/quality-<run>.html")})

writes `index.html` (the lineage diagram, coloured by status, and the asset list), one page per
asset under `assets/`, `site.css`, `site.js` and `catalog.json` (the same facts for tools). No CDN,
no fonts, no fetches: it works from `file://` and from any static host.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Mapping

from assetgraph.catalog_site.facts import AssetFacts, SiteFacts, display_status, gather
from assetgraph.catalog_site.layout import layout
from assetgraph.catalog_site.render import page_name, render_asset, render_index, render_run, run_page_name
from assetgraph.graph import AssetGraph
from assetgraph.warehouse import Warehouse

__all__ = [
    "write_catalog_site",
    "write_site",
    "gather",
    "layout",
    "page_name",
    "run_page_name",
    "display_status",
    "SiteFacts",
    "AssetFacts",
]


def _facts_json(facts: SiteFacts) -> dict:
    def when(v):
        return v.isoformat() + "Z" if v else None

    return {
        "generated_at": when(facts.generated_at),
        "last_run": (
            {"run_id": facts.runs[0].run_id, "status": facts.runs[0].status, "selection": facts.runs[0].selection,
             "started_at": when(facts.runs[0].started_at), "finished_at": when(facts.runs[0].finished_at)}
            if facts.runs else None
        ),
        "runs": [
            {"run_id": r.run_id, "status": r.status, "selection": r.selection, "started_at": when(r.started_at),
             "retry_of": r.retry_of, "retried_by": list(r.retried_by), "page": f"runs/{run_page_name(r.run_id)}"}
            for r in facts.runs
        ],
        "assets": [
            {
                "key": a.key,
                "kind": a.spec.kind.value,
                "group": a.spec.group,
                "owners": list(a.spec.owners),
                "description": a.spec.description,
                "status": a.status,
                "stale": a.stale,
                "last_success_at": when(a.last_success_at),
                "upstream": list(a.upstream),
                "downstream": list(a.downstream),
                "page": f"assets/{page_name(a.key)}",
                "checks": [
                    {"name": c.spec.key.name, "blocking": c.spec.blocking, "source": c.spec.source,
                     "latest": c.latest.status if c.latest else None}
                    for c in a.checks
                ],
                "materializations": [
                    {"run_id": m.run_id, "partition": m.partition_key, "status": m.status,
                     "finished_at": when(m.finished_at), "seconds": m.seconds, "rows": m.row_count}
                    for m in a.history
                ],
            }
            for a in facts.assets
        ],
    }


def write_site(facts: SiteFacts, out_dir: Path, links: Mapping[str, Path | str] | None = None) -> Path:
    """Render `facts` into `out_dir`; returns the path of `index.html`. Links are made relative."""
    out_dir = Path(out_dir)
    pages = out_dir / "assets"
    pages.mkdir(parents=True, exist_ok=True)
    rel = {
        name: Path(os.path.relpath(Path(target).resolve(), out_dir.resolve())).as_posix()
        for name, target in (links or {}).items()
    }
    static = resources.files("assetgraph.catalog_site") / "static"
    for name in ("site.css", "site.js"):
        with resources.as_file(static / name) as src:
            shutil.copyfile(src, out_dir / name)
    run_ids = [r.run_id for r in facts.runs]
    wanted = set()
    for a in facts.assets:
        name = page_name(a.key)
        wanted.add(name)
        (pages / name).write_text(render_asset(a, rel, run_ids), encoding="utf-8")
    for stale_page in pages.glob("*.html"):  # assets removed from the graph since the last render
        if stale_page.name not in wanted:
            stale_page.unlink()
    run_pages = out_dir / "runs"
    run_pages.mkdir(exist_ok=True)
    wanted_runs = set()
    for r in facts.runs:
        wanted_runs.add(run_page_name(r.run_id))
        (run_pages / run_page_name(r.run_id)).write_text(render_run(r, run_ids, rel), encoding="utf-8")
    for stale_page in run_pages.glob("*.html"):  # runs no longer among the recent ones
        if stale_page.name not in wanted_runs:
            stale_page.unlink()
    (out_dir / "catalog.json").write_text(json.dumps(_facts_json(facts), indent=1), encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(render_index(facts, rel), encoding="utf-8")
    return index


def write_catalog_site(
    graph: AssetGraph,
    wh: Warehouse | None,
    out_dir: Path,
    *,
    dbt_project_dir: Path | None = None,
    links: Mapping[str, Path | str] | None = None,
    history: int = 10,
    now: dt.datetime | None = None,
) -> Path:
    """Read the catalog tables and write the site; returns the path of `index.html`."""
    facts = gather(graph, wh, dbt_project_dir=dbt_project_dir, history=history, now=now)
    return write_site(facts, out_dir, links)
