"""`npnflow can-sell`: may this producer sell this category for this company in this state.

Yes or No, with every line of the category and its four answers (licensed in the state, line
active, resident license active, appointed with the company for that line), read live from
the operational database by the rule the eligibility engine and the sales authorization
report use (`assets/compliance/can_sell.py`). Yes when at least one line of the category
stands and is appointed (docs/compliance.md).

Exit code: 0 for Yes, 1 for No, 2 when it cannot answer (an NPN, CoCode, state or category
npnflow does not know, a date it cannot read, a database not migrated), so a script can branch
on it. Registered on `npnflow` by `npnflow/cli.py`; product imports happen inside the command.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING

import click

from npnflow.arguments import NPN
from resources import paths

if TYPE_CHECKING:
    from assets.compliance.can_sell import CanSellAnswer

EXIT_YES, EXIT_NO, EXIT_CANNOT_ANSWER = 0, 1, 2
_HEADERS = {
    "loa_code": "Line",
    "license_number": "License",
    "license_class_code": "Class",
    "license_ok": "Licensed in state",
    "line_ok": "Line active",
    "resident_ok": "Resident license active",
    "is_appointed": "Appointed with company",
    "can_sell": "Sells",
}
NO_LICENSE_OF_CLASS = "No license of the line's class in the state"
NOT_APPOINTED = "Not appointed with the company for the line"


def _cell(value: object) -> str:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def print_answer(answer: CanSellAnswer) -> None:
    """The answer as the analyst reads it: the question, Yes/No, each line, the rule."""
    # No types-tabulate installed; mypy flags only the first importer (so: unused-ignore too).
    from tabulate import tabulate  # type: ignore[import-untyped, unused-ignore]

    click.echo(
        f"May {answer.producer_name} (NPN {answer.npn}) sell {answer.loa_category} in "
        f"{answer.state_code} for {answer.company_name} ({answer.cocode}) on "
        f"{answer.as_of.isoformat()}? {'Yes' if answer.can_sell else 'No'}"
    )
    if answer.reason:
        click.echo(f"  No: {answer.reason}.")
        return
    rows = [
        [*(_cell(line[c]) for c in _HEADERS), _why_not(line)]
        for line in answer.lines.to_dict("records")
    ]
    headers = [*_HEADERS.values(), "Why not"]
    table = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)
    click.echo("\n".join("  " + line for line in table.splitlines()))
    selling = [
        str(code)
        for code, sells in zip(answer.lines["loa_code"], answer.lines["can_sell"], strict=True)
        if sells
    ]
    if selling:
        click.echo(f"  Yes: line(s) {', '.join(selling)} stand and are appointed with the company.")
    else:
        click.echo(
            "  No: no line of the category both stands (licensed in the state, line active, "
            "resident license active) and is appointed with the company."
        )


def _why_not(line: dict[str, object]) -> str:
    """The first answer that fails, in the engine's order; blank for a line that sells."""
    if line["can_sell"]:
        return ""
    if line["license_number"] is None:
        return NO_LICENSE_OF_CLASS
    if isinstance(line["risk_reason"], str):
        return line["risk_reason"]
    return NOT_APPOINTED


@click.command(
    "can-sell",
    help="May this producer sell this category for this company in this state? Yes or No "
    "with every line's reasons, live from the database. Exit 0 Yes, 1 No, 2 cannot answer.",
)
@click.option("--npn", "npn", type=NPN, required=True, help="The producer's NPN.")
@click.option("--state", "state_code", required=True, help="Two-letter state code, e.g. TX.")
@click.option("--cocode", required=True, help="The company's NAIC CoCode.")
@click.option("--category", required=True, help="LOA category, e.g. Life.")
@click.option(
    "--on",
    "on",
    default=None,
    metavar="YYYY-MM-DD",
    help="The day to answer for (default: today, NIPR's business day).",
)
def can_sell(npn: str, state_code: str, cocode: str, category: str, on: str | None) -> None:
    from assets.compliance.can_sell import CanSellRefused, answer_can_sell
    from assets.rules.business_day import nipr_business_date
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    try:
        as_of = dt.date.fromisoformat(on.strip()) if on else nipr_business_date()
    except ValueError:
        click.echo(f"--on {on!r} is not a date; write it YYYY-MM-DD, e.g. 2026-12-31.", err=True)
        sys.exit(EXIT_CANNOT_ANSWER)
    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        with database.engine.connect() as connection:
            answer = answer_can_sell(connection, npn, state_code, cocode, category, as_of)
    except (CanSellRefused, DatabaseNotMigrated) as refusal:
        click.echo(str(refusal), err=True)
        sys.exit(EXIT_CANNOT_ANSWER)
    finally:
        database.engine.dispose()
    print_answer(answer)
    sys.exit(EXIT_YES if answer.can_sell else EXIT_NO)
