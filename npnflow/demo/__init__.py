"""`npnflow demo`: the whole product, end to end, on the embedded default.

It grows with every capability, so a newcomer always sees everything work. Today it:
1. migrates the operational database;
2. starts the NIPR sandbox, whose producers hold appointments with the customer's companies;
3. loads the reference data and the company setup (`load_reference_data_job`);
4. drops a sample agent file (the roster, with producer assignments, a few mistakes and blank
   rows, and an NPN NIPR does not know) into the local bucket's `inbox/agent/`; the real
   `inbox_file_sensor` finds it and `process_upload_job` validates it, writes the error report
   beside it and onboards the valid rows; then `onboarded_producers_sensor` requests
   `sync_new_producers_job`: Entity Info for each new producer, then the PDB Alerts target list;
5. runs the daily sync (`daily_nipr_sync_job`) for the last few NIPR report days and prints
   what changed;
6. drops an appoint file (requests for the onboarded producers, Submit TRUE and FALSE, with
   requests that cannot be eligible) into `inbox/appoint/`: `process_upload_job` checks every
   request's eligibility and groups the transactions into batches; the batches are listed, one
   is shown and approved as `npnflow batches approve` does, and `approved_batch_sensor`'s
   runs (`submit_batch_job`) send the approved batches to the sandbox's Gateway, exactly once;
   the final statuses are printed;
7. builds the reports (`build_reports_job`: dbt build, tests as asset checks), exports a
   terminate file from `rpt_producer_licensing_with_carrier_appointments` as `npnflow export
   terminate` does, drops it into `inbox/terminate/`: the termination batch is reviewed,
   approved and sent like the appointments; the reports are rebuilt and show the outcome;
8. drops a portal_invite file: seats are taken, one email per invitation lands in the local
   outbox (only the token's hash is stored), a full portal and an unknown NPN are reported;
   the same requests again send nothing.
Every step runs the same Dagster job a person launches from the UI, on the persistent local
instance, so `npnflow ui` shows these runs afterwards.

Where the parts live: `run.py` (`run_demo`, the order of the steps, steps 1-5), `submissions.py`
(steps 6 and 7), `portal.py` (step 8), `samples.py` (the files dropped), `dagster_runs.py`
(sensors and jobs run as the daemon would).
"""

from __future__ import annotations

from npnflow.demo.run import run_demo
from npnflow.demo.samples import UNKNOWN_NPN

__all__ = ["UNKNOWN_NPN", "run_demo"]
