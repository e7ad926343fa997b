"""`assetgraph` command line: list, lineage, materialize, status, check, catalog.

`list` and `lineage` read the dbt manifest and the asset modules only: no Prefect, GX or dbt
runtime import, so they answer in a fraction of a second.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from assetgraph._env import apply_defaults, drain_prefect_services

apply_defaults()

from assetgraph._output import key_table, print_lines  # noqa: E402
from assetgraph.errors import AssetGraphError  # noqa: E402
from assetgraph._cli_project import project_options, project_settings  # noqa: E402, I001

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Show, run and explain the asset graph (Prefect + dbt).",
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SELECTION_HELP = (
    "Asset selection: key, +key (upstream), key+ (downstream), N+key, key+N, tag:X, group:X, "
    "kind:X, owner:X, globs raw/*, state:modified|new (with --state DIR), status:failed|stale|never; "
    "spaces mean union; 'and', 'not', parentheses."
)
STATE_HELP = "An earlier run's dbt target folder (manifest.json), e.g. prod's: for state:modified / state:new."


def _project():  # type: ignore[no-untyped-def]
    from assetgraph.loader import load_project

    return load_project(project_settings())


def _selected(project, selection: Optional[str], state: Optional[Path] = None):  # type: ignore[no-untyped-def]
    from assetgraph.selection import select

    context = _selection_context(project, selection, state)
    if not selection:
        return list(project.graph.keys)
    return select(selection, project.graph, context)


def _selection_context(project, selection: Optional[str], state: Optional[Path]):  # type: ignore[no-untyped-def]
    """What `state:`/`status:` terms need: the diff against --state, the catalog's statuses."""
    from assetgraph.state import selection_context

    return selection_context(project, selection, state)


def _fail(exc: Exception) -> None:
    from rich.markup import escape  # messages name things like [tool.assetgraph]: not markup

    err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)
    raise typer.Exit(2)


# ---- --debug: tracebacks on the console (otherwise one clear line per problem) ---------------
_debug = os.environ.get("ASSETGRAPH_DEBUG", "").strip().lower() in ("1", "true", "yes")


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", help="Print full tracebacks (also accepted after the command)."),
) -> None:
    global _debug
    _debug = _debug or debug


def _quiet_run_logs() -> None:
    """Before a run: without --debug the console gets no tracebacks (the Prefect logs keep them)."""
    if not _debug:
        from assetgraph._console_logging import hide_tracebacks_on_console

        hide_tracebacks_on_console()


def _unexpected(exc: Exception) -> str:
    """One line for an error nobody raised on purpose (the API unreachable, a bug)."""
    text = (str(exc).strip().splitlines() or [""])[0][:500]
    if isinstance(exc, RuntimeError) and text.startswith("Failed to reach API at"):
        return f"cannot reach the Prefect API ({text[len('Failed to reach API at'):].strip()}); " \
               "is the server running, and is PREFECT_API_URL right?"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
def _prefect_runtime() -> None:
    """Before a command imports Prefect: use `PREFECT_API_URL`, or start/reuse the project's
    local Prefect server (`.prefect/`) and print where its UI is."""
    from assetgraph._prefect_server import ensure_prefect_api

    try:
        ensure_prefect_api(announce=lambda line: err.print(line, markup=False, highlight=False))
    except AssetGraphError as exc:
        _fail(exc)


