select
    npn,
    state_code,
    cocode,
    loa_code,
    company_name,
    status,
    {{ npnflow_date('effective_date') }} as effective_date,
    termination_reason,
    {{ npnflow_date('status_reason_date') }} as status_reason_date,
    {{ npnflow_date('renewal_date') }} as renewal_date
from {{ source('npnflow', 'appointments') }}
