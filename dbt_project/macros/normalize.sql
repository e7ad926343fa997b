{#-
    Cleaning expressions shared by the staging models. Each takes a SQL expression and returns
    an expression, so models stay one readable `select`. Portable between Postgres and Redshift:
    only `regexp_replace` differs (Postgres replaces the first match unless given 'g'; Redshift
    always replaces every match and its 4th argument is a position).
-#}

{% macro digits_only(expression) -%}
    {{ return(adapter.dispatch('digits_only')(expression)) }}
{%- endmacro %}

{% macro default__digits_only(expression) -%}
    regexp_replace({{ expression }}, '[^0-9]', '')
{%- endmacro %}

{% macro postgres__digits_only(expression) -%}
    regexp_replace({{ expression }}, '[^0-9]', '', 'g')
{%- endmacro %}

{# dbt-redshift falls back to postgres__ before default__, so Redshift needs its own. #}
{% macro redshift__digits_only(expression) -%}
    regexp_replace({{ expression }}, '[^0-9]', '')
{%- endmacro %}


{#- Trimmed, lower-case email; blank becomes null. -#}
{% macro normalize_email(expression) -%}
    nullif(lower(trim({{ expression }})), '')
{%- endmacro %}


{#- Trimmed text; blank becomes null. -#}
{% macro clean_text(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}


{#-
    A US phone number as its 10 digits: punctuation and spaces dropped, a leading country
    code 1 stripped ('+1 (202) 555-0143' -> '2025550143'). Anything else is null.
-#}
{% macro normalize_phone(expression) -%}
    {%- set digits = digits_only(expression) -%}
    case
        when length({{ digits }}) = 10 then {{ digits }}
        when length({{ digits }}) = 11 and left({{ digits }}, 1) = '1'
            then right({{ digits }}, 10)
    end
{%- endmacro %}


{#-
    A 5-digit ZIP code: ZIP+4 cut to 5 digits, and the leading zero a spreadsheet dropped put
    back ('2134' -> '02134', '02134-1234' -> '02134'). Anything else is null.
-#}
{% macro normalize_zip(expression) -%}
    {%- set digits = digits_only(expression) -%}
    case
        when length({{ digits }}) in (5, 9) then left({{ digits }}, 5)
        when length({{ digits }}) in (4, 8) then lpad(left({{ digits }}, 4), 5, '0')
    end
{%- endmacro %}
