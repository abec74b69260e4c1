-- One row per license line: (npn, state_code, license_number, license_class_code, loa_code) of
-- license_loas, with the license it belongs to.
--
-- NIPR files one license number under several classes, each with its own lines and statuses,
-- so a line is keyed by its class and joins the license row of that very class (ADR 0023). A
-- line whose class has no license row (migration 0007's placeholder class '' until the
-- producer's next sync) keeps its row, without license columns.
select
    lines.npn,
    lines.state_code,
    lines.license_number,
    lines.license_class_code,
    lines.loa_code,
    lines.loa_name as license_loa_name,
    lines.is_active as loa_is_active,
    licenses.license_class,
    licenses.is_resident,
    licenses.is_active as license_is_active,
    licenses.expiration_date as license_expiration_date
from {{ ref('stg_license_loas') }} as lines
left join {{ ref('stg_licenses') }} as licenses
    on licenses.npn = lines.npn
    and licenses.state_code = lines.state_code
    and licenses.license_number = lines.license_number
    and licenses.license_class_code = lines.license_class_code
