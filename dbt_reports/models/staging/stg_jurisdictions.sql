select
    state_code,
    name as state_name
from {{ source('npnflow', 'jurisdictions') }}
