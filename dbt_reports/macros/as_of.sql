{#
  The date the reports count from ("as of"), as a date literal of the adapter.

  `var('as_of')` ('YYYY-MM-DD'): Dagster passes it on every build (the run config's `as_of`, else
  today in UTC), so a test or a re-run can pin it. Unset (dbt run by hand): the UTC date the
  invocation started, the same for every model of the build.
#}
{% macro npnflow_as_of_date() -%}
  {%- set as_of = var('as_of', none) or run_started_at.strftime('%Y-%m-%d') -%}
  {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of | string) -%}
    {{ exceptions.raise_compiler_error(
        "The dbt var as_of must be a date written YYYY-MM-DD, e.g. --vars '{as_of: 2026-03-31}'; got " ~ (as_of | string)
    ) }}
  {%- endif -%}
  {{ npnflow_date_literal(as_of) }}
{%- endmacro %}
