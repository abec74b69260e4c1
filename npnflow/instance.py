"""The persistent local Dagster instance used by `npnflow ui` and `npnflow demo`."""

from __future__ import annotations

import os
from pathlib import Path

from resources import paths

# The embedded default: SQLite instance storage in DAGSTER_HOME (Dagster's default), with
# telemetry off because these machines reach no network but the package registries.
LOCAL_DAGSTER_YAML = """\
# Written by npnflow for the embedded default. Production uses deploy/dagster.yaml instead.
telemetry:
  enabled: false
"""


def ensure_dagster_home() -> Path:
    """Create DAGSTER_HOME (Dagster refuses to start without it) and point the environment at it.

    A dagster.yaml already there is the operator's and is left alone.
    """
    home = paths.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(LOCAL_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
