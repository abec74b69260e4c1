-- Appointed lines at risk (issue 18): every Appointed line of the customer's companies whose
-- license in the state is inactive or expired, whose line is no longer active on the license,
-- or whose producer has no active resident license, as the last evaluation after the daily
-- NIPR sync judged it (compliance__appointment_standing, the eligibility engine's checks 6-8).
--
-- Grain: one row per at-risk appointment line (npn, state_code, cocode, loa_code). The
-- judgement is made in Python by the engine's own rule, never re-derived here: this model
-- only names the producer, the company and the state.
select
    standing.npn || '|' || standing.state_code || '|' || standing.cocode
        || '|' || standing.loa_code as report_key,
    standing.npn,
    producers.producer_name,
    producers.agency_npn,
    standing.state_code,
    jurisdictions.state_name,
    standing.cocode,
    coalesce(companies.company_name, standing.company_name) as company_name,
    standing.loa_code,
    lines.loa_name,
    standing.risk_reason,
    -- NIPR's date of the change where it gives one (docs/compliance.md), else null.
    standing.at_risk_since,
    -- The first evaluation day that found it at risk (this spell): new since a day = later.
    standing.at_risk_noticed_on,
    standing.license_number,
    standing.license_class_code,
    standing.license_ok,
    standing.resident_ok,
    standing.line_ok,
    standing.renewal_date,
    -- Data as of: the day the lines were judged for, when, and the producer's last NIPR sync.
    standing.evaluated_as_of,
    standing.evaluated_at,
    producers.last_synced_at as nipr_synced_at
from {{ ref('stg_appointment_standing') }} as standing
left join {{ ref('stg_producers') }} as producers
    on producers.npn = standing.npn
left join {{ ref('stg_companies') }} as companies
    on companies.cocode = standing.cocode
left join {{ ref('stg_jurisdictions') }} as jurisdictions
    on jurisdictions.state_code = standing.state_code
left join {{ ref('stg_lines_of_authority') }} as lines
    on lines.state_code = standing.state_code
    and lines.loa_code = standing.loa_code
where standing.is_at_risk
