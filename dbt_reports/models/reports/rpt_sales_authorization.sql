-- May this producer sell (issue 18): Yes/No per (npn, state, cocode, category) the customer's
-- companies appoint for (company_state_settings x company_loa_categories), for producers with
-- a line appointed with the company in the state; a policy system queries it. A combination
-- without a row is a No (the producer holds no appointment with the company in the state).
--
-- Grain: one row per (npn, state_code, cocode, loa_category). The answer and its reasons are
-- computed in Python by the rule of `npnflow can-sell` (compliance__sales_authorization),
-- never re-derived here.
select
    auth.npn || '|' || auth.state_code || '|' || auth.cocode
        || '|' || auth.loa_category as report_key,
    auth.npn,
    producers.producer_name,
    auth.state_code,
    auth.cocode,
    coalesce(companies.company_name, auth.company_name) as company_name,
    auth.loa_category,
    case when auth.can_sell then 'Yes' else 'No' end as can_sell,
    auth.selling_lines,
    auth.reasons,
    auth.evaluated_as_of,
    auth.evaluated_at
from {{ ref('stg_sales_authorization') }} as auth
left join {{ ref('stg_producers') }} as producers
    on producers.npn = auth.npn
left join {{ ref('stg_companies') }} as companies
    on companies.cocode = auth.cocode
