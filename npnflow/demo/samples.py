"""The files the demo drops, as an analyst fills the templates: an agent roster and appointment
requests, each with the mistakes and the impossible requests the product must report.

Separate from the steps that drop them because the daemon end-to-end test drops the same files
(through `npnflow.demo`), and because what goes into a file is a choice worth reading on its
own.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from npnflow.sandbox.generator import World
    from resources.database import OperationalDatabase

ROSTER_SIZE = 40
# An NPN NIPR does not know, so the roster shows the `Not Found` status too.
UNKNOWN_NPN = "99999999"

SAMPLE_HEADER = (
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    "Scorecard Type,Agent Type,CoCodes"
)
SAMPLE_AGENCY_NPNS = ("9000001", "9000002")

APPOINT_HEADER = (
    "NPN,States,CoCode,LOA Category,Agent Type,Submit,Submit Just In Time,Effective Date"
)
LIFE_HEALTH_COCODE, PC_COCODE = "91234", "92345"
UNKNOWN_COCODE = "99999"


def roster(world: World, days: list[dt.date]) -> list[str]:
    """Producers who change on the report days, so the daily sync has something to show, and
    some who do not."""
    changing = sorted({c.npn for day in days for c in world.changes_on(day)})
    quiet = [npn for npn in world.individual_npns() if npn not in changing]
    half = ROSTER_SIZE // 2
    return changing[:half] + quiet[: ROSTER_SIZE - min(half, len(changing))]


def sample_agent_file(world: World, npns: list[str]) -> bytes:
    """The roster as an analyst fills the agent template: names from NIPR's world, producer
    assignments for some, made-up SSNs (900-series, never issued), a few mistakes and blank
    rows, and an NPN NIPR does not know (`config/samples/agent_onboarding.csv` has the same
    shape with made-up NPNs)."""
    lines = [SAMPLE_HEADER]
    for i, npn in enumerate(npns):
        producer = world.producer(npn)
        first = getattr(producer, "first_name", "") or "Pat"
        last = getattr(producer, "last_name", "") or f"Producer {npn}"
        # Letters only: the validator refuses an apostrophe (O'Brien) in an address.
        email = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower()) + "@example.com"
        ssn = f"900-{10 + i % 80:02d}-{1000 + i:04d}" if i % 2 == 0 else ""
        assignment = ",,,,"
        if i % 4 == 0:
            assignment = "Life;Accident & Health,CA;TX,License & Appointment,Producer,91234"
        elif i % 4 == 1:
            assignment = "Property;Casualty,FL,License,Producer,"
        lines.append(f"{SAMPLE_AGENCY_NPNS[i % 2]},{first},{last},{npn},{email},{ssn},{assignment}")
        if i in (4, 11):
            lines.append(",,,,,,,,,,")  # blank rows: skipped and counted
    lines += [
        f"{SAMPLE_AGENCY_NPNS[0]},Nora,Unknown,{UNKNOWN_NPN},nora.unknown@example.com,,,,,,",
        # Mistakes an analyst makes: rejected with a message each, nothing written for them.
        f"{SAMPLE_AGENCY_NPNS[0]},Typo,Npn,12A45,typo@example.com,,,,,,",
        f"{SAMPLE_AGENCY_NPNS[0]},Bad,Email,99999991,bad.email@example,,,,,,",
        f"{SAMPLE_AGENCY_NPNS[1]},Bad,State,99999992,bad.state@example.com,,Life,CA;XX,License,Producer,",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _evaluated_candidates(database: OperationalDatabase) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every (licensed state, company appointing there, company category) of our producers as
    a request, and the eligibility engine's lines for them (joined on `request_row`)."""
    from assets.appointments.eligibility import evaluate_appointment_requests
    from assets.appointments.store import read_eligibility_inputs

    licensed = database.read_table("licenses", ["npn", "state_code"]).drop_duplicates()
    settings = database.read_table("company_state_settings", ["cocode", "state_code", "jit"])
    categories = database.read_table("company_loa_categories", ["cocode", "loa_category"])
    candidates = licensed.merge(settings, on="state_code").merge(categories, on="cocode")
    candidates = candidates.reset_index(drop=True).assign(
        request_row=lambda frame: range(2, len(frame) + 2)
    )
    requests = candidates.assign(agent_type="Producer", submit=False, submit_just_in_time=False)
    with database.begin() as connection:
        inputs = read_eligibility_inputs(connection, requests["npn"])
    return candidates, evaluate_appointment_requests(requests, inputs)


