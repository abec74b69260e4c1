"""Tables of continuous compliance (issue 18): what npnflow concludes from the NIPR tables.

Defined on `schemas.tables.metadata` (imported at the bottom of `schemas/tables.py`, so the
metadata always holds every table); changed only by Alembic migrations, like every table.

`appointment_standing`: one row per Appointed line (npn, state, company, line) of the
customer's companies, as the last evaluation found it. Whether the line still stands is
decided by the eligibility engine's own license checks (SPEC 6.3 checks 6 to 8: the license in
the state active and unexpired, an active resident license for a non-resident one, the line
active on that license), so "at risk", `npnflow can-sell` and the engine never disagree.
Rewritten whole by each evaluation; the report `rpt_appointments_at_risk` reads it.
`sales_authorization` (migration 0015): the Yes/No of `npnflow can-sell` for every category the
companies appoint for; the report `rpt_sales_authorization` reads it.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, String, Table, Text

from schemas.tables import metadata

appointment_standing = Table(
    "appointment_standing",
    metadata,
    Column("npn", String, primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("cocode", String, primary_key=True),
    Column("loa_code", String, primary_key=True),
    Column("company_name", String, nullable=True),
    # The license the line was judged on: the one that passes, else the one that got furthest
    # through the checks (the engine's choice); NULL when the state holds no license at all.
    Column("license_number", String, nullable=True),
    Column("license_class_code", String, nullable=True),
    Column("license_ok", Boolean, nullable=False),  # a license in the state, active, unexpired
    Column("resident_ok", Boolean, nullable=False),  # resident, or an active resident license
    Column("line_ok", Boolean, nullable=False),  # the line active on that license
    Column("is_at_risk", Boolean, nullable=False),  # not all three
    # The first check that fails, in the engine's order (license, resident, line), in words.
    Column("risk_reason", Text, nullable=True),
    # Since when, by NIPR's dates (the license's expiration date when it expired); NULL when
    # NIPR gives no date for the change.
    Column("at_risk_since", Date, nullable=True),
    Column("renewal_date", Date, nullable=True),  # NIPR's appointments.renewal_date
    Column("evaluated_as_of", Date, nullable=False),  # the date the checks were made for
    Column("evaluated_at", DateTime(timezone=True), nullable=False),
    # Migration 0015: the first evaluation day that found the line at risk in its current
    # spell (carried from the table's previous content), NULL while it stands: what became at
    # risk since a given day is `at_risk_noticed_on > that day`, without a history table.
    Column("at_risk_noticed_on", Date, nullable=True),
)

# Migration 0015. `sales_authorization`: may the producer sell this category for this company
# in this state, one row per (npn, state, cocode, category) the customer's companies appoint
# for (company_state_settings x company_loa_categories) where the producer holds an Appointed
# line with the company in the state; a missing row means No. The same rule as `npnflow
# can-sell` (assets/compliance/authorization.py), written whole by each evaluation; the report
# `rpt_sales_authorization` reads it.
sales_authorization = Table(
    "sales_authorization",
    metadata,
    Column("npn", String, primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("cocode", String, primary_key=True),
    Column("loa_category", String, primary_key=True),
    Column("company_name", String, nullable=True),
    Column("can_sell", Boolean, nullable=False),  # at least one line of the category sells
    Column("selling_lines", Text, nullable=True),  # those lines' codes, comma-separated
    Column("reasons", Text, nullable=False),  # every line's four answers, in words
    Column("evaluated_as_of", Date, nullable=False),
    Column("evaluated_at", DateTime(timezone=True), nullable=False),
)
