{#-
    Fails on every combination of `columns` that occurs on more than one row: a primary key
    made of several columns.

        data_tests:
          - unique_together:
              arguments:
                columns: [match_type, match_value]
-#}
{% test unique_together(model, columns) %}

select
    {{ columns | join(',\n    ') }},
    count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
