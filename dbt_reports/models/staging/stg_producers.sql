-- No email or SSN columns: the reports do not need them, so they never copy them.
select
    npn,
    first_name,
    last_name,
    -- "First Last", or whichever part is known; null when neither is.
    nullif(trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), '') as producer_name,
    agency_npn,
    agent_type,
    {{ npnflow_bool('is_active') }} as is_active,
    sync_status,
    {{ npnflow_timestamp('last_synced_at') }} as last_synced_at
from {{ source('npnflow', 'producers') }}
