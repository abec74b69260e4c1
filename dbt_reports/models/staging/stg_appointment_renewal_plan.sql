-- The renewal plan (assets/renewals/plan.py), as core_renewals__plan wrote it.
select
    cocode,
    state_code,
    npn,
    loa_code,
    cycle,
    company_name,
    renews,
    renewed_through,
    {{ npnflow_date('renewal_date') }} as renewal_date,
    renewal_date_basis,
    {{ npnflow_date('cutoff_date') }} as cutoff_date,
    {{ npnflow_bool('cutoff_passed') }} as cutoff_passed,
    {{ npnflow_bool('is_resident') }} as is_resident,
    fee_basis,
    fee,
    {{ npnflow_bool('fee_counted') }} as fee_counted,
    saving_if_terminated,
    recommendation,
    reason,
    {{ npnflow_bool('is_assumption') }} as is_assumption,
    {{ npnflow_date('planned_as_of') }} as planned_as_of
from {{ source('npnflow', 'appointment_renewal_plan') }}
