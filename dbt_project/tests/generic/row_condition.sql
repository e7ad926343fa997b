{#-
    Fails on every row where `condition` is false (rows where it is null pass).

        data_tests:
          - row_condition:
              arguments:
                condition: "length(phone) = 10"
-#}
{% test row_condition(model, condition, column_name=none) %}

select *
from {{ model }}
where not ({{ condition }})

{% endtest %}
