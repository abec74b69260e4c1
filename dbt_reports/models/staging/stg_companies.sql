select
    cocode,
    company_name
from {{ source('npnflow', 'companies') }}
