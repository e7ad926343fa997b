"""Writes a small dbt project unlike ours (its own profile, folders, a source, a seed, tests)
so tests can prove the asset layer works with any dbt project."""

from pathlib import Path
from textwrap import dedent


def write_project(root: Path, schema: str = "shop") -> Path:
    (root / "models" / "base").mkdir(parents=True)
    (root / "models" / "reporting").mkdir(parents=True)
    (root / "seeds").mkdir()
    (root / "dbt_project.yml").write_text(dedent(f"""
        name: shop
        version: "1.0"
        profile: shop
        models:
          shop:
            base:
              +materialized: view
            reporting:
              +materialized: table
        seeds:
          shop:
            +schema: {schema}_seeds
    """))
    (root / "profiles.yml").write_text(dedent(f"""
        shop:
          target: dev
          outputs:
            dev:
              type: postgres
              host: "{{{{ env_var('WAREHOUSE_HOST') }}}}"
              port: "{{{{ env_var('WAREHOUSE_PORT') | as_number }}}}"
              user: "{{{{ env_var('WAREHOUSE_USER') }}}}"
              password: "{{{{ env_var('WAREHOUSE_PASSWORD', '') }}}}"
              dbname: "{{{{ env_var('WAREHOUSE_DBNAME') }}}}"
              schema: {schema}
              threads: 2
            prod:
              type: redshift
              host: example-cluster.invalid
              port: 5439
              user: "{{{{ env_var('SHOP_REDSHIFT_USER', 'nobody') }}}}"
              password: "{{{{ env_var('SHOP_REDSHIFT_PASSWORD', 'unset') }}}}"
              dbname: analytics
              schema: shop_prod
              threads: 2
    """))
    (root / "seeds" / "countries.csv").write_text("code,name\nUS,United States\nCA,Canada\n")
    (root / "models" / "base" / "sources.yml").write_text(dedent("""
        version: 2
        sources:
          - name: shop_raw
            schema: shop_raw
            tables:
              - name: orders
    """))
    (root / "models" / "base" / "base_orders.sql").write_text(
        "select id, country, amount from {{ source('shop_raw', 'orders') }}\n"
    )
    (root / "models" / "reporting" / "revenue_by_country.sql").write_text(dedent("""
        select c.name as country, sum(o.amount) as revenue
        from {{ ref('base_orders') }} as o
        join {{ ref('countries') }} as c on o.country = c.code
        group by 1
    """))
    (root / "models" / "reporting" / "revenue_by_country.yml").write_text(dedent("""
        version: 2
        models:
          - name: revenue_by_country
            description: One row per country.
            config:
              meta:
                assetgraph:
                  freshness_hours: 24
            columns:
              - name: country
                tests: [unique, not_null]
              - name: revenue
                tests:
                  - not_null:
                      config:
                        severity: warn
    """))
    return root


def use_project(monkeypatch, project: Path, home: Path) -> None:
    """Point the asset layer at `project` (dbt only, no Python asset modules), home `home`."""
    monkeypatch.setenv("DBT_PROJECT_DIR", str(project))
    monkeypatch.setenv("DBT_PROFILES_DIR", str(project))
    monkeypatch.setenv("ASSETGRAPH_MODULES", "")
    monkeypatch.setenv("ASSETGRAPH_HOME", str(home))
