"""Tables of appointment renewals (issue 18, docs/renewals.md).

Defined on `schemas.tables.metadata` (imported at the bottom of `schemas/tables.py`, so the
metadata always holds every table); changed only by Alembic migrations (revision 0015).

- `state_appointment_renewals`: how each state renews appointments, loaded by the reference
  job from `config/reference/state_appointment_renewals.csv` like the other reference tables.
- `appointment_renewal_plan`: the renewal plan of every Appointed line of the customer's
  companies in a renewing state, for one cycle (`assets/renewals/plan.py`); rewritten whole
  by each build, read by the report `rpt_appointment_renewals`.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, Numeric, String, Table, Text, false

from schemas.tables import metadata

state_appointment_renewals = Table(
    "state_appointment_renewals",
    metadata,
    Column("state_code", String, primary_key=True),
    # perpetual, annual, biennial_even_years, biennial_odd_years, birth_month_biennial, unknown
    Column("renews", String, nullable=False),
    Column("renewed_through", String, nullable=False),  # nipr, state_portal, invoice_by_mail, ...
    Column("window_start", String, nullable=True),  # MM-DD
    Column("window_end", String, nullable=True),  # MM-DD
    Column("termination_cutoff", String, nullable=False),  # MM-DD or unknown
    Column("fee_resident", Numeric(10, 2), nullable=True),
    Column("fee_nonresident", Numeric(10, 2), nullable=True),
    Column("fee_basis", String, nullable=True),  # per_appointment, per_line
    Column("nipr_processing_fee", Boolean, nullable=False, default=False, server_default=false()),
    Column("source", Text, nullable=True),
    Column("is_assumption", Boolean, nullable=False, default=False, server_default=false()),
)

appointment_renewal_plan = Table(
    "appointment_renewal_plan",
    metadata,
    Column("cocode", String, primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("npn", String, primary_key=True),
    Column("loa_code", String, primary_key=True),
    Column("cycle", Integer, nullable=False),
    Column("company_name", String, nullable=True),
    Column("renews", String, nullable=False),
    Column("renewed_through", String, nullable=False),
    Column("renewal_date", Date, nullable=True),  # NULL: not known (see renewal_date_basis)
    Column("renewal_date_basis", Text, nullable=False),
    Column("cutoff_date", Date, nullable=True),  # NULL: the state's cut-off is unknown
    # Too late for this renewal: after the cut-off, or (cut-off unknown) once the window opened.
    Column("cutoff_passed", Boolean, nullable=True),  # NULL: neither known
    Column("is_resident", Boolean, nullable=True),  # NULL: no resident license on record
    Column("fee_basis", String, nullable=False),
    Column("fee", Numeric(10, 2), nullable=False),
    # Counted in the liability: every per-line row, one row per appointment per-appointment.
    Column("fee_counted", Boolean, nullable=False),
    Column("saving_if_terminated", Numeric(10, 2), nullable=False),
    Column("recommendation", String, nullable=False),  # Renew, Terminate Before Cut-Off
    Column("reason", Text, nullable=True),
    Column("is_assumption", Boolean, nullable=False),  # the state's row is an assumption
    Column("planned_as_of", Date, nullable=False),
    Column("planned_at", DateTime(timezone=True), nullable=False),
)
