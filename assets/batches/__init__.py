"""Transaction batches: the lifecycle every transaction kind shares (appointments,
terminations, and whatever creates batches next), beside the domains rather than inside one.

- `planning.py`: batch and transaction ids, the batches of planned transactions and the
  automatic approval rule (pure: no Dagster, no I/O);
- `store.py`: writing an upload's batch plan (replace or keep), and the look-ups the sensors
  and the submission asset make;
- `upload_step.py`: the upload -> transactions -> batches step both request kinds run;
- `detail.py`: reading batches as a reviewer sees them (`list_batches`, `batch_detail`);
- `approval.py`: approving, rejecting and retrying a batch;
- `approvers.py`: who may approve (config/approvers.yaml), and `events.py`: the append-only
  audit trail (`batch_events`) every change of a batch writes in its own transaction.

Submitting an approved batch to NIPR is `assets/submissions/`.
"""
