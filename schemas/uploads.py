"""pandera contracts for the six upload templates (SPEC section 4): the one source of truth.

`TEMPLATES` lists each kind's columns: the header the template writes, the field name used in
code, whether the column is required, whether the cell holds a `;`-separated list, and what an
analyst writes there. The template generator, the reader's header matching, the validator and
the docs all use it.

One `DataFrameModel` per kind validates the *normalised text frame* the validator builds from
an upload: one row per non-blank spreadsheet row, one text column per field (blank cells are
missing values; spaces, letter case and list separators already normalised), plus
`row_number`, the row the analyst sees in the spreadsheet. Validation is lazy and pandera's
`failure_cases` are turned into row errors by `assets/uploads/validation.py`; nothing here
writes messages.

What depends on the loaded reference data and the company setup (the 54 jurisdictions as the
`jurisdictions` table lists them, the termination reason codes, the customer's CoCodes, the
lines of authority) is added to the model's schema at validation time by `upload_schema()`.
The static fallbacks in the models (`JURISDICTION_CODES`, `LOA_CATEGORIES`) are the same
constants the reference tables are validated against. The vectorised checks the models name
(`is_npn`, `semicolon_items_in`, ...) are registered by `schemas/upload_checks.py`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.reference import JURISDICTION_CODES, LOA_CATEGORIES
from schemas.upload_checks import ISO_DATE as ISO_DATE
from schemas.upload_checks import semicolon_items_in, split_items

__all__ = [
    "AGENT_TYPES",
    "KINDS",
    "MAX_CELL_CHARS",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_CELLS",
    "MAX_UPLOAD_COLUMNS",
    "MAX_UPLOAD_ROWS",
    "SCORECARD_TYPES",
    "TEMPLATES",
    "UPLOAD_MODELS",
    "AgentUpload",
    "AppointUpload",
    "FOLDER_ONLY_KINDS",
    "JitReleaseUpload",
    "OffboardUpload",
    "PortalInviteUpload",
    "TemplateColumn",
    "TerminateUpload",
    "columns_for",
    "split_items",
    "upload_schema",
]

KINDS: tuple[str, ...] = ("agent", "appoint", "terminate", "portal_invite", "offboard", "jit_release")  # fmt: skip
#: Kinds never guessed from a header: only their inbox folder (`inbox/offboard/`) or a kind
#: named on the command line says a file is one. Offboarding terminates every appointment of
#: the producers listed, and its one required column (`Agent NPN`) heads other templates too:
#: a bare list of NPNs dropped at the inbox's root must not offboard anyone.
#: A `jit_release` file has an appoint file's header: never take an appoint file for one.
FOLDER_ONLY_KINDS: frozenset[str] = frozenset({"offboard", "jit_release"})

# Excel's own limit on the characters in one cell: a longer cell cannot have come from a
# spreadsheet the analyst can open, and it is reported as a row error, not a crash.
MAX_CELL_CHARS = 32_767

# How much work one upload may cause. Bytes alone do not bound it: a 1 MB CSV can hold a header
# of a million empty columns, and a 0.5 MB workbook one cell in column XFD on 100,000 rows,
# which a reader pads to 1.6 billion cells. So the reader counts rows, columns and cells as it
# reads, and refuses a file the moment one passes its limit (`assets/uploads/reading.py`).
# Columns: the templates have 2 to 11; 200 leaves room for any notes an analyst adds.
MAX_UPLOAD_COLUMNS = 200
# Data rows: a large carrier drops 100,000-row files; 250,000 leaves room to grow.
MAX_UPLOAD_ROWS = 250_000
# Cells (data rows x columns): 250,000 rows of 40 columns, or 50,000 rows of 200.
MAX_UPLOAD_CELLS = 10_000_000
# Bytes: with rows, columns and cells bounded, bytes only bound the text in the cells. 100 MB
# holds 250,000 rows of any template, and the error report of a file whose every row was
# rejected (100,000 agent rows with seven problems each write a 69 MB report), so the analyst
# can fix the report and drop it back. Reading a 100 MB CSV of 250,000 rows peaks at 0.6 GB.
MAX_UPLOAD_BYTES = 100_000_000

# Vocabularies that are ours (not NIPR reference data). Matching is case-insensitive; the
# validator writes them back spelled as here.
AGENT_TYPES: tuple[str, ...] = ("Producer", "Agency")
DEFAULT_AGENT_TYPE = "Producer"
# A "License" scorecard tracks the producer's licenses in the assignment's states and
# categories; a "License & Appointment" scorecard also tracks appointments with the listed
# CoCodes, so it needs them (the seed: "CoCode(s) for ... license & appointment scorecards").
SCORECARD_LICENSE = "License"
SCORECARD_LICENSE_AND_APPOINTMENT = "License & Appointment"
SCORECARD_TYPES: tuple[str, ...] = (SCORECARD_LICENSE, SCORECARD_LICENSE_AND_APPOINTMENT)
SCORECARD_ALIASES: dict[str, str] = {
    "license": SCORECARD_LICENSE,
    "licenses": SCORECARD_LICENSE,
    "license only": SCORECARD_LICENSE,
    "license & appointment": SCORECARD_LICENSE_AND_APPOINTMENT,
    "license and appointment": SCORECARD_LICENSE_AND_APPOINTMENT,
    "license & appointments": SCORECARD_LICENSE_AND_APPOINTMENT,
    "license and appointments": SCORECARD_LICENSE_AND_APPOINTMENT,
    "license/appointment": SCORECARD_LICENSE_AND_APPOINTMENT,
}
BOOLEAN_VALUES: tuple[str, ...] = ("TRUE", "FALSE")

# [0-9], not \d: Python's \d also matches Arabic-Indic, full-width and other digits, which
# NIPR, the SSN vault and the databases' identifiers do not take.
NPN = r"^[0-9]{1,10}$"
COCODE = r"^[0-9]{5}$"
# Agent SSN: the shapes people type (`123-45-6789`, `123 45 6789`, `123.45.6789`, `123456789`),
# the separators the SSN vault removes before it keeps the last four (resources/ssn.py).
SSN = r"^[0-9]{3}[-. ]?[0-9]{2}[-. ]?[0-9]{4}$"


@dataclass(frozen=True)
class TemplateColumn:
    """One template column.

    `kind` says how the cell is read: `npn`, `cocode`, `ssn`, `email`, `text`, `states`,
    `categories` (a `;`-list of LOA categories), `cocodes` (a `;`-list of CoCodes),
    `category` (one LOA category), `loa` (a line of authority, name or code), `agent_type`,
    `scorecard_type`, `bool`, `date`, `reason_code`. `aliases` are other headers accepted
    for the column (compared without case, spaces or punctuation).
    """

    header: str
    field: str
    kind: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""

    @property
    def multi(self) -> bool:
        return self.kind in ("states", "categories", "cocodes")

    @property
    def as_text(self) -> bool:
        """Formatted as Text in the XLSX template so Excel keeps leading zeros."""
        return self.kind in ("npn", "cocode", "cocodes", "ssn")


_NPN_HELP = "the producer's National Producer Number: digits only, up to 10"
_STATES_HELP = "two-letter state codes separated by ';' with no spaces, e.g. CA;TX"

TEMPLATES: dict[str, tuple[TemplateColumn, ...]] = {
    "agent": (
        TemplateColumn("Agency NPN", "agency_npn", "npn", True,
                       help="the agency's National Producer Number: digits only, up to 10"),
        TemplateColumn("First Name", "first_name", "text", True),
        TemplateColumn("Last Name", "last_name", "text", True),
        TemplateColumn("Agent NPN", "npn", "npn", True, help=_NPN_HELP),
        TemplateColumn("Agent Email", "email", "email", aliases=("Email",)),
        TemplateColumn(
            "Agent SSN", "ssn", "ssn", aliases=("SSN",),
            help="9 digits, bare or 3-2-4 with dashes, spaces or dots; only the last 4 are ever shown",
        ),
        TemplateColumn(
            "LOA Category", "loa_categories", "categories", aliases=("LOA Categories",),
            help="producer assignment: LOA categories separated by ';'",
        ),
        TemplateColumn("States", "state_codes", "states", aliases=("State",),
                       help="producer assignment: " + _STATES_HELP),
        TemplateColumn("Scorecard Type", "scorecard_type", "scorecard_type",
                       help="producer assignment: License, or License & Appointment"),
        TemplateColumn("Agent Type", "agent_type", "agent_type",
                       help="producer assignment: Producer or Agency"),
        TemplateColumn(
            "CoCodes", "cocodes", "cocodes", aliases=("CoCode",),
            help="producer assignment: 5-digit NAIC CoCodes separated by ';' "
            "(required for License & Appointment scorecards)",
        ),
    ),
    "appoint": (
        TemplateColumn("NPN", "npn", "npn", True, aliases=("Agent NPN",), help=_NPN_HELP),
        TemplateColumn("States", "state_codes", "states", True, aliases=("State",),
                       help=_STATES_HELP),
        TemplateColumn("CoCode", "cocode", "cocode", True, aliases=("CoCodes", "Carrier CoCode"),
                       help="the company's 5-digit NAIC CoCode"),
        TemplateColumn("LOA Category", "loa_category", "category",
                       help="one LOA category (or fill Line of Authority instead)"),
        TemplateColumn("Line of Authority", "line_of_authority", "loa", aliases=("LOA",),
                       help="a line of authority name or NIPR code, mapped to its category"),
        TemplateColumn("Agent Type", "agent_type", "agent_type",
                       help="Producer or Agency (blank: Producer)"),
        TemplateColumn("Submit", "submit", "bool", aliases=("Auto Submit",),
                       help="TRUE to submit eligible non-JIT appointments (blank: FALSE)"),
        TemplateColumn("Submit Just In Time", "submit_just_in_time", "bool",
                       aliases=("Submit JIT",),
                       help="TRUE to submit eligible JIT appointments (blank: FALSE)"),
        TemplateColumn("Effective Date", "effective_date", "date",
                       help="YYYY-MM-DD or MM/DD/YYYY (blank: as soon as possible); leave "
                            "blank in GA, NY, TX, WA; not before today in CA, at most 30 days "
                            "back in PA and VA, 45 in FL, 60 in NJ; no future date in FL or VA"),
        TemplateColumn("County", "county", "text", help="county code, where the state asks"),
    ),
    "terminate": (
        TemplateColumn("Agent NPN", "npn", "npn", True, help=_NPN_HELP),
        TemplateColumn("States", "state_codes", "states", True, aliases=("State", "State Code"),
                       help=_STATES_HELP),
        TemplateColumn("Line of Authority", "line_of_authority", "loa", True, aliases=("LOA",),
                       help="the line of authority's name or NIPR code in those states"),
        TemplateColumn("CoCode", "cocode", "cocode", True, aliases=("CoCodes", "Carrier CoCode"),
                       help="the company's 5-digit NAIC CoCode"),
        TemplateColumn(
            "Termination Reason Code", "termination_reason_code", "reason_code",
            aliases=("Termination Reason",),
            help="a code from the termination_reason_key sheet (blank: the state's default)",
        ),
        TemplateColumn("Effective Date", "effective_date", "date",
                       help="YYYY-MM-DD or MM/DD/YYYY (blank: today)"),
        TemplateColumn("Submit Immediately", "submit_immediately", "bool",
                       aliases=("Immediately Submit to NIPR",),
                       help="TRUE to approve and submit the batch at once (blank: FALSE)"),
    ),
    "portal_invite": (
        TemplateColumn("NPN", "npn", "npn", True, aliases=("Agent NPN",), help=_NPN_HELP),
        TemplateColumn("Portal", "portal_name", "text", True, aliases=("Portal Name",),
                       help="the portal's name"),
    ),
    "offboard": (
        TemplateColumn("Agent NPN", "npn", "npn", True, aliases=("NPN",), help=_NPN_HELP),
        TemplateColumn(
            "Termination Reason Code", "termination_reason_code", "reason_code",
            aliases=("Termination Reason",),
            help="a code from the termination_reason_key sheet for every termination "
                 "(blank: each state's default)",
        ),
        TemplateColumn("Effective Date", "effective_date", "date",
                       help="YYYY-MM-DD or MM/DD/YYYY (blank: each state's processing date); "
                            "no future date; leave blank in NY and TX"),
        TemplateColumn(
            "CoCodes", "cocodes", "cocodes", aliases=("CoCode",),
            help="5-digit NAIC CoCodes of your companies separated by ';' (blank: every "
                 "company in config/companies.yaml)",
        ),
    ),
    "jit_release": (  # "first business" feed: held JIT lines to release
        TemplateColumn("NPN", "npn", "npn", True, aliases=("Agent NPN",), help=_NPN_HELP),
        TemplateColumn("State", "state_codes", "states", True, aliases=("States",), help=_STATES_HELP),
        TemplateColumn("CoCode", "cocode", "cocode", True, help="the company's 5-digit NAIC CoCode"),
        TemplateColumn("LOA Category", "loa_category", "category", help="blank: every category"),
        TemplateColumn("Business Date", "business_date", "date", help="YYYY-MM-DD or MM/DD/YYYY: first business (blank: today); starts the JIT deadline"),
    ),
}  # fmt: skip


def columns_for(kind: str) -> tuple[TemplateColumn, ...]:
    """The template columns of `kind` (KeyError for an unknown kind)."""
    return TEMPLATES[kind]


def _mask(rows: Any) -> Series[bool]:
    """A dataframe check's row mask, as pandera's typing declares it (pandas is untyped here)."""
    return cast("Series[bool]", rows)


def _cocode() -> object:
    return {"min_length": 5, "max_length": 5}


def _states() -> object:
    return {"allowed": list(JURISDICTION_CODES)}


# --------------------------------------------------------------------------------------------
# Models: the normalised text frame of each kind
# --------------------------------------------------------------------------------------------


class _Upload(pa.DataFrameModel):
    row_number: Series[int] = pa.Field(ge=2)  # the spreadsheet row (the header is row 1)

    class Config:
        strict = True  # the validator builds exactly these columns
        coerce = False


def _blank(series: pd.Series) -> pd.Series:
    return series.isna()


def _filled(series: pd.Series) -> pd.Series:
    return series.notna()


def _once(frame: pd.DataFrame, key: list[str], list_column: str | None = None) -> pd.Series:
    """True where the row's key (each item of `list_column`, if given) is new in the file."""
    keyed = frame[["row_number", *key]].dropna()
    if list_column is not None:
        positions, items = split_items(keyed[list_column])
        keyed = keyed.iloc[positions].assign(**{list_column: items})
    keyed = keyed.drop_duplicates()  # `CA;CA` in one cell is not a second request
    repeated = keyed.duplicated(key, keep="first").to_numpy(dtype=bool)
    return ~frame["row_number"].isin(keyed.loc[repeated, "row_number"].unique())


