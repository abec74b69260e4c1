-- Every producer's licensed lines of authority and their appointments with the carriers
-- (SPEC sections 7 and 10): the starting point of terminations. `npnflow export terminate`
-- reads it by these column names (assets/terminations/export.py).
--
-- Grain:
-- - one row per appointment line of `appointments` (npn, state_code, cocode, loa_code), Appointed
--   or Terminated, with the license line that carries it (filed_through_nipr true);
-- - one row per line a registry state recorded without NIPR filing (a `transactions` row of
--   kind appointment, status 'Recorded'), the carrier's own register being the appointment:
--   appointment_status 'Recorded', filed_through_nipr false; a line NIPR's appointments also
--   hold shows once, as NIPR's;
-- - plus one row per license line (npn, state_code, license_number, license_class_code,
--   loa_code) that has no appointment at all for that line, with any company, NIPR's or
--   recorded: appointment_status 'Not Appointed', no cocode, filed_through_nipr empty.
with appointments as (
    select * from {{ ref('stg_appointments') }}
),

license_lines as (
    select * from {{ ref('int_license_lines') }}
),

-- When several licenses of the state carry the appointed line, show the appointment with the
-- active license, then the active line, then the license expiring last.
preferred_license_lines as (
    select
        license_lines.*,
        row_number() over (
            partition by npn, state_code, loa_code
            order by
                case when license_is_active then 0 else 1 end,
                case when loa_is_active then 0 else 1 end,
                case when license_expiration_date is null then 1 else 0 end,
                license_expiration_date desc,
                license_number,
                license_class_code
        ) as preference
    from license_lines
),

-- The latest Recorded transaction of each line NIPR's appointments do not hold.
recorded as (
    select *
    from (
        select
            transactions.*,
            row_number() over (
                partition by npn, state_code, cocode, loa_code
                order by created_at desc, transaction_id desc
            ) as recency
        from {{ ref('stg_transactions') }} as transactions
        where transactions.kind = 'appointment'
            and transactions.status = 'Recorded'
    ) as ranked
    where ranked.recency = 1
        and not exists (
            select 1
            from appointments
            where appointments.npn = ranked.npn
                and appointments.state_code = ranked.state_code
                and appointments.cocode = ranked.cocode
                and appointments.loa_code = ranked.loa_code
        )
),

-- The license line a recorded appointment rests on: the license (and class) eligibility
-- chose, as the transaction names it; else as for NIPR's appointments.
recorded_license_lines as (
    select
        recorded.transaction_id,
        lines.*,
        row_number() over (
            partition by recorded.transaction_id
            order by
                case when lines.license_is_active then 0 else 1 end,
                case when lines.loa_is_active then 0 else 1 end,
                lines.license_number,
                lines.license_class_code
        ) as preference
    from recorded
    inner join license_lines as lines
        on lines.npn = recorded.npn
        and lines.state_code = recorded.state_code
        and lines.loa_code = recorded.loa_code
        and (recorded.license_number is null or lines.license_number = recorded.license_number)
        and (
            recorded.license_class_code is null
            or lines.license_class_code = recorded.license_class_code
        )
),

appointment_rows as (
    select
        appointments.npn || '|' || appointments.state_code || '|' || appointments.loa_code
            || '|cocode=' || appointments.cocode as report_key,
        appointments.npn,
        appointments.state_code,
        lines.license_number,
        lines.license_class_code,
        lines.license_class,
        lines.is_resident,
        lines.license_is_active,
        lines.license_expiration_date,
        appointments.loa_code,
        lines.license_loa_name,
        lines.loa_is_active,
        appointments.cocode,
        appointments.company_name as nipr_company_name,
        appointments.status as appointment_status,
        appointments.effective_date as appointment_effective_date,
        appointments.termination_reason,
        appointments.renewal_date,
        {{ npnflow_bool('1') }} as filed_through_nipr
    from appointments
    left join preferred_license_lines as lines
        on lines.npn = appointments.npn
        and lines.state_code = appointments.state_code
        and lines.loa_code = appointments.loa_code
        and lines.preference = 1
),

