-- Where every batch stands (SPEC section 8): its review and approval, and how many of its
-- transactions are at each status.
--
-- Grain: one row per batch of `transaction_batches` (appointment and termination). One count
-- column per transaction status (the var `transaction_status_columns` in dbt_project.yml), and
-- `total`. A batch with no transaction has every count 0. Beside the state fee estimate
-- (`estimated_fees`), NIPR's own transaction fees of its lines (`estimated_nipr_fees`): only
-- lines that are or were to be sent carry one, and NIPR invoices it apart from the state fees.
with transaction_counts as (
    select
        batch_id,
        {%- for column, status in var('transaction_status_columns').items() %}
        sum(case when status = '{{ status }}' then 1 else 0 end) as {{ column }},
        {%- endfor %}
        count(*) as total,
        -- Not Eligible, Recorded and Held (JIT) lines carry 0: they add nothing.
        round(coalesce(sum(estimated_nipr_fee), 0), 2) as estimated_nipr_fees,
        max(submitted_at) as last_submitted_at,
        max(completed_at) as last_completed_at
    from {{ ref('stg_transactions') }}
    group by batch_id
)

select
    batches.batch_id,
    batches.kind,
    batches.cocode,
    companies.company_name,
    batches.upload_id,
    uploads.object_key as upload_object_key,
    batches.status,
    batches.approval_version,
    batches.approved_by,
    batches.approved_at,
    batches.rejected_by,
    batches.rejected_at,
    batches.submit_immediately,
    batches.estimated_fees,
    coalesce(transaction_counts.estimated_nipr_fees, 0) as estimated_nipr_fees,
    batches.created_at,
    {%- for column in var('transaction_status_columns') %}
    coalesce(transaction_counts.{{ column }}, 0) as {{ column }},
    {%- endfor %}
    coalesce(transaction_counts.total, 0) as total,
    transaction_counts.last_submitted_at,
    transaction_counts.last_completed_at
from {{ ref('stg_transaction_batches') }} as batches
left join transaction_counts
    on transaction_counts.batch_id = batches.batch_id
left join {{ ref('stg_companies') }} as companies
    on companies.cocode = batches.cocode
left join {{ ref('stg_uploads') }} as uploads
    on uploads.upload_id = batches.upload_id
