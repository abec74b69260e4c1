select
    npn,
    state_code,
    cocode,
    loa_code,
    company_name,
    license_number,
    license_class_code,
    {{ npnflow_bool('license_ok') }} as license_ok,
    {{ npnflow_bool('resident_ok') }} as resident_ok,
    {{ npnflow_bool('line_ok') }} as line_ok,
    {{ npnflow_bool('is_at_risk') }} as is_at_risk,
    risk_reason,
    {{ npnflow_date('at_risk_since') }} as at_risk_since,
    {{ npnflow_date('renewal_date') }} as renewal_date,
    {{ npnflow_date('evaluated_as_of') }} as evaluated_as_of,
    {{ npnflow_timestamp('evaluated_at') }} as evaluated_at,
    {{ npnflow_date('at_risk_noticed_on') }} as at_risk_noticed_on
from {{ source('npnflow', 'appointment_standing') }}
