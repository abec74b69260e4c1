"""Why a transaction got its reason, in the words of the seed's dictionary (issue 19). Pure.

`explain_decision` turns a transaction (or a rejected request row) and its evidence
(`assets/rules/evidence.py`, as stored in `transaction_evidence`) into a short paragraph: which
row decided, what it said, and what the status means for the customer's fees. `evidence_rows`
gives the evidence as (label, value) pairs for a table. Used by `npnflow explain`, `npnflow
batches show --evidence` and the batch export, so the three never word a decision apart.
No I/O, no Dagster: the caller reads the rows (`assets/batches/evidence_store.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal

from assets.rules import evidence as ev
from schemas import statuses

#: Labels of the evidence fields, in `EVIDENCE_FIELDS` order, as a person reads them.
EVIDENCE_LABELS: dict[str, str] = {
    "decided_by": "Decided by",
    "producer_sync_status": "Producer: sync status",
    "producer_is_active": "Producer: active",
    "license_number": "License considered: number",
    "license_class_code": "License considered: class",
    "license_is_resident": "License considered: resident",
    "license_is_active": "License considered: active",
    "license_issue_date": "License considered: issued",
    "license_expiration_date": "License considered: expires",
    "loa_code": "Line: LOA code",
    "loa_is_active": "Line on the license: active",
    "loa_issue_date": "Line on the license: issued",
    "resident_state_code": "Resident license (check 7): state",
    "resident_license_number": "Resident license (check 7): number",
    "resident_expiration_date": "Resident license (check 7): expires",
    "rule_license_class_code": "Business rule: license class",
    "rule_loa_category": "Business rule: LOA category",
    "company_in_state": "Company state setting: appoints in the state",
    "company_is_jit": "Company state setting: JIT",
    "assignment_required": "Producer assignment required",
    "assignment_found": "Producer assignment found",
    "appointment_status": "Appointment found: status",
    "appointment_effective_date": "Appointment found: effective",
    "appointment_source": "Appointment found: from",
    "state_reason_code": "State termination reason",
    "state_rule_source": "State rule: source",
    "state_rule_is_assumption": "State rule: our assumption",
    "fee_resident": "State fee: resident",
    "fee_nonresident": "State fee: non-resident",
    "fee_per_loa": "State fee: per line",
    "fee_source": "State fee: source",
    "fee_is_assumption": "State fee: our assumption",
    "licensing_data_as_of": "NIPR licensing data as of",
    "appointments_data_as_of": "NIPR appointment data as of",
    "engine_version": "Engine version",
}
assert tuple(EVIDENCE_LABELS) == ev.EVIDENCE_NAMES, "a label per evidence field, in order"


def value_text(value: object) -> str:
    """One evidence value as text: `-` when missing, yes/no for flags, ISO dates, money with
    cents."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        # Stored in UTC (SQLite hands it back without its offset).
        moment = value.astimezone(dt.UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return f"${float(value):,.2f}"
    return str(value)


def evidence_rows(evidence: Mapping[str, object]) -> list[tuple[str, str]]:
    """The evidence as (label, value) pairs, every field the decision read (missing ones
    shown `-`: "no such row" is evidence too)."""
    return [(EVIDENCE_LABELS[name], value_text(evidence.get(name))) for name in ev.EVIDENCE_NAMES]


def _first_upper(text: str) -> str:
    """The sentence's first letter in capitals, the rest as written (state codes stay)."""
    return text[:1].upper() + text[1:]


def _known(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)


def _company(line: Mapping[str, object]) -> str:
    name, cocode = line.get("company_name"), line.get("cocode")
    return f"{name} ({cocode})" if _known(name) and name != cocode else f"CoCode {cocode}"


def _license(e: Mapping[str, object], state: object) -> str:
    number = e.get("license_number")
    klass = f", class {e['license_class_code']}" if _known(e.get("license_class_code")) else ""
    residency = {True: "resident", False: "non-resident"}.get(e.get("license_is_resident"), "")  # type: ignore[call-overload]
    return f"the {residency + ' ' if residency else ''}{state} license {number}{klass}"


def _source(e: Mapping[str, object], prefix: str) -> str:
    """` (source: ...)` of a reference row (`state_rule`, `fee`), or nothing."""
    source = e.get(f"{prefix}_source")
    return f" (source: {source})" if _known(source) else ""


def _assumed(e: Mapping[str, object], prefix: str) -> str:
    """A sentence saying the reference row is our assumption, or nothing."""
    if e.get(f"{prefix}_is_assumption") is True:
        return " This value is our assumption, not a published one."
    return ""


def _producer(line: Mapping[str, object], e: Mapping[str, object]) -> str:
    sync, active = e.get("producer_sync_status"), e.get("producer_is_active")
    if not _known(sync):
        return f"No producer with NPN {line.get('npn')} is on record, so no line was looked at."
    state = "active" if active is True else "inactive" if active is False else "of unknown status"
    return (
        f"Producer {line.get('npn')} is on record with sync status {sync} and is {state}, so "
        "no line was looked at: a producer must be synced with NIPR and active before any "
        "appointment is checked."
    )


def _license_check(line: Mapping[str, object], e: Mapping[str, object]) -> str:
    state = line.get("state_code")
    if not _known(e.get("license_number")):
        klass = e.get("rule_license_class_code")
        of_class = (
            f" of class {klass} (the class the business rule asks for)" if _known(klass) else ""
        )
        return f"Producer {line.get('npn')} holds no license in {state}{of_class}."
    expires = e.get("license_expiration_date")
    why = (
        "is not active"
        if e.get("license_is_active") is not True
        else f"expired on {value_text(expires)}"
    )
    return f"The producer's license for the state, {_license(e, state)}, {why}."


def _line_check(line: Mapping[str, object], e: Mapping[str, object]) -> str:
    held = _license(e, line.get("state_code"))
    loa = line.get("loa_code")
    if not _known(e.get("loa_code")):
        return f"{_first_upper(held)} is active but does not hold the line {loa} at all."
    return (
        f"{_first_upper(held)} holds the line {loa}, but NIPR reports the line inactive "
        f"(issued {value_text(e.get('loa_issue_date'))})."
    )


def _appointment(line: Mapping[str, object], e: Mapping[str, object]) -> str:
    found = e.get("appointment_status")
    where = f"{_company(line)} for the line {line.get('loa_code')} in {line.get('state_code')}"
    if line.get("kind") == "termination":
        if not _known(found):
            return f"No appointment with {where} is on record: there is nothing to terminate."
        return (
            f"The appointment with {where} is {found}, not Appointed "
            f"(effective {value_text(e.get('appointment_effective_date'))}): there is nothing "
            "to terminate."
        )
    return (
        f"Producer {line.get('npn')} is already appointed with {where} (status {found}, "
        f"effective {value_text(e.get('appointment_effective_date'))}, from "
        f"{value_text(e.get('appointment_source'))}); asking again would pay for it twice."
    )


def _passed(line: Mapping[str, object], e: Mapping[str, object]) -> str:
    if line.get("kind") == "termination":
        return (
            f"Every check passed: the appointment with {_company(line)} for the line "
            f"{line.get('loa_code')} in {line.get('state_code')} is {e.get('appointment_status')}"
            f" (effective {value_text(e.get('appointment_effective_date'))}), and the state "
            "takes this termination through NIPR."
        )
    resident = (
        f"; the resident license is {e.get('resident_state_code')} "
        f"{e.get('resident_license_number')}"
        if _known(e.get("resident_license_number"))
        else ""
    )
    jit = " (a just-in-time state for this company)" if e.get("company_is_jit") is True else ""
    return (
        f"Every check passed: {_license(e, line.get('state_code'))}, active, expiring "
        f"{value_text(e.get('license_expiration_date'))}, holds the line {line.get('loa_code')} "
        f"active{resident}; {_company(line)} appoints in {line.get('state_code')}{jit}."
    )


_DECIDERS: dict[str, Callable[[Mapping[str, object], Mapping[str, object]], str]] = {
    ev.DECIDED_BY_PRODUCER: _producer,
    ev.DECIDED_BY_COMPANY: lambda line, e: (
        f"No company with CoCode {line.get('cocode')} is set up in npnflow's company "
        "configuration, so no line was checked."
    ),
    ev.DECIDED_BY_COMPANY_STATE: lambda line, e: (
        f"{_company(line)} has no state setting for {line.get('state_code')}: it does not "
        "appoint in the requested state."
    ),
    ev.DECIDED_BY_COMPANY_CATEGORY: lambda line, e: (
        f"{_company(line)} does not appoint for the category "
        f"{value_text(line.get('loa_category'))} (not among the company's LOA categories)."
    ),
    ev.DECIDED_BY_BUSINESS_RULE: lambda line, e: (
        f"{_company(line)} appoints for {value_text(line.get('loa_category'))}, but its active "
        f"Gateway business rules have no line of that category in {line.get('state_code')}."
    ),
    ev.DECIDED_BY_ASSIGNMENT: lambda line, e: (
        f"{_company(line)} requires a producer assignment, and none names producer "
        f"{line.get('npn')} for {value_text(line.get('loa_category'))} in "
        f"{line.get('state_code')} with this company."
    ),
    ev.DECIDED_BY_LICENSE: _license_check,
    ev.DECIDED_BY_RESIDENT_LICENSE: lambda line, e: (
        f"{_first_upper(_license(e, line.get('state_code')))} is active, but the producer has "
        "no active, unexpired resident license in any state."
    ),
    ev.DECIDED_BY_LICENSE_LINE: _line_check,
    ev.DECIDED_BY_APPOINTMENT: _appointment,
    ev.DECIDED_BY_STATE_RULE: lambda line, e: (
        f"{line.get('state_code')}'s own rule decided it: {line.get('eligibility_reason')}"
        f"{_source(e, 'state_rule')}.{_assumed(e, 'state_rule')}"
    ),
    ev.DECIDED_BY_TERMINATION_REASON: lambda line, e: (
        f"{line.get('state_code')}'s list of termination reasons decided it: the reason "
        f"given was {value_text(line.get('termination_reason_code'))}."
    ),
    ev.DECIDED_BY_REQUEST: lambda line, e: (
        f"The request itself decided it: {line.get('eligibility_reason')}. A date that cannot "
        "be read is never guessed at."
    ),
    ev.DECIDED_BY_ALL_CHECKS: _passed,
    ev.DECIDED_BY_OPEN_TRANSACTION: lambda line, e: (
        f"A transaction for the line {line.get('loa_code')} with {_company(line)} in "
        f"{line.get('state_code')} was already filed: it is kept on record, never filed twice."
    ),
}

_STATUS_MEANING: dict[str, str] = {
    statuses.NOT_ELIGIBLE: "It is never sent to NIPR, so it costs nothing.",
    statuses.REQUEST_REJECTED: "No transaction was created and nothing is charged.",
    statuses.READY_TO_SUBMIT: "It is sent to NIPR once its batch is approved.",
    statuses.HELD_JIT: "It is held until the producer's first sale (just in time), then sent.",
    statuses.RECORDED: "It is recorded in the company's own register, never sent to NIPR.",
}


def explain_decision(line: Mapping[str, object], evidence: Mapping[str, object] | None) -> str:
    """A short paragraph: the reason and status, the row that decided it and what it said,
    what the status means for fees, and the rules and data it was decided on."""
    reason, status = line.get("eligibility_reason"), line.get("status")
    kind = line.get("kind") or "appointment"
    head = (
        f"{str(kind).capitalize()} {line.get('transaction_id') or 'request'} for producer "
        f"{line.get('npn')} in {line.get('state_code')}: {reason}, status {status}."
    )
    if evidence is None or not _known(evidence.get("decided_by")):
        return (
            f"{head} No evidence was recorded for it: it was decided before npnflow kept "
            "evidence (migration 0019), or planned by hand."
        )
    decided = str(evidence["decided_by"])
    why = _DECIDERS.get(decided, lambda _line, _e: f"Decided by the {decided} row.")(line, evidence)
    parts = [head, why]
    meaning = _STATUS_MEANING.get(str(status))
    if meaning:
        parts.append(meaning)
    fee = line.get("estimated_fee")
    if status == statuses.READY_TO_SUBMIT and _known(fee):
        parts.append(
            f"Estimated state fee {value_text(fee)}{_source(evidence, 'fee')}."
            + _assumed(evidence, "fee")
        )
    as_of = evidence.get("licensing_data_as_of")
    data = f" on NIPR's licensing data as of {value_text(as_of)}" if _known(as_of) else ""
    parts.append(f"Decided by {evidence.get('engine_version')}{data}.")
    return " ".join(part.strip() for part in parts if part)
