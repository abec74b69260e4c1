"""Continuous compliance in the demo (issue 18, docs/compliance.md and docs/renewals.md).

- After the daily days (step 5): the Appointed lines the daily sync found at risk
  (`appointment_standing`, which `rpt_appointments_at_risk` reports), and the at-risk digest
  the same run left in the outbox, or why none was sent.
- Step 11, once the reports are built: `npnflow renewals plan` for the P&C carrier and next
  year's cycle, its terminate export checked by `npnflow validate terminate`, and two
  `npnflow can-sell` answers, one Yes and one No with its reasons. The commands are the
  user's own, run in this process, so what is printed is what a person typing them sees.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from npnflow.demo.commands import run_command
from npnflow.demo.samples import PC_COCODE
from resources import paths

if TYPE_CHECKING:
    from resources.database import OperationalDatabase

SHOWN_AT_RISK = 8
DIGEST_SUBJECT_WORDS = "newly at risk"


def at_risk_after_daily(database: OperationalDatabase) -> None:
    """End of step 5: what the daily sync judged at risk, and the digest it sent (or not)."""
    import pandas as pd

    standing = database.read_table(
        "appointment_standing",
        ["npn", "state_code", "cocode", "loa_code", "is_at_risk", "risk_reason", "at_risk_since"],
    )
    at_risk = standing[standing.is_at_risk.astype(bool)].sort_values(
        ["cocode", "state_code", "npn", "loa_code"]
    )
    click.echo(
        f"   compliance__appointment_standing: {len(standing)} Appointed line(s) of our "
        f"companies judged, {len(at_risk)} at risk (rpt_appointments_at_risk lists them):"
    )
    for row in at_risk.head(SHOWN_AT_RISK).itertuples():
        since = "" if pd.isna(row.at_risk_since) else f", since {row.at_risk_since}"
        click.echo(
            f"   at risk: NPN {row.npn} {row.state_code} {row.cocode} line {row.loa_code}: "
            f"{row.risk_reason}{since}"
        )
    if len(at_risk) > SHOWN_AT_RISK:
        click.echo(f"   ... and {len(at_risk) - SHOWN_AT_RISK} more")
    digests = sorted(
        (
            mail
            for mail in paths.outbox_dir().glob("*.eml")
            if DIGEST_SUBJECT_WORDS in mail.read_text(encoding="utf-8", errors="replace")
        ),
        key=lambda mail: mail.stat().st_mtime,
    )
    if not digests:
        click.echo(
            "   compliance__at_risk_digest: no digest in the outbox (nothing became at risk)"
        )
        return
    text = digests[-1].read_text(encoding="utf-8", errors="replace")
    subject = next((line for line in text.splitlines() if line.startswith("Subject:")), "")
    click.echo(
        f"   compliance__at_risk_digest: the newest digest in {paths.outbox_dir()}: {subject}"
    )


def renewals_and_sales(database: OperationalDatabase, today: dt.date) -> bool:
    """Step 11: a renewal plan with its terminate export, and two can-sell answers."""
    from npnflow.can_sell_cli import can_sell
    from npnflow.cli import validate
    from npnflow.renewals_cli import renewals

    # Next year's cycle: by December most of this year's termination cut-offs have passed.
    cycle = str(today.year + 1)
    exports = paths.data_dir() / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    export = exports / f"renewals_terminate_{PC_COCODE}_{cycle}.csv"
    plan = ["plan", "--cocode", PC_COCODE, "--cycle", cycle]
    if run_command(renewals, "renewals", plan) != 0:
        return False
    # Exit status 1: no line to recommend for termination, so no file to check.
    exported = run_command(
        renewals, "renewals", [*plan, "--export", "terminate", "-o", str(export)]
    )
    if exported == 0 and run_command(validate, "validate", ["terminate", str(export)]) != 0:
        click.echo("   the renewal plan's terminate file was not accepted")
        return False
    authorization = database.read_table(
        "sales_authorization", ["npn", "state_code", "cocode", "loa_category", "can_sell"]
    ).sort_values(["npn", "state_code", "cocode", "loa_category"])
    # Yes: a producer still with the agency (an offboarded one may still hold appointments
    # until their terminations go through, but is no example of who sells).
    producers = database.read_table("producers", ["npn", "is_active"])
    active = set(producers[producers.is_active.astype("boolean").fillna(True)].npn)
    selling = authorization[authorization.can_sell.astype(bool) & authorization.npn.isin(active)]
    # No: the category of a line the daily sync found at risk.
    standing = database.read_table(
        "appointment_standing", ["npn", "state_code", "cocode", "loa_code", "is_at_risk"]
    )
    categories = database.read_table("loa_categories", ["state_code", "loa_code", "loa_category"])
    at_risk = standing[standing.is_at_risk.astype(bool)].merge(
        categories, on=["state_code", "loa_code"]
    )[["npn", "state_code", "cocode", "loa_category"]]
    not_selling = authorization[~authorization.can_sell.astype(bool)].merge(at_risk)
    for rows in (selling, not_selling):
        if rows.empty:
            continue
        row = rows.iloc[0]
        args = [
            "--npn", str(row.npn), "--state", str(row.state_code),
            "--cocode", str(row.cocode), "--category", str(row.loa_category),
        ]  # fmt: skip
        if run_command(can_sell, "can-sell", args) not in (0, 1):  # 0 Yes, 1 No
            return False
    return True
