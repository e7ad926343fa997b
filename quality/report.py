"""The data-quality report of one run, from the catalog: a self-contained HTML page (inline CSS,
no scripts, no external resources: it renders offline) and a Markdown summary for a Prefect
artifact.

    path = build_report(warehouse, run_id, Path("reports"))    # reports/quality-<run_id>.html
    text = report_markdown(warehouse, run_id)                   # for create_markdown_artifact

Per asset and check: status, observed vs expected, unexpected rows, masked samples, and the
trend over the previous runs. Only whitelisted metadata keys are shown and every text goes
through `quality.masking.scrub_text`, so personal data never reaches the page even if an upstream
message carried it.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

from assetgraph.warehouse import Warehouse
from quality.history import CheckRow, RunQuality, load_run
from quality.masking import scrub_text

__all__ = ["build_report", "report_markdown", "render_html", "render_markdown", "report_path"]

_STATUS_LABEL = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "overridden": "OVERRIDDEN", "skipped": "SKIPPED"}
_TREND_LETTER = {"passed": "P", "failed": "F", "error": "E", "overridden": "O", "skipped": "S"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2430;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 6px;border-bottom:1px solid #d8dee6;padding-bottom:4px}
.meta{color:#5b6675;font-size:13px}.meta code{font-size:12px}
.totals span{display:inline-block;margin:8px 8px 0 0;padding:3px 10px;border-radius:12px;font-weight:600;font-size:13px}
table{border-collapse:collapse;width:100%;margin-top:6px}
th,td{border-bottom:1px solid #e6eaf0;padding:5px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#f4f6f9;font-weight:600}
.badge{display:inline-block;min-width:64px;text-align:center;padding:1px 6px;border-radius:4px;font-weight:700;font-size:12px}
.passed{background:#dff3e4;color:#16602b}.failed{background:#fbe1e1;color:#9b1c1c}
.error{background:#fde9cf;color:#8a4b00}.overridden{background:#e8e1fb;color:#4b2a9b}
.skipped{background:#eceff3;color:#4c5665}.success{background:#dff3e4;color:#16602b}
.trend span{display:inline-block;width:15px;height:15px;margin-right:2px;border-radius:3px;font-size:10px;
line-height:15px;text-align:center;font-weight:700}
.trend .now{outline:2px solid #1d2430;outline-offset:1px}
.block{font-weight:700;color:#9b1c1c}.muted{color:#7a8492}
.alert{background:#fbe1e1;border-left:4px solid #9b1c1c;padding:8px 12px;margin-top:12px}
footer{margin-top:32px;color:#7a8492;font-size:12px}
"""


def _t(value: Any) -> str:
    """Scrubbed, HTML-escaped text."""
    return html.escape(scrub_text("" if value is None else str(value)))