ASSIGNMENT_FIELDS = ("loa_categories", "state_codes", "scorecard_type", "agent_type", "cocodes")


class AgentUpload(_Upload):
    """`agent`: onboard producers, optionally with producer assignments."""

    agency_npn: Series[str] = pa.Field(is_npn=())
    first_name: Series[str]
    last_name: Series[str]
    npn: Series[str] = pa.Field(is_npn=())
    # What the email-validator library accepts (schemas/email_addresses.py), not a regex.
    email: Series[str] = pa.Field(nullable=True, is_email_address=())
    ssn: Series[str] = pa.Field(nullable=True, str_matches=SSN)
    loa_categories: Series[str] = pa.Field(
        nullable=True, semicolon_items_in={"allowed": list(LOA_CATEGORIES)}
    )
    state_codes: Series[str] = pa.Field(nullable=True, semicolon_items_in=_states())
    scorecard_type: Series[str] = pa.Field(nullable=True, isin=list(SCORECARD_TYPES))
    agent_type: Series[str] = pa.Field(nullable=True, isin=list(AGENT_TYPES))
    cocodes: Series[str] = pa.Field(nullable=True, semicolon_items_match={"pattern": COCODE})

    # A producer assignment needs all four of these once any assignment column is filled.
    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def assignment_has_loa_categories(cls, frame: pd.DataFrame) -> Series[bool]:
        return _mask(~_any_assignment(frame) | _filled(frame["loa_categories"]))

    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def assignment_has_state_codes(cls, frame: pd.DataFrame) -> Series[bool]:
        return _mask(~_any_assignment(frame) | _filled(frame["state_codes"]))

    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def assignment_has_scorecard_type(cls, frame: pd.DataFrame) -> Series[bool]:
        return _mask(~_any_assignment(frame) | _filled(frame["scorecard_type"]))

    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def assignment_has_agent_type(cls, frame: pd.DataFrame) -> Series[bool]:
        return _mask(~_any_assignment(frame) | _filled(frame["agent_type"]))

    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def license_and_appointment_has_cocodes(cls, frame: pd.DataFrame) -> Series[bool]:
        needs = frame["scorecard_type"].eq(SCORECARD_LICENSE_AND_APPOINTMENT).fillna(False)
        return _mask(~needs.astype(bool) | _filled(frame["cocodes"]))

    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def npn_once_per_file(cls, frame: pd.DataFrame) -> Series[bool]:
        return _mask(_once(frame, ["npn"]))


