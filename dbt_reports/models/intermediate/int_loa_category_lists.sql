-- The categories of each line of authority as one text, e.g. 'Accident & Health, Life'
-- (loa_categories is many-to-many: a line such as "Life & Health" is in two categories).
with ordered as (
    -- SQLite joins a group in the order it reads it; PostgreSQL orders inside the aggregate.
    select state_code, loa_code, loa_category
    from {{ ref('stg_loa_categories') }}
    order by state_code, loa_code, loa_category
)

select
    state_code,
    loa_code,
    {{ npnflow_string_agg('loa_category') }} as loa_categories
from ordered
group by state_code, loa_code
