"""The world the `npnflow uploads` / `producers` tests start from: the offboarding world
(tests/support/offboarding.py: Ann, Bob, Cy synced, batches, portal seats) plus uploads and
producers NIPR never knew.

Uploads (oldest first):
- `roster.csv` (agent, Processed 2 valid / 1 rejected, its row error holding an SSN): it
  created Nora (48905991) and Ned (48905992); its error report is in the bucket;
- `appoint.csv` dropped twice under inbox/appoint/: the first Processed (its batch
  B-FROM-UPLOAD, 1 Accepted + 1 Not Eligible), the second a Duplicate of the first;
- `broken.csv` (appoint, Rejected as a whole file: no counts).

Producers NIPR never knew:
- Nora (48905991, `Not Found`): a producer assignment, an Invited portal seat on Harborstone
  and a Ready to Submit line in B-REVIEW (Pending Review): removable;
- Ned (48905992, `Not Found`): a Submitted line in B-SENT: never removable;
- Nat (48905993, `Not Started`): a Ready line in B-APPROVED (approved, a run may be sending
  it): not removable.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from schemas import statuses
from support.offboarding import HARBORSTONE, T0
from support.offboarding import world_tables as offboarding_tables

NORA, NED, NAT = "48905991", "48905992", "48905993"
ROSTER_ID = "agent__roster.csv__aaaaaaaaaaaa"
APPOINT_ID = "appoint__appoint.csv__bbbbbbbbbbbb"
APPOINT_AGAIN_ID = "appoint__appoint.csv__cccccccccccc"
BROKEN_ID = "appoint__broken.csv__dddddddddddd"
ROSTER_DONE = T0 + dt.timedelta(minutes=1)
ROSTER_REPORT_KEY = "inbox/agent/roster.csv.errors.csv"


def _upload(upload_id: str, key: str, kind: str, status: str, minutes: int, **values) -> dict:
    return {
        "upload_id": upload_id,
        "object_key": key,
        "content_sha256": upload_id[-12:],
        "kind": kind,
        "received_at": T0 + dt.timedelta(minutes=minutes),
        "status": status,
        **values,
    }


def _unknown_producer(npn: str, first: str, status: str) -> dict[str, object]:
    return {
        "npn": npn,
        "first_name": first,
        "last_name": "Typo",
        "email": f"{first.lower()}@example.com",
        "agency_npn": "9000001",
        "is_active": True,
        "sync_status": status,
        "last_synced_at": ROSTER_DONE,
        "created_at": ROSTER_DONE,
        "updated_at": ROSTER_DONE,
        "ssn_last4": "6789",
    }


def _line(transaction_id: str, batch_id: str, npn: str, status: str, **values) -> dict:
    return {
        "transaction_id": transaction_id,
        "batch_id": batch_id,
        "kind": "appointment",
        "request_row": 2,
        "npn": npn,
        "state_code": "CA",
        "cocode": HARBORSTONE,
        "loa_category": "Life",
        "loa_code": "16",
        "eligibility_reason": "In Good Standing",
        "status": status,
        "idempotency_key": transaction_id,
        "created_at": T0,
        **values,
    }


def world_tables() -> dict[str, pd.DataFrame]:
    tables = offboarding_tables()
    tables["producers"] = pd.concat(
        [
            tables["producers"],
            pd.DataFrame(
                [
                    _unknown_producer(NORA, "Nora", "Not Found"),
                    _unknown_producer(NED, "Ned", "Not Found"),
                    _unknown_producer(NAT, "Nat", "Not Started"),
                ]
            ),
        ],
        ignore_index=True,
    )
    tables["uploads"] = pd.DataFrame(
        [
            _upload(
                ROSTER_ID,
                "inbox/agent/roster.csv",
                "agent",
                "Processed",
                0,
                rows_total=3,
                rows_blank=0,
                rows_valid=2,
                rows_rejected=1,
                error_report_key=ROSTER_REPORT_KEY,
                completed_at=ROSTER_DONE,
            ),
            _upload(
                APPOINT_ID,
                "inbox/appoint/appoint.csv",
                "appoint",
                "Processed",
                10,
                rows_total=2,
                rows_blank=0,
                rows_valid=2,
                rows_rejected=0,
                completed_at=T0 + dt.timedelta(minutes=11),
            ),
            _upload(
                APPOINT_AGAIN_ID,
                "inbox/appoint/appoint.csv",
                "appoint",
                "Duplicate",
                20,
                duplicate_of=APPOINT_ID,
                error_message=f"The same content as upload {APPOINT_ID}: nothing to do.",
                completed_at=T0 + dt.timedelta(minutes=20),
            ),
            _upload(
                BROKEN_ID,
                "inbox/appoint/broken.csv",
                "appoint",
                "Rejected",
                30,
                error_message="The file has no NPN column.",
                completed_at=T0 + dt.timedelta(minutes=30),
            ),
        ]
    )
    tables["upload_row_errors"] = pd.DataFrame(
        [
            {
                "upload_id": ROSTER_ID,
                "row_number": 4,
                "column": "Agent NPN",
                "message": "Agent NPN 'x' must be digits only; SSN 123-45-6789 typed beside it",
            }
        ]
    )
    tables["producer_assignments"] = pd.DataFrame(
        [{"npn": NORA, "loa_category": "Life", "state_code": "CA", "cocode": HARBORSTONE}]
    )
    batches = tables["transaction_batches"]
    extra_batches = pd.DataFrame(
        [
            {**batches.iloc[0].to_dict(), "batch_id": "B-SENT", "status": "Submitted"},
            {
                **batches.iloc[0].to_dict(),
                "batch_id": "B-FROM-UPLOAD",
                "status": "Completed",
                "upload_id": APPOINT_ID,
            },
        ]
    )
    tables["transaction_batches"] = pd.concat([batches, extra_batches], ignore_index=True)
    tables["transactions"] = pd.concat(
        [
            tables["transactions"],
            pd.DataFrame(
                [
                    _line("T-NORA", "B-REVIEW", NORA, statuses.READY_TO_SUBMIT),
                    _line(
                        "T-NED",
                        "B-SENT",
                        NED,
                        statuses.SUBMITTED,
                        submitted_at=T0,
                        submission_chunk=1,
                    ),
                    _line("T-NAT", "B-APPROVED", NAT, statuses.READY_TO_SUBMIT),
                    _line("T-UP-1", "B-FROM-UPLOAD", "1000002", statuses.ACCEPTED),
                    _line("T-UP-2", "B-FROM-UPLOAD", "1000002", statuses.NOT_ELIGIBLE),
                ]
            ),
        ],
        ignore_index=True,
    )
    seats = tables["portal_users"]
    tables["portal_users"] = pd.concat(
        [
            seats,
            pd.DataFrame(
                [{**seats.iloc[-1].to_dict(), "npn": NORA, "invitation_token_hash": "nora"}]
            ),
        ],
        ignore_index=True,
    )
    return tables


def answers_world(path: Path) -> str:
    """A seeded SQLite file at `path` holding the world; returns its URL."""
    from support.seed import seeded_database

    url = f"sqlite:///{path}"
    seeded_database(url, world_tables()).engine.dispose()
    return url
