"""The onboarding rules (`assets/onboarding/onboarding.py`): no Dagster, no database."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from assets.onboarding.onboarding import EXISTING_COLUMNS, NO_COMPANY, plan_onboarding
from assets.reference.loading import load_company_config, load_reference_data
from assets.uploads.reading import read_upload
from assets.uploads.validation import validate_upload
from resources import paths

NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
EARLIER = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
HEADER = (
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    "Scorecard Type,Agent Type,CoCodes"
)


@pytest.fixture(scope="module")
def setup():
    reference = load_reference_data(paths.reference_dir())
    return reference, load_company_config(paths.config_dir(), reference)["companies"]


def _validated(setup, *rows: str):
    reference, companies = setup
    raw = read_upload("\r\n".join([HEADER, *rows]).encode(), "agents.csv")
    validated = validate_upload(raw, "agent", reference, companies)
    assert validated.rows_rejected == 0, validated.row_errors
    return validated


def _existing(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(EXISTING_COLUMNS))


def _fake_protect(ssn: str) -> tuple[str, str | None]:
    assert ssn.isdigit() and len(ssn) == 9  # the vault gets digits only
    return ssn[-4:], f"cipher-of-{ssn[::-1]}"


def _plan(setup, rows, existing=None, agencies=(), protect=_fake_protect):
    validated = _validated(setup, *rows)
    return plan_onboarding(
        validated.valid_rows,
        validated.exploded(),
        existing if existing is not None else _existing(),
        agencies,
        protect,
        NOW,
    )


def test_new_producers_are_active_and_not_started(setup):
    plan = _plan(setup, ["9000001,Ann,Lee,10000001,ann@example.com,,,,,,"])
    producer = plan.producers.iloc[0]
    assert producer.npn == "10000001" and producer.is_active
    assert producer.sync_status == "Not Started"
    assert producer.created_at == NOW
    assert plan.counts["producers_new"] == 1 and plan.counts["producers_to_sync"] == 1
    assert plan.agencies.agency_npn.tolist() == ["9000001"]


def test_known_producers_keep_their_sync_status_unless_offboarded_or_not_found(setup):
    existing = _existing(
        {"npn": "10000001", "sync_status": "Success", "is_active": True, "created_at": EARLIER},
        {"npn": "10000002", "sync_status": "Success", "is_active": False, "created_at": EARLIER},
        {"npn": "10000003", "sync_status": "Not Found", "is_active": True},
        {"npn": "10000004", "sync_status": "NIPR Error", "is_active": None},
    )
    plan = _plan(
        setup,
        [f"9000001,A,B,{npn},,,,,,," for npn in ("10000001", "10000002", "10000003", "10000004")],
        existing,
        agencies={"9000001"},
    )
    status = dict(zip(plan.producers.npn, plan.producers.sync_status, strict=True))
    assert status == {
        "10000001": "Success",
        "10000002": "Not Started",  # reactivated: its NIPR data went stale while offboarded
        "10000003": "Not Started",  # uploaded again: retry NIPR
        "10000004": "NIPR Error",  # retried by the sync anyway
    }
    assert plan.producers.is_active.all()
    assert plan.producers.set_index("npn").loc["10000001", "created_at"] == EARLIER
    assert plan.agencies.empty  # known agency
    changes = dict(zip(plan.summary.npn, plan.summary.change, strict=True))
    assert changes["10000002"] == "reactivated" and changes["10000001"] == "updated"


def test_blank_optional_cells_keep_what_is_stored_and_filled_ones_replace_it(setup):
    existing = _existing(
        {
            "npn": "10000001",
            "email": "old@example.com",
            "sync_status": "Success",
            "ssn_last4": "1111",
            "ssn_encrypted": "old-cipher",
            "is_active": True,
        },
        {
            "npn": "10000002",
            "email": "keep@example.com",
            "sync_status": "Success",
            "ssn_last4": "2222",
            "ssn_encrypted": "kept-cipher",
            "is_active": True,
        },
    )
    plan = _plan(
        setup,
        [
            "9000001,Ann,Lee,10000001,new@example.com,123-45-6789,,,,,",
            "9000001,Bob,Ray,10000002,,,,,,,",
        ],
        existing,
    )
    rows = plan.producers.set_index("npn")
    assert rows.loc["10000001", "email"] == "new@example.com"
    assert rows.loc["10000001", "ssn_last4"] == "6789"
    assert rows.loc["10000001", "ssn_encrypted"] == "cipher-of-987654321"
    assert rows.loc["10000002", "email"] == "keep@example.com"
    assert (rows.loc["10000002", "ssn_last4"], rows.loc["10000002", "ssn_encrypted"]) == (
        "2222", "kept-cipher")  # fmt: skip


def test_without_a_key_a_new_ssn_drops_the_old_ciphertext(setup):
    existing = _existing(
        {
            "npn": "10000001",
            "sync_status": "Success",
            "ssn_last4": "1111",
            "ssn_encrypted": "old-cipher",
            "is_active": True,
        }
    )
    plan = _plan(
        setup,
        ["9000001,Ann,Lee,10000001,,123456789,,,,,"],
        existing,
        protect=lambda ssn: (ssn[-4:], None),
    )
    producer = plan.producers.iloc[0]
    assert producer.ssn_last4 == "6789" and producer.ssn_encrypted is None
    assert plan.counts["ssns_last4_only"] == 1


def test_assignments_replace_only_the_producers_whose_row_has_them(setup):
    plan = _plan(
        setup,
        [
            "9000001,Ann,Lee,10000001,,,Life;Property,CA;TX,License & Appointment,Producer,91234;93456",
            "9000001,Bob,Ray,10000002,,,,,,,",
            "9000001,Cy,Diaz,10000003,,,Casualty,FL,License,Agency,",
        ],
    )
    assert plan.replace_assignments_for == ["10000001", "10000003"]
    ann = plan.assignments[plan.assignments.npn == "10000001"]
    assert len(ann) == 2 * 2 * 2
    cy = plan.assignments[plan.assignments.npn == "10000003"]
    assert cy.cocode.tolist() == [NO_COMPANY]
    assert plan.counts["assignments_written"] == 9
    assert dict(zip(plan.summary.npn, plan.summary.assignments, strict=True)) == {
        "10000001": "8", "10000002": "kept", "10000003": "1"}  # fmt: skip


def test_the_summary_a_person_reads_holds_no_ssn_digits(setup):
    plan = _plan(setup, ["9000001,Ann,Lee,10000001,,123-45-6789,,,,,"])
    text = plan.summary.to_string()
    assert "6789" not in text and "123" not in text.replace("10000001", "")
    assert plan.summary.ssn.tolist() == ["encrypted"]


def _fake_fingerprint(ssn: str) -> str | None:
    return f"fp-{ssn[::-1]}"


def _stored(npn: str, **values) -> dict:
    """A stored producer as the file's row `9000001,Ann,Lee,<npn>,ann@example.com,123456789`
    planned it, with an SSN token and its fingerprint."""
    return {
        "npn": npn,
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "agency_npn": "9000001",
        "agent_type": None,
        "is_active": True,
        "sync_status": "Success",
        "ssn_last4": "6789",
        "ssn_encrypted": "stored-token",
        "ssn_fingerprint": "fp-987654321",
        "created_at": EARLIER,
        "offboarded_at": None,
        "offboarded_by": None,
    } | values


def _plan_with_fingerprints(setup, rows, existing):
    encrypted: list[str] = []

    def protect(ssn: str) -> tuple[str, str | None]:
        encrypted.append(ssn)
        return _fake_protect(ssn)

    validated = _validated(setup, *rows)
    plan = plan_onboarding(
        validated.valid_rows,
        validated.exploded(),
        existing,
        {"9000001"},
        protect,
        NOW,
        fingerprint=_fake_fingerprint,
    )
    return plan, encrypted


def test_an_ssn_already_stored_keeps_its_token_and_an_unchanged_producer_is_not_written(setup):
    existing = _existing(
        _stored("10000001"),
        _stored("10000002"),
        _stored("10000003", ssn_fingerprint="fp-of-another-ssn"),
        _stored("10000004", ssn_fingerprint=None),  # stored before fingerprints
    )
    row = "9000001,Ann,Lee,{},ann@example.com,123-45-6789,,,,,"
    plan, encrypted = _plan_with_fingerprints(
        setup,
        [
            row.format("10000001"),
            row.format("10000002").replace("Lee", "Leigh"),  # a new last name
            row.format("10000003"),
            row.format("10000004"),
            row.format("10000005"),  # new
        ],
        existing,
    )
    rows = plan.producers.set_index("npn")
    # The same SSN: the stored token and fingerprint kept, nothing encrypted.
    assert rows.loc["10000001", "ssn_encrypted"] == "stored-token"
    assert rows.loc["10000002", "ssn_encrypted"] == "stored-token"
    # Another SSN, or none to compare with, or a new producer: encrypted, fingerprint taken.
    for npn in ("10000003", "10000004", "10000005"):
        assert rows.loc[npn, "ssn_encrypted"] == "cipher-of-987654321"
        assert rows.loc[npn, "ssn_fingerprint"] == "fp-987654321"
    assert encrypted == ["123456789"] * 3
    assert plan.unchanged_npns == {"10000001"}
    assert plan.known_npns == {"10000001", "10000002", "10000003", "10000004"}
    assert sorted(plan.producers_to_write.npn) == ["10000002", "10000003", "10000004", "10000005"]
    assert plan.counts["ssns_encrypted"] == 5  # every one is stored encrypted
    assert plan.summary.set_index("npn").loc["10000001", "change"] == "updated"


@pytest.mark.parametrize(
    "stored",
    [
        {"is_active": False},  # offboarded: taken back
        {"offboarded_at": EARLIER, "offboarded_by": "someone"},
        {"sync_status": "Not Found"},  # retried
        {"email": "old@example.com"},
        {"agent_type": "Producer"},  # kept: the file leaves it blank, so it is as stored
    ],
)
def test_a_producer_is_written_when_any_planned_column_differs(setup, stored):
    plan, _ = _plan_with_fingerprints(
        setup,
        ["9000001,Ann,Lee,10000001,ann@example.com,123-45-6789,,,,,"],
        _existing(_stored("10000001", **stored)),
    )
    changed = stored != {"agent_type": "Producer"}
    assert plan.unchanged_npns == (set() if changed else {"10000001"})


def test_without_a_fingerprint_every_given_ssn_is_encrypted_and_its_old_fingerprint_dropped(setup):
    plan = _plan(
        setup,
        ["9000001,Ann,Lee,10000001,ann@example.com,123-45-6789,,,,,"],
        _existing(_stored("10000001")),
        agencies={"9000001"},
    )
    producer = plan.producers.iloc[0]
    assert producer.ssn_encrypted == "cipher-of-987654321" and producer.ssn_fingerprint is None
    assert plan.unchanged_npns == set()
