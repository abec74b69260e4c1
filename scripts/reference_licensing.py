"""What a producer is licensed for, as the shipped reference CSVs record it: the jurisdictions,
each state's producer license classes (picked from NIPR's workbook, every pick checked against
it) and the LOA categories (ordered rules on the LOA name, first match wins).

Used by `build_reference_data.py`, which writes the CSVs; kept apart from the state rules
(`reference_state_rules.py`) because these are derived from NIPR's workbook, while those are
transcribed from DOMAIN.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

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
    )
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
    "Life",
    "Accident & Health",
    "Property",
    "Casualty",
    "Personal Lines",
    "Variable Life & Annuity",
)
CREDIT, TITLE, TRAVEL, CROP, SURETY, CAR, SURPLUS, OTHER = (
    "Credit",
    "Title",
    "Travel",
    "Crop",
    "Surety",
    "Car Rental",
    "Surplus Lines",
    "Other",
)

CATEGORY_ORDER = [
    LIFE,
    AH,
    PROP,
    CAS,
    PERS,
    VLA,
    CREDIT,
    TITLE,
    TRAVEL,
    CROP,
    SURETY,
    CAR,
    SURPLUS,
    OTHER,
]
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
P_AND_C = re.compile(
    r"\bp ?& ?c\b|general lines|multiple lines|prop\. damage|"
    r"^auto$|^automobile|^motor vehicle$|^vehicle$"
)


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
) -> pd.DataFrame:
    """Every (state, LOA) attached to a producer license class, with its name."""
    pairs = workbook["license_class_loas"].merge(
        producer_classes[["state_code", "license_class_code"]], how="inner"
    )
    loas = pairs[["state_code", "loa_code"]].drop_duplicates()
    return loas.merge(workbook["lines_of_authority"], how="left").sort_values(
        ["state_code", "loa_code"], key=lambda s: s.astype(str).str.zfill(8)
    )


def build_loa_categories(
    workbook: dict[str, pd.DataFrame], producer_classes: pd.DataFrame
) -> list[list[str]]:
    """The categories of every line a producer license class carries (`producer_classes`: the
    rows of `producer_license_classes.csv`)."""
    rows: list[list[str]] = []
    for state, code, name in producer_loas(workbook, producer_classes).itertuples(index=False):
        if code in NOT_A_LINE:
            continue
        _, categories = categorize(name if isinstance(name, str) else "")
        rows.extend([state, code, category] for category in categories)
    return rows
