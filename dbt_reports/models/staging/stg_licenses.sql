select
    npn,
    state_code,
    license_number,
    license_class_code,
    license_class,
    {{ npnflow_bool('is_resident') }} as is_resident,
    {{ npnflow_bool('is_active') }} as is_active,
    {{ npnflow_date('issue_date') }} as issue_date,
    {{ npnflow_date('expiration_date') }} as expiration_date
from {{ source('npnflow', 'licenses') }}
