"""`npnflow renewals plan`: what a company's appointments will cost at the states' next
renewals, and which lines to terminate before the cut-off (docs/renewals.md).

The rules are in `assets/renewals/` (plan.py, liability.py); this module reads the database,
prints, and with `--export terminate` writes the recommended lines as a terminate file through
the terminate export (`assets/terminations/export.py`: the template's columns, cells
neutralised), ready for `npnflow validate terminate` and `npnflow drop`.

Exit status: 0 printed (and written); 1 the database is behind the code, the CoCode has no
Appointed line, or there is nothing to export.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from npnflow.display import shown

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection

EXPORT_KINDS = ("terminate",)
FORMATS = ("csv", "xlsx")


@click.group(help="Appointment renewals: the plan of fees and terminations before the cut-off.")
def renewals() -> None:
    pass


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines


@renewals.command(
    "plan",
    help="Print a company's renewal liability per state (lines, count x fee, what terminating "
    "the recommended lines before the cut-off saves) and the lines recommended for "
    "termination with their reasons; --export terminate writes those lines as a terminate "
    "file. Exit status 0: printed; 1: nothing to plan or export, or the database is behind.",
)
@click.option("--cocode", required=True, help="The company's 5-digit NAIC CoCode.")
@click.option("--state", "state", default=None, help="Only this state (e.g. NJ).")
@click.option(
    "--cycle",
    type=click.IntRange(2000, 2100),
    default=None,
    help="The renewal year (default: this year).",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="YYYY-MM-DD the cut-offs are judged on (default: today).",
)
@click.option(
    "--export",
    "export_kind",
    type=click.Choice(EXPORT_KINDS),
    default=None,
    help="terminate: write the recommended lines as a terminate file (-o).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Where --export writes (.csv or .xlsx; default: "
    "renewals_terminate_<cocode>_<cycle>.csv here).",
)
def plan(
    cocode: str,
    state: str | None,
    cycle: int | None,
    as_of: dt.datetime | None,
    export_kind: str | None,
    output: str | None,
) -> None:
    from npnflow.read_only import reading

    cocode = cocode.strip()
    if not (len(cocode) == 5 and cocode.isdigit()):
        raise click.BadParameter(
            f"CoCode {cocode!r} must be 5 digits (a leading zero lost? '{cocode.zfill(5)}')",
            param_hint="--cocode",
        )
    state = state.strip().upper() if state else None
    judged = as_of.date() if as_of else dt.date.today()
    year = cycle or judged.year
    suffix = Path(output).suffix.lower().lstrip(".") if output else "csv"
    if output and suffix not in FORMATS:
        raise click.BadParameter("the output must end in .csv or .xlsx", param_hint="--output")
    if output and export_kind is None:
        raise click.BadParameter("-o is where --export writes: add --export terminate")

    def work(connection: Connection) -> None:
        _plan(connection, cocode, state, year, judged, export_kind, output, suffix)

    reading(work)


def _plan(
    connection: Connection,
    cocode: str,
    state: str | None,
    cycle: int,
    as_of: dt.date,
    export_kind: str | None,
    output: str | None,
    suffix: str,
) -> None:
    from assets.renewals.liability import cutoff_words, liability_by_state, money
    from assets.renewals.plan import TERMINATE, appointed_lines, renewal_plan, state_rules
    from assets.renewals.store import plan_inputs

    inputs = plan_inputs(connection, cocode)
    appointed = appointed_lines(inputs["appointments"])
    if state is not None:
        appointed = appointed[appointed["state_code"].astype(str).str.upper() == state]
        inputs["appointments"] = appointed
    where = f" in {state}" if state else ""
    if appointed.empty:
        click.echo(f"CoCode {cocode} has no Appointed line{where} in the database.", err=True)
        sys.exit(1)
    rules = inputs["state_appointment_renewals"]
    plan_rows = renewal_plan(inputs, cycle, as_of)
    names = appointed["company_name"].dropna()
    company = f" ({names.iloc[0]})" if not names.empty else ""
    click.echo(f"Renewal plan for CoCode {cocode}{company}{where}, cycle {cycle}, as of {as_of}.")

    renewing = set(state_rules(rules))
    states = appointed["state_code"].astype(str).str.upper()
    unknown = sorted(set(rules[rules["renews"] == "unknown"]["state_code"]) & set(states))
    if plan_rows.empty:
        click.echo(f"No Appointed line{where} renews in {cycle}.")
    else:
        _print_liability(liability_by_state(plan_rows, rules), plan_rows, money, cutoff_words)
        _print_recommended(plan_rows[plan_rows["recommendation"] == TERMINATE])
        passed = sum(p is True for p in plan_rows["cutoff_passed"])
        if passed:
            click.echo(
                f"{_plural(passed, 'line')} of {cycle} can no longer be kept off the renewal "
                f"(cut-off passed): `--cycle {cycle + 1}` plans the next renewals."
            )
    click.echo("")
    if unknown:
        counts = states.value_counts()
        listed = ", ".join(f"{s} ({counts[s]})" for s in unknown)
        click.echo(
            f"Not planned: the renewal rule of {_plural(len(unknown), 'state')} is unknown "
            f"({listed} Appointed lines): set it in config/reference/"
            "state_appointment_renewals.csv when the state's renewal notice gives it."
        )
    perpetual = sorted(set(states) - renewing - set(unknown))
    if perpetual:
        click.echo(f"No renewal fee in: {', '.join(perpetual)} (appointments do not renew).")

    if export_kind == "terminate":
        _export(
            connection,
            plan_rows[plan_rows["recommendation"] == TERMINATE],
            cocode,
            cycle,
            output or f"renewals_terminate_{cocode}_{cycle}.{suffix}",
            suffix,
        )


def _print_liability(
    liability: pd.DataFrame,
    plan_rows: pd.DataFrame,
    money: Callable[[float], str],
    words: Callable[[dt.date | None, bool | None, dt.date | None], str],
) -> None:
    click.echo("")
    click.echo("Liability per state (* the state's rule or fee is an assumption):")
    rows = []
    for r in liability.to_dict("records"):
        windows = plan_rows[plan_rows["state_code"] == r["state_code"]]["window_start_date"]
        window = next((w for w in windows if isinstance(w, dt.date)), None)
        rows.append(
            [
                r["state_code"] + ("*" if r["is_assumption"] else ""),
                shown(r["renews"]),
                str(r["lines"]),
                shown(r["fee_breakdown"]),
                money(r["state_fees"]),
                money(r["nipr_fee"]),
                money(r["total"]),
                str(r["lines_to_terminate"]),
                money(r["saving"]),
                words(r["cutoff_date"], r["cutoff_passed"], window),
            ]
        )
    headers = ["State", "Renews", "Lines", "Count x fee", "State fees", "NIPR fee", "Total",
               "Terminate", "Saves", "Cut-off"]  # fmt: skip
    for line in _table(headers, rows):
        click.echo(line)
    total = float(liability["total"].sum())
    saving = float(liability["saving"].sum())
    to_terminate = int(liability["lines_to_terminate"].sum())
    click.echo(
        f"Total: {money(total)} for {_plural(int(liability['lines'].sum()), 'line')} in "
        f"{_plural(len(liability), 'state')}; terminating the "
        f"{_plural(to_terminate, 'recommended line')} before the cut-offs saves {money(saving)}."
    )


def _print_recommended(recommended: pd.DataFrame) -> None:
    click.echo("")
    if recommended.empty:
        click.echo("Recommended terminations: none (every line renews).")
        return
    click.echo(f"Recommended terminations ({len(recommended)}): Terminate Before Cut-Off")
    rows = [
        [
            shown(r["npn"]),
            shown(r["state_code"]),
            shown(r["loa_code"]),
            shown(r["renewal_date"], "unknown"),
            shown(r["cutoff_date"], "unknown")
            + (" (passed)" if r["cutoff_passed"] is True else ""),
            f"${float(r['fee']):,.2f}",
            shown(r["reason"]),
        ]
        for r in recommended.to_dict("records")
    ]
    headers = ["NPN", "State", "Line", "Renewal", "Cut-off", "Fee", "Reason"]
    for line in _table(headers, rows):
        click.echo(line)
    if any(passed is True for passed in recommended["cutoff_passed"]):
        click.echo(
            "A line whose cut-off has passed is on this renewal's invoice whatever is done now "
            "(NIPR: invoiced appointments cannot be terminated); terminating it still avoids "
            "the next renewal."
        )


def _export(
    connection: Connection,
    recommended: pd.DataFrame,
    cocode: str,
    cycle: int,
    output: str,
    suffix: str,
) -> None:
    import pandas as pd

    from assets.reference.loading import load_reference_data
    from assets.renewals.store import line_names
    from assets.terminations.export import (
        APPOINTED,
        ReportAge,
        TerminateExportError,
        terminate_csv,
        terminate_rows_from_report,
        terminate_xlsx,
    )
    from assets.terminations.store import nipr_data_as_of
    from resources import paths

    if recommended.empty:
        click.echo(f"Nothing to export: no line of CoCode {cocode} is recommended for "
                   f"termination in {cycle}.", err=True)  # fmt: skip
        sys.exit(1)
    names = line_names(connection)
    report = pd.DataFrame(
        {
            "npn": recommended["npn"],
            "state_code": recommended["state_code"],
            "loa_code": recommended["loa_code"],
            "loa_name": [
                names.get((s, c))
                for s, c in zip(recommended["state_code"], recommended["loa_code"], strict=True)
            ],
            "cocode": recommended["cocode"],
            "appointment_status": APPOINTED,
        }
    )
    try:
        rows = terminate_rows_from_report(report, cocode)
    except TerminateExportError as error:
        click.echo(error.message, err=True)
        sys.exit(1)
    age = ReportAge(dt.datetime.now(dt.UTC), nipr_data_as_of(connection, None))
    if suffix == "xlsx":
        data = terminate_xlsx(rows, load_reference_data(paths.reference_dir()), age)
    else:
        data = terminate_csv(rows, age)
    target = Path(output)
    try:
        target.write_bytes(data)
    except OSError as error:
        click.echo(f"Could not write {target}: {error.strerror or error}", err=True)
        sys.exit(1)
    click.echo("")
    click.echo(
        f"Wrote {target}: {_plural(len(rows), 'termination row')} for CoCode {cocode} (the "
        "recommended lines). Check it with `npnflow validate terminate "
        f"{target}`, then drop it: npnflow drop {target} --kind terminate."
    )
