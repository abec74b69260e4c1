"""One-off generator of the shipped reference CSVs and of the demo's gateway business rules.

The CSV files in `config/reference/` and `config/gateway_business_rules.csv` are the product:
a compliance analyst edits them directly. This script records how their first version was
made (the producer license class picks, the LOA category rules, the state rules transcribed
from DOMAIN.md) so the choices can be reviewed and re-applied to a newer NIPR workbook.

    .venv/bin/python scripts/build_reference_data.py            # writes only missing files
    .venv/bin/python scripts/build_reference_data.py --force loa_categories

It never overwrites an existing file without `--force`: running it after an analyst has
edited a CSV would silently undo their edits.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assets.reference.workbook import read_workbook  # noqa: E402

CONFIG = ROOT / "config"
REFERENCE = CONFIG / "reference"
WORKBOOK = REFERENCE / "nipr_workbook"

# --------------------------------------------------------------------------------------------
# Jurisdictions (DOMAIN 3.1)
# --------------------------------------------------------------------------------------------

JURISDICTIONS = {
    "AK": "Alaska", "AL": "Alabama", "AR": "Arkansas", "AZ": "Arizona", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DC": "District of Columbia", "DE": "Delaware",
    "FL": "Florida", "GA": "Georgia", "GU": "Guam", "HI": "Hawaii", "IA": "Iowa", "ID": "Idaho",
    "IL": "Illinois", "IN": "Indiana", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "MA": "Massachusetts", "MD": "Maryland", "ME": "Maine", "MI": "Michigan", "MN": "Minnesota",
    "MO": "Missouri", "MS": "Mississippi", "MT": "Montana", "NC": "North Carolina",
    "ND": "North Dakota", "NE": "Nebraska", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NV": "Nevada", "NY": "New York", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "PR": "Puerto Rico", "RI": "Rhode Island",
    "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah",
    "VA": "Virginia", "VI": "U.S. Virgin Islands", "VT": "Vermont", "WA": "Washington",
    "WI": "Wisconsin", "WV": "West Virginia", "WY": "Wyoming",
}  # fmt: skip

# --------------------------------------------------------------------------------------------
# Producer license classes (DOMAIN 1.5; every pick checked against the workbook below)
# --------------------------------------------------------------------------------------------

CLASS_3_STATES = [
    "AK", "AL", "AR", "CA", "CO", "CT", "DC", "DE", "GU", "HI", "IA", "ID", "IL", "KS", "LA",
    "MA", "MD", "MN", "MO", "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "OK", "OR", "PR", "RI",
    "SC", "SD", "TN", "VA", "VI", "VT", "WA", "WV",
]  # fmt: skip
CLASS_3_MAJOR = ["16", "935", "14", "39", "823", "5", "6312", "11938", "42", "327", "12", "11",
                 "108", "928", "6952", "8"]  # fmt: skip
CLASS_3_EXTRA = {
    "CA": " CA also has 5513/9354 RESIDENT/NON RESIDENT INSURANCE PRODUCER with legacy-style "
    "LOAs (823, 5, 188...); not listed: the seed example (Life & Health = 16, 935, 296 Part "
    "Time Fraternal) is class 3.",
    "CO": " CO 640 Resident producer carries the same major lines; not listed (class 3 is the "
    "producer class NIPR documents for CO); add it here if your producers hold 640.",
    "MN": " MN 5513 RESIDENT INSURANCE PRODUCER carries identical LOAs; not listed to avoid "
    "duplicate transactions per line.",
    "NJ": " NJ 602 Producer - Individual (legacy codes 1916 etc.) not listed.",
    "VA": " VA uses combined lines (42 Life & Health, 108 Property & Casualty) and has no "
    "16/12/11.",
    "IL": " IL has no 928; personal lines are 1284 PERSONAL LINES, P & C.",
    "OK": " OK personal lines are 3449 PC PERSONAL LINES.",
    "PR": " PR A&H is 5 Disability; no 928.",
}
OTHER_PRODUCER_CLASSES = [
    ("AZ", "89", "any", "Class 89 Insurance Producer (DOMAIN 1.5): no class 3 in AZ.",
     ["16", "935", "12", "11", "928", "6952"]),
    ("FL", "1", "any", "Class 1 Agent (DOMAIN 1.5): FL producers are \"Agents\"; major lines "
     "are combined codes.", ["16", "39", "42", "45", "41", "43", "928", "40"]),
    ("GA", "288", "R", "Class 288 Agent-Resident (DOMAIN 1.5).",
     ["16", "328", "3132", "12", "11", "928", "1504"]),
    ("GA", "287", "NR", "Class 287 Agent-Nonresident (DOMAIN 1.5).",
     ["16", "328", "3132", "12", "11", "928", "1504"]),
    ("IN", "5973", "R", "Class 5973 RESIDENT PRODUCER - INDIVIDUAL (DOMAIN 1.5).",
     ["16", "14", "36", "12", "11", "108", "928", "6932"]),
    ("IN", "602", "NR", "Class 602 Producer - Individual (DOMAIN 1.5); no resident-only "
     "wording, taken as the nonresident individual producer class [choice].",
     ["16", "14", "36", "12", "11", "108", "928", "6932"]),
    ("KY", "1", "any", "Class 1 Agent: the only KY individual class carrying 16 Life, 39 "
     "Health, 12 Property, 11 Casualty (716 is specialty credit) [choice].",
     ["16", "39", "12", "11", "224", "928", "1857"]),
    ("ME", "393", "R", "Class 393 Producer (Resident) (DOMAIN 1.5).",
     ["16", "39", "622", "12", "11", "624", "928", "8"]),
    ("ME", "394", "NR", "Class 394 Producer (NonResident) (DOMAIN 1.5).",
     ["16", "39", "622", "12", "11", "624", "928", "8"]),
    ("MI", "640", "R", "Class 640 Resident producer (DOMAIN 1.5).",
     ["16", "823", "12", "11", "928", "40", "8"]),
    ("MI", "801", "NR", "Class 801 NON RESIDENT PRODUCER (DOMAIN 1.5).",
     ["16", "823", "12", "11", "928", "40", "8"]),
    ("MS", "89", "any", "Class 89 Insurance Producer (DOMAIN 1.5); MS also has split LAH/PC "
     "classes 2305-2308 (general-agent lines), not listed.",
     ["16", "935", "823", "12", "11", "928", "4293"]),
    ("NV", "1011", "R", "Class 1011 RES PRODUCER/PRODUCER FIRM [choice: the NV class carrying "
     "16, 39, 12, 11, 928; 495/480 are older agent classes].",
     ["16", "39", "12", "11", "928", "1390"]),
    ("NV", "1012", "NR", "Class 1012 NON RES PRODUCER/PRODUCER FIRM [choice, as 1011].",
     ["16", "39", "12", "11", "928", "1390"]),
    ("NY", "13255", "any", "Class 13255 Life/Accident & Health Agent (DOMAIN 1.5); legacy "
     "class 134 has the same LOAs and is not listed.", ["16", "14", "40", "1857"]),
    ("NY", "13254", "any", "Class 13254 Property and Casualty Agent (DOMAIN 1.5); legacy class "
     "167 has the same LOAs and is not listed.", ["12", "11", "928"]),
    ("OH", "5534", "any", "Class 5534 MAJOR LINES (DOMAIN 1.5); 144 Limited Lines not listed.",
     ["16", "14", "12", "11", "108", "1683", "546"]),
    ("PA", "754", "R", "Class 754 RESIDENT PRODUCER INDIVIDUAL (DOMAIN 1.5).",
     ["261", "14", "262", "260", "928", "1857"]),
    ("PA", "1007", "NR", "Class 1007 NON RES PRODUCER INDIV (DOMAIN 1.5).",
     ["261", "14", "262", "260", "928", "1857"]),
    ("TX", "465", "any", "Class 465 General Lines Agncy/Agnt (DOMAIN 1.5): TX major lines are "
     "combined codes; used by residents and nonresidents (843 is its nonresident P&C line).",
     ["825", "823", "108", "843", "8"]),
    ("TX", "882", "any", "Class 882 LIFE AGENT/AGENCY (DOMAIN 1.5): life-only license.", ["16"]),
    ("UT", "754", "R", "Class 754 RESIDENT PRODUCER INDIVIDUAL [choice: current UT producer "
     "class; 459 Resident Agent is the legacy class].",
     ["16", "14", "935", "12", "11", "928", "6952"]),
    ("UT", "801", "NR", "Class 801 NON RESIDENT PRODUCER [choice: current UT producer class; "
     "455 Non-Resident Agent is the legacy class].",
     ["16", "14", "935", "12", "11", "928", "6952"]),
    ("WI", "9294", "any", "Class 9294 INTERMEDIARY (AGENT) INDIVIDUAL (DOMAIN 1.5).",
     ["16", "935", "12", "11", "928", "6952"]),
    ("WY", "640", "R", "Class 640 Resident producer [choice: carries 16, 14/935, 12, 11, 928; "
     "class 1 Agent is the legacy class].", ["16", "14", "935", "12", "11", "928", "6952"]),
    ("WY", "801", "NR", "Class 801 NON RESIDENT PRODUCER [choice, as 640].",
     ["16", "14", "935", "12", "11", "928", "6952"]),
]  # fmt: skip


def build_producer_license_classes(workbook: dict[str, pd.DataFrame]) -> list[list[str]]:
    classes = set(
        zip(
            *(workbook["license_classes"][c] for c in ("state_code", "license_class_code")),
            strict=True,
        )
    )  # noqa: E501
    names = workbook["lines_of_authority"].set_index(["state_code", "loa_code"])["loa_name"]
    pairs = workbook["license_class_loas"]
    carried: dict[tuple[str, str], set[str]] = {}
    for state, cls, loa in pairs.itertuples(index=False):
        carried.setdefault((state, cls), set()).add(loa)

    def describe(state: str, cls: str, loas: Iterable[str]) -> str:
        return ", ".join(f"{c} {names[(state, c)]}" for c in loas if c in carried[(state, cls)])

    rows = []
    for state in CLASS_3_STATES:
        assert (state, "3") in classes, state
        rows.append(
            [
                state,
                "3",
                "any",
                "Class 3 Insurance Producer (DOMAIN 1.5); carries "
                f"{describe(state, '3', CLASS_3_MAJOR)}.{CLASS_3_EXTRA.get(state, '')}",
            ]
        )
    for state, cls, residency, note, major in OTHER_PRODUCER_CLASSES:
        missing = [c for c in major if c not in carried.get((state, cls), set())]
        assert (state, cls) in classes and not missing, (state, cls, missing)
        rows.append([state, cls, residency, f"{note} Carries {describe(state, cls, major)}."])
    assert {r[0] for r in rows} == set(JURISDICTIONS)
    return sorted(rows)


# --------------------------------------------------------------------------------------------
# LOA categories: ordered rules on the LOA name, first match wins
# --------------------------------------------------------------------------------------------

LIFE, AH, PROP, CAS, PERS, VLA = (
    "Life", "Accident & Health", "Property", "Casualty", "Personal Lines",
    "Variable Life & Annuity",
)  # fmt: skip
CREDIT, TITLE, TRAVEL, CROP, SURETY, CAR, SURPLUS, OTHER = (
    "Credit", "Title", "Travel", "Crop", "Surety", "Car Rental", "Surplus Lines", "Other",
)  # fmt: skip

CATEGORY_ORDER = [LIFE, AH, PROP, CAS, PERS, VLA, CREDIT, TITLE, TRAVEL, CROP, SURETY, CAR,
                  SURPLUS, OTHER]  # fmt: skip
NOT_A_LINE = {"101"}  # "None": NIPR's placeholder for classes that carry no LOA. Left unmapped.

# (rule name, pattern on the lower-cased name, categories). Exceptions first, then roles and
# placeholders (Other), then the limited lines, then the major lines.
NAME_RULES: list[tuple[str, str, list[str]]] = [
    ("ny_la_appointments", r"^la appointments$", [LIFE, AH]),
    ("ny_pc_appointments", r"^pc appointments$", [PROP, CAS, PERS]),
    ("life_with_viatical", r"^life with viatical$", [LIFE]),
    ("fraternal_part_time", r"part time fraternal", [LIFE]),
    ("tx_casualty_a_and_h", r"^casualty - accident & health$", [AH]),
    ("fl_private_passenger_auto", r"^private passenger auto only$", [PERS]),
    ("role_not_a_line", r"adjust|analyst|administrator|solicitor|\bmga\b|managing general|"
     r"reinsur|service rep|marketing rep|^broker$|consultant|cargo shipper|settlement|"
     r"^viatical|independent producer|georgia access|lines held by employees|statistical",
     [OTHER]),
    ("placeholder", r"^(n/a|not available|not applicable|loa not applicable|no lines|no loa|"
     r"not supplied)|determined by|limited to resident|limited home state|limited - home state|"
     r"special non-resident|excludes surplus lines", [OTHER]),
    ("temporary_or_historical", r"temporary|historical|\bold$", [OTHER]),
    ("surplus_lines", r"surplus lines|\bsl broker", [SURPLUS]),
    ("car_rental", r"car rental|rental car|auto rental|vehicle rental", [CAR]),
    ("travel", r"travel|baggage|\bticket\b|^trip$", [TRAVEL]),
    ("credit", r"credit|debtor|mortgage redemption|mortgage cancellation", [CREDIT]),
    ("title", r"title|escrow", [TITLE]),
    ("crop", r"crop|hail|agricultur", [CROP]),
    ("surety", r"surety|fidelity|bail", [SURETY]),
    ("limited_or_specialty", r"limited|restricted|portable electronic|storage|legal|\bpet\b|"
     r"warranty|funeral|burial|pre-?need|motor club|automobile club|road service|"
     r"mech(anical)? breakdown|home services|industrial|stipulated|banks selling|"
     r"mortgage guaranty|reciprocal|farm mutual|town mutual|mobile telephone|mobile home|"
     r"^nonprofits$|miscellaneous|^other$|livestock|assessment|job insurance|"
     r"phys(ical)? damage|debit only", [OTHER]),
]  # fmt: skip

VARIABLE = re.compile(r"variable|\bvar\b")
PERSONAL = re.compile(r"personal")
MAJOR_TOKENS: list[tuple[str, re.Pattern[str]]] = [
    (LIFE, re.compile(r"\blife\b|^fraternal$|fraternal life|annuit")),
    (AH, re.compile(r"accident|health|sickness|disabilit|\bhmo\b|med supp|long term care|"
                    r"dental|\bpdp\b")),
    (PROP, re.compile(r"property|\bfire\b|marine|aviation|aircraft|glass")),
    (CAS, re.compile(r"casualty|liability|worker'?s'? ?comp|workmens comp|malpractice")),
]  # fmt: skip
P_AND_C = re.compile(r"\bp ?& ?c\b|general lines|multiple lines|prop\. damage|"
                     r"^auto$|^automobile|^motor vehicle$|^vehicle$")  # fmt: skip


def categorize(loa_name: str) -> tuple[str, list[str]]:
    """(rule name, categories) for one LOA name; `Other` when nothing matches."""
    name = re.sub(r"\s+", " ", loa_name.strip().lower())
    for rule, pattern, categories in NAME_RULES:
        if re.search(pattern, name):
            return rule, categories
    if VARIABLE.search(name):
        categories = [VLA]
        if name.startswith("life"):
            categories.insert(0, LIFE)
            if "health" in name:
                categories.insert(1, AH)
        return "variable", categories
    if PERSONAL.search(name):
        return "personal_lines", [PERS]
    found = [category for category, pattern in MAJOR_TOKENS if pattern.search(name)]
    if P_AND_C.search(name):
        found += [c for c in (PROP, CAS) if c not in found]
    if found:
        return "major_lines", found
    return "fallback_other", [OTHER]


def producer_loas(
    workbook: dict[str, pd.DataFrame], producer_classes: pd.DataFrame
) -> pd.DataFrame:  # noqa: E501
    """Every (state, LOA) attached to a producer license class, with its name."""
    pairs = workbook["license_class_loas"].merge(
        producer_classes[["state_code", "license_class_code"]], how="inner"
    )
    loas = pairs[["state_code", "loa_code"]].drop_duplicates()
    return loas.merge(workbook["lines_of_authority"], how="left").sort_values(
        ["state_code", "loa_code"], key=lambda s: s.astype(str).str.zfill(8)
    )


def build_loa_categories(workbook: dict[str, pd.DataFrame]) -> list[list[str]]:
    producer_classes = pd.read_csv(REFERENCE / "producer_license_classes.csv", dtype=str)
    rows = []
    for state, code, name in producer_loas(workbook, producer_classes).itertuples(index=False):
        if code in NOT_A_LINE:
            continue
        _, categories = categorize(name if isinstance(name, str) else "")
        rows.extend([state, code, category] for category in categories)
    return rows


# --------------------------------------------------------------------------------------------
# Termination reasons (DOMAIN 3.4)
# --------------------------------------------------------------------------------------------

TERMINATION_REASONS = [
    ("VOLUNTARY_TERMINATION", "Voluntary termination (not for cause)"),
    ("INADEQUATE_PRODUCTION", "Inadequate production"),
    ("CANCELLED_BY_GENERAL_AGENT", "Cancelled by general agent"),
    ("DEATH", "Death of the producer"),
    ("COMPANY_DEFUNCT_OR_LIQUIDATION", "Company defunct or in liquidation"),
    ("COMPANY_INDEBTEDNESS", "Company indebtedness (producer owes the company)"),
    ("POOR_POLICYHOLDER_SERVICE", "Poor policyholder service"),
    ("AGENT_MOVED", "Agent moved"),
    ("APPOINTED_IN_ERROR", "Appointed in error"),
    ("CANCELLED", "Cancelled (not for cause)"),
    ("CANCELLED_FOR_CAUSE", "Cancelled for cause (states may require an additional filing)"),
    ("COMPANY_MERGER", "Company merger"),
    ("REVOKED", "Revoked"),
    ("SUSPENDED_FOR_COMPLIANCE", "Suspended for compliance reasons"),
    ("REQUEST_REGULATORY_REVIEW", "Request regulatory review"),
]
CA_REASONS = ["VOLUNTARY_TERMINATION", "INADEQUATE_PRODUCTION", "CANCELLED_BY_GENERAL_AGENT",
              "DEATH", "COMPANY_DEFUNCT_OR_LIQUIDATION", "COMPANY_INDEBTEDNESS",
              "POOR_POLICYHOLDER_SERVICE", "AGENT_MOVED"]  # fmt: skip
# state: (accepted reasons, default, source)
STATE_REASONS: dict[str, tuple[list[str], str | None, str]] = {
    "CA": (CA_REASONS, "VOLUNTARY_TERMINATION", "[AS-CL-CA] DOMAIN 3.4"),
    "PA": ([r for r in CA_REASONS if r != "AGENT_MOVED"] + ["APPOINTED_IN_ERROR"],
           "VOLUNTARY_TERMINATION", "[AS-CL-PA] DOMAIN 3.4"),
    "NJ": (CA_REASONS + ["APPOINTED_IN_ERROR", "REQUEST_REGULATORY_REVIEW"],
           "VOLUNTARY_TERMINATION", "[AS-CL-NJ] DOMAIN 3.4"),
    "FL": (["VOLUNTARY_TERMINATION", "DEATH", "REQUEST_REGULATORY_REVIEW"],
           "VOLUNTARY_TERMINATION", "[AS-CL-FL] DOMAIN 3.4"),
    "VA": (["VOLUNTARY_TERMINATION", "DEATH", "APPOINTED_IN_ERROR", "CANCELLED_FOR_CAUSE"],
           "VOLUNTARY_TERMINATION", "[AS-CL-VA] DOMAIN 3.4"),
    "TX": (["CANCELLED"], "CANCELLED", "[AS-CL-TX] DOMAIN 3.4"),
    "GA": (["CANCELLED", "CANCELLED_FOR_CAUSE"], "CANCELLED", "[AS-CL-GA] DOMAIN 3.4"),
    "IL": (["CANCELLED", "CANCELLED_FOR_CAUSE"], "CANCELLED",
           "[AS-CL-IL] DOMAIN 3.4 (registry state: no filing)"),
}  # fmt: skip
# States with no rows at all: terminations there are never created (NY: not via NIPR).
NO_TERMINATION_REASONS = {"NY"}
UNLISTED_STATE_REASONS = ["VOLUNTARY_TERMINATION", "DEATH"]


def build_state_termination_reasons() -> list[list[object]]:
    rows: list[list[object]] = []
    for state in sorted(JURISDICTIONS):
        if state in NO_TERMINATION_REASONS:
            continue
        if state in STATE_REASONS:
            reasons, default, source = STATE_REASONS[state]
            for reason in reasons:
                is_default = reason == default
                # The acceptance is sourced; making it the default is our choice where the
                # state accepts several reasons.
                rows.append([state, reason, is_default, source,
                             is_default and len(reasons) > 1])  # fmt: skip
        elif state == "WA":
            # WA requires no reason code: any canonical reason is accepted; default voluntary.
            for reason, _ in TERMINATION_REASONS:
                rows.append([state, reason, reason == "VOLUNTARY_TERMINATION",
                             "[AS-CL-WA] DOMAIN 3.4: no reason code required; list is our "
                             "choice", True])  # fmt: skip
        else:
            for reason in UNLISTED_STATE_REASONS:
                rows.append([state, reason, reason == "VOLUNTARY_TERMINATION",
                             "[ASSUMPTION] DOMAIN 3.4: reasons not public; both are accepted "
                             "by CA, PA, NJ, FL and VA", True])  # fmt: skip
    return rows


# --------------------------------------------------------------------------------------------
# Fees (DOMAIN 2.4)
# --------------------------------------------------------------------------------------------

UNKNOWN_APPOINTMENT_FEE = 30.0  # high-side estimate: above the $20 median of the known states
# state: (resident, nonresident, per_loa, billed_by_state, source, is_assumption)
APPOINTMENT_FEES: dict[str, tuple[float, float, bool, bool, str, bool]] = {
    "NY": (0, 0, False, False, "[AS-CL-NY] DOMAIN 2.4", False),
    "IL": (0, 0, False, False, "[AS-CL-IL] DOMAIN 2.4 (registry state: no filing)", False),
    "TX": (10, 10, False, False, "[AS-CL-TX] DOMAIN 2.4", False),
    "PA": (15, 15, False, True, "[AS-CL-PA] [PA-DOI] DOMAIN 2.4: billed annually by the state",
           False),
    "OH": (15, 15, True, False, "[OH-DOI] DOMAIN 2.4: $15 per LOA", False),
    "GA": (20, 20, False, False, "[AS-CL-GA] DOMAIN 2.4", False),
    "WA": (20, 20, False, False, "[AS-CL-WA] DOMAIN 2.4", False),
    "NJ": (25, 25, False, False, "[AS-CL-NJ] DOMAIN 2.4: electronic filing ($35 paper)", False),
    "CA": (32, 58, False, False, "[AS-CL-CA] DOMAIN 2.4 [CONFLICT] $32/$58 vs $32/$32: the "
           "higher nonresident fee is kept so estimates never understate", True),
    "FL": (60, 60, False, False, "[AS-CL-FL] DOMAIN 2.4: nonresident per-county fees not "
           "modelled", True),
    "VA": (10, 7, True, False, "[AS-CL-VA] DOMAIN 2.4: snapshot values, treat as approximate",
           True),
}  # fmt: skip
# Only NJ is known to charge for terminations.
TERMINATION_FEES: dict[str, tuple[float, float, bool, bool, str, bool]] = {
    "NJ": (25, 25, False, False, "[AS-CL-NJ] DOMAIN 2.4: electronic filing ($35 paper)", False),
    **{
        s: (0, 0, False, False, f"[AS-CL-{s}] DOMAIN 2.4", False)
        for s in ("TX", "PA", "GA", "WA", "CA", "FL", "VA")
    },
    "NY": (0, 0, False, False, "[AS-CL-NY] DOMAIN 2.4: terminations not via NIPR", False),
    "IL": (0, 0, False, False, "[AS-CL-IL] DOMAIN 2.4 (registry state: no filing)", False),
}


def build_state_fees() -> list[list[object]]:
    rows: list[list[object]] = []
    for state in sorted(JURISDICTIONS):
        fee = APPOINTMENT_FEES.get(state) or (
            UNKNOWN_APPOINTMENT_FEE, UNKNOWN_APPOINTMENT_FEE, False, False,
            "[ASSUMPTION] fee not in DOMAIN 2.4: high-side estimate, replace with the state's "
            "published fee", True,
        )  # fmt: skip
        rows.append([state, "appointment", *fee])
        fee = TERMINATION_FEES.get(state) or (
            0.0, 0.0, False, False,
            "[ASSUMPTION] not in DOMAIN 2.4; of the ten states known, only NJ charges", True,
        )  # fmt: skip
        rows.append([state, "termination", *fee])
    return rows


# --------------------------------------------------------------------------------------------
# Appointment rules (DOMAIN 3.3, state_appointment_rules.md)
# --------------------------------------------------------------------------------------------

# Assurity's list [ASSURITY]: JIT deadline and trigger by state.
ASSURITY = {
    **{s: (15, "within 15 days after the application is written") for s in ("LA", "MT", "OK")},
    **{s: (14, "within 14 days after the application is received") for s in ("CA",)},
    **{
        s: (15, "within 15 days after the application is received")
        for s in ("AL", "AR", "CT", "DE", "GA", "HI", "ID", "KY", "MA", "ME", "MI", "MN", "MS",
                  "NC", "NE", "NH", "NJ", "NM", "NV", "SC", "SD", "TN", "UT", "VT", "WI", "WV",
                  "WY")
    },
    **{
        s: (30, "within 30 days after the application is received")
        for s in ("AK", "AZ", "CO", "DC", "IA", "IL", "IN", "MD", "MO", "ND", "OH", "OR", "RI",
                  "TX")
    },
    **{s: (30, "within 30 days after the application is written") for s in ("KS", "VA", "WA")},
    "FL": (45, "within 45 days of the appointment effective date"),
}  # fmt: skip

RULE_COLUMNS = [
    "state_code", "appointment_filing", "jit_allowed", "jit_deadline_days", "jit_trigger",
    "effective_date_specifiable", "max_backdate_days", "allows_future_effective_date",
    "terminations_via_nipr", "termination_date_specifiable", "termination_max_backdate_days",
    "source", "is_assumption",
]  # fmt: skip
N = None
# Documented states: every column given (None = unknown).
DOCUMENTED_RULES: dict[str, list[object]] = {
    "TX": ["nipr", True, 30, "within 30 days of the appointment effective date "
           "(carrier-determined)", False, N, N, True, False, N,
           "[AS-CL-TX] [ASSURITY] DOMAIN 3.3", False],
    "IL": ["registry", False, N, "registry state: nothing is filed, the carrier keeps its own "
           "register", N, N, N, False, N, N,
           "[AS-CL-IL] DOMAIN 3.3 ([CONFLICT] Assurity lists IL under 30 days)", False],
    "CA": ["nipr", True, 14, "Life/Health/Annuity only: within 14 days of the first business "
           "submission. P&C must be appointed before solicitation (file within 15 days of the "
           "effective date): keep jit false for P&C companies", True, 0, N, True, True, N,
           "[AS-CL-CA] [ASSURITY] DOMAIN 3.3 [CONFLICT] one snapshot: effective date not in "
           "the past; max_backdate_days 0 is our choice", True],
    "FL": ["nipr", True, 45, "within 45 days of the appointment effective date", True, 45,
           False, True, True, 33,
           "[AS-CL-FL] [RADEY] DOMAIN 3.3/2.4: not before license dates; 45 = the late-fee "
           "limit, our choice", True],
    "NY": ["nipr", True, 15, "within 15 days of contract execution or first business "
           "submission (many NY appointments are handled on the DFS portal)", False, N, N,
           False, False, N, "[AS-CL-NY] DOMAIN 3.3/3.4: terminations not via NIPR", False],
    "PA": ["nipr", False, N, "not JIT: appoint before solicitation; file within 30 days of "
           "contract execution", True, 30, N, True, True, 30,
           "[AS-CL-PA] [PA-DOI] [ASSURITY] DOMAIN 3.3", False],
    "GA": ["nipr", True, 15, "within 15 days of contract execution or first business "
           "submission", False, N, N, True, True, N, "[AS-CL-GA] DOMAIN 3.3/3.4", False],
    "WA": ["nipr", True, 15, "within 15 days of contract execution or the first application, "
           "whichever is earlier (RCW 48.17.160(2))", False, N, N, True, True, 14,
           "[AS-CL-WA] [WAC] DOMAIN 3.3 [CONFLICT] Assurity says 30 days: the shorter is kept",
           True],
    "NJ": ["nipr", True, 15, "within 15 days of contract execution or first business", True,
           60, N, True, True, 60, "[AS-CL-NJ] DOMAIN 3.3/3.4", False],
    "VA": ["nipr", True, 30, "within 30 days of accepting the first application", True, 30,
           False, True, True, 29, "[AS-CL-VA] [VA-CODE] DOMAIN 3.3/3.4", False],
    "ND": ["nipr", True, 30, "within 30 days after the later of contract signing or the first "
           "application", N, N, N, True, N, N,
           "[ND-DOI] DOMAIN 3.3; terminations_via_nipr assumed", True],
    "KS": ["nipr", False, N, "[CONFLICT] carriers disagree (pre-appointment vs 30 days after "
           "the application is written): treated as not JIT", N, N, N, True, N, N,
           "[ASSURITY] DOMAIN 3.3 [CONFLICT]; not JIT is our choice", True],
}  # fmt: skip


def build_state_appointment_rules() -> list[list[object]]:
    rows: list[list[object]] = []
    for state in sorted(JURISDICTIONS):
        if state in DOCUMENTED_RULES:
            rows.append([state, *DOCUMENTED_RULES[state]])
        elif state in ASSURITY:
            days, trigger = ASSURITY[state]
            rows.append([state, "nipr", True, days, trigger, N, N, N, True, N, N,
                         "[ASSURITY] DOMAIN 3.3; filing and terminations via NIPR assumed",
                         True])  # fmt: skip
        else:  # GU, PR, VI: no source at all
            rows.append([state, "nipr", False, N, "unknown: treated as not JIT (appoint before "
                         "solicitation is always allowed)", N, N, N, True, N, N,
                         "[ASSUMPTION] no source", True])  # fmt: skip
    return rows


# --------------------------------------------------------------------------------------------
# The demo's gateway business rules, derived from config/companies.yaml
# --------------------------------------------------------------------------------------------

# Lines the sample carriers do not write although the category covers them (so the demo shows
# inactive rules): dental/HMO/health-service lines, NY appointment-type LOAs (394/395), and
# marine/fire sub-lines.
INACTIVE_LOA_NAMES = re.compile(
    r"dental|^hmo|health maintenance|health services|med supp|appointments$|marine|fire|"
    r"aviation|glass|pdp|nonprofit",
    re.IGNORECASE,
)


def build_gateway_business_rules(workbook: dict[str, pd.DataFrame]) -> list[list[object]]:
    companies = yaml.safe_load((CONFIG / "companies.yaml").read_text())["companies"]
    producer_classes = pd.read_csv(REFERENCE / "producer_license_classes.csv", dtype=str)
    categories = pd.read_csv(REFERENCE / "loa_categories.csv", dtype=str)
    lines = workbook["license_class_loas"].merge(
        producer_classes[["state_code", "license_class_code"]], how="inner"
    )
    lines = lines.merge(categories, how="inner").merge(workbook["lines_of_authority"], how="left")
    rows = []
    for company in companies:
        wanted = set(company["loa_categories"])
        for setting in company["state_settings"]:
            state = setting["state_code"]
            mine = lines[(lines["state_code"] == state) & lines["loa_category"].isin(wanted)]
            # One rule per line (the table's key): a line in two of the company's categories
            # (825 "Life, Accident, Health and HMO") keeps its first in category order (Life).
            mine = mine.assign(rank=mine["loa_category"].map(CATEGORY_ORDER.index))
            mine = mine.sort_values(["license_class_code", "loa_code", "rank"])
            mine = mine.drop_duplicates(["license_class_code", "loa_code"])
            for row in mine.itertuples(index=False):
                active = not INACTIVE_LOA_NAMES.search(str(row.loa_name))
                rows.append([str(company["cocode"]), state, row.license_class_code, row.loa_code,
                             row.loa_category, active])  # fmt: skip
    return rows


# --------------------------------------------------------------------------------------------


def _write(path: Path, header: list[str], rows: Iterable[Iterable[object]]) -> None:
    def cell(value: object) -> object:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return f"{value:.2f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return value

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([cell(v) for v in row] for row in rows)


def _fee_row(row: list[object]) -> list[object]:
    return [*row[:2], float(row[2]), float(row[3]), *row[4:]]  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", help="tables to write (default: all)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    args = parser.parse_args(argv)
    workbook = read_workbook(WORKBOOK)

    builders: dict[str, tuple[Path, list[str], Callable[[], Iterable[Iterable[object]]]]] = {
        "jurisdictions": (REFERENCE / "jurisdictions.csv", ["state_code", "name"],
                          lambda: sorted(JURISDICTIONS.items())),
        "producer_license_classes": (
            REFERENCE / "producer_license_classes.csv",
            ["state_code", "license_class_code", "residency", "note"],
            lambda: build_producer_license_classes(workbook)),
        "loa_categories": (REFERENCE / "loa_categories.csv",
                           ["state_code", "loa_code", "loa_category"],
                           lambda: build_loa_categories(workbook)),
        "termination_reasons": (
            REFERENCE / "termination_reasons.csv", ["reason_code", "description", "source"],
            lambda: [[c, d, "[PFLOW] DOMAIN 3.4"] for c, d in TERMINATION_REASONS]),
        "state_termination_reasons": (
            REFERENCE / "state_termination_reasons.csv",
            ["state_code", "reason_code", "is_default", "source", "is_assumption"],
            build_state_termination_reasons),
        "state_fees": (
            REFERENCE / "state_fees.csv",
            ["state_code", "transaction_kind", "resident_fee", "nonresident_fee", "per_loa",
             "billed_by_state", "source", "is_assumption"],
            lambda: [_fee_row(r) for r in build_state_fees()]),
        "state_appointment_rules": (REFERENCE / "state_appointment_rules.csv", RULE_COLUMNS,
                                    build_state_appointment_rules),
        "gateway_business_rules": (
            CONFIG / "gateway_business_rules.csv",
            ["cocode", "state_code", "license_class_code", "loa_code", "loa_category", "active"],
            lambda: build_gateway_business_rules(workbook)),
    }  # fmt: skip
    unknown = set(args.tables) - set(builders)
    if unknown:
        parser.error(f"unknown table(s): {', '.join(sorted(unknown))}")
    for table in args.tables or list(builders):
        path, header, build = builders[table]
        if path.exists() and not args.force:
            print(f"kept     {path.relative_to(ROOT)} (exists; --force to overwrite)")
            continue
        _write(path, header, build())
        print(f"wrote    {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
