-- One row per license line: (npn, state_code, license_number, loa_code) of license_loas, with
-- the license it belongs to.
--
-- `licenses` has one row per license class, and NIPR may file one license number under several
-- classes. A line then takes the class row a compliance analyst would look at first: the active
-- one, then the one expiring last (then the class code, so the choice never varies by run).
with license_rows as (
    select
        licenses.*,
        row_number() over (
            partition by npn, state_code, license_number
            order by
                case when is_active then 0 else 1 end,
                case when expiration_date is null then 1 else 0 end,
                expiration_date desc,
                license_class_code
        ) as class_preference
    from {{ ref('stg_licenses') }} as licenses
)

select
    lines.npn,
    lines.state_code,
    lines.license_number,
    lines.loa_code,
    lines.loa_name as license_loa_name,
    lines.is_active as loa_is_active,
    license_rows.license_class_code,
    license_rows.license_class,
    license_rows.is_resident,
    license_rows.is_active as license_is_active,
    license_rows.expiration_date as license_expiration_date
from {{ ref('stg_license_loas') }} as lines
left join license_rows
    on license_rows.npn = lines.npn
    and license_rows.state_code = lines.state_code
    and license_rows.license_number = lines.license_number
    and license_rows.class_preference = 1
