select
    batch_id,
    kind,
    cocode,
    upload_id,
    status,
    approval_version,
    approved_by,
    {{ npnflow_timestamp('approved_at') }} as approved_at,
    {{ npnflow_bool('submit_immediately') }} as submit_immediately,
    estimated_fees,
    {{ npnflow_timestamp('created_at') }} as created_at,
    rejected_by,
    {{ npnflow_timestamp('rejected_at') }} as rejected_at
from {{ source('npnflow', 'transaction_batches') }}
