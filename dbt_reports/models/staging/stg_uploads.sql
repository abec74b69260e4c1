select
    upload_id,
    object_key,
    kind,
    status,
    {{ npnflow_timestamp('received_at') }} as received_at
from {{ source('npnflow', 'uploads') }}
