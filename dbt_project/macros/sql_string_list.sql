{#- Python strings -> a SQL list of string literals: ['a', "o'b"] -> 'a', 'o''b' -#}
{% macro sql_string_list(values) -%}
    {%- for value in values -%}
        '{{ value | string | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
