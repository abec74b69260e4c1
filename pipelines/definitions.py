"""The one composition root: every asset, job, schedule, sensor and resource of npnflow.

`workspace.yaml` and `dagster dev` load this module. The environment (`NPNFLOW_ENV`) picks the
resources; nothing here opens a connection or reads a file.
"""

from __future__ import annotations

import dagster as dg

from assets.appointments.assets import APPOINTMENT_ASSETS
from assets.compliance.assets import COMPLIANCE_ASSETS
from assets.compliance.digest_asset import AT_RISK_DIGEST_ASSETS
from assets.jit.assets import JIT_ASSETS
from assets.nipr.assets import NIPR_ASSETS
from assets.nipr.checks import current_state_checks
from assets.offboarding.assets import OFFBOARDING_ASSETS
from assets.portal.assets import PORTAL_ASSETS
from assets.reference.assets import company_config_tables, reference_tables
from assets.renewals.assets import RENEWAL_ASSETS
from assets.reports.assets import REPORT_ASSETS, with_report_lineage
from assets.submissions.assets import SUBMISSION_ASSETS
from assets.terminations.assets import TERMINATION_ASSETS
from assets.uploads.assets import UPLOAD_ASSETS
from pipelines.environments import current_environment, executor_for, resources_for
from pipelines.jobs import JOBS
from pipelines.schedules import build_schedules
from pipelines.sensors import build_sensors
from resources.dbt_reports import ReportsDbt
from resources.ssn import ssn_vault_for


def build_definitions(environment: str | None = None) -> dg.Definitions:
    environment = environment or current_environment()
    return dg.Definitions(
        # The reports also follow every other asset writing the tables they read.
        assets=with_report_lineage(
            reference_tables,
            company_config_tables,
            *NIPR_ASSETS,
            *UPLOAD_ASSETS,
            *APPOINTMENT_ASSETS,
            *TERMINATION_ASSETS,
            *PORTAL_ASSETS,
            *OFFBOARDING_ASSETS,
            *JIT_ASSETS,
            *AT_RISK_DIGEST_ASSETS,
            *SUBMISSION_ASSETS,
            *RENEWAL_ASSETS,
            *COMPLIANCE_ASSETS,
            *REPORT_ASSETS,
        ),
        asset_checks=current_state_checks,
        jobs=JOBS,
        executor=executor_for(environment),
        schedules=build_schedules(environment),
        sensors=build_sensors(environment),
        resources={
            **resources_for(environment),
            # SSNs are encrypted with NPNFLOW_SSN_KEY in every environment where it is set.
            "ssn_vault": ssn_vault_for(),
            # dbt_reports builds in each environment's `database`: one resource everywhere.
            "reports_dbt": ReportsDbt(),
        },
    )


defs = build_definitions()
