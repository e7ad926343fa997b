"""HTML for the catalog site: the index (lineage diagram + asset list) and one page per asset.

Pure functions from `SiteFacts` to strings. Every value from the graph or the catalog is escaped;
the pages reference only `site.css` and `site.js` beside them, so the site works from `file://`
and from any static host with no request leaving the page.
"""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from typing import Iterable, Mapping

from assetgraph.catalog_site.facts import DISPLAY_STATUSES, AssetFacts, CheckFacts, RunFacts, SiteFacts
from assetgraph.catalog_site.layout import NODE_H, NODE_W, Layout, layout

__all__ = ["page_name", "run_page_name", "render_index", "render_asset", "render_run"]

_LABEL_CHARS = 30


def page_name(key: str) -> str:
    """The file name of an asset's page: `marts/x` -> `marts__x.html` (flat, URL-safe)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key.replace("/", "__")) + ".html"


def run_page_name(run_id: str) -> str:
    """The file name of a run's page under `runs/`."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id) + ".html"


def _run_link(run_id: str, known: Iterable[str], prefix: str) -> str:
    """A run id linking to its page when the site has one (recent runs), else plain."""
    text = f"<code>{escape(run_id[:12])}</code>"
    return f"<a href='{prefix}{run_page_name(run_id)}' title='{escape(run_id)}'>{text}</a>" if run_id in known else text


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _badge(status: str | None) -> str:
    s = status or "none"
    return f"<span class='badge {escape(s)}'>{escape(s.replace('_', ' '))}</span>"


def _page(title: str, body: str, prefix: str = "") -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><link rel='stylesheet' href='{prefix}site.css'></head>"
        f"<body>{body}</body></html>"
    )


# -- the lineage diagram -----------------------------------------------------------------------


def _label(key: str, group: str) -> str:
    """The key without its lane's name when it starts with it (the lane already says it)."""
    if key.startswith(group + "/"):
        key = key[len(group) + 1 :]
    return key if len(key) <= _LABEL_CHARS else key[: _LABEL_CHARS - 1] + "…"


def _search_text(a: AssetFacts) -> str:
    spec = a.spec
    words = [a.key, spec.group, spec.kind.value, a.status, *spec.tags, *spec.owners]
    return escape(" ".join(words).lower())


def render_svg(facts: SiteFacts, lay: Layout) -> str:
    by_key = {a.key: a for a in facts.assets}
    out = [
        f"<svg id='lineage' xmlns='http://www.w3.org/2000/svg' width='{lay.width}' height='{lay.height}'"
        f" viewBox='0 0 {lay.width} {lay.height}' role='img' aria-label='asset lineage'>"
    ]
    for lane in lay.lanes:
        out.append(
            f"<g class='lane' data-group='{escape(lane.group)}'><rect x='4' y='{lane.y}' width='{lay.width - 8}'"
            f" height='{lane.height}' rx='6'/><text x='14' y='{lane.y + 17}'>{escape(lane.group)}</text></g>"
        )
    for up, down in lay.edges:
        a, b = lay.boxes[up], lay.boxes[down]
        x1, y1 = a.x + NODE_W, a.y + NODE_H // 2
        x2, y2 = b.x, b.y + NODE_H // 2
        mid = (x1 + x2) // 2
        out.append(
            f"<path class='edge' data-from='{escape(up)}' data-to='{escape(down)}'"
            f" d='M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}'/>"
        )
    for key, box in lay.boxes.items():
        a = by_key[key]
        status = a.status
        failing = a.failing_checks
        tip = f"{key} — {status}" + (f" — failing checks: {', '.join(failing)}" if failing else "")
        mark = "check-failed" if a.blocks else "check-warn"
        badge = f"<circle class='{mark}' cx='{box.x + NODE_W - 6}' cy='{box.y + 6}' r='6'/>" if failing else ""
        out.append(
            f"<a href='assets/{page_name(key)}'><g class='node {status}' data-key='{escape(key)}'"
            f" data-group='{escape(box.group)}' data-status='{status}' data-search='{_search_text(a)}'"
            f" data-failing-checks='{escape(','.join(failing))}'>"
            f"<title>{escape(tip)}</title>"
            f"<rect class='box' x='{box.x}' y='{box.y}' width='{NODE_W}' height='{NODE_H}'/>"
            f"<circle class='dot' cx='{box.x + 12}' cy='{box.y + NODE_H // 2}' r='5'/>"
            f"<text x='{box.x + 23}' y='{box.y + NODE_H // 2 + 4}'>{escape(_label(key, box.group))}</text>{badge}</g></a>"
        )
    out.append("</svg>")
    return "".join(out)