def _any_assignment(frame: pd.DataFrame) -> pd.Series:
    return frame[list(ASSIGNMENT_FIELDS)].notna().any(axis=1)


class AppointUpload(_Upload):
    """`appoint`: appointment requests, one row per producer, company and LOA category.

    `loa_category` holds the category as typed or, when only `line_of_authority` was
    filled, the category the validator mapped it to (missing when it could not).
    """

    npn: Series[str] = pa.Field(is_npn=())
    state_codes: Series[str] = pa.Field(semicolon_items_in=_states())
    cocode: Series[str] = pa.Field(is_digits=_cocode())
    loa_category: Series[str] = pa.Field(nullable=True, isin=list(LOA_CATEGORIES))
    line_of_authority: Series[str] = pa.Field(nullable=True)
    agent_type: Series[str] = pa.Field(nullable=True, isin=list(AGENT_TYPES))
    submit: Series[str] = pa.Field(nullable=True, isin=list(BOOLEAN_VALUES))
    submit_just_in_time: Series[str] = pa.Field(nullable=True, isin=list(BOOLEAN_VALUES))
    effective_date: Series[str] = pa.Field(nullable=True, is_calendar_date=())
    county: Series[str] = pa.Field(nullable=True)

    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def has_loa_category_or_line(cls, frame: pd.DataFrame) -> Series[bool]:
        return _mask(_filled(frame["loa_category"]) | _filled(frame["line_of_authority"]))

    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def request_once_per_file(cls, frame: pd.DataFrame) -> Series[bool]:
        return _mask(_once(frame, ["npn", "state_codes", "cocode", "loa_category"], "state_codes"))


