-- Why requests were, or were not, eligible (SPEC sections 6 and 7), per company: every
-- transaction, appointment and termination, and every request row that created none.
--
-- Grain: one row per (kind, cocode, eligibility_reason, status). Request rows rejected before
-- any transaction (`request_rejections`: producer not found, not synced, inactive) are counted
-- with status 'Request Rejected' and no fee.
with request_outcomes as (
    select
        kind,
        cocode,
        eligibility_reason,
        status,
        estimated_fee,
        created_at
    from {{ ref('stg_transactions') }}

    union all

    select
        kind,
        cocode,
        eligibility_reason,
        status,
        cast(null as {{ dbt.type_numeric() }}) as estimated_fee,
        created_at
    from {{ ref('stg_request_rejections') }}
),

outcome_counts as (
    select
        kind,
        cocode,
        eligibility_reason,
        status,
        count(*) as transactions,
        -- Not Eligible transactions and rejected requests are never charged: they count as 0.
        round(coalesce(sum(estimated_fee), 0), 2) as estimated_fees,
        min(created_at) as first_created_at,
        max(created_at) as last_created_at
    from request_outcomes
    group by kind, cocode, eligibility_reason, status
)

select
    outcome_counts.kind || '|' || coalesce(outcome_counts.cocode, '')
        || '|' || coalesce(outcome_counts.eligibility_reason, '')
        || '|' || coalesce(outcome_counts.status, '') as report_key,
    outcome_counts.kind,
    outcome_counts.cocode,
    companies.company_name,
    outcome_counts.eligibility_reason,
    outcome_counts.status,
    outcome_counts.transactions,
    outcome_counts.estimated_fees,
    outcome_counts.first_created_at,
    outcome_counts.last_created_at
from outcome_counts
left join {{ ref('stg_companies') }} as companies
    on companies.cocode = outcome_counts.cocode
