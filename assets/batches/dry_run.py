"""A dry run of an appoint or terminate file (`npnflow check`): the pipeline's own steps,
without writing anything.

The file is read and validated by the functions `raw_uploads__file` and
`core_uploads__validated` call (`reading.py`, `validation.py`), against the reference tables
and companies the database holds (`store.read_validation_inputs`); its request rows are those
the later steps would read back (`request_rows.request_rows_of`); the engine's inputs are read
and the requests evaluated and planned into batches by the shared upload step's own functions
(`upload_step.read_request_inputs`, `upload_step.plan_requests`), as of NIPR's business day.
One implementation: a dry run and a drop of the same file give the same reasons.

Nothing is written: the caller runs `evaluate_requests` in a database transaction it rolls
back (the reads' temporary tables of NPNs included); no upload row, no request rows, no
transaction, no batch, nothing in the bucket, no Dagster run.

`--config DIR`: the company setup of another folder (companies.yaml,
gateway_business_rules.csv), validated as the `company_config` assets validate config/
(`company_setup.load_company_config`, against the database's reference tables), replaces the
database's company tables in the engine's inputs and in validation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Connection

from assets.batches.planning import BatchPlan
from assets.batches.upload_step import RequestKind, plan_requests, read_request_inputs
from assets.reference.company_setup import load_company_config
from assets.reference.config_files import ConfigError
from assets.rules.nipr_fees import NIPR_FEES_INPUT, nipr_fee_for, nipr_fee_table
from assets.uploads.cells import mask_ssns
from assets.uploads.reading import (
    RawUpload,
    UploadRejected,
    detect_kind,
    read_upload,
    require_columns,
)
from assets.uploads.request_rows import request_rows_of
from assets.uploads.store import read_validation_inputs
from assets.uploads.validation import ValidatedUpload, validate_upload
from resources.database import read_table
from schemas import statuses

#: The upload id the dry run's transaction and batch ids are derived from: never a real one
#: (a real upload id is `<kind>__<name>__<etag>`), so no id printed can be taken for a batch.
DRY_RUN_UPLOAD_ID = "dry-run"
#: The tables a company setup folder gives (`load_company_config`'s keys).
COMPANY_TABLES = (
    "companies",
    "company_loa_categories",
    "company_state_settings",
    "gateway_business_rules",
)
#: The reference tables a company setup is checked against.
COMPANY_CHECK_REFERENCE = ("license_class_loas", "loa_categories", "state_appointment_rules")


class DryRunRefused(Exception):
    """The dry run cannot evaluate: the message says what to do."""


@dataclass(frozen=True)
class CheckedFile:
    """A file read and validated as the pipeline would."""

    raw: RawUpload
    validated: ValidatedUpload
    requests: pd.DataFrame  # the request rows the later steps would read back


@dataclass(frozen=True)
class Evaluation:
    """The requests evaluated and planned: what the step would write, and NIPR's fee of a
    line of this kind that is sent (for the fees avoided)."""

    plan: BatchPlan
    as_of: dt.date
    nipr_fee_per_line: float


def read_company_setup(connection: Connection, config_dir: Path) -> dict[str, pd.DataFrame]:
    """Another company setup folder's tables, validated as config/ is (every problem listed in
    one DryRunRefused)."""
    folder = Path(config_dir)
    if not folder.is_dir():
        raise DryRunRefused(
            f"--config {folder}: not a folder. Give a folder holding companies.yaml and "
            "gateway_business_rules.csv, like config/."
        )
    reference = {table: read_table(connection, table) for table in COMPANY_CHECK_REFERENCE}
    try:
        return load_company_config(folder, reference)
    except ConfigError as error:
        raise DryRunRefused(f"--config {folder}: the company setup is refused.\n{error}") from None


def check_file(
    connection: Connection,
    data: bytes,
    file_name: str,
    kind: str,
    company_setup: Mapping[str, pd.DataFrame] | None = None,
) -> CheckedFile:
    """Read and validate the file as if dropped in inbox/<kind>/. Raises UploadRejected (its
    message with SSNs masked) for a file the pipeline would reject whole."""
    reference, companies = read_validation_inputs(connection)
    if reference["jurisdictions"].empty:
        raise DryRunRefused(
            "The database's reference tables are empty: load them first (`npnflow demo`, or "
            "materialize the reference assets: load_reference_data_job)."
        )
    if company_setup is not None:
        companies = company_setup["companies"]
    try:
        raw = read_upload(data, file_name)
        detected = detect_kind(raw.headers, kind)
        require_columns(raw.labels, detected)
        validated = validate_upload(raw, detected, reference, companies)
    except UploadRejected as rejection:
        rejection.message = mask_ssns(rejection.message)
        raise
    return CheckedFile(raw, validated, request_rows_of(validated))


def evaluate_requests(
    connection: Connection,
    rk: RequestKind,
    requests: pd.DataFrame,
    now: dt.datetime,
    as_of: dt.date,
    company_setup: Mapping[str, pd.DataFrame] | None = None,
) -> Evaluation:
    """The requests evaluated against the database (or with `company_setup`'s tables instead
    of its company tables) and planned into batches: reads only."""
    inputs = read_request_inputs(connection, rk, requests, replacing_upload_id=None)
    if company_setup is not None:
        inputs |= {
            name: frame.reset_index(drop=True)
            for name, frame in company_setup.items()
            if name in inputs
        }
    plan = plan_requests(rk, requests, inputs, DRY_RUN_UPLOAD_ID, as_of, now)
    fees = nipr_fee_table(inputs.get(NIPR_FEES_INPUT))
    return Evaluation(
        plan=plan,
        as_of=as_of,
        nipr_fee_per_line=nipr_fee_for(rk.transaction_kind, statuses.READY_TO_SUBMIT, fees),
    )


__all__ = [
    "COMPANY_TABLES",
    "DRY_RUN_UPLOAD_ID",
    "CheckedFile",
    "DryRunRefused",
    "Evaluation",
    "check_file",
    "evaluate_requests",
    "read_company_setup",
]