class TerminateUpload(_Upload):
    """`terminate`: termination requests; a blank reason means the state's default."""

    npn: Series[str] = pa.Field(is_npn=())
    state_codes: Series[str] = pa.Field(semicolon_items_in=_states())
    line_of_authority: Series[str]
    cocode: Series[str] = pa.Field(is_digits=_cocode())
    termination_reason_code: Series[str] = pa.Field(nullable=True)
    effective_date: Series[str] = pa.Field(nullable=True, is_calendar_date=())
    submit_immediately: Series[str] = pa.Field(nullable=True, isin=list(BOOLEAN_VALUES))

    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def request_once_per_file(cls, frame: pd.DataFrame) -> Series[bool]:
        key = frame[["row_number", "npn", "state_codes", "cocode"]].assign(
            loa=frame["line_of_authority"].str.casefold()
        )
        return _mask(_once(key, ["npn", "state_codes", "cocode", "loa"], "state_codes"))


class PortalInviteUpload(_Upload):
    """`portal_invite`: invite producers to a named portal."""

    npn: Series[str] = pa.Field(is_npn=())
    portal_name: Series[str]

    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def invite_once_per_file(cls, frame: pd.DataFrame) -> Series[bool]:
        key = frame[["row_number", "npn"]].assign(portal=frame["portal_name"].str.casefold())
        return _mask(_once(key, ["npn", "portal"]))


