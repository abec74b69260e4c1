"""NIPR's own transaction fee through the appointment assets, the batch detail and the CLI
(issue 14, item 6).

Real local resources: a migrated SQLite database seeded with the shipped reference tables
(config/reference/nipr_transaction_fees.csv among them) and company setup. One appoint file,
all Harborstone (91234) and Submit FALSE, so every line lands in one review batch:

- row 2, VA Accident & Health: line 42 on the license, Ready to Submit (VA non-resident state
  fee $7 per line); line 39 not on it, Not Eligible;
- row 3, CA Life: line 16 Held (JIT) (CA allows JIT for life, 91234 takes it); 296 Not Eligible;
- row 4, IL Life: line 16 Recorded (IL is a registry state); 314 Not Eligible.

Only the Ready to Submit line will be sent, so only it carries NIPR's fee, and the batch's
NIPR total is that one fee.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from assets.appointments.assets import APPOINTMENT_ASSETS
from assets.batches.detail import batch_detail, list_batches
from assets.keys import BATCHES_KEY
from npnflow.cli import main
from resources import paths
from schemas import statuses

FAR = dt.date.today() + dt.timedelta(days=700)
NPN = "1000001"
APPOINT_FILE = "\r\n".join(
    [
        "NPN,States,CoCode,LOA Category,Agent Type,Submit,Submit Just In Time",
        f"{NPN},VA,91234,Accident & Health,Producer,FALSE,FALSE",  # row 2
        f"{NPN},CA,91234,Life,Producer,FALSE,FALSE",  # row 3
        f"{NPN},IL,91234,Life,Producer,FALSE,FALSE",  # row 4
    ]
).encode()


def _shipped_nipr_fee() -> Decimal:
    with (paths.reference_dir() / "nipr_transaction_fees.csv").open(newline="") as handle:
        fees = {r["transaction_kind"]: r["nipr_fee"] for r in csv.DictReader(handle)}
    return Decimal(fees["appointment"])


def _license(state: str, number: str, resident: bool) -> dict[str, object]:
    return {
        "npn": NPN,
        "state_code": state,
        "license_number": number,
        "license_class_code": "3",
        "is_resident": resident,
        "is_active": True,
        "expiration_date": FAR,
    }


def _line(state: str, number: str, loa: str) -> dict[str, object]:
    return {
        "npn": NPN,
        "state_code": state,
        "license_number": number,
        "license_class_code": "3",  # the class of the license it hangs under (`_license`)
        "loa_code": loa,
        "is_active": True,
    }


@pytest.fixture(scope="module")
def template_db(tmp_path_factory, seeded_database) -> Path:
    return seeded_database(
        tmp_path_factory.mktemp("template") / "npnflow.db",
        {
            "producers": pd.DataFrame(
                [
                    {
                        "npn": NPN,
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
                    _license("IL", "IL-1", True),  # the resident license
                    _license("VA", "VA-1", False),
                    _license("CA", "CA-1", False),
                ]
            ),
            "license_loas": pd.DataFrame(
                [_line("VA", "VA-1", "42"), _line("CA", "CA-1", "16"), _line("IL", "IL-1", "16")]
            ),
        },
    )


@pytest.fixture
def pipeline(make_pipeline, template_db):
    return make_pipeline(template_db, APPOINTMENT_ASSETS)


def test_only_the_line_to_send_carries_nipr_s_fee_and_the_batch_totals_add_up(
    pipeline, monkeypatch
):
    nipr_fee = _shipped_nipr_fee()
    _, result = pipeline.drop_and_process("inbox/appoint/fees.csv", APPOINT_FILE, "appoint")

    transactions = pipeline.table("transactions").set_index(["state_code", "loa_code"])
    lines = {
        key: (row.status, Decimal(str(row.estimated_fee)), Decimal(str(row.estimated_nipr_fee)))
        for key, row in transactions.iterrows()
    }
    zero = Decimal("0")
    assert lines == {
        ("VA", "42"): (statuses.READY_TO_SUBMIT, Decimal("7"), nipr_fee),
        ("VA", "39"): (statuses.NOT_ELIGIBLE, zero, zero),
        # Held: its state fee is what it will cost once released; no NIPR fee while held.
        ("CA", "16"): (statuses.HELD_JIT, Decimal("58"), zero),
        ("CA", "296"): (statuses.NOT_ELIGIBLE, zero, zero),
        ("IL", "16"): (statuses.RECORDED, zero, zero),
        ("IL", "314"): (statuses.NOT_ELIGIBLE, zero, zero),
    }
    assert transactions.loc[("IL", "16"), "eligibility_reason"] == (
        "Registry State: Recorded Without NIPR Filing"
    )

    (batch_id,) = pipeline.table("transaction_batches")["batch_id"]
    with pipeline.database.engine.connect() as connection:
        detail = batch_detail(connection, batch_id)
        listed = list_batches(connection).set_index("batch_id").loc[batch_id]
    # The totals to send are the Ready line's fees; the per-line NIPR fees add up to them.
    assert (detail.fees_to_send, detail.nipr_fees_to_send) == (Decimal("7.00"), nipr_fee)
    assert detail.fees_held == Decimal("58.00")
    assert detail.transactions["estimated_nipr_fee"].map(Decimal).sum() == nipr_fee
    by_status = detail.counts.groupby("status")["estimated_nipr_fees"].sum()
    assert by_status[statuses.READY_TO_SUBMIT] == nipr_fee
    for status in (statuses.NOT_ELIGIBLE, statuses.RECORDED, statuses.HELD_JIT):
        assert by_status[status] == zero, status
    assert (listed["fees_to_send"], listed["nipr_fees_to_send"]) == (Decimal("7.00"), nipr_fee)

    metadata = pipeline.metadata(result)[BATCHES_KEY]
    assert metadata["fees_to_send"].value == 7.0
    assert metadata["nipr_fees_to_send"].value == float(nipr_fee)
    assert f"${nipr_fee:,.2f}" in metadata["batches_table"].value

    monkeypatch.setenv("NPNFLOW_DATABASE_URL", str(pipeline.database.url))
    shown = CliRunner().invoke(main, ["batches", "show", batch_id])
    assert shown.exit_code == 0, shown.output
    assert "nipr fee" in shown.output
    assert (
        f"NIPR transaction fees: ${nipr_fee:,.2f} on the 1 transaction Ready to Submit"
        in shown.output
    )
    assert "To send on approval: $7.00 (1 transaction Ready to Submit)." in shown.output
    va_line = next(line for line in shown.output.splitlines() if " VA " in line and " 42 " in line)
    assert va_line.count(f"${nipr_fee:,.2f}") == 1 and "$7.00" in va_line
    # Recorded, Held and Not Eligible lines show their state fee and no NIPR fee at all.
    for marker in (" IL ", " CA ", " 39 "):
        line = next(text for text in shown.output.splitlines() if marker in text)
        assert line.count("$") == 1, line
