{#
  Fails with every row for which `expression` is not true (false or null), e.g.
  `days_to_expiry between 0 and 90`. dbt_utils has the same test; npnflow installs no dbt
  packages, so `dbt parse` never needs the network.
#}
{% test npnflow_expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
