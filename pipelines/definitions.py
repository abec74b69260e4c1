"""The one composition root: every asset, job, schedule, sensor and resource of npnflow.

`workspace.yaml` and `dagster dev` load this module. The environment (`NPNFLOW_ENV`) picks the
resources; nothing here opens a connection or reads a file.
"""

from __future__ import annotations

import dagster as dg

from assets.appointments.assets import APPOINTMENT_ASSETS
from assets.nipr.assets import NIPR_ASSETS
from assets.nipr.checks import current_state_checks
from assets.reference.assets import company_config_tables, reference_tables
from assets.submissions.assets import SUBMISSION_ASSETS
from assets.uploads.assets import UPLOAD_ASSETS
from pipelines.environments import current_environment, resources_for
from pipelines.jobs import JOBS
from pipelines.schedules import build_schedules
from pipelines.sensors import build_sensors
from resources.ssn import ssn_vault_for


def build_definitions(environment: str | None = None) -> dg.Definitions:
    environment = environment or current_environment()
    return dg.Definitions(
        assets=[
            reference_tables,
            company_config_tables,
            *NIPR_ASSETS,
            *UPLOAD_ASSETS,
            *APPOINTMENT_ASSETS,
            *SUBMISSION_ASSETS,
        ],
        asset_checks=current_state_checks,
        jobs=JOBS,
        schedules=build_schedules(environment),
        sensors=build_sensors(environment),
        # SSNs are encrypted with NPNFLOW_SSN_KEY in every environment where it is set.
        resources={**resources_for(environment), "ssn_vault": ssn_vault_for()},
    )


defs = build_definitions()
