-- Active licenses that expire within 90 days of the as-of date (SPEC section 10): what to
-- renew before the producer's appointments in the state are at risk.
--
-- Grain: one row per license row of `licenses` (npn, state_code, license_number,
-- license_class_code) that is active and expires between the as-of date and 90 days after it,
-- both included. expiry_window is the smallest of 30, 60 or 90 days that contains it. The
-- as-of date is the dbt var `as_of` (macros/as_of.sql).
with as_of as (
    select {{ npnflow_as_of_date() }} as as_of_date
),

active_licenses as (
    select
        licenses.*,
        as_of.as_of_date,
        {{ npnflow_days_between('as_of.as_of_date', 'licenses.expiration_date') }} as days_to_expiry
    from {{ ref('stg_licenses') }} as licenses
    cross join as_of
    where licenses.is_active
        and licenses.expiration_date is not null
),

appointed_in_state as (
    select
        npn,
        state_code,
        count(*) as appointed_lines,
        count(distinct cocode) as appointed_companies
    from {{ ref('stg_appointments') }}
    where status = 'Appointed'
    group by npn, state_code
)

select
    expiring.npn || '|' || expiring.state_code || '|' || expiring.license_number
        || '|' || expiring.license_class_code as report_key,
    expiring.npn,
    producers.first_name,
    producers.last_name,
    producers.producer_name,
    producers.agency_npn,
    agencies.agency_name,
    expiring.state_code,
    jurisdictions.state_name,
    expiring.license_number,
    expiring.license_class_code,
    expiring.license_class,
    expiring.is_resident,
    expiring.expiration_date,
    expiring.days_to_expiry,
    case
        when expiring.days_to_expiry <= 30 then '30 days'
        when expiring.days_to_expiry <= 60 then '60 days'
        else '90 days'
    end as expiry_window,
    -- Appointed appointment lines (company and line of authority) of the producer in the
    -- state, and with how many companies: what lapses with the license.
    coalesce(appointed_in_state.appointed_lines, 0) as appointed_appointments,
    coalesce(appointed_in_state.appointed_companies, 0) as appointed_companies,
    expiring.as_of_date
from active_licenses as expiring
left join appointed_in_state
    on appointed_in_state.npn = expiring.npn
    and appointed_in_state.state_code = expiring.state_code
left join {{ ref('stg_producers') }} as producers
    on producers.npn = expiring.npn
left join {{ ref('stg_agencies') }} as agencies
    on agencies.agency_npn = producers.agency_npn
left join {{ ref('stg_jurisdictions') }} as jurisdictions
    on jurisdictions.state_code = expiring.state_code
where expiring.days_to_expiry between 0 and 90
