-- Just-in-time appointments (issue 15; docs/operations.md, "Just-in-time appointments"): how
-- many lines are held, how many were released, and whether the released ones went out within
-- their state's deadline (`jit_due_date` = business date + jit_deadline_days).
--
-- Grain: one row per (state_code, cocode) with at least one appointment line held or released.
-- `late` counts `Late JIT Filing`: a line submitted after its due date (the UTC date of
-- `submitted_at`), or still waiting to be sent (Held or Ready to Submit) when the as-of date
-- is past its due date. A released line cancelled or found not eligible is neither sent nor
-- late. The as-of date is the dbt var `as_of` (macros/as_of.sql).
with as_of as (
    select {{ npnflow_as_of_date() }} as as_of_date
),

jit_lines as (
    select
        lines.state_code,
        lines.cocode,
        lines.status,
        case when lines.released_at is not null then 1 else 0 end as is_released,
        case when lines.submitted_at is not null then 1 else 0 end as is_submitted,
        case
            when lines.jit_due_date is null then 0
            when lines.submitted_at is not null
                and {{ npnflow_date('lines.submitted_at') }} > lines.jit_due_date then 1
            when lines.submitted_at is null
                and lines.status in ('Held (JIT)', 'Ready to Submit')
                and as_of.as_of_date > lines.jit_due_date then 1
            else 0
        end as is_late
    from {{ ref('stg_transactions') }} as lines
    cross join as_of
    where lines.kind = 'appointment'
        and (lines.status = 'Held (JIT)' or lines.released_at is not null)
)

select
    jit_lines.state_code || '|' || jit_lines.cocode as report_key,
    jit_lines.state_code,
    jit_lines.cocode,
    companies.company_name,
    sum(case when jit_lines.status = 'Held (JIT)' then 1 else 0 end) as held,
    sum(jit_lines.is_released) as released,
    sum(
        case when jit_lines.is_released = 1 and jit_lines.is_submitted = 0
            and jit_lines.status = 'Ready to Submit' then 1 else 0 end
    ) as released_unsent,
    sum(
        case when jit_lines.is_submitted = 1 and jit_lines.is_late = 0 then 1 else 0 end
    ) as submitted_on_time,
    sum(jit_lines.is_late) as late
from jit_lines
left join {{ ref('stg_companies') }} as companies
    on companies.cocode = jit_lines.cocode
group by jit_lines.state_code, jit_lines.cocode, companies.company_name
