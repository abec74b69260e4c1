select
    state_code,
    loa_code,
    loa_name
from {{ source('npnflow', 'lines_of_authority') }}