def _fmt_time(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def observed(c: CheckRow) -> str:
    m = c.metadata
    if m.get("observed"):
        return str(m["observed"])
    if "failures" in m and m["failures"] is not None:
        return f"{_num(m['failures'])} failing rows"
    return ""


def expected(c: CheckRow) -> str:
    m = c.metadata
    if m.get("expected"):
        return str(m["expected"])
    if c.source == "dbt":
        return "0 failing rows"
    return ""


def unexpected(c: CheckRow) -> str:
    m = c.metadata
    if m.get("unexpected_count") is not None:
        text = _num(m["unexpected_count"])
        if m.get("unexpected_percent"):
            text += f" ({float(m['unexpected_percent']):.2f}%)"
        return text
    if m.get("failures") is not None:
        return _num(m["failures"])
    return ""


def scope(c: CheckRow) -> str:
    """What the check read: a table, a partition, tonight's loads, the rows a build wrote."""
    value = c.metadata.get("validated")
    return str(value) if value else ""


def samples(c: CheckRow) -> str:
    values = c.metadata.get("samples_masked") or []
    return ", ".join(str(v) for v in values[:5]) if isinstance(values, list) else ""


def _trend_html(history: tuple[str, ...], now: str) -> str:
    cells = [
        f'<span class="{_t(s)}" title="{_t(s)}">{_TREND_LETTER.get(s, "?")}</span>' for s in history
    ]
    cells.append(f'<span class="{_t(now)} now" title="this run: {_t(now)}">{_TREND_LETTER.get(now, "?")}</span>')
    return '<div class="trend">' + "".join(cells) + "</div>"


def _check_rows(q: RunQuality, asset_key: str) -> str:
    rows = []
    for c in q.checks_for(asset_key):
        hist = q.trends.get((c.asset_key, c.check_name), ())
        part = f' <span class="muted">[{_t(c.partition_key)}]</span>' if c.partition_key else ""
        if scope(c):
            part += f'<div class="muted">on {_t(scope(c))}</div>'
        block = '<span class="block">blocking</span>' if c.blocking else '<span class="muted">warn</span>'
        sample = _t(samples(c)) or '<span class="muted">-</span>'
        rows.append(
            "<tr>"
            f'<td><span class="badge {_t(c.status)}">{_STATUS_LABEL.get(c.status, _t(c.status))}</span></td>'
            f"<td><code>{_t(c.check_name)}</code>{part}</td>"
            f"<td>{_t(c.source)}</td><td>{block}</td>"
            f"<td>{_t(observed(c))}</td><td>{_t(expected(c))}</td>"
            f"<td>{_t(unexpected(c))}</td>"
            f"<td>{sample}</td>"
            f"<td>{_trend_html(hist, c.status)}</td>"
            f"<td>{_t(c.message)}</td>"
            "</tr>"
        )
    if not rows:
        return '<p class="muted">No checks were evaluated for this asset in this run.</p>'
    head = (
        "<tr><th>Status</th><th>Check</th><th>Source</th><th>Gate</th><th>Observed</th>"
        "<th>Expected</th><th>Unexpected rows</th><th>Samples (masked)</th><th>Trend</th><th>Message</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _asset_section(q: RunQuality, asset_key: str) -> str:
    mats = [m for m in q.materializations if m.asset_key == asset_key]
    lines = []
    for m in mats:
        part = f" partition {_t(m.partition_key)}" if m.partition_key else ""
        rows = f", {_num(m.row_count)} rows" if m.row_count is not None else ""
        msg = f" - {_t(m.message)}" if m.message else ""
        lines.append(f'<span class="badge {_t(m.status)}">{_t(m.status)}</span>{part}{rows}{msg}')
    mat_html = "<br>".join(lines) if lines else '<span class="muted">not materialized in this run</span>'
    return (
        f'<section><h2 id="{_t(re.sub(r"[^A-Za-z0-9_-]", "-", asset_key))}">{_t(asset_key)}</h2>'
        f'<div class="meta">{mat_html}</div>{_check_rows(q, asset_key)}</section>'
    )


def render_html(q: RunQuality, *, generated_at: dt.datetime | None = None) -> str:
    counts = q.counts()
    run = q.run
    status = run.status if run and run.status else "unknown"
    totals = "".join(f'<span class="{k}">{v} {k}</span>' for k, v in counts.items())
    blockers = q.blocking_failures()
    alert = ""
    if blockers:
        items = "".join(f"<li><code>{_t(c.key)}</code>: {_t(c.message)}</li>" for c in blockers)
        alert = f'<div class="alert"><strong>Blocking checks did not pass</strong><ul>{items}</ul></div>'
    meta = [f"run <code>{_t(q.run_id)}</code>", f"status <strong>{_t(status)}</strong>"]
    if run is not None:
        meta += [
            f"selection <code>{_t(run.selection)}</code>",
            f"started {_fmt_time(run.started_at)}",
            f"finished {_fmt_time(run.finished_at)}",
        ]
        if run.trigger:
            meta.append(f"trigger {_t(run.trigger)}")
    run_msg = f'<div class="meta">{_t(run.message)}</div>' if run is not None and run.message else ""
    sections = "".join(_asset_section(q, k) for k in q.asset_keys)
    when = _fmt_time(generated_at or dt.datetime.now(dt.timezone.utc))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Data quality - run {_t(q.run_id)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Data quality report</h1><div class=\"meta\">{' &middot; '.join(meta)}</div>{run_msg}"
        f'<div class="totals">{totals}</div>{alert}{sections}'
        "<footer>Trend: previous runs oldest to newest, this run outlined (P pass, F fail, E error,"
        " O overridden, S skipped). Personal data is masked; samples show at most 5 masked values."
        f" Generated {when}.</footer></body></html>\n"
    )


def _md(value: Any) -> str:
    return scrub_text("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")


def render_markdown(q: RunQuality) -> str:
    counts = q.counts()
    status = q.run.status if q.run and q.run.status else "unknown"
    out = [
        f"## Data quality: run `{_md(q.run_id)}` ({_md(status)})",
        "",
        " · ".join(f"**{v}** {k}" for k, v in counts.items()),
        "",
    ]
    blockers = q.blocking_failures()
    if blockers:
        out.append("**Blocking checks did not pass:**")
        out += [f"- `{_md(c.key)}`: {_md(c.message)}" for c in blockers]
        out.append("")
    out.append("| Asset | Check | Status | Gate | Observed | Expected | Trend |")
    out.append("|---|---|---|---|---|---|---|")
    for asset_key in q.asset_keys:
        for c in q.checks_for(asset_key):
            hist = q.trends.get((c.asset_key, c.check_name), ())
            trend = "".join(_TREND_LETTER.get(s, "?") for s in hist) + f"[{_TREND_LETTER.get(c.status, '?')}]"
            name = c.check_name + (f" [{c.partition_key}]" if c.partition_key else "")
            name += f" (on {scope(c)})" if scope(c) else ""
            out.append(
                f"| {_md(asset_key)} | {_md(name)} | {_STATUS_LABEL.get(c.status, _md(c.status))} |"
                f" {'blocking' if c.blocking else 'warn'} | {_md(observed(c))} | {_md(expected(c))} | {trend} |"
            )
    if not q.checks:
        out.append("| - | no checks evaluated | - | - | - | - | - |")
    return "\n".join(out) + "\n"


def report_path(out_dir: Path, run_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)[:80]
    return Path(out_dir) / f"quality-{safe}.html"


def build_report(wh: Warehouse, run_id: str, out_dir: Path) -> Path:
    """Write the HTML report of `run_id` into `out_dir` and return its path."""
    q = load_run(wh, run_id)
    path = report_path(out_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(q), encoding="utf-8")
    return path


def report_markdown(wh: Warehouse, run_id: str) -> str:
    """A Markdown summary of `run_id` (for a Prefect markdown artifact)."""
    return render_markdown(load_run(wh, run_id))
