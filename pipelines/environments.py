"""The environment switch: `local`, `ci` or `prod`, chosen by configuration, never by code edits.

`NPNFLOW_ENV` (or Dagster's `DAGSTER_DEPLOYMENT`) names the environment; unset means `local`,
anything else unknown fails loudly rather than quietly running against the wrong systems.

- local: the embedded default. SQLite file and bucket folder under `.npnflow/`, the NIPR sandbox
  (started by `npnflow ui`/`npnflow demo`, or `npnflow sandbox-nipr`). `NPNFLOW_DATABASE_URL`,
  when set, replaces the SQLite file, as an `EnvVar` like everywhere else.
- ci: as local, but the operational database comes from `NPNFLOW_DATABASE_URL` (PostgreSQL).
- prod: PostgreSQL from `NPNFLOW_DATABASE_URL`, the S3 bucket `NPNFLOW_S3_BUCKET` (any
  S3-compatible store with `NPNFLOW_S3_ENDPOINT_URL`), the real NIPR endpoints with
  `NIPR_USERNAME`/`NIPR_PASSWORD`, an SMTP server (`NPNFLOW_SMTP_*`) for the invitation
  emails. Secrets are `EnvVar`s: read when a run starts, never shown.
- local and ci write emails into the outbox folder (`NPNFLOW_OUTBOX_DIR`, else
  `.npnflow/outbox`) instead of sending them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from resources import paths
from resources.database import OperationalDatabase
from resources.mailer import outbox_mailer, smtp_mailer_from_environment
from resources.nipr import NiprClient
from resources.nipr_gateway import NiprGateway
from resources.object_store import LocalFolderObjectStore, S3ObjectStore

ENVIRONMENTS = ("local", "ci", "prod")

# The sandbox's default address; `npnflow sandbox-nipr` listens here unless told otherwise.
SANDBOX_DEFAULT_URL = "http://127.0.0.1:8790"
NIPR_PRODUCTION_URLS = {
    "pdb_base_url": "https://pdb-xml-reports.api.nipr.com",
    "alerts_base_url": "https://pdb-alerts-industry-services.api.nipr.com",
    "gateway_base_url": "https://gateway-realtime.api.nipr.com",
}


# The Gateway resource's submitter settings and the variables production reads them from.
# The sandbox environments keep the resource's defaults, the values of NIPR's sample request.
GATEWAY_SUBMITTER_VARIABLES = {
    "entity_id": "NIPR_GATEWAY_ENTITY_ID",
    "payment_account_id": "NIPR_GATEWAY_PAYMENT_ACCOUNT_ID",
    "payment_type": "NIPR_GATEWAY_PAYMENT_TYPE",
    "authorizer_first_name": "NIPR_GATEWAY_AUTHORIZER_FIRST_NAME",
    "authorizer_last_name": "NIPR_GATEWAY_AUTHORIZER_LAST_NAME",
    "authorizer_title": "NIPR_GATEWAY_AUTHORIZER_TITLE",
    "authorizer_phone": "NIPR_GATEWAY_AUTHORIZER_PHONE",
    "authorizer_address_line_1": "NIPR_GATEWAY_AUTHORIZER_ADDRESS_LINE_1",
    "authorizer_city": "NIPR_GATEWAY_AUTHORIZER_CITY",
    "authorizer_state_code": "NIPR_GATEWAY_AUTHORIZER_STATE_CODE",
    "authorizer_zip_code": "NIPR_GATEWAY_AUTHORIZER_ZIP_CODE",
}


class UnknownEnvironment(ValueError):
    pass


def current_environment(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    name = environ.get("NPNFLOW_ENV") or environ.get("DAGSTER_DEPLOYMENT") or "local"
    if name not in ENVIRONMENTS:
        raise UnknownEnvironment(
            f"NPNFLOW_ENV={name!r} is not an npnflow environment; use one of {', '.join(ENVIRONMENTS)}"
        )
    return name


def _sandbox_nipr(environ: Mapping[str, str]) -> NiprClient:
    base = environ.get("NPNFLOW_NIPR_SANDBOX_URL") or SANDBOX_DEFAULT_URL
    # The sandbox's credentials are not secrets; they only exercise the auth path.
    return NiprClient(
        pdb_base_url=base,
        alerts_base_url=base,
        gateway_base_url=base,
        username="sandbox",
        password="sandbox",
        timeout_seconds=10.0,
    )


def _sandbox_gateway(environ: Mapping[str, str]) -> NiprGateway:
    return NiprGateway(
        base_url=environ.get("NPNFLOW_NIPR_SANDBOX_URL") or SANDBOX_DEFAULT_URL,
        username="sandbox",
        password="sandbox",
        customer_id=environ.get("NPNFLOW_NIPR_CUSTOMER_ID") or "NPNFLOW",
        # The sandbox answers or drops a request at once; NIPR's 120 s default would only
        # make a local retry after a timeout wait.
        settle_seconds=2.0,
    )


def _gateway_submitter_variables() -> dict[str, Any]:
    # Typed Any: each field is a str that Dagster fills from the EnvVar when a run starts.
    return {field: dg.EnvVar(name) for field, name in GATEWAY_SUBMITTER_VARIABLES.items()}


def _optional_secret(environ: Mapping[str, str], name: str) -> dg.EnvVar | None:
    # Unset means "use the machine's role / boto3's own credential chain", not an empty key.
    return dg.EnvVar(name) if environ.get(name) else None


def _s3_bucket(environ: Mapping[str, str]) -> S3ObjectStore:
    return S3ObjectStore(
        bucket=dg.EnvVar("NPNFLOW_S3_BUCKET"),
        prefix=environ.get("NPNFLOW_S3_PREFIX", ""),
        endpoint_url=environ.get("NPNFLOW_S3_ENDPOINT_URL") or None,
        region_name=environ.get("NPNFLOW_S3_REGION") or None,
        aws_access_key_id=_optional_secret(environ, "NPNFLOW_S3_ACCESS_KEY_ID"),
        aws_secret_access_key=_optional_secret(environ, "NPNFLOW_S3_SECRET_ACCESS_KEY"),
    )


def _local_database(environ: Mapping[str, str]) -> OperationalDatabase:
    """The embedded SQLite file, or the database `NPNFLOW_DATABASE_URL` names. A URL can hold a
    password, and a plain value would be in the repository snapshot the UI shows (a resource's
    config): it goes in as an `EnvVar`, read when a run starts, the UI showing only its name."""
    if environ.get("NPNFLOW_DATABASE_URL"):
        return OperationalDatabase(url=dg.EnvVar("NPNFLOW_DATABASE_URL"))
    return OperationalDatabase(url=paths.default_database_url())


def executor_for(name: str) -> dg.ExecutorDefinition | None:
    """How a run executes its steps; None: Dagster's default (a process per step).

    local: every step in the run's own process. The embedded default is one machine and one
    SQLite file, where a process per step buys nothing but its start: measured under `npnflow
    ui` on a loaded machine, each step's process took about 20 s to start for a step that ran
    in under a second, so a dropped file's `process_upload_job` (7 steps) took over 2 minutes
    where the demo's in-process runs take seconds (docs/decisions/0027). ci and prod keep a
    process per step: a crashed step does not take the run's other steps with it.
    """
    return dg.in_process_executor if name == "local" else None


def resources_for(name: str, environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """The resources of one environment. Keys are the resource names assets ask for."""
    environ = os.environ if environ is None else environ
    if name == "local":
        return {
            "database": _local_database(environ),
            "object_store": LocalFolderObjectStore(root=str(paths.bucket_dir())),
            "nipr": _sandbox_nipr(environ),
            "nipr_gateway": _sandbox_gateway(environ),
            # Emails become .eml files under the data folder: nothing leaves the machine.
            "mailer": outbox_mailer(paths.outbox_dir()),
        }
    if name == "ci":
        return {
            "database": OperationalDatabase(url=dg.EnvVar("NPNFLOW_DATABASE_URL")),
            "object_store": LocalFolderObjectStore(root=str(paths.bucket_dir())),
            "nipr": _sandbox_nipr(environ),
            "nipr_gateway": _sandbox_gateway(environ),
            # Emails become .eml files under the data folder: nothing leaves the machine.
            "mailer": outbox_mailer(paths.outbox_dir()),
        }
    if name == "prod":
        return {
            "database": OperationalDatabase(url=dg.EnvVar("NPNFLOW_DATABASE_URL")),
            "object_store": _s3_bucket(environ),
            "nipr": NiprClient(
                pdb_base_url=NIPR_PRODUCTION_URLS["pdb_base_url"],
                alerts_base_url=NIPR_PRODUCTION_URLS["alerts_base_url"],
                gateway_base_url=NIPR_PRODUCTION_URLS["gateway_base_url"],
                username=dg.EnvVar("NIPR_USERNAME"),
                password=dg.EnvVar("NIPR_PASSWORD"),
            ),
            "nipr_gateway": NiprGateway(
                base_url=NIPR_PRODUCTION_URLS["gateway_base_url"],
                username=dg.EnvVar("NIPR_USERNAME"),
                password=dg.EnvVar("NIPR_PASSWORD"),
                # The customer id NIPR gave the carrier for Gateway submissions.
                customer_id=dg.EnvVar("NIPR_GATEWAY_CUSTOMER_ID"),
                # ENTITY, PAYMENT and AUTHORIZATION of every transaction: what only the
                # submitter knows (docs/submission.md, "The Gateway request").
                **_gateway_submitter_variables(),
            ),
            # NPNFLOW_SMTP_HOST/_PORT/_USERNAME/_PASSWORD/_FROM/_STARTTLS (resources/mailer.py).
            "mailer": smtp_mailer_from_environment(environ),
        }
    raise UnknownEnvironment(f"no resources for environment {name!r}")
