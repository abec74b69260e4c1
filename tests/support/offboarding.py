"""The world the offboarding tests start from: three producers with appointments, unsent lines
in batches and portal seats, on a seeded database (shipped reference tables and the sample
company setup of config/: CoCodes 91234, 92345, 93456).

Ann (1000001) is the producer offboarded in most tests:
- Appointed: CA 16 and CA 296 and NY 16 with 91234, FL 16 with 92345, and CA 16 with 55555,
  which is not one of the customer's companies; TX 825 with 91234 is already Terminated;
- unsent appointment lines: B-REVIEW (Pending Review) holds her Ready GA line, her Held (JIT)
  TN line and Bob's Ready GA line; B-ANN-ONLY (Pending Review) holds only her Ready OH line;
  B-APPROVED (Approved, never sent) holds only her Ready AZ line;
- a Registered seat on the Harborstone portal (2 seats) and an Invited one, its email sent,
  on the Summit portal.

Bob (1000002) has CA 16 with 91234 Appointed and an Invited seat on Harborstone (token
`bob-token`); Cy (1000003) has FL 16 with 93456 Appointed. All three are synced (`Success`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from assets.portal.emails import token_hash
from schemas import statuses

ANN, BOB, CY = "1000001", "1000002", "1000003"
HARBORSTONE, SUMMIT_CO, THIRD_CO, NOT_OURS = "91234", "92345", "93456", "55555"
T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
ANN_TOKEN, BOB_TOKEN = "ann-token", "bob-token"


def _producer(npn: str, first: str) -> dict[str, object]:
    return {
        "npn": npn,
        "first_name": first,
        "last_name": "Lee",
        "email": f"{first.lower()}@example.com",
        "agency_npn": "9000001",
        "agent_type": "Producer",
        "is_active": True,
        "sync_status": "Success",
    }


def _appointment(npn: str, state: str, cocode: str, loa: str, status: str = "Appointed") -> dict:
    return {
        "npn": npn,
        "state_code": state,
        "cocode": cocode,
        "loa_code": loa,
        "status": status,
        "effective_date": dt.date(2024, 1, 10),
    }


def _line(transaction_id: str, batch_id: str, npn: str, state: str, status: str) -> dict:
    return {
        "transaction_id": transaction_id,
        "batch_id": batch_id,
        "kind": "appointment",
        "request_row": 2,
        "npn": npn,
        "state_code": state,
        "cocode": HARBORSTONE,
        "loa_category": "Life",
        "loa_code": "16",
        "is_jit": status == statuses.HELD_JIT,
        "eligibility_reason": "In Good Standing",
        "status": status,
        "estimated_fee": 10.0,
        "idempotency_key": transaction_id,
        "created_at": T0,
    }


def _batch(batch_id: str, status: str) -> dict:
    approved = status == statuses.BATCH_APPROVED
    return {
        "batch_id": batch_id,
        "kind": "appointment",
        "cocode": HARBORSTONE,
        "upload_id": None,
        "status": status,
        "approval_version": 1 if approved else 0,
        "approved_by": "Dana" if approved else None,
        "approved_at": T0 if approved else None,
        "submit_immediately": False,
        "estimated_fees": 10.0,
        "created_at": T0,
    }


def _seat(npn: str, portal_id: str, status: str, token: str | None) -> dict:
    return {
        "npn": npn,
        "portal_id": portal_id,
        "email": "x@example.com",
        "status": status,
        "invited_at": T0,
        "invitation_token_hash": token_hash(token) if token else None,
        "registered_at": T0 if status == "Registered" else None,
        "invitation_send_started_at": T0,
        "invitation_sent_at": T0,
    }


def world_tables() -> dict[str, pd.DataFrame]:
    """The tables of the world the module docstring describes."""
    return {
        "agencies": pd.DataFrame([{"agency_npn": "9000001", "agency_name": "Lee Agency"}]),
        "producers": pd.DataFrame(
            [_producer(ANN, "Ann"), _producer(BOB, "Bob"), _producer(CY, "Cy")]
        ),
        "appointments": pd.DataFrame(
            [
                _appointment(ANN, "CA", HARBORSTONE, "16"),
                _appointment(ANN, "CA", HARBORSTONE, "296"),
                _appointment(ANN, "NY", HARBORSTONE, "16"),
                _appointment(ANN, "TX", HARBORSTONE, "825", status="Terminated"),
                _appointment(ANN, "FL", SUMMIT_CO, "16"),
                _appointment(ANN, "CA", NOT_OURS, "16"),
                _appointment(BOB, "CA", HARBORSTONE, "16"),
                _appointment(CY, "FL", THIRD_CO, "16"),
            ]
        ),
        "transaction_batches": pd.DataFrame(
            [
                _batch("B-REVIEW", statuses.BATCH_PENDING_REVIEW),
                _batch("B-ANN-ONLY", statuses.BATCH_PENDING_REVIEW),
                _batch("B-APPROVED", statuses.BATCH_APPROVED),
            ]
        ),
        "transactions": pd.DataFrame(
            [
                _line("T-ANN-GA", "B-REVIEW", ANN, "GA", statuses.READY_TO_SUBMIT),
                _line("T-ANN-TN", "B-REVIEW", ANN, "TN", statuses.HELD_JIT),
                _line("T-BOB-GA", "B-REVIEW", BOB, "GA", statuses.READY_TO_SUBMIT),
                _line("T-ANN-OH", "B-ANN-ONLY", ANN, "OH", statuses.READY_TO_SUBMIT),
                _line("T-ANN-AZ", "B-APPROVED", ANN, "AZ", statuses.READY_TO_SUBMIT),
            ]
        ),
        "portals": pd.DataFrame(
            [
                {
                    "portal_id": "harborstone",
                    "portal_name": "Harborstone",
                    "seats_total": 2,
                    "registration_url": "https://portal.example.com/harborstone/register",
                },
                {
                    "portal_id": "summit",
                    "portal_name": "Summit",
                    "seats_total": 5,
                    "registration_url": "https://portal.example.com/summit/register",
                },
            ]
        ),
        "portal_users": pd.DataFrame(
            [
                _seat(ANN, "harborstone", "Registered", None),
                _seat(ANN, "summit", "Invited", ANN_TOKEN),
                _seat(BOB, "harborstone", "Invited", BOB_TOKEN),
            ]
        ),
    }


def offboarding_world(path: Path) -> str:
    """A seeded SQLite file at `path` holding the world; returns its URL."""
    from support.seed import seeded_database

    url = f"sqlite:///{path}"
    seeded_database(url, world_tables()).engine.dispose()
    return url
