"""Data quality: GX suites and Python checks as asset checks (the gate before EveryAction), and
the per-run data-quality report. Keep this package's import light: `quality.checks` is imported
by `assetgraph list`; GX is imported only when a check runs (`quality.gx_engine`)."""
