"""The customer's company setup: `companies.yaml` and `gateway_business_rules.csv`. Pure.

`load_company_config(config_dir, reference)` reads the companies (CoCode, name, FEIN, whether
producer assignments are required), the LOA categories each appoints for, its state settings
(state company id, JIT) and the lines the customer does business in; validates each table with
its pandera model (`schemas/reference.py`), then against the reference tables (a rule's line is
in NIPR's workbook, JIT only where the state allows it, a rule's company and state are set
up). It returns one DataFrame per table, or raises one `ConfigError` listing every problem,
each naming the file and the company or row. Separate from `reference_data.py`: this is one
customer's setup, checked against that shared data.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

# No types-PyYAML installed; mypy flags only the first importer (so: unused-ignore too).
import yaml  # type: ignore[import-untyped, unused-ignore]

from assets.reference.config_files import (
    CATEGORY_BY_LOWER,
    ConfigError,
    ConfigProblem,
    finish,
    is_blank,
    keys_of,
    pandera_problems,
    parse_bool,
    read_csv_file,
    read_yaml_file,
    row_number,
    show_value,
    type_columns,
)
from schemas.reference import COMPANY_CONFIG_MODELS, GatewayBusinessRulesModel, columns_of

COMPANIES_FILE = "companies.yaml"
GATEWAY_RULES_FILE = "gateway_business_rules.csv"
#: The company setup's tables, in the order they are loaded (and their models are declared).
COMPANY_CONFIG_KEYS: tuple[str, ...] = tuple(COMPANY_CONFIG_MODELS)
_GATEWAY_RULES = GatewayBusinessRulesModel
_GATEWAY_COLUMNS = columns_of(_GATEWAY_RULES)

_COMPANY_KEYS = {
    "cocode",
    "company_name",
    "fein",
    "producer_assignment_required",
    "loa_categories",
    "state_settings",
}
_SETTING_KEYS = {"state_code", "state_company_id", "jit"}


def _read_companies_yaml(path: Path, problems: list[ConfigProblem]) -> list[Any] | None:
    label = COMPANIES_FILE
    if not path.is_file():
        problems.append(ConfigProblem(label, None, None, str(path), f"file not found ({path})"))
        return None
    # BaseLoader keeps every scalar as text: "01234" stays "01234" (the default loader reads
    # an unquoted 01234 as the octal number 668), and we parse true/false ourselves.
    readable, document = read_yaml_file(path, label, problems, loader=yaml.BaseLoader)
    if not readable:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("companies"), list):
        problems.append(
            ConfigProblem(
                label,
                None,
                None,
                None,
                "expected a top-level 'companies:' list (see the comments at the top "
                "of the shipped file)",
            )
        )
        return None
    companies: list[Any] = document["companies"]
    return companies


def _company_frames(
    entries: list[Any], problems: list[ConfigProblem]
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[int, str]]]:
    """The three company tables from the YAML entries, with a locator for every row."""
    label = COMPANIES_FILE
    rows: dict[str, list[dict[str, Any]]] = {
        "companies": [],
        "company_loa_categories": [],
        "company_state_settings": [],
    }
    locators: dict[str, dict[int, str]] = {table: {} for table in rows}

    def add(table: str, row: dict[str, Any], locator: str) -> None:
        locators[table][len(rows[table])] = locator
        rows[table].append(row)

    def text(value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            problems.append(
                ConfigProblem(
                    label,
                    f"companies[{number}]",
                    None,
                    entry,
                    "each company must be a mapping of keys to values",
                )
            )
            continue
        cocode = text(entry.get("cocode"))
        here = f"company {cocode}" if isinstance(cocode, str) and cocode else f"companies[{number}]"
        for key in sorted(set(entry) - _COMPANY_KEYS):
            problems.append(
                ConfigProblem(
                    label,
                    here,
                    key,
                    key,
                    f"unknown key {key!r} (expected {', '.join(sorted(_COMPANY_KEYS))})",
                )
            )
        for key in ("cocode", "company_name", "loa_categories", "state_settings"):
            if key not in entry or is_blank(entry.get(key)):
                problems.append(ConfigProblem(label, here, key, None, f"{key} is required"))
        if not isinstance(cocode, str) or not cocode:
            continue
        assignment = entry.get("producer_assignment_required", "false")
        required = parse_bool(assignment)
        if required is None:
            problems.append(
                ConfigProblem(
                    label,
                    here,
                    "producer_assignment_required",
                    assignment,
                    f"producer_assignment_required {show_value(assignment)} is not true or false",
                )
            )
        fein = text(entry.get("fein"))
        add(
            "companies",
            {
                "cocode": cocode,
                "company_name": text(entry.get("company_name")) or "",
                "fein": None if is_blank(fein) else str(fein),
                "producer_assignment_required": bool(required),
            },
            here,
        )

        categories = entry.get("loa_categories") or []
        if not isinstance(categories, list):
            problems.append(
                ConfigProblem(
                    label,
                    here,
                    "loa_categories",
                    categories,
                    "loa_categories must be a list, e.g. [Life, Property]",
                )
            )
            categories = []
        for position, category in enumerate(categories, start=1):
            if not isinstance(category, str):
                problems.append(
                    ConfigProblem(
                        label,
                        f"{here}, loa_categories[{position}]",
                        None,
                        category,
                        "category must be a name",
                    )
                )
                continue
            name = CATEGORY_BY_LOWER.get(category.strip().lower(), category.strip())
            add(
                "company_loa_categories",
                {"cocode": cocode, "loa_category": name},
                f"{here}, loa_categories[{position}]",
            )

        settings = entry.get("state_settings") or []
        if not isinstance(settings, list):
            problems.append(
                ConfigProblem(
                    label, here, "state_settings", None, "state_settings must be a list of entries"
                )
            )
            settings = []
        for position, setting in enumerate(settings, start=1):
            at = f"{here}, state_settings[{position}]"
            if not isinstance(setting, dict):
                problems.append(
                    ConfigProblem(
                        label,
                        at,
                        None,
                        setting,
                        "each state setting must be a mapping {state_code, state_company_id, jit}",
                    )
                )
                continue
            for key in sorted(set(setting) - _SETTING_KEYS):
                problems.append(
                    ConfigProblem(
                        label,
                        at,
                        key,
                        key,
                        f"unknown key {key!r} (expected {', '.join(sorted(_SETTING_KEYS))})",
                    )
                )
            state = text(setting.get("state_code"))
            if is_blank(state) or not isinstance(state, str):
                problems.append(
                    ConfigProblem(label, at, "state_code", None, "state_code is required")
                )
                continue
            jit_raw = setting.get("jit", "false")
            jit = parse_bool(jit_raw)
            if jit is None:
                problems.append(
                    ConfigProblem(
                        label, at, "jit", jit_raw, f"jit {show_value(jit_raw)} is not true or false"
                    )
                )
            company_id = text(setting.get("state_company_id"))
            add(
                "company_state_settings",
                {
                    "cocode": cocode,
                    "state_code": state.upper(),
                    "state_company_id": None if is_blank(company_id) else str(company_id),
                    "jit": bool(jit),
                },
                at,
            )

    columns = {table: columns_of(COMPANY_CONFIG_MODELS[table]) for table in rows}
    frames = {}
    for table, table_rows in rows.items():
        frame = pd.DataFrame(table_rows, columns=columns[table])
        for column, dtype in frame.dtypes.items():
            if column in ("producer_assignment_required", "jit"):
                frame[column] = frame[column].astype(bool)
            elif dtype.kind != "b":
                frame[column] = frame[column].astype("str")
        frames[table] = frame
    return frames, locators


def _reference_for_company_checks(
    reference: Mapping[str, pd.DataFrame],
) -> dict[str, Any]:
    """What the company checks need, tolerant of frames read back from a database."""

    def codes(table: str, columns: list[str]) -> set[tuple[str, ...]] | None:
        frame = reference.get(table)
        if frame is None:
            return None
        return set(
            frame[columns]
            .astype(str)
            .apply(lambda s: s.str.strip())
            .itertuples(index=False, name=None)
        )

    rules = reference.get("state_appointment_rules")
    no_jit: set[str] | None = None
    if rules is not None:
        allowed = rules["jit_allowed"].map(parse_bool)
        no_jit = set(rules.loc[allowed != True, "state_code"].astype(str))  # noqa: E712
    return {
        "lines": codes("license_class_loas", ["state_code", "license_class_code", "loa_code"]),
        "categories": codes("loa_categories", ["state_code", "loa_code", "loa_category"]),
        "no_jit": no_jit,
    }


def load_company_config(
    config_dir: Path, reference: Mapping[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """The customer's company tables, validated against `reference`.

    Reads `companies.yaml` and `gateway_business_rules.csv` from `config_dir`. `reference`
    needs `license_class_loas`, `loa_categories` and `state_appointment_rules` (as returned by
    `load_reference_data`, or read back from the database). Keys: companies,
    company_loa_categories, company_state_settings, gateway_business_rules. Raises ConfigError
    listing every problem.
    """
    config_dir = Path(config_dir)
    problems: list[ConfigProblem] = []
    entries = _read_companies_yaml(config_dir / COMPANIES_FILE, problems)
    frames, locators = _company_frames(entries or [], problems)

    for table in ("companies", "company_loa_categories", "company_state_settings"):
        at = locators[table]

        def where(index: Hashable, at: dict[int, str] = at) -> str | None:
            return at.get(int(index)) if isinstance(index, int) else None

        describe = None
        if table == "company_state_settings":
            describe = lambda r: f"state {r['state_code']!r}"  # noqa: E731
        elif table == "company_loa_categories":
            describe = lambda r: f"category {r['loa_category']!r}"  # noqa: E731
        elif table == "companies":
            describe = lambda r: f"CoCode {r['cocode']!r}"  # noqa: E731
        found = pandera_problems(
            frames[table], COMPANY_CONFIG_MODELS[table], COMPANIES_FILE, where, describe
        )
        if table != "companies":  # a bad CoCode is reported once, on the company itself
            found = [p for p in found if p.column != "cocode"]
        problems += found

    label = GATEWAY_RULES_FILE
    raw = read_csv_file(config_dir / label, label, problems)
    if raw is not None:
        rules = type_columns(raw, _GATEWAY_RULES, label, row_number, problems)
        if set(_GATEWAY_COLUMNS) <= set(rules.columns):
            rules = rules[_GATEWAY_COLUMNS]
            problems += pandera_problems(
                rules,
                COMPANY_CONFIG_MODELS["gateway_business_rules"],
                label,
                row_number,
                lambda r: (
                    f"line (company {r['cocode']}, {r['state_code']}, class "
                    f"{r['license_class_code']}, LOA {r['loa_code']})"
                ),
            )
        frames["gateway_business_rules"] = rules
    else:
        frames["gateway_business_rules"] = pd.DataFrame(columns=_GATEWAY_COLUMNS).astype(
            {"active": bool}
        )

    problems += _company_cross_checks(
        frames, locators, _reference_for_company_checks(reference), entries is not None
    )
    if problems:
        raise ConfigError(problems)
    return {
        table: finish(frames[table], COMPANY_CONFIG_MODELS[table]) for table in COMPANY_CONFIG_KEYS
    }


def _company_cross_checks(
    frames: dict[str, pd.DataFrame],
    locators: dict[str, dict[int, str]],
    reference: dict[str, Any],
    companies_readable: bool = True,
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    companies = frames["companies"]
    settings = frames["company_state_settings"]
    categories = frames["company_loa_categories"]
    rules = frames["gateway_business_rules"]

    no_jit = reference["no_jit"]
    if no_jit is not None:
        for index, row in settings[
            settings["jit"] & settings["state_code"].isin(no_jit)
        ].iterrows():
            problems.append(
                ConfigProblem(
                    COMPANIES_FILE,
                    locators["company_state_settings"].get(index),
                    "jit",
                    row["state_code"],
                    f"jit is true for state {row['state_code']!r}, but "
                    "state_appointment_rules.csv says that state does not allow "
                    "just-in-time appointments: set jit: false",
                )
            )

    if rules.empty or "cocode" not in rules.columns:
        return problems
    known_companies = set(companies["cocode"])
    known_settings = keys_of(settings, ["cocode", "state_code"])
    company_categories = keys_of(categories, ["cocode", "loa_category"])
    lines = reference["lines"]
    line_categories = reference["categories"]
    # A missing company or state setting affects every rule of it: one problem per company
    # (or company and state), naming its rows, instead of one per rule.
    unknown_company: dict[str, list[int]] = {}
    unset_state: dict[tuple[str, str], list[int]] = {}
    for index, row in rules.iterrows():
        cocode, state = row["cocode"], row["state_code"]
        klass, loa, category = row["license_class_code"], row["loa_code"], row["loa_category"]
        if not companies_readable:
            pass  # companies.yaml could not be read (reported): check only the lines
        elif cocode not in known_companies:
            unknown_company.setdefault(cocode, []).append(int(index))
            continue
        elif (cocode, state) not in known_settings:
            unset_state.setdefault((cocode, state), []).append(int(index))
        head = f"company {cocode}, {state}, class {klass}, LOA {loa}: "

        def problem(
            value: Any, column: str, message: str, index: Hashable = index, head: str = head
        ) -> None:
            problems.append(
                ConfigProblem(GATEWAY_RULES_FILE, row_number(index), column, value, head + message)
            )

        if lines is not None and (state, klass, loa) not in lines:
            problem(
                loa,
                "loa_code",
                f"line LOA {loa!r} of license class {klass!r} is not in "
                f"NIPR's workbook for {state}",
            )
            continue
        if is_blank(category) or not companies_readable:
            continue
        if (cocode, category) not in company_categories:
            problem(
                category,
                "loa_category",
                f"category {category!r} is not among company "
                f"{cocode}'s loa_categories in {COMPANIES_FILE}",
            )
        elif line_categories is not None and (state, loa, category) not in line_categories:
            problem(
                category,
                "loa_category",
                f"LOA {loa!r} is not in category {category!r} for {state} in loa_categories.csv",
            )
    for cocode, rows in unknown_company.items():
        problems.append(
            ConfigProblem(
                GATEWAY_RULES_FILE,
                rows[0],
                "cocode",
                cocode,
                f"company {cocode}: CoCode {cocode!r} is not a company in "
                f"{COMPANIES_FILE} ({_rows_text(rows)})",
            )
        )
    for (cocode, state), rows in unset_state.items():
        problems.append(
            ConfigProblem(
                GATEWAY_RULES_FILE,
                rows[0],
                "state_code",
                state,
                f"company {cocode} has no state setting for {state!r} in "
                f"{COMPANIES_FILE}: add one, or remove its rules ({_rows_text(rows)})",
            )
        )
    return problems


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"{len(rows)} rule{'s' if len(rows) != 1 else ''}: row{'s' if len(rows) != 1 else ''} {shown}{more}"
