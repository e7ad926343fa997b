"""dbt as a source of assets: `manifest` (manifest JSON -> asset specs and checks, no dbt import),
`project` (find and refresh the manifest with `dbt parse`), `redshift_compat` (offline check of
compiled SQL for constructs Redshift lacks)."""

__all__ = ["manifest", "project", "redshift_compat"]
