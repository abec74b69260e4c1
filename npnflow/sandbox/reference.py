"""NIPR reference data the sandbox draws its licenses from.

Reads NIPR's PDB State Offerings workbook (as CSV, `config/reference/nipr_workbook/`) and the
project's list of individual producer license classes per state
(`config/reference/producer_license_classes.csv`: state_code, license_class_code, residency
R|NR|any, note). Everything is read when asked, never at import time, and cached per folder.

From those it derives, per state, residency and "profile" (the kind of business a producer
writes), the license(s) such a producer holds: class and lines of authority. Lines are chosen by
their names, because the workbook has no category column and codes differ by state (TX writes
Life/Health as one combined line 825, PA as 261 + 14, most states as 16 + 935).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from resources import paths

# LOA code 101 "None" is what NIPR puts on classes that carry no line; a producer never holds it.
NONE_LOA_CODE = 101

# Names that are not lines a producer is licensed for: NY's appointment types (394/395 belong on
# appointments, not licenses) and placeholders.
_NOT_A_LINE = re.compile(r"appointments$|^n/?a$|not available|no lines|^none$|historical", re.I)

# Buckets used to build realistic line sets. Order matters: the first matching rule wins.
_BUCKET_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("variable", re.compile(r"variable", re.I)),
    (
        "excluded",
        re.compile(
            r"credit|travel|fraternal|settlement|funeral|burial|debtor|pre-?need|"
            r"limited|stipulated|dental|viatical|bail|title|"
            r"surplus|reinsur|crop|mortgage|legal|pet|storage|baggage|ticket|"
            r"access|banks|non res|industrial|home warranty|- pdp",
            re.I,
        ),
    ),
    ("lh", re.compile(r"life.*(health|accident|sickness)|life and health|life & health", re.I)),
    ("pc", re.compile(r"property (&|and) casualty|^p ?& ?c$|general lines", re.I)),
    ("life", re.compile(r"\blife\b", re.I)),
    ("health", re.compile(r"accident|health|sickness|disability", re.I)),
    ("property", re.compile(r"^property\b|agent - property", re.I)),
    ("casualty", re.compile(r"^casualty\b|agent - casualty", re.I)),
    ("personal", re.compile(r"personal", re.I)),
]

# What each profile wants, as alternatives: the first alternative fully available wins.
PROFILES: tuple[str, ...] = ("life_health", "property_casualty", "all_lines", "personal_lines")
_PROFILE_WANTS: dict[str, list[list[str]]] = {
    "life_health": [["life", "health"], ["lh"], ["life"], ["health"]],
    "property_casualty": [["property", "casualty"], ["pc"], ["property"], ["casualty"]],
    "all_lines": [
        ["life", "health", "property", "casualty"],
        ["lh", "pc"],
        ["life", "health", "pc"],
        ["lh", "property", "casualty"],
    ],
    "personal_lines": [["personal"], ["property", "casualty"], ["pc"]],
}

# Fallback when producer_license_classes.csv is not there yet: DOMAIN.md 1.5, plus class 3
# wherever a state has it.
_FALLBACK_CLASSES: dict[str, list[tuple[str, str]]] = {
    "AZ": [("89", "any")],
    "MS": [("89", "any")],
    "FL": [("1", "any")],
    "KY": [("1", "any")],
    "IN": [("5973", "R"), ("602", "NR")],
    "ME": [("393", "R"), ("394", "NR")],
    "MI": [("640", "R"), ("801", "NR")],
    "PA": [("754", "R"), ("1007", "NR")],
    "GA": [("288", "R"), ("287", "NR")],
    "TX": [("465", "any"), ("882", "any")],
    "NY": [("13255", "any"), ("13254", "any")],
    "OH": [("5534", "any")],
    "WI": [("9294", "any")],
    "NV": [("1011", "R"), ("1012", "NR")],
    "UT": [("754", "R"), ("801", "NR")],
    "WY": [("640", "R"), ("801", "NR")],
}

# Business-entity classes for firms are recognised by name; many states' entity classes carry
# only code 101 "None", and there firms hold the individual producer class instead.
_ENTITY_CLASS = re.compile(
    r"business entity|agency|agncy|firm|producer.*(organization|entity|corp)|"
    r"entity producer|agent/agency",
    re.I,
)
_NOT_ENTITY_PRODUCER = re.compile(
    r"adjust|bail|title|travel|surplus|reinsur|managing|limited|ltd|temp|fraternal|credit|branch|"
    r"storage|rental|settlement|rating|dental|health|plan|insurer|risk|purchasing|service|"
    r"warrant|review|exchange|discount|administrator|counsel|consult|portable|vehicle|auto|crop|"
    r"funeral|burial|pre-?need|motor|cemetery|escrow|viatical|premium|dhs|captive|collection|"
    r"recovery|navigator|county|combo|specialty|exclusive|life agent",
    re.I,
)
_NON_RESIDENT_NAME = re.compile(r"non[ -]?res|nonres|\bnr\b", re.I)
_MAJOR_BUCKETS = {"life", "health", "property", "casualty", "lh", "pc"}
_COVERS = {"lh": {"life", "health"}, "pc": {"property", "casualty"}}


def _bucket(name: str) -> str:
    for bucket, pattern in _BUCKET_RULES:
        if pattern.search(name):
            return bucket
    return "other"


@dataclass(frozen=True)
class LicenseTemplate:
    """One license a producer of some profile holds in a state."""

    state_code: str
    license_class_code: int
    license_class: str
    loa_codes: tuple[int, ...]
    # Further lines of the same class a producer may also hold (limited lines and the like).
    extra_loa_codes: tuple[int, ...]


@dataclass
class Reference:
    states: list[str]
    class_names: dict[tuple[str, int], str]
    loa_names: dict[tuple[str, int], str]
    # (state, class) -> lines the class carries, in workbook order, without code 101.
    class_loas: dict[tuple[str, int], list[int]]
    # state -> [(class code, residency R|NR|any)] for individual producers
    producer_classes: dict[str, list[tuple[int, str]]]
    # state -> [(class code, residency)] for business entities (firms)
    firm_classes: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    template_cache: dict[tuple[str, bool, str, bool], tuple[LicenseTemplate, ...]] = field(
        default_factory=dict, repr=False
    )

    def loa_name(self, state: str, code: int) -> str:
        return self.loa_names.get((state, code), f"LOA {code}")

    def classes_for(self, state: str, resident: bool, firm: bool = False) -> list[int]:
        wanted = "R" if resident else "NR"
        listed = (self.firm_classes if firm else self.producer_classes)[state]
        return [c for c, res in listed if res in (wanted, "any")]

    def lines(self, state: str, class_code: int) -> list[int]:
        """Lines a producer can hold under a class (placeholders such as "N/A" left out)."""
        return [
            c
            for c in self.class_loas.get((state, class_code), [])
            if not _NOT_A_LINE.search(self.loa_name(state, c))
        ]

    def templates(
        self, state: str, resident: bool, profile: str, firm: bool = False
    ) -> list[LicenseTemplate]:
        return _templates(self, state, resident, profile, firm)


def _read_grouped_csv(path: Path, fill: tuple[str, ...]) -> list[dict[str, str]]:
    """Read a workbook sheet, forward-filling the columns written once per group."""
    rows: list[dict[str, str]] = []
    last: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            for column in fill:
                if (row.get(column) or "").strip():
                    last[column] = row[column].strip()
                else:
                    row[column] = last.get(column, "")
            rows.append(row)
    return rows


@lru_cache(maxsize=4)
def load_reference(config_dir: str | None = None) -> Reference:
    """Load and cache the reference data (from `resources.paths` unless a folder is given)."""
    reference_dir = Path(config_dir) / "reference" if config_dir else paths.reference_dir()
    workbook = reference_dir / "nipr_workbook"
    class_names: dict[tuple[str, int], str] = {}
    for row in _read_grouped_csv(workbook / "Licenses.csv", ("State Code",)):
        class_names[(row["State Code"], int(row["License Class Code"]))] = row[
            "License Class Name"
        ].strip()
    loa_names: dict[tuple[str, int], str] = {}
    for row in _read_grouped_csv(workbook / "LOAs.csv", ("State Code",)):
        loa_names[(row["State Code"], int(row["LOA Code"]))] = row["LOA Name"].strip()
    class_loas: dict[tuple[str, int], list[int]] = {}
    for row in _read_grouped_csv(
        workbook / "Assignments.csv", ("State Code", "License Class Name")
    ):
        state, code = row["State Code"], int(row["LOA Code"])
        key = (state, int(row["License Class Code"]))
        loa_names.setdefault((state, code), row["LOA Name"].strip())
        if code != NONE_LOA_CODE:
            class_loas.setdefault(key, []).append(code)
    states = sorted({state for state, _ in class_names})

    producer_classes: dict[str, list[tuple[int, str]]] = {}
    listed = reference_dir / "producer_license_classes.csv"
    if listed.exists():
        with listed.open(newline="", encoding="utf-8-sig") as handle:
            for row in csv.DictReader(handle):
                state = row["state_code"].strip().upper()
                code = int(row["license_class_code"])
                residency = (row.get("residency") or "any").strip()
                residency = residency.upper() if residency.upper() in ("R", "NR") else "any"
                if class_loas.get((state, code)):
                    producer_classes.setdefault(state, []).append((code, residency))
    for state in states:
        if producer_classes.get(state):
            continue
        fallback = [(int(c), r) for c, r in _FALLBACK_CLASSES.get(state, [])]
        if not fallback and class_loas.get((state, 3)):
            fallback = [(3, "any")]
        fallback = [(c, r) for c, r in fallback if class_loas.get((state, c))]
        if not fallback:  # last resort: the class carrying the most lines
            best = max((k for k in class_loas if k[0] == state), key=lambda k: len(class_loas[k]))
            fallback = [(best[1], "any")]
        producer_classes[state] = fallback

    reference = Reference(states, class_names, loa_names, class_loas, producer_classes)
    for state in states:
        reference.firm_classes[state] = _firm_classes(reference, state)
    return reference


def _firm_classes(reference: Reference, state: str) -> list[tuple[int, str]]:
    """Business-entity classes with real lines, else the individual producer classes."""
    found = []
    for (st, code), name in reference.class_names.items():
        if st != state or not _ENTITY_CLASS.search(name) or _NOT_ENTITY_PRODUCER.search(name):
            continue
        buckets = {
            _bucket(reference.loa_name(state, c))
            for c in reference.class_loas.get((state, code), [])
        }
        if len(buckets & _MAJOR_BUCKETS) >= 2:
            residency = (
                "NR"
                if _NON_RESIDENT_NAME.search(name)
                else ("R" if re.search(r"\bres\b|resident", name, re.I) else "any")
            )
            found.append((code, residency))
    has_r = any(r in ("R", "any") for _, r in found)
    has_nr = any(r in ("NR", "any") for _, r in found)
    if has_r and has_nr:
        return sorted(found)
    return reference.producer_classes[state]


def _pick_lines(reference: Reference, state: str, class_code: int, profile: str) -> tuple[int, ...]:
    lines = [
        c
        for c in reference.class_loas.get((state, class_code), [])
        if not _NOT_A_LINE.search(reference.loa_name(state, c))
    ]
    by_bucket: dict[str, list[int]] = {}
    for code in lines:
        by_bucket.setdefault(_bucket(reference.loa_name(state, code)), []).append(code)
    for bucket_codes in by_bucket.values():  # the plainest name first: "Life" before "Life (X)"
        bucket_codes.sort(key=lambda c: (len(reference.loa_name(state, c)), c))
    for alternative in _PROFILE_WANTS[profile]:
        if all(by_bucket.get(b) for b in alternative):
            return tuple(by_bucket[b][0] for b in alternative)
    # Nothing complete: whatever part of the profile the class carries (NY splits life/health
    # and property/casualty into two classes), else its first two lines.
    wanted = set().union(*(set(alt) for alt in _PROFILE_WANTS[profile]))
    partial = [
        by_bucket[b][0]
        for b in ("life", "health", "lh", "property", "casualty", "pc", "personal")
        if b in wanted and by_bucket.get(b)
    ]
    return tuple(partial) if partial else tuple(lines[:2])


def _covered(reference: Reference, state: str, codes: tuple[int, ...]) -> set[str]:
    buckets: set[str] = set()
    for code in codes:
        bucket = _bucket(reference.loa_name(state, code))
        buckets |= _COVERS.get(bucket, {bucket})
    return buckets


def _coverage(reference: Reference, state: str, class_code: int, profile: str) -> int:
    picked = _pick_lines(reference, state, class_code, profile)
    return len(_covered(reference, state, picked) & (_MAJOR_BUCKETS | {"personal"}))


def _build_templates(
    reference: Reference, state: str, resident: bool, profile: str, firm: bool
) -> tuple[LicenseTemplate, ...]:
    classes = reference.classes_for(state, resident, firm) or [
        reference.producer_classes[state][0][0]
    ]
    ranked = sorted(classes, key=lambda c: -_coverage(reference, state, c, profile))
    chosen = [ranked[0]]
    if profile == "all_lines" and len(ranked) > 1:
        # States that split life/health and property/casualty into two licenses (NY): an
        # all-lines producer holds both.
        first = _covered(reference, state, _pick_lines(reference, state, ranked[0], profile))
        for other in ranked[1:]:
            more = _covered(reference, state, _pick_lines(reference, state, other, profile))
            if more & _MAJOR_BUCKETS - first and not (more & first):
                chosen.append(other)
                break
    out = []
    for class_code in chosen:
        loas = _pick_lines(reference, state, class_code, profile)
        extras = tuple(
            c
            for c in reference.class_loas.get((state, class_code), [])
            if c not in loas and not _NOT_A_LINE.search(reference.loa_name(state, c))
        )
        out.append(
            LicenseTemplate(
                state,
                class_code,
                reference.class_names.get((state, class_code), "Producer"),
                loas,
                extras,
            )
        )
    return tuple(out)


def _templates(
    reference: Reference, state: str, resident: bool, profile: str, firm: bool
) -> list[LicenseTemplate]:
    key = (state, resident, profile, firm)
    cached = reference.template_cache.get(key)
    if cached is None:
        cached = reference.template_cache[key] = _build_templates(reference, *key)
    return list(cached)