@app.command("list")
@project_options
def list_(
    selection: Optional[str] = typer.Argument(None, help=SELECTION_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    state: Optional[Path] = typer.Option(None, "--state", help=STATE_HELP),
) -> None:
    """List assets in graph order with kind, group, deps and checks."""
    try:
        project = _project()
        keys = _selected(project, selection, state)
    except AssetGraphError as exc:
        _fail(exc)
        return
    g = project.graph
    if as_json:
        rows = []
        for k in keys:
            s = g.spec(k)
            rows.append(
                {
                    "key": str(k),
                    "kind": s.kind.value,
                    "group": s.group,
                    "deps": [str(d) for d in sorted(s.deps)],
                    "tags": sorted(s.tags),
                    "owners": list(s.owners),
                    "partitioned": s.partitions is not None,
                    "freshness_hours": s.freshness.max_lag_hours if s.freshness else None,
                    "description": s.description,
                    "checks": [
                        {"name": c.key.name, "blocking": c.blocking, "source": c.source}
                        for c in g.checks_for(k)
                    ],
                }
            )
        out.print_json(json.dumps(rows))
        return
    rows = []
    for k in keys:
        s = g.spec(k)
        checks = g.checks_for(k)
        blocking = sum(c.blocking for c in checks)
        rows.append((
            str(k),
            s.kind.value,
            s.group,
            ", ".join(str(d) for d in sorted(s.deps)) or "-",
            f"{len(checks)} ({blocking} blocking)" if checks else "-",
            ", ".join(sorted(s.tags)) or "-",
        ))
    if not out.is_terminal:  # piped: one asset per line, whole keys (see _output.py)
        print_lines(out, [(r[0], r[1], r[2], r[3].replace(", ", ","), r[4], r[5].replace(", ", ",")) for r in rows])
        return
    out.print(key_table(f"{len(keys)} assets", ("asset", "kind", "group", "deps", "checks", "tags"), rows, out.width))


@app.command()
@project_options
def lineage(
    selection: Optional[str] = typer.Argument(None, help=SELECTION_HELP),
    state: Optional[Path] = typer.Option(None, "--state", help=STATE_HELP),
) -> None:
    """Draw the selected part of the graph as a tree from its roots."""
    try:
        project = _project()
        keys = _selected(project, selection, state)
    except AssetGraphError as exc:
        _fail(exc)
        return
    g = project.graph
    chosen = set(keys)
    roots = [k for k in keys if not (g.parents(k) & chosen)]
    tree = Tree(f"[bold]lineage[/] ({len(keys)} assets)")
    drawn: set = set()

    def add(node: Tree, key) -> None:  # type: ignore[no-untyped-def]
        spec = g.spec(key)
        checks = g.checks_for(key)
        label = f"{key} [dim]{spec.kind.value}"
        if checks:
            label += f", {len(checks)} checks"
        label += "[/]"
        if key in drawn:
            node.add(f"{key} [dim](shown above)[/]")
            return
        drawn.add(key)
        branch = node.add(label)
        for child in g.toposort(g.children(key) & chosen):
            add(branch, child)

    for r in roots:
        add(tree, r)
    out.print(tree)


def _partitions(partition: Optional[str], start: Optional[str], end: Optional[str]) -> list[str]:
    from assetgraph.specs import DailyPartitions

    if partition and (start or end):
        raise AssetGraphError("use either --partition or --from/--to, not both")
    if partition:
        DailyPartitions.parse(partition)
        return [partition]
    if start or end:
        if not (start and end):
            raise AssetGraphError("--from and --to go together")
        return DailyPartitions(start).keys_between(start, end)
    return []


def _print_report(report) -> None:  # type: ignore[no-untyped-def]
    colors = {"success": "green", "failed": "red", "skipped": "yellow", "dry_run": "cyan"}
    rows = []
    for o in report.outcomes:
        n_ok = sum(c.result.ok for c in o.checks)
        checks = f"{n_ok}/{len(o.checks)} passed" if o.checks else "-"
        status = o.status.value
        if o.blocked_by:
            status = "check failed"
        rows.append((
            str(o.key),
            o.partition or "-",
            f"[{colors.get(o.status.value, 'white')}]{status}[/]" if not o.blocked_by else f"[red]{status}[/]",
            "" if o.row_count is None else f"{o.row_count:,}",
            f"{o.seconds:.1f}",
            checks,
        ))
    out.print(key_table(f"run {report.run_id}", ("asset", "partition", "status", "rows", "seconds", "checks"),
                        rows, out.width, right=("rows", "seconds")))
    for o in report.outcomes:
        for c in o.checks:
            if not c.result.ok and c.result.status.value != "skipped":
                kind = "blocking" if c.blocking else "warn"
                out.print(f"[red]✗[/] check {c.key} ({kind}, {c.source}): {c.result.status.value} {c.result.message}")
            elif c.result.status.value == "overridden":
                out.print(f"[yellow]![/] check {c.key}: {c.result.message}")
        if o.status.value in ("failed", "skipped") and o.message:
            out.print(f"[red]✗[/] {o.key}{'[' + o.partition + ']' if o.partition else ''}: {o.message}")
        if o.status.value == "dry_run" and o.metadata:
            out.print(f"[cyan]·[/] {o.key}: {json.dumps(dict(o.metadata), default=str)}")
    verdict = "[green]succeeded[/]" if report.succeeded else "[red]failed[/]"
    out.print(f"{len(report.outcomes)} steps in {report.seconds:.1f}s: {verdict}")


@app.command()
@project_options
def materialize(
    selection: str = typer.Argument(..., help=SELECTION_HELP),
    partition: Optional[str] = typer.Option(None, "--partition", help="One daily partition, YYYY-MM-DD."),
    start: Optional[str] = typer.Option(None, "--from", help="Backfill start (inclusive)."),
    end: Optional[str] = typer.Option(None, "--to", help="Backfill end (inclusive)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would run; change nothing."),
    allow_failed_checks: List[str] = typer.Option(
        [], "--allow-failed-checks", help="Let this failed check pass (recorded). Repeatable."
    ),
    full_refresh: bool = typer.Option(
        False, "--full-refresh", help="Rebuild the selected incremental dbt models (and reload seeds) from scratch."
    ),
    state: Optional[Path] = typer.Option(None, "--state", help=STATE_HELP),
    defer: bool = typer.Option(
        False, "--defer", help="dbt refs to unselected models resolve to the --state run's relations (dbt --defer)."
    ),
) -> None:
    """Materialize a selection as one Prefect flow run."""
    _prefect_runtime()
    from assetgraph.execution import materialize as run

    try:
        parts = _partitions(partition, start, end)
        project = _project()
        context, defer_state = _state_options(project, selection, state, defer)
        report = run(
            project, selection, partitions=parts, dry_run=dry_run,
            allow_failed_checks=allow_failed_checks, listener=_live_line, full_refresh=full_refresh,
            context=context, defer_state=defer_state, before_flow=_quiet_run_logs,
        )
    except AssetGraphError as exc:
        _fail(exc)
        return
    finally:
        drain_prefect_services()
    if not report.outcomes and not dry_run:
        out.print(f"nothing to materialize: {selection!r} selects no asset")
        return
    _print_report(report)
    _exit_without_teardown(0 if report.succeeded or dry_run else 1)
    if not report.succeeded and not dry_run:
        raise typer.Exit(1)


def _state_options(project, selection: str, state: Optional[Path], defer: bool):  # type: ignore[no-untyped-def]
    """The selection context and dbt's defer state of `materialize --state DIR [--defer]`."""
    if defer and state is None:
        raise AssetGraphError("--defer needs --state DIR (the run whose relations unselected refs resolve to)")
    context = _selection_context(project, selection, state)
    if not defer:
        return context, None
    assert state is not None
    folder = state.parent if state.is_file() else state
    if not (folder / "manifest.json").is_file():
        raise AssetGraphError(f"--defer --state {state}: no manifest.json there for dbt to defer to")
    return context, folder.resolve()


def _live_line(o) -> None:  # type: ignore[no-untyped-def]
    mark = {"success": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]↷[/]"}.get(o.status.value, "·")
    if o.blocked_by:
        mark = "[red]![/]"
    rows = "" if o.row_count is None else f"{o.row_count:,} rows"
    part = f"[{o.partition}]" if o.partition else ""
    what = " checks" if o.metadata.get("rechecked") else ""
    err.print(f"{mark} {o.key}{part}{what} {o.status.value} {rows} {o.seconds:.1f}s".rstrip(), markup=True)
# Set by `main()`: the process is the console script, not a test's in-process CliRunner.
_STANDALONE = False


def _exit_without_teardown(code: int) -> None:
    """End the console script now that everything is written: the catalog is committed,
    Prefect's events and logs drained, the report printed (`_fast_exit`). In-process callers
    (tests) return as before."""
    if not _STANDALONE:
        return
    from assetgraph._fast_exit import exit_now

    exit_now(code)


@app.command()
@project_options
def retry(
    run_id: Optional[str] = typer.Argument(None, help="The run to retry (default: the latest failed run)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would run; change nothing."),
) -> None:
    """Run again only what a run did not finish: its failed and skipped steps (for dbt, only
    those nodes), the blocking checks that failed, and steps whose code changed since."""
    _prefect_runtime()
    from assetgraph.execution.retry import load_retry, retry as run_retry
    from assetgraph.warehouse import resolve_warehouse

    try:
        project = _project()
        wh = resolve_warehouse()
        plan = load_retry(project, wh, run_id)
    except AssetGraphError as exc:
        _fail(exc)
        return
    _print_retry_plan(plan)
    if not plan.items:
        out.print(f"run {plan.run.run_id} left nothing to retry")
        return
    if dry_run:  # the plan above is the answer; nothing runs, nothing is recorded
        return
    try:
        _quiet_run_logs()
        report = run_retry(project, plan, warehouse=wh, listener=_live_line)
    except AssetGraphError as exc:
        _fail(exc)
        return
    finally:
        drain_prefect_services()
    _print_report(report)
    out.print(f"run {report.run_id} retried {plan.run.run_id}")
    if not report.succeeded:
        raise typer.Exit(1)


def _print_retry_plan(plan) -> None:  # type: ignore[no-untyped-def]
    run = plan.run
    out.print(f"run {run.run_id} ({run.status}, selection {run.selection!r}"
              f"{', partitions ' + ','.join(run.partitions) if run.partitions else ''})")
    opts = [name for name, on in (("--full-refresh", plan.full_refresh), ("--defer", plan.defer_state)) if on]
    opts += [f"--allow-failed-checks {c}" for c in plan.allow_failed_checks]
    if opts:
        out.print("same options: " + " ".join(opts))
    if plan.items:
        table_rows = [
            (i.step_id, i.reason, "checks " + ", ".join(i.recheck) if i.recheck else "materialize")
            for i in plan.items
        ]
        out.print(key_table(f"retry: {len(plan.items)} steps", ("step", "why", "runs"), table_rows, out.width))
    for i in plan.changed:
        out.print(f"[yellow]![/] code changed since run {run.run_id}: {i.step_id} ({i.code_changed})")
    for key in plan.dropped:
        out.print(f"[yellow]![/] {key} is no longer in the graph; left out")


@app.command()
@project_options
def check(
    selection: str = typer.Argument(..., help=SELECTION_HELP),
    allow_failed_checks: List[str] = typer.Option([], "--allow-failed-checks"),
) -> None:
    """Run the checks of the selected assets against the data as it is now."""
    _prefect_runtime()
    from assetgraph.execution import check as run_checks

    try:
        report = run_checks(_project(), selection, allow_failed_checks=allow_failed_checks)
    except AssetGraphError as exc:
        _fail(exc)
        return
    rows = []
    for o in report.outcomes:
        for c in o.checks:
            color = "green" if c.result.ok else ("red" if c.blocking else "yellow")
            rows.append((str(c.key), c.source, "yes" if c.blocking else "no",
                         f"[{color}]{c.result.status.value}[/]", escape(c.result.message[:120])))
    out.print(key_table(f"checks ({report.run_id})", ("check", "source", "blocking", "status", "message"), rows,
                        out.width))
    if not report.succeeded:
        raise typer.Exit(1)


@app.command()
@project_options
def status(
    selection: Optional[str] = typer.Argument(None, help=SELECTION_HELP),
    as_json: bool = typer.Option(False, "--json"),
    state: Optional[Path] = typer.Option(None, "--state", help=STATE_HELP),
) -> None:
    """Last materialization, freshness and failing checks of each asset, from the catalog."""
    from assetgraph.status import asset_status
    from assetgraph.warehouse import resolve_warehouse

    try:
        project = _project()
        keys = _selected(project, selection, state)
        views = asset_status(resolve_warehouse(), project.graph, keys)
    except AssetGraphError as exc:
        _fail(exc)
        return
    if as_json:
        out.print_json(json.dumps([v.as_json() for v in views]))
        return
    if not out.is_terminal:  # piped: one asset per line, whole keys (see _output.py)
        print_lines(out, [
            (v.key, v.kind, v.last_status or "never",
             v.last_success_at.strftime("%Y-%m-%dT%H:%M") if v.last_success_at else "-",
             "-" if v.row_count is None else v.row_count,
             "-" if v.stale is None else ("stale" if v.stale else "fresh"), ",".join(v.failed_checks) or "-")
            for v in views
        ])
        return
    rows = []
    for v in views:
        fresh = "-" if v.stale is None else ("[red]stale[/]" if v.stale else "[green]fresh[/]")
        rows.append((
            v.key, v.kind, v.last_status or "never",
            v.last_success_at.strftime("%Y-%m-%d %H:%M") if v.last_success_at else "-",
            "" if v.row_count is None else f"{v.row_count:,}", fresh,
            ", ".join(v.failed_checks) or "-",
        ))
    out.print(key_table("asset status", ("asset", "kind", "last status", "last success (UTC)", "rows", "fresh",
                                         "failing checks"), rows, out.width))


@app.command("catalog")
@project_options
def catalog_cmd(
    out_dir: Path = typer.Option(Path("reports/catalog"), "--out", help="Output folder."),
    link: list[str] = typer.Option(
        [], "--link", help="NAME=PATH: a page to link from every catalog page (e.g. a data-quality report)."
    ),
    history: int = typer.Option(10, "--history", min=1, help="Materializations and check results shown per asset."),
) -> None:
    """Write the static catalog site (lineage diagram, one page per asset, catalog.json)."""
    from assetgraph.catalog_site import write_catalog_site
    from assetgraph.warehouse import resolve_warehouse

    links: dict[str, Path] = {}
    for item in link:
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            _fail(AssetGraphError(f"--link {item!r}: expected NAME=PATH"))
            return
        links[name.strip()] = Path(target.strip())
    try:
        project = _project()
        path = write_catalog_site(
            project.graph, resolve_warehouse(), out_dir, links=links, history=history,
            dbt_project_dir=project.settings.dbt_project_dir,
        )
    except AssetGraphError as exc:
        _fail(exc)
        return
    out.print(f"catalog written to {path}")


def _add_plugin_commands(target: typer.Typer) -> None:
    """Sub-command groups that installed packages register under the `assetgraph.cli`
    entry-point group (name -> a typer app, e.g. `civis = "assetgraph.ext.civis.cli:app"`).
    The core imports no plugin by name; a plugin that fails to load costs one warning line."""
    from importlib.metadata import entry_points

    taken = {c.name or (c.callback.__name__ if c.callback else "") for c in target.registered_commands}
    taken |= {g.name for g in target.registered_groups if g.name}
    for ep in entry_points(group="assetgraph.cli"):
        if ep.name in taken:
            continue
        try:
            sub = ep.load()
        except Exception as exc:  # a broken plugin must not break `assetgraph list`
            err.print(f"warning: plugin commands {ep.name!r} ({ep.value}) not loaded: {type(exc).__name__}: {exc}")
            continue
        if not isinstance(sub, typer.Typer):
            err.print(f"warning: plugin commands {ep.name!r} ({ep.value}) is not a typer app; ignored")
            continue
        target.add_typer(sub, name=ep.name)
        taken.add(ep.name)


_add_plugin_commands(app)


def main() -> None:
    # `--debug` is a global option; accept it after the command too (`materialize X --debug`)
    if "--debug" in sys.argv[2:]:
        sys.argv.remove("--debug")
        sys.argv.insert(1, "--debug")
    global _STANDALONE
    _STANDALONE = True
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        if _debug:
            raise
        err.print(f"[bold red]error:[/] {escape(_unexpected(exc))} (run with --debug for the traceback)", markup=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