recorded_rows as (
    select
        recorded.npn || '|' || recorded.state_code || '|' || recorded.loa_code
            || '|cocode=' || recorded.cocode as report_key,
        recorded.npn,
        recorded.state_code,
        coalesce(lines.license_number, recorded.license_number) as license_number,
        coalesce(lines.license_class_code, recorded.license_class_code) as license_class_code,
        lines.license_class,
        lines.is_resident,
        lines.license_is_active,
        lines.license_expiration_date,
        recorded.loa_code,
        lines.license_loa_name,
        lines.loa_is_active,
        recorded.cocode,
        cast(null as {{ dbt.type_string() }}) as nipr_company_name,
        recorded.status as appointment_status,
        recorded.effective_date as appointment_effective_date,
        cast(null as {{ dbt.type_string() }}) as termination_reason,
        cast(null as date) as renewal_date,
        {{ npnflow_bool('0') }} as filed_through_nipr
    from recorded
    left join recorded_license_lines as lines
        on lines.transaction_id = recorded.transaction_id
        and lines.preference = 1
),

-- Typed nulls: PostgreSQL types an untyped null in a CTE as text, which a UNION with a date
-- column refuses.
not_appointed_rows as (
    select
        lines.npn || '|' || lines.state_code || '|' || lines.loa_code
            || '|license=' || lines.license_number
            || '|class=' || lines.license_class_code as report_key,
        lines.npn,
        lines.state_code,
        lines.license_number,
        lines.license_class_code,
        lines.license_class,
        lines.is_resident,
        lines.license_is_active,
        lines.license_expiration_date,
        lines.loa_code,
        lines.license_loa_name,
        lines.loa_is_active,
        cast(null as {{ dbt.type_string() }}) as cocode,
        cast(null as {{ dbt.type_string() }}) as nipr_company_name,
        'Not Appointed' as appointment_status,
        cast(null as date) as appointment_effective_date,
        cast(null as {{ dbt.type_string() }}) as termination_reason,
        cast(null as date) as renewal_date,
        {{ npnflow_bool('null') }} as filed_through_nipr
    from license_lines as lines
    where not exists (
        select 1
        from appointments
        where appointments.npn = lines.npn
            and appointments.state_code = lines.state_code
            and appointments.loa_code = lines.loa_code
    )
        and not exists (
            select 1
            from recorded
            where recorded.npn = lines.npn
                and recorded.state_code = lines.state_code
                and recorded.loa_code = lines.loa_code
        )
),

report_lines as (
    select * from appointment_rows
    union all
    select * from recorded_rows
    union all
    select * from not_appointed_rows
)

select
    report_lines.report_key,
    report_lines.npn,
    producers.first_name,
    producers.last_name,
    producers.producer_name,
    producers.agency_npn,
    agencies.agency_name,
    report_lines.state_code,
    jurisdictions.state_name,
    report_lines.license_number,
    report_lines.license_class_code,
    report_lines.license_class,
    report_lines.is_resident,
    report_lines.license_is_active,
    report_lines.license_expiration_date,
    report_lines.loa_code,
    -- The name on the producer's license, else NIPR's name of the line in that state.
    coalesce(report_lines.license_loa_name, lines_of_authority.loa_name) as loa_name,
    categories.loa_categories,
    report_lines.loa_is_active,
    report_lines.cocode,
    -- Our name of the company when it is one of ours, else the name NIPR reported.
    coalesce(companies.company_name, report_lines.nipr_company_name) as company_name,
    report_lines.appointment_status,
    report_lines.appointment_effective_date,
    report_lines.termination_reason,
    report_lines.renewal_date,
    -- true: NIPR's appointment; false: recorded in a registry state's carrier register, never
    -- filed through NIPR; empty for a line with no appointment.
    report_lines.filed_through_nipr
from report_lines
left join {{ ref('stg_producers') }} as producers
    on producers.npn = report_lines.npn
left join {{ ref('stg_agencies') }} as agencies
    on agencies.agency_npn = producers.agency_npn
left join {{ ref('stg_jurisdictions') }} as jurisdictions
    on jurisdictions.state_code = report_lines.state_code
left join {{ ref('stg_lines_of_authority') }} as lines_of_authority
    on lines_of_authority.state_code = report_lines.state_code
    and lines_of_authority.loa_code = report_lines.loa_code
left join {{ ref('int_loa_category_lists') }} as categories
    on categories.state_code = report_lines.state_code
    and categories.loa_code = report_lines.loa_code
left join {{ ref('stg_companies') }} as companies
    on companies.cocode = report_lines.cocode
