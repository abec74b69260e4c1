select
    agency_npn,
    agency_name
from {{ source('npnflow', 'agencies') }}
