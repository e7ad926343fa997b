{#-
    Use a model's custom schema as-is (`+schema: marts` -> schema `marts`), instead of dbt's
    default `<target schema>_marts`, so relations have the same names on every target:
    `marts.van_source_code_assignments` in dev Postgres and in prod Redshift. Nodes without a
    custom schema go to the target's schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