class OffboardUpload(_Upload):
    """`offboard`: producers to offboard (terminate, cancel, revoke; docs/operations.md)."""

    npn: Series[str] = pa.Field(is_npn=())
    termination_reason_code: Series[str] = pa.Field(nullable=True)
    effective_date: Series[str] = pa.Field(nullable=True, is_calendar_date=())
    cocodes: Series[str] = pa.Field(nullable=True, semicolon_items_match={"pattern": COCODE})

    @pa.dataframe_check(ignore_na=False)
    @classmethod
    def npn_once_per_file(cls, frame: pd.DataFrame) -> Series[bool]:
        return _mask(_once(frame, ["npn"]))


class JitReleaseUpload(_Upload):
    """`jit_release`: held JIT lines to release, one row per producer, company and category."""

    npn: Series[str] = pa.Field(is_npn=())
    state_codes: Series[str] = pa.Field(semicolon_items_in=_states())
    cocode: Series[str] = pa.Field(is_digits=_cocode())
    loa_category: Series[str] = pa.Field(nullable=True, isin=list(LOA_CATEGORIES))
    business_date: Series[str] = pa.Field(nullable=True, is_calendar_date=())


UPLOAD_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "agent": AgentUpload,
    "appoint": AppointUpload,
    "terminate": TerminateUpload,
    "portal_invite": PortalInviteUpload,
    "offboard": OffboardUpload,
    "jit_release": JitReleaseUpload,
}


