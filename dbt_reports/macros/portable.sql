{#
  SQL that differs between SQLite (the embedded default) and PostgreSQL (production).

  The operational tables are the same on both (schemas/tables.py), but SQLite has no boolean or
  date types: SQLAlchemy stores booleans as 0/1 integers, dates as 'YYYY-MM-DD' text and
  timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text. Staging models pass every flag, date and
  timestamp through these macros, so the models above them can compare, order and subtract the
  same way on both adapters. Each macro dispatches on the adapter (`sqlite__...`, else
  `default__...`, which is PostgreSQL's).
#}

{# A flag: boolean on PostgreSQL; 0/1 (or NULL) on SQLite, which reads 1 as true. #}
{% macro npnflow_bool(column) -%}
  {{ return(adapter.dispatch('npnflow_bool', 'npnflow_reports')(column)) }}
{%- endmacro %}

{% macro default__npnflow_bool(column) -%}
  cast({{ column }} as boolean)
{%- endmacro %}

{% macro sqlite__npnflow_bool(column) -%}
  (case when {{ column }} is null then null when {{ column }} in (1, 'true', 't') then 1 else 0 end)
{%- endmacro %}


{# A calendar date: date on PostgreSQL; 'YYYY-MM-DD' text on SQLite (text order is date order). #}
{% macro npnflow_date(column) -%}
  {{ return(adapter.dispatch('npnflow_date', 'npnflow_reports')(column)) }}
{%- endmacro %}

{% macro default__npnflow_date(column) -%}
  cast({{ column }} as date)
{%- endmacro %}

{% macro sqlite__npnflow_date(column) -%}
  date({{ column }})
{%- endmacro %}


{# A point in time, UTC: timestamptz on PostgreSQL; 'YYYY-MM-DD HH:MM:SS' text on SQLite. #}
{% macro npnflow_timestamp(column) -%}
  {{ return(adapter.dispatch('npnflow_timestamp', 'npnflow_reports')(column)) }}
{%- endmacro %}

{% macro default__npnflow_timestamp(column) -%}
  cast({{ column }} as timestamp with time zone)
{%- endmacro %}

{% macro sqlite__npnflow_timestamp(column) -%}
  datetime({{ column }})
{%- endmacro %}


{# A date written in the SQL, from 'YYYY-MM-DD', comparable with npnflow_date columns. #}
{% macro npnflow_date_literal(iso_date) -%}
  {{ return(adapter.dispatch('npnflow_date_literal', 'npnflow_reports')(iso_date)) }}
{%- endmacro %}

{% macro default__npnflow_date_literal(iso_date) -%}
  date '{{ iso_date }}'
{%- endmacro %}

{% macro sqlite__npnflow_date_literal(iso_date) -%}
  '{{ iso_date }}'
{%- endmacro %}


{# Whole days from one npnflow_date to another (negative when `to_date` is earlier). #}
{% macro npnflow_days_between(from_date, to_date) -%}
  {{ return(adapter.dispatch('npnflow_days_between', 'npnflow_reports')(from_date, to_date)) }}
{%- endmacro %}

{% macro default__npnflow_days_between(from_date, to_date) -%}
  ({{ to_date }} - {{ from_date }})
{%- endmacro %}

{% macro sqlite__npnflow_days_between(from_date, to_date) -%}
  cast(julianday({{ to_date }}) - julianday({{ from_date }}) as integer)
{%- endmacro %}


{# Text values of a group joined with ', ', in alphabetical order. #}
{% macro npnflow_string_agg(column) -%}
  {{ return(adapter.dispatch('npnflow_string_agg', 'npnflow_reports')(column)) }}
{%- endmacro %}

{% macro default__npnflow_string_agg(column) -%}
  string_agg({{ column }}, ', ' order by {{ column }})
{%- endmacro %}

{# SQLite before 3.44 has no ORDER BY inside an aggregate: feed the group already ordered. #}
{% macro sqlite__npnflow_string_agg(column) -%}
  group_concat({{ column }}, ', ')
{%- endmacro %}
