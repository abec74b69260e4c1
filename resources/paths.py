"""Where npnflow keeps its files, resolved when asked (never at import time).

npnflow runs from its checkout: the customer's company setup and the reference data live in
`config/` beside the code, and everything the embedded default writes (SQLite database,
Dagster instance, local bucket, mail outbox) goes under one data folder, `.npnflow/` by default.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def config_dir() -> Path:
    """The customer's configuration folder (`NPNFLOW_CONFIG_DIR`, else `config/`)."""
    return Path(os.environ.get("NPNFLOW_CONFIG_DIR") or PROJECT_ROOT / "config")


def reference_dir() -> Path:
    """Reference data shipped with npnflow and editable by the customer."""
    return config_dir() / "reference"


def workbook_dir() -> Path:
    """NIPR's PDB State Offerings workbook, as CSV, unchanged."""
    return reference_dir() / "nipr_workbook"


def data_dir() -> Path:
    """Everything the embedded default writes (`NPNFLOW_DATA_DIR`, else `.npnflow/`)."""
    return Path(os.environ.get("NPNFLOW_DATA_DIR") or PROJECT_ROOT / ".npnflow")


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'npnflow.db'}"


def database_url() -> str:
    """The operational database: `NPNFLOW_DATABASE_URL`, else the embedded SQLite file."""
    return os.environ.get("NPNFLOW_DATABASE_URL") or default_database_url()


def bucket_dir() -> Path:
    """The local folder that stands in for the watched bucket in the embedded default."""
    return Path(os.environ.get("NPNFLOW_BUCKET_DIR") or data_dir() / "bucket")


def dagster_home() -> Path:
    """A persistent Dagster instance for `npnflow ui` and `npnflow demo`."""
    return Path(os.environ.get("DAGSTER_HOME") or data_dir() / "dagster_home")


def outbox_dir() -> Path:
    """Where the embedded default's mailer writes emails as .eml files, instead of sending."""
    return Path(os.environ.get("NPNFLOW_OUTBOX_DIR") or data_dir() / "outbox")
