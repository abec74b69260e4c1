"""The evidence contract and the words of a decision (issue 19): the table holds every field
of `assets/rules/evidence.py` with a type of its kind; `explain_decision` names the row that
decided each kind of outcome; the export's rows and the spreadsheet writer keep every cell
safe."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from assets.batches.evidence_export import export_rows
from assets.batches.evidence_store import ExplainedLine
from assets.batches.explain import EVIDENCE_LABELS, evidence_rows, explain_decision, value_text
from assets.batches.spreadsheet import safe_csv, safe_xlsx
from assets.rules import evidence as ev
from schemas.tables import TABLES
from schemas.tables_evidence import REJECTION_EVIDENCE_COLUMNS

TYPES = {
    "text": (sa.String, sa.Text),
    "flag": (sa.Boolean,),
    "date": (sa.Date,),
    "money": (sa.Numeric,),
    "timestamp": (sa.DateTime,),
}


def test_the_table_holds_every_evidence_field_with_a_type_of_its_kind():
    table = TABLES["transaction_evidence"]
    assert [c.name for c in table.columns] == ["transaction_id", *ev.EVIDENCE_NAMES]
    for name, kind in ev.EVIDENCE_FIELDS:
        assert isinstance(table.c[name].type, TYPES[kind]), name
    assert tuple("evidence_" + n for n in ev.EVIDENCE_NAMES) == ev.EVIDENCE_COLUMNS
    assert set(REJECTION_EVIDENCE_COLUMNS) <= {c.name for c in TABLES["request_rejections"].c}
    assert tuple(EVIDENCE_LABELS) == ev.EVIDENCE_NAMES


def test_the_engine_version_follows_the_rules_source():
    from assets.rules import evidence, outcomes

    one = ev.engine_version("appointment", outcomes)
    assert one == ev.engine_version("appointment", outcomes)
    assert one.startswith("appointment rules ") and len(one.split()[-1]) == 12
    assert one != ev.engine_version("appointment", outcomes, evidence)


LINE = {
    "transaction_id": "T-1",
    "kind": "appointment",
    "npn": "1000001",
    "state_code": "TX",
    "cocode": "91234",
    "company_name": "Harborstone Life",
    "loa_category": "Life",
    "loa_code": "16",
    "status": "Not Eligible",
}


def _evidence(**fields: object) -> dict[str, object]:
    base: dict[str, object] = dict.fromkeys(ev.EVIDENCE_NAMES)
    base.update(engine_version="appointment rules 0123456789ab")
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("reason", "fields", "words"),
    [
        (
            "Producer Not Synced",
            {"decided_by": ev.DECIDED_BY_PRODUCER, "producer_sync_status": "Not Started"},
            "sync status Not Started",
        ),
        ("CoCode Not Found", {"decided_by": ev.DECIDED_BY_COMPANY}, "No company with CoCode 91234"),
        (
            "Harborstone Life does not appoint in the requested State: TX",
            {"decided_by": ev.DECIDED_BY_COMPANY_STATE, "company_in_state": False},
            "has no state setting for TX",
        ),
        (
            "Company Does Not Appoint for requested loas",
            {"decided_by": ev.DECIDED_BY_COMPANY_CATEGORY},
            "does not appoint for the category Life",
        ),
        (
            "Company Does Not Appoint for requested loas",
            {"decided_by": ev.DECIDED_BY_BUSINESS_RULE},
            "Gateway business rules have no line of that category in TX",
        ),
        (
            "Outside Producer Assignment",
            {"decided_by": ev.DECIDED_BY_ASSIGNMENT, "assignment_required": True},
            "requires a producer assignment",
        ),
        (
            "Required License Not Found",
            {"decided_by": ev.DECIDED_BY_LICENSE, "rule_license_class_code": "AGT"},
            "holds no license in TX of class AGT",
        ),
        (
            "Required License Not Active",
            {
                "decided_by": ev.DECIDED_BY_LICENSE,
                "license_number": "TX-9",
                "license_is_active": True,
                "license_expiration_date": dt.date(2026, 1, 31),
            },
            "TX license TX-9, expired on 2026-01-31",
        ),
        (
            "No Active Resident License",
            {
                "decided_by": ev.DECIDED_BY_RESIDENT_LICENSE,
                "license_number": "TX-9",
                "license_is_resident": False,
            },
            "no active, unexpired resident license in any state",
        ),
        (
            "Required License Not Found",
            {"decided_by": ev.DECIDED_BY_LICENSE_LINE, "license_number": "TX-9"},
            "does not hold the line 16 at all",
        ),
        (
            "Already Appointed",
            {
                "decided_by": ev.DECIDED_BY_APPOINTMENT,
                "appointment_status": "Appointed",
                "appointment_effective_date": dt.date(2024, 5, 1),
                "appointment_source": ev.APPOINTMENT_FROM_NIPR,
            },
            "already appointed with Harborstone Life (91234) for the line 16 in TX "
            "(status Appointed, effective 2024-05-01, from nipr)",
        ),
        (
            "Effective Date More Than 30 Days Back Not Accepted In TX",
            {
                "decided_by": ev.DECIDED_BY_STATE_RULE,
                "state_rule_source": "TDI bulletin",
                "state_rule_is_assumption": True,
            },
            "(source: TDI bulletin). This value is our assumption",
        ),
    ],
)
def test_each_outcome_names_the_row_that_decided_it(reason, fields, words):
    text = explain_decision({**LINE, "eligibility_reason": reason}, _evidence(**fields))
    assert words in text
    assert f"{reason}, status Not Eligible" in text
    assert "It is never sent to NIPR, so it costs nothing." in text
    assert text.endswith("Decided by appointment rules 0123456789ab.")


def test_a_ready_line_says_every_check_passed_and_its_fee():
    text = explain_decision(
        {
            **LINE,
            "status": "Ready to Submit",
            "eligibility_reason": "In Good Order",
            "estimated_fee": Decimal("15.00"),
        },
        _evidence(
            decided_by=ev.DECIDED_BY_ALL_CHECKS,
            license_number="TX-1",
            license_is_resident=True,
            license_expiration_date=dt.date(2028, 1, 1),
            resident_state_code="TX",
            resident_license_number="TX-1",
            fee_source="TDI fee schedule",
            licensing_data_as_of=dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC),
        ),
    )
    assert "Every check passed: the resident TX license TX-1" in text
    assert "Estimated state fee $15.00 (source: TDI fee schedule)." in text
    assert "on NIPR's licensing data as of 2026-12-01 06:00 UTC" in text


def test_a_line_without_evidence_says_why():
    text = explain_decision({**LINE, "eligibility_reason": "Already Appointed"}, None)
    assert "No evidence was recorded for it" in text and "migration 0019" in text


def test_evidence_rows_show_every_field_missing_ones_as_a_dash():
    rows = evidence_rows(_evidence(decided_by="license", license_is_active=False))
    assert len(rows) == len(ev.EVIDENCE_NAMES)
    assert ("Decided by", "license") in rows
    assert ("License considered: active", "no") in rows
    assert ("Resident license (check 7): number", "-") in rows
    assert value_text(Decimal("5")) == "$5.00"


def test_the_export_rows_and_files_keep_every_cell_safe():
    line = {**LINE, "eligibility_reason": '=HYPERLINK("http://x")', "request_row": 7}
    headers, rows = export_rows([ExplainedLine(line, _evidence(decided_by="company"))])
    assert headers[0] == "Transaction" and "Explanation" in headers
    assert rows[0][headers.index("Request row")] == "7"
    workbook = load_workbook(io.BytesIO(safe_xlsx("B-1", headers, rows)))
    values = [cell.value for cell in workbook.active[2]]
    assert '\'=HYPERLINK("http://x")' in values
    assert all(cell.data_type == "s" for cell in workbook.active[2] if cell.value is not None)
    text = safe_csv(headers, rows).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "\r\n" in text


def test_state_codes_keep_their_capitals_and_naive_timestamps_read_as_utc():
    text = explain_decision(
        {**LINE, "eligibility_reason": "Required License Not Found"},
        _evidence(
            decided_by=ev.DECIDED_BY_LICENSE_LINE,
            license_number="17776038",
            license_is_resident=False,
            licensing_data_as_of=dt.datetime(2026, 12, 7, 13, 55, 54, 788934),
        ),
    )
    assert "The non-resident TX license 17776038 is active but does not hold the line 16" in text
    assert "as of 2026-12-07 13:55 UTC" in text
