{#- The timestamp `days` days before now, on any adapter (dbt's cross-database macros). -#}
{% macro days_ago(days) -%}
    {{ dbt.dateadd('day', -1 * (days | int), dbt.current_timestamp()) }}
{%- endmacro %}
