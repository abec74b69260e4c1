select
    npn,
    state_code,
    cocode,
    loa_category,
    company_name,
    {{ npnflow_bool('can_sell') }} as can_sell,
    selling_lines,
    reasons,
    {{ npnflow_date('evaluated_as_of') }} as evaluated_as_of,
    {{ npnflow_timestamp('evaluated_at') }} as evaluated_at
from {{ source('npnflow', 'sales_authorization') }}