# -- the index ---------------------------------------------------------------------------------


def _links(links: Mapping[str, str], prefix: str = "") -> str:
    if not links:
        return ""
    items = "".join(f"<a href='{escape(prefix + href)}'>{escape(name)}</a>" for name, href in links.items())
    return f"<nav class='links'>{items}</nav>"


def _last_run(facts: SiteFacts) -> str:
    if not facts.runs:
        return "<p class='muted'>No run recorded in the catalog yet.</p>"
    r = facts.runs[0]
    took = _seconds((r.finished_at - r.started_at).total_seconds()) if r.finished_at and r.started_at else "-"
    msg = f" — {escape(r.message[:300])}" if r.message else ""
    return (
        f"<p id='last-run'>Last run {_run_link(r.run_id, {r.run_id}, 'runs/')} {_badge(r.status)}"
        f" <code>{escape(r.selection)}</code> started"
        f" {_when(r.started_at)} UTC, {took} s, trigger {escape(r.trigger or '-')}{msg}</p>"
    )


def _runs_table(runs: Iterable[RunFacts], prefix: str) -> str:
    runs = list(runs)
    if not runs:
        return "<p class='muted'>No run recorded in the catalog yet.</p>"
    known = {r.run_id for r in runs}
    rows = []
    for r in runs:
        retry = f"retry of {_run_link(r.retry_of, known, prefix)}" if r.retry_of else ""
        by = ", ".join(_run_link(c, known, prefix) for c in r.retried_by)
        rows.append(
            f"<tr data-run='{escape(r.run_id)}'><td>{_run_link(r.run_id, known, prefix)}</td><td>{_badge(r.status)}</td>"
            f"<td><code>{escape(r.selection[:200])}</code></td><td class='when'>{_when(r.started_at)}</td>"
            f"<td>{escape(r.trigger or '-')}</td><td>{retry}{'<br>' if retry and by else ''}"
            f"{'retried by ' + by if by else ''}</td></tr>"
        )
    return (
        "<table id='runs'><thead><tr><th>run</th><th>status</th><th>selection</th><th>started (UTC)</th>"
        f"<th>trigger</th><th>retries</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _asset_rows(assets: Iterable[AssetFacts]) -> str:
    rows = []
    for a in assets:
        last = a.history[0] if a.history else None
        checks = ", ".join(escape(c) for c in a.failing_checks)
        fresh = "-" if a.stale is None else ("stale" if a.stale else "fresh")
        rows.append(
            f"<tr data-key='{escape(a.key)}' data-group='{escape(a.spec.group)}' data-search='{_search_text(a)}'>"
            f"<td><a href='assets/{page_name(a.key)}'><code>{escape(a.key)}</code></a></td>"
            f"<td>{escape(a.spec.kind.value)}</td><td>{_badge(a.status)}</td>"
            f"<td class='when'>{_when(last.finished_at if last else None)}</td>"
            f"<td class='num'>{_num(last.row_count if last else None)}</td>"
            f"<td class='num'>{_seconds(last.seconds if last else None)}</td><td>{fresh}</td>"
            f"<td>{len(a.checks)}{' — failing: ' + checks if checks else ''}</td></tr>"
        )
    return "".join(rows)


def render_index(facts: SiteFacts, links: Mapping[str, str] | None = None) -> str:
    groups: dict[str, list[AssetFacts]] = {}
    for a in facts.assets:
        groups.setdefault(a.spec.group, []).append(a)
    lay = layout(
        (a.key for a in facts.assets),
        ((u, a.key) for a in facts.assets for u in a.upstream),
        {a.key: a.spec.group for a in facts.assets},
    )
    counts = {s: sum(1 for a in facts.assets if a.status == s) for s in DISPLAY_STATUSES}
    legend = "".join(f"<span>{_badge(s)} {counts[s]}</span>" for s in DISPLAY_STATUSES if counts[s])
    toggles = "".join(
        f"<label><input type='checkbox' checked data-group-toggle='{escape(g)}'> {escape(g)}"
        f" <span class='muted'>({len(v)})</span></label>"
        for g, v in sorted(groups.items())
    )
    sections = "".join(
        f"<details open data-group='{escape(g)}'><summary>{escape(g)} ({len(v)})</summary><table>"
        "<thead><tr><th>asset</th><th>kind</th><th>status</th><th>last finished (UTC)</th><th>rows</th>"
        f"<th>seconds</th><th>freshness</th><th>checks</th></tr></thead><tbody>{_asset_rows(v)}</tbody></table></details>"
        for g, v in sorted(groups.items())
    )
    body = (
        f"<header><h1>Asset catalog</h1>{_links(links or {})}{_last_run(facts)}"
        f"<div class='legend'>{len(facts.assets)} assets: {legend}</div></header><main>"
        "<div class='toolbar'><input type='search' id='filter' placeholder='Filter: key, group, tag, owner, status'"
        " aria-label='filter assets'><span id='filter-count' class='muted'></span>"
        "<span><button type='button' data-zoom='out' title='zoom out'>−</button>"
        "<span id='zoom-level'>100%</span><button type='button' data-zoom='in' title='zoom in'>+</button>"
        f"<button type='button' data-zoom='fit'>fit</button></span>{toggles}</div>"
        f"<div class='diagram'>{render_svg(facts, lay)}</div>"
        f"<h2>Assets</h2>{sections}<h2>Recent runs</h2>{_runs_table(facts.runs, 'runs/')}"
        f"<p class='muted'>Generated {_when(facts.generated_at)} UTC from the asset graph and the"
        " asset_catalog tables. Machine-readable: <a href='catalog.json'>catalog.json</a>.</p>"
        "</main><script src='site.js'></script>"
    )
    return _page("Asset catalog", body)


# -- one page per asset ------------------------------------------------------------------------


def _asset_list(keys: Iterable[str]) -> str:
    items = "".join(f"<li><a href='{page_name(k)}'><code>{escape(k)}</code></a></li>" for k in keys)
    return f"<ul>{items}</ul>" if items else "<p class='muted'>none</p>"


_OWN_COLUMNS = frozenset({"seconds", "rows", "row_count", "attempts"})


def _scalars(meta: Mapping[str, object]) -> dict[str, object]:
    """Numeric metadata only: counts and rates are safe to show; free text may not be."""
    return {
        k: v for k, v in meta.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in _OWN_COLUMNS
    }


def _checks_table(checks: Iterable[CheckFacts]) -> str:
    rows = []
    for c in checks:
        latest = c.latest
        trend = "".join(
            f"<span class='{escape(r.status)}' title='{escape(r.status)} {_when(r.evaluated_at)}'></span>"
            for r in reversed(c.history)
        )
        observed = ", ".join(f"{escape(k)}={v:,}" for k, v in _scalars(latest.metadata if latest else {}).items())
        rows.append(
            f"<tr data-check='{escape(c.spec.key.name)}' data-status='{escape(latest.status if latest else 'none')}'>"
            f"<td><code>{escape(c.spec.key.name)}</code><br><span class='muted'>{escape(c.spec.description[:200])}</span></td>"
            f"<td>{escape(c.spec.source)}</td><td>{'blocking' if c.spec.blocking else 'warn'}</td>"
            f"<td>{_badge(latest.status if latest else None)}</td>"
            f"<td>{escape((latest.message if latest else '')[:400])}{'<br>' + observed if observed else ''}</td>"
            f"<td class='trend'>{trend}</td><td class='when'>{_when(latest.evaluated_at if latest else None)}</td></tr>"
        )
    if not rows:
        return "<p class='muted'>No checks on this asset.</p>"
    return (
        "<table><thead><tr><th>check</th><th>source</th><th>severity</th><th>latest</th><th>message</th>"
        "<th>trend (oldest → newest)</th><th>evaluated (UTC)</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _history_table(a: AssetFacts, runs: Iterable[str] = ()) -> str:
    if not a.history:
        return "<p class='muted'>Never materialized.</p>"
    extra: list[str] = []
    for m in a.history:
        for k in _scalars(m.metadata):
            if k not in extra:
                extra.append(k)
    head = "".join(f"<th>{escape(k)}</th>" for k in extra)
    known = set(runs)
    rows = []
    for m in a.history:
        meta = _scalars(m.metadata)
        cells = "".join(f"<td class='num'>{meta[k]:,}</td>" if k in meta else "<td>-</td>" for k in extra)
        rows.append(
            f"<tr><td>{_run_link(m.run_id, known, '../runs/')}</td><td>{escape(m.partition_key or '-')}</td>"
            f"<td>{_badge(m.status)}</td><td class='when'>{_when(m.started_at)}</td><td class='num'>{_seconds(m.seconds)}</td>"
            f"<td class='num'>{_num(m.row_count)}</td><td class='num'>{m.attempts or '-'}</td>{cells}"
            f"<td>{escape(m.message[:300])}</td></tr>"
        )
    return (
        "<div class='wide'><table id='materializations'><thead><tr><th>run</th><th>partition</th><th>status</th>"
        f"<th>started (UTC)</th><th>seconds</th><th>rows</th><th>attempts</th>{head}<th>message</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def render_asset(a: AssetFacts, links: Mapping[str, str] | None = None, runs: Iterable[str] = ()) -> str:
    spec = a.spec
    policy = f"within {spec.freshness.max_lag_hours:g} h" if spec.freshness else "none"
    fresh = "" if a.stale is None else (" — <b>stale</b>" if a.stale else " — fresh")
    facts = {
        "status": _badge(a.status),
        "kind": escape(spec.kind.value),
        "group": escape(spec.group),
        "owners": escape(", ".join(spec.owners) or "-"),
        "tags": escape(", ".join(sorted(spec.tags)) or "-"),
        "code version": escape(spec.code_version or "-"),
        "freshness": f"{policy}{fresh}; last success {_when(a.last_success_at)} UTC",
    }
    for k in ("relation", "materialized", "path"):
        if spec.metadata.get(k):
            facts[k] = f"<code>{escape(str(spec.metadata[k]))}</code>"
    if spec.partitions:
        facts["partitions"] = f"daily from {escape(spec.partitions.start)}"
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts.items())
    sql = ""
    if a.sql is not None:
        label = "Compiled SQL" if a.sql_is_compiled else "SQL (source; not compiled yet)"
        sql = f"<h2>{label}</h2><pre class='sql'><code>{escape(a.sql)}</code></pre>"
    body = (
        f"<header><p><a href='../index.html'>← Asset catalog</a></p><h1><code>{escape(a.key)}</code></h1>"
        f"{_links(links or {}, '../')}</header><main>"
        f"<p>{escape(spec.description) or '<span class=muted>No description.</span>'}</p>"
        f"<dl class='facts'>{dl}</dl>"
        f"<h2>Upstream</h2>{_asset_list(a.upstream)}<h2>Downstream</h2>{_asset_list(a.downstream)}"
        f"<h2>Checks</h2>{_checks_table(a.checks)}"
        f"<h2>Recent materializations</h2>{_history_table(a, runs)}{sql}</main>"
    )
    return _page(a.key, body, prefix="../")


# -- one page per recent run -------------------------------------------------------------------


def render_run(run: RunFacts, known: Iterable[str], links: Mapping[str, str] | None = None) -> str:
    """A run: its facts, the run it retried and the runs that retried it, and its steps."""
    known = set(known)
    took = (
        _seconds((run.finished_at - run.started_at).total_seconds()) if run.finished_at and run.started_at else "-"
    )
    facts = {
        "status": _badge(run.status),
        "selection": f"<code>{escape(run.selection)}</code>",
        "partitions": escape(run.partitions or "-"),
        "started": f"{_when(run.started_at)} UTC, {took} s",
        "trigger": escape(run.trigger or "-"),
    }
    if run.message:
        facts["message"] = escape(run.message[:600])
    chain = ""
    if run.retry_of:
        chain += f"<p id='retry-of'>Retry of {_run_link(run.retry_of, known, '')}</p>"
    if run.retried_by:
        chain += "<p id='retried-by'>Retried by " + ", ".join(_run_link(c, known, "") for c in run.retried_by) + "</p>"
    rows = "".join(
        f"<tr><td><a href='../assets/{page_name(st.asset_key)}'><code>{escape(st.asset_key)}</code></a></td>"
        f"<td>{escape(st.partition_key or '-')}</td><td>{_badge(st.status)}</td><td>{escape(st.message[:300])}</td></tr>"
        for st in run.steps
    )
    steps = (
        "<table id='steps'><thead><tr><th>asset</th><th>partition</th><th>status</th><th>message</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>" if rows else "<p class='muted'>No materialization recorded in this run.</p>"
    )
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts.items())
    body = (
        f"<header><p><a href='../index.html'>← Asset catalog</a></p><h1>Run <code>{escape(run.run_id)}</code></h1>"
        f"{_links(links or {}, '../')}</header><main>{chain}<dl class='facts'>{dl}</dl>"
        f"<h2>Steps</h2>{steps}</main>"
    )
    return _page(f"run {run.run_id}", body, prefix="../")