def upload_schema(
    kind: str,
    *,
    states: Iterable[str] | None = None,
    reason_codes: Iterable[str] | None = None,
    company_cocodes: Iterable[str] | None = None,
    max_cell_chars: int | None = MAX_CELL_CHARS,
    extra_checks: Sequence[pa.Check] = (),
) -> pa.DataFrameSchema:
    """The model of `kind` as a schema, with the checks that depend on loaded data.

    - `states`: the jurisdictions table's codes (replaces the static list);
    - `reason_codes`: the termination reasons a `terminate` upload may name;
    - `company_cocodes`: the customer's CoCodes, which `agent` producer assignments and
      `offboard` CoCodes must use;
    - `max_cell_chars`: no text cell may be longer (`cell_too_long`; None: not checked,
      for a caller that knows no cell is);
    - `extra_checks`: dataframe-wide checks built from reference tables (lines of authority).
    """
    schema = UPLOAD_MODELS[kind].to_schema()
    updates: dict[str, dict[str, list[pa.Check]]] = {}

    def add(field: str, check: pa.Check, replace: str | None = None) -> None:
        current = updates.get(field, {}).get("checks", list(schema.columns[field].checks))
        kept = [c for c in current if replace is None or not str(c.name).startswith(replace)]
        updates[field] = {"checks": [*kept, check]}

    for field in schema.columns:
        if field != "row_number" and max_cell_chars is not None:
            add(field, pa.Check.str_length(max_value=max_cell_chars, name="cell_too_long"))
    if states is not None and "state_codes" in schema.columns:
        allowed = sorted({str(s) for s in states})
        add("state_codes", pa.Check.semicolon_items_in(allowed=allowed), "semicolon_items_in")
    if reason_codes is not None and "termination_reason_code" in schema.columns:
        codes = sorted({str(c) for c in reason_codes})
        add("termination_reason_code", pa.Check.isin(codes, name="known_reason_code"))
    if company_cocodes is not None and "cocodes" in schema.columns:
        known = sorted({str(c) for c in company_cocodes})
        add(
            "cocodes",
            pa.Check(
                lambda s, known=known: semicolon_items_in(s, allowed=known),
                name="known_company",
            ),
        )
    schema = schema.update_columns(updates)
    if extra_checks:
        schema = copy.copy(schema)
        schema.checks = [*schema.checks, *extra_checks]
    return schema