def eligible_lines(database: OperationalDatabase) -> pd.DataFrame:
    """(npn, state, company, category) a producer of ours could be appointed for. The demo asks
    for these so that NIPR has something to accept: every (licensed state, company appointing
    there, company category) of our producers is put to the eligibility engine, and the
    requests with a line Ready to Submit (or Held) are kept; `recorded` marks those of a state
    that records appointments without NIPR filing (IL, a registry state).

    A request NIPR already accepted (an earlier demo run's, on the same data folder) is left
    out: an analyst does not ask again for what NIPR appointed yesterday, and the sandbox's
    NIPR only shows it Appointed once the producers are synced again."""
    from schemas import statuses

    candidates, evaluated = _evaluated_candidates(database)
    ready = evaluated[evaluated["status"].isin([statuses.READY_TO_SUBMIT, statuses.HELD_JIT])]
    recorded = evaluated[evaluated["status"].eq(statuses.RECORDED)]
    rows = candidates.request_row
    chosen = candidates[rows.isin(ready.request_row) | rows.isin(recorded.request_row)].assign(
        recorded=rows.isin(recorded.request_row)
    )
    sent = database.read_table(
        "transactions", ["kind", "npn", "state_code", "cocode", "loa_category", "status"]
    )
    accepted = sent[(sent.kind == "appointment") & (sent.status == statuses.ACCEPTED)]
    done = set(
        zip(accepted.npn, accepted.state_code, accepted.cocode, accepted.loa_category, strict=True)
    )
    keys = zip(chosen.npn, chosen.state_code, chosen.cocode, chosen.loa_category, strict=True)
    chosen = chosen[[key not in done for key in keys]]
    return (
        chosen.drop(columns="request_row")
        .sort_values(["cocode", "npn", "state_code", "loa_category"])
        .reset_index(drop=True)
    )


def already_appointed_requests(database: OperationalDatabase, count: int) -> list[str]:
    """Appoint requests whose lines NIPR already shows Appointed with the company: the engine
    answers `Already Appointed` for those lines, and nothing is sent or charged for them."""
    from assets.appointments.eligibility import REASON_ALREADY_APPOINTED

    candidates, evaluated = _evaluated_candidates(database)
    appointed = evaluated[evaluated["eligibility_reason"].eq(REASON_ALREADY_APPOINTED)]
    rows = candidates[
        candidates.request_row.isin(appointed.request_row) & (candidates.cocode != PC_COCODE)
    ]
    return [
        f"{row.npn},{row.state_code},{row.cocode},{row.loa_category},Producer,FALSE,FALSE,"
        for row in rows.drop_duplicates("npn").head(count).itertuples()
    ]


def sample_appoint_file(database: OperationalDatabase, *, already_appointed: int = 0) -> bytes:
    """Appointment requests as an analyst fills the appoint template: lines our producers
    could be appointed for, some with Submit TRUE (sent without review) and some with FALSE
    (left for review), and requests that cannot be eligible: a P&C company that requires
    producer assignments, a state the company does not appoint in, an unknown CoCode, an NPN
    NIPR does not know, a line dated further back than its state accepts (SPEC 6 check 10,
    `state_appointment_rules.max_backdate_days`), and a line of a registry state (IL), which
    is recorded, never sent. `already_appointed` more requests ask for lines NIPR already
    shows Appointed (a later demo run shows them refused as `Already Appointed`)."""
    lines = eligible_lines(database)
    requests = [APPOINT_HEADER]
    registry = lines[lines.recorded & (lines.cocode != PC_COCODE)].head(1)
    chosen = lines[(lines.cocode != PC_COCODE) & ~lines.recorded]
    auto = chosen.head(4)
    # Non-JIT states, so these wait for review as Ready to Submit rather than held.
    review = chosen[~chosen.jit.astype(bool)].drop(auto.index, errors="ignore").head(4)
    for row in auto.itertuples():
        requests.append(
            f"{row.npn},{row.state_code},{row.cocode},{row.loa_category},Producer,TRUE,TRUE,"
        )
    for row in review.itertuples():
        requests.append(
            f"{row.npn},{row.state_code},{row.cocode},{row.loa_category},Producer,FALSE,FALSE,"
        )
    backdated = _backdated_request(database, chosen.drop(auto.index).drop(review.index))
    if backdated:
        requests.append(backdated)
    for row in registry.itertuples():
        requests.append(
            f"{row.npn},{row.state_code},{row.cocode},{row.loa_category},Producer,TRUE,TRUE,"
        )
    producers = database.read_table("producers", ["npn", "sync_status"])
    synced = producers[producers.sync_status == "Success"].npn.sort_values()
    if len(synced):
        npn = synced.iloc[0]
        requests += [
            f"{npn},TX,{PC_COCODE},Property,Producer,FALSE,FALSE,",
            f"{npn},AZ,{LIFE_HEALTH_COCODE},Life,Producer,FALSE,FALSE,",
            f"{npn},TX,{UNKNOWN_COCODE},Life,Producer,FALSE,FALSE,",
        ]
    if already_appointed:
        requests += already_appointed_requests(database, already_appointed)
    requests.append(f"{UNKNOWN_NPN},TX,{LIFE_HEALTH_COCODE},Life,Producer,TRUE,TRUE,")
    return ("\r\n".join(requests) + "\r\n").encode("utf-8")


def _backdated_request(database: OperationalDatabase, lines: pd.DataFrame) -> str | None:
    """A request for an eligible line, dated 30 days further back than its state accepts, so
    the demo shows the effective-date check refusing it (no fee is paid for it)."""
    import pandas as pd

    from assets.rules.business_day import nipr_business_date

    rules = database.read_table("state_appointment_rules", ["state_code", "max_backdate_days"])
    limits = pd.to_numeric(rules.set_index("state_code")["max_backdate_days"], errors="coerce")
    limited = lines[lines.state_code.map(limits).notna()]
    if limited.empty:
        return None
    row = limited.iloc[0]
    days_back = int(limits[row.state_code]) + 30
    date = (nipr_business_date() - dt.timedelta(days=days_back)).isoformat()
    return f"{row.npn},{row.state_code},{row.cocode},{row.loa_category},Producer,FALSE,FALSE,{date}"
