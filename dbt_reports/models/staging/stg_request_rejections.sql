-- Request rows that created no transaction (SPEC section 6 step 1): unknown, unsynced or
-- inactive producers. Status 'Request Rejected'.
select
    id as request_rejection_id,
    upload_id,
    kind,
    request_row,
    npn,
    state_code,
    cocode,
    loa_category,
    loa_code,
    eligibility_reason,
    status,
    {{ npnflow_timestamp('created_at') }} as created_at
from {{ source('npnflow', 'request_rejections') }}
