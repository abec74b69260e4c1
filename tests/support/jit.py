"""The world the JIT tests start from: a seeded database (shipped reference tables and the
sample company setup of config/) with one producer whose appointments with Harborstone (91234)
were requested without Submit Just In Time, so each JIT state's eligible line is `Held (JIT)`:

- Ann (2000001), synced and active, resident of FL with a Life license (class 1, LOA 16) and
  non-resident in GA (class 288, LOA 16): FL and GA are JIT states for 91234;
- upload `U-HOLD` requested FL Life and GA Life: its batch holds the two lines `Held (JIT)`.

FL takes an effective date (45 days back at most) and gives 45 days; GA takes no effective date
and gives 15 (config/reference/state_appointment_rules.csv).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from assets.appointments.eligibility import evaluate_appointment_requests
from assets.appointments.store import plan_appointment_batches, read_eligibility_inputs
from assets.batches.store import write_batch_plan
from resources.database import OperationalDatabase
from schemas import statuses

ANN = "2000001"
HARBORSTONE = "91234"
HOLD_UPLOAD = "U-HOLD"
T0 = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


def world_tables() -> dict[str, pd.DataFrame]:
    return {
        "uploads": pd.DataFrame(
            [
                {
                    "upload_id": HOLD_UPLOAD,
                    "object_key": "appoint/first_requests.csv",
                    "content_sha256": "0" * 64,
                    "kind": "appoint",
                    "received_at": T0,
                    "status": "Processed",
                }
            ]
        ),
        "producers": pd.DataFrame(
            [
                {
                    "npn": ANN,
                    "first_name": "Ann",
                    "last_name": "Lee",
                    "agent_type": "Producer",
                    "is_active": True,
                    "sync_status": "Success",
                }
            ]
        ),
        "licenses": pd.DataFrame(
            [
                {
                    "npn": ANN,
                    "state_code": "FL",
                    "license_number": "FL-1",
                    "license_class_code": "1",
                    "is_resident": True,
                    "is_active": True,
                    "expiration_date": dt.date(2030, 1, 1),
                },
                {
                    "npn": ANN,
                    "state_code": "GA",
                    "license_number": "GA-1",
                    "license_class_code": "288",
                    "is_resident": False,
                    "is_active": True,
                    "expiration_date": dt.date(2030, 1, 1),
                },
            ]
        ),
        "license_loas": pd.DataFrame(
            [
                {
                    "npn": ANN,
                    "state_code": s,
                    "license_number": n,
                    "license_class_code": c,
                    "loa_code": "16",
                    "is_active": True,
                }
                for s, n, c in (("FL", "FL-1", "1"), ("GA", "GA-1", "288"))
            ]
        ),
    }


def hold_lines(database: OperationalDatabase, now: dt.datetime = T0) -> pd.DataFrame:
    """Evaluate U-HOLD's requests (FL Life, GA Life; no Submit Just In Time) as an upload does
    and write its batch: the eligible lines are Held (JIT). Returns the held lines."""
    requests = pd.DataFrame(
        [
            {
                "request_row": i + 2,
                "npn": ANN,
                "state_code": state,
                "cocode": HARBORSTONE,
                "loa_category": "Life",
                "agent_type": "Producer",
                "submit": False,
                "submit_just_in_time": False,
            }
            for i, state in enumerate(("FL", "GA"))
        ]
    )
    with database.begin() as connection:
        inputs = read_eligibility_inputs(connection, [ANN])
        evaluated = evaluate_appointment_requests(requests, inputs, as_of=now.date())
        write_batch_plan(connection, plan_appointment_batches(evaluated, HOLD_UPLOAD, now))
    return held(database)


def held(database: OperationalDatabase) -> pd.DataFrame:
    with database.engine.connect() as connection:
        return pd.read_sql(
            sa.text("SELECT * FROM transactions WHERE status = :s ORDER BY state_code"),
            connection,
            params={"s": statuses.HELD_JIT},
        )


def jit_world(path: Path) -> OperationalDatabase:
    """A seeded SQLite file at `path` holding the world, its lines held."""
    return jit_database(f"sqlite:///{path}")


def jit_database(url: str) -> OperationalDatabase:
    """The world in the (empty) database at `url`, migrated and seeded, its lines held."""
    from support.seed import seeded_database

    database = seeded_database(url, world_tables())
    hold_lines(database)
    return database
