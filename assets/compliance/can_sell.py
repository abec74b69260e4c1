"""May this producer sell this category for this company in this state, on this day: the answer
of `npnflow can-sell`, read live from the operational database.

The inputs are those the eligibility engine reads for the producer and state
(`read_eligibility_inputs`: the synced appointments with the lines NIPR accepted since the
last sync, the lines recorded in a registry state), and the rule is `sales_authorization`
(checks 6 to 8 of `assets/rules/line_standing.py`, then "appointed"), so the answer is the one
the engine and the sales authorization report give. Yes when at least one line of the
category stands and is appointed with the company (docs/compliance.md).

Names the analyst typed that npnflow does not know (NPN, CoCode, state, category) are refused
with what it does know (`CanSellRefused`); a company that does not appoint in the state or for
the category is a No, with that reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.appointments.store import read_eligibility_inputs
from assets.compliance.authorization import (
    NO_LINE_OF_CATEGORY,
    appointed_lines,
    sales_authorization,
)
from schemas import statuses
from schemas.tables import TABLES


class CanSellRefused(ValueError):
    """The question names something npnflow does not know; the message says what it knows."""


@dataclass(frozen=True)
class CanSellAnswer:
    npn: str
    producer_name: str
    state_code: str
    cocode: str
    company_name: str
    loa_category: str
    as_of: dt.date
    can_sell: bool
    lines: pd.DataFrame  # `LINE_ANSWER_COLUMNS` of authorization.py, one row per line
    reason: str | None  # a No before any line: the company does not appoint here, ...


def _scalar(connection: Connection, statement: sa.Select[Any]) -> object:
    return connection.execute(statement).scalar()


def _known(connection: Connection, column: sa.Column[Any]) -> list[str]:
    rows: list[object] = list(
        connection.execute(sa.select(column).distinct().order_by(column)).scalars()
    )
    return [str(value) for value in rows if value is not None]


def _some(values: list[str], limit: int = 12) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def answer_can_sell(
    connection: Connection, npn: str, state_code: str, cocode: str, category: str, as_of: dt.date
) -> CanSellAnswer:
    """The answer for one (npn, state, cocode, category) as of `as_of`; `CanSellRefused` for
    an unknown NPN, CoCode, state or category."""
    state_code = state_code.strip().upper()
    cocode = cocode.strip()
    producers, companies = TABLES["producers"], TABLES["companies"]
    jurisdictions, categories = TABLES["jurisdictions"], TABLES["loa_categories"]
    if (
        _scalar(
            connection,
            sa.select(jurisdictions.c.state_code).where(jurisdictions.c.state_code == state_code),
        )
        is None
    ):
        raise CanSellRefused(
            f"State {state_code!r} is not a jurisdiction npnflow knows; use a two-letter code "
            f"such as {_some(_known(connection, jurisdictions.c.state_code), 8)}."
        )
    company_name = _scalar(
        connection, sa.select(companies.c.company_name).where(companies.c.cocode == cocode)
    )
    if company_name is None:
        raise CanSellRefused(
            f"CoCode {cocode!r} is not one of your companies (config/companies.yaml); "
            f"known CoCodes: {_some(_known(connection, companies.c.cocode)) or 'none loaded'}."
        )
    known_categories = _known(connection, categories.c.loa_category)
    matched = [c for c in known_categories if c.lower() == category.strip().lower()]
    if not matched:
        raise CanSellRefused(
            f"Category {category!r} is not an LOA category npnflow knows; categories: "
            f"{_some(known_categories, 20)}."
        )
    category = matched[0]
    producer = connection.execute(
        sa.select(producers.c.first_name, producers.c.last_name).where(producers.c.npn == npn)
    ).first()
    if producer is None:
        raise CanSellRefused(
            f"NPN {npn} is not a producer npnflow tracks; onboard it with an agent file "
            "(`npnflow producers show NPN` tells what npnflow knows of a producer)."
        )
    name = " ".join(str(part) for part in producer if part) or npn

    inputs = read_eligibility_inputs(connection, [npn], state_codes=[state_code])
    answer = CanSellAnswer(
        npn,
        name,
        state_code,
        cocode,
        str(company_name),
        category,
        as_of,
        False,
        pd.DataFrame(),
        None,
    )
    transactions = inputs["transactions"]
    recorded = transactions[transactions["status"] == statuses.RECORDED]
    keys = pd.DataFrame(
        [{"npn": npn, "state_code": state_code, "cocode": cocode, "loa_category": category}]
    )
    per_key, lines = sales_authorization(
        keys,
        inputs["gateway_business_rules"],
        inputs["loa_categories"],
        inputs["licenses"],
        inputs["license_loas"],
        appointed_lines(inputs["appointments"], recorded),
        as_of,
    )
    row = per_key.iloc[0]
    if lines.empty:
        return _no(answer, _why_no_line(inputs, answer))
    return replace(answer, can_sell=bool(row["can_sell"]), lines=lines.reset_index(drop=True))


def _why_no_line(inputs: dict[str, pd.DataFrame], answer: CanSellAnswer) -> str:
    """Why the category has no line to judge: the company setup, else the rules."""
    company, state, category = answer.company_name, answer.state_code, answer.loa_category
    settings = inputs["company_state_settings"]
    if not ((settings["cocode"] == answer.cocode) & (settings["state_code"] == state)).any():
        return (
            f"{company} does not appoint in {state} (config/company_state_settings), and the "
            f"producer holds no appointment of the category with it there"
        )
    own = inputs["company_loa_categories"]
    if not ((own["cocode"] == answer.cocode) & (own["loa_category"] == category)).any():
        return (
            f"{company} does not appoint for {category} (config/company_loa_categories), and "
            f"the producer holds no appointment of the category with it in {state}"
        )
    return f"{NO_LINE_OF_CATEGORY}, and the producer holds no appointment of it with the company"


def _no(answer: CanSellAnswer, reason: str) -> CanSellAnswer:
    return replace(answer, can_sell=False, reason=reason)
