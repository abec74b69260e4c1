select
    npn,
    state_code,
    license_number,
    license_class_code,
    loa_code,
    loa_name,
    {{ npnflow_bool('is_active') }} as is_active,
    {{ npnflow_date('issue_date') }} as issue_date
from {{ source('npnflow', 'license_loas') }}
