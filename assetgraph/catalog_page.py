"""A self-contained catalog page: one HTML file with inline CSS and data, no network requests,
plus `catalog.json` with the same facts for other tools."""

from __future__ import annotations

import html
import json
from pathlib import Path

from assetgraph.loader import Project
from assetgraph.status import asset_status
from assetgraph.warehouse import Warehouse

__all__ = ["write_catalog_page"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1d2430}
h1{font-size:1.4rem} table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #dde3ea;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f6f9} .success{color:#127a3b} .failed{color:#b42318} .skipped{color:#a15c07}
.stale{color:#b42318;font-weight:600} .fresh{color:#127a3b} code{font-size:12px}
"""


def write_catalog_page(project: Project, wh: Warehouse, out_dir: Path) -> Path:
    g = project.graph
    views = {v.key: v for v in asset_status(wh, g, g.keys)}
    assets = []
    for k in g.keys:
        s = g.spec(k)
        v = views[str(k)]
        assets.append(
            {
                **v.as_json(),
                "group": s.group,
                "deps": [str(d) for d in sorted(s.deps)],
                "description": s.description,
                "checks": [
                    {"name": c.key.name, "blocking": c.blocking, "source": c.source,
                     "failing": c.key.name in v.failed_checks}
                    for c in g.checks_for(k)
                ],
            }
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "catalog.json").write_text(json.dumps({"assets": assets}, indent=2), encoding="utf-8")
    rows = []
    for a in assets:
        status = a["last_status"] or "never"
        fresh = "" if a["stale"] is None else ("stale" if a["stale"] else "fresh")
        checks = "".join(
            f"<div class='{'failed' if c['failing'] else ''}'>{html.escape(c['name'])}"
            f"{' (blocking)' if c['blocking'] else ''}{' — failing' if c['failing'] else ''}</div>"
            for c in a["checks"]
        )
        rows.append(
            f"<tr data-asset='{html.escape(a['key'])}'><td><code>{html.escape(a['key'])}</code><br>"
            f"<small>{html.escape(a['description'][:200])}</small></td><td>{a['kind']}</td>"
            f"<td>{html.escape(a['group'])}</td><td>{'<br>'.join(html.escape(d) for d in a['deps']) or '-'}</td>"
            f"<td class='{status}'>{status}</td><td>{a['last_success_at'] or '-'}</td>"
            f"<td class='{fresh}'>{fresh or '-'}</td><td>{checks or '-'}</td></tr>"
        )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Asset catalog</title>"
        f"<style>{_CSS}</style></head><body><h1>Asset catalog</h1>"
        f"<p>{len(assets)} assets. Generated from the warehouse catalog tables.</p>"
        "<table><thead><tr><th>asset</th><th>kind</th><th>group</th><th>upstream</th><th>last status</th>"
        "<th>last success (UTC)</th><th>freshness</th><th>checks</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>"
    )
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
