select
    state_code,
    loa_code,
    loa_category
from {{ source('npnflow', 'loa_categories') }}
