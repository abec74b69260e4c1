-- Appointment renewals (issue 18; docs/renewals.md): the renewal plan of every Appointed line
-- of the customer's companies in a state that renews, for the cycle the plan was built for.
--
-- Grain: one row per (cocode, state_code, npn, loa_code). The plan is computed once, in Python
-- (assets/renewals/plan.py, asset core_renewals__plan, table appointment_renewal_plan), so
-- `npnflow renewals plan` and this report never disagree; the report adds the company's and the
-- producer's names and the line's name. `fee_counted`: the fee counts in the liability on this
-- row (every line of a per-line state, one line per appointment of a per-appointment state).
select
    plan.cocode || '|' || plan.state_code || '|' || plan.npn || '|' || plan.loa_code as report_key,
    plan.cycle,
    plan.cocode,
    coalesce(companies.company_name, plan.company_name) as company_name,
    plan.state_code,
    plan.npn,
    producers.first_name,
    producers.last_name,
    plan.loa_code,
    lines.loa_name,
    plan.renews,
    plan.renewed_through,
    plan.renewal_date,
    plan.renewal_date_basis,
    plan.cutoff_date,
    plan.cutoff_passed,
    plan.is_resident,
    plan.fee_basis,
    plan.fee,
    plan.fee_counted,
    plan.saving_if_terminated,
    plan.recommendation,
    plan.reason,
    plan.is_assumption,
    plan.planned_as_of
from {{ ref('stg_appointment_renewal_plan') }} as plan
left join {{ ref('stg_companies') }} as companies
    on companies.cocode = plan.cocode
left join {{ ref('stg_producers') }} as producers
    on producers.npn = plan.npn
left join {{ ref('stg_lines_of_authority') }} as lines
    on lines.state_code = plan.state_code
    and lines.loa_code = plan.loa_code
