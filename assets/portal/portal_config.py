"""Read and check `config/portals.yaml`, the customer's portals and their seats. Pure: no
Dagster, no database.

`load_portal_config(config_dir)` returns one row per portal (portal_id, portal_name,
seats_total, registration_url), or None when the file does not exist (then the portals in the
database are left as they are: a missing file is not a request to remove them). Every problem
is reported at once, in one `ConfigError` (the same as the company setup's), naming the file,
the portal and the value, so an analyst fixes the file in one pass.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

# No types-PyYAML installed; mypy flags only the first importer (so: unused-ignore too).
import yaml  # type: ignore[import-untyped, unused-ignore]

from assets.reference.loading import ConfigError, ConfigProblem, read_yaml_file
from schemas.tables import portals as portals_table

PORTALS_FILE = "portals.yaml"
# The file's keys are the `portals` table's columns: each entry becomes one row of it.
PORTAL_COLUMNS = tuple(column.name for column in portals_table.columns)
_KEYS = frozenset(PORTAL_COLUMNS)
# Ids are typed on the command line and the Launchpad: keep them short and plain.
_PORTAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# The link carries the invitation token: only https leaves the machine.
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"registration_url {url!r} must be a web address (https://...)"
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        return (
            f"registration_url {url!r} must use https: the invitation link carries the "
            "producer's registration token"
        )
    return None


def _read_document(path: Path, problems: list[ConfigProblem]) -> list[Any] | None:
    readable, document = read_yaml_file(path, PORTALS_FILE, problems, loader=yaml.SafeLoader)
    if not readable:
        return None
    portals = document.get("portals") if isinstance(document, dict) else None
    if portals is None and isinstance(document, dict) and "portals" in document:
        return []  # `portals:` with nothing under it: no portals
    if not isinstance(portals, list):
        problems.append(
            ConfigProblem(
                PORTALS_FILE,
                None,
                None,
                None,
                "expected a top-level 'portals:' list "
                "(see the comments at the top of the shipped file)",
            )
        )
        return None
    return portals


def _entry_row(
    number: int, entry: Any, problems: list[ConfigProblem]
) -> tuple[str, dict[str, Any]] | None:
    """One portal's row, or None (its problems recorded)."""
    if not isinstance(entry, dict):
        problems.append(
            ConfigProblem(
                PORTALS_FILE,
                f"portals[{number}]",
                None,
                entry,
                "each portal must be a mapping of keys to values",
            )
        )
        return None
    portal_id = entry.get("portal_id")
    portal_id = portal_id.strip() if isinstance(portal_id, str) else portal_id
    here = (
        f"portal {portal_id}" if isinstance(portal_id, str) and portal_id else f"portals[{number}]"
    )
    found = len(problems)
    for key in sorted(set(entry) - _KEYS, key=str):
        problems.append(
            ConfigProblem(
                PORTALS_FILE,
                here,
                str(key),
                key,
                f"unknown key {key!r} (expected {', '.join(PORTAL_COLUMNS)})",
            )
        )
    for key in PORTAL_COLUMNS:
        if _blank(entry.get(key)):
            problems.append(ConfigProblem(PORTALS_FILE, here, key, None, f"{key} is required"))
    if not _blank(portal_id) and (
        not isinstance(portal_id, str) or not _PORTAL_ID.fullmatch(portal_id)
    ):
        problems.append(
            ConfigProblem(
                PORTALS_FILE,
                here,
                "portal_id",
                portal_id,
                f"portal_id {portal_id!r} must be letters, digits, '-', "
                "'_' or '.' (up to 64), starting with a letter or digit",
            )
        )
    name = entry.get("portal_name")
    if not _blank(name) and not isinstance(name, str):
        problems.append(
            ConfigProblem(PORTALS_FILE, here, "portal_name", name, "portal_name must be text")
        )
    seats = entry.get("seats_total")
    if seats is not None and (isinstance(seats, bool) or not isinstance(seats, int) or seats < 0):
        problems.append(
            ConfigProblem(
                PORTALS_FILE,
                here,
                "seats_total",
                seats,
                f"seats_total {seats!r} must be a whole number, 0 or more",
            )
        )
    url = entry.get("registration_url")
    if not _blank(url):
        message = _url_problem(url.strip()) if isinstance(url, str) else "must be text"
        if message:
            problems.append(ConfigProblem(PORTALS_FILE, here, "registration_url", url, message))
    if len(problems) > found:
        return None
    # The checks above reported anything else; this only tells the type checker what they proved.
    if not (isinstance(name, str) and isinstance(seats, int) and isinstance(url, str)):
        return None
    return here, {
        "portal_id": portal_id,
        "portal_name": " ".join(name.split()),
        "seats_total": int(seats),
        "registration_url": url.strip(),
    }


def load_portal_config(config_dir: Path) -> pd.DataFrame | None:
    """The configured portals (see the module docstring); raises ConfigError."""
    path = Path(config_dir) / PORTALS_FILE
    if not path.is_file():
        return None
    problems: list[ConfigProblem] = []
    entries = _read_document(path, problems)
    rows: list[tuple[str, dict[str, Any]]] = []
    for number, entry in enumerate(entries or [], start=1):
        checked = _entry_row(number, entry, problems)
        if checked is not None:
            rows.append(checked)
    # A request names a portal by id or by name, so no two portals may share either, and no
    # portal's name may be another's id.
    ids: dict[str, str] = {}
    names: dict[str, str] = {}
    for here, row in rows:
        portal_key, name_key = _key(row["portal_id"]), _key(row["portal_name"])
        if portal_key in ids:
            problems.append(
                ConfigProblem(
                    PORTALS_FILE,
                    here,
                    "portal_id",
                    row["portal_id"],
                    f"portal_id {row['portal_id']!r} is used twice (also {ids[portal_key]})",
                )
            )
        if name_key in names:
            problems.append(
                ConfigProblem(
                    PORTALS_FILE,
                    here,
                    "portal_name",
                    row["portal_name"],
                    f"portal_name {row['portal_name']!r} is used twice (also {names[name_key]})",
                )
            )
        ids.setdefault(portal_key, here)
        names.setdefault(name_key, here)
    for here, row in rows:
        owner = ids.get(_key(row["portal_name"]))
        if owner is not None and owner != here:
            problems.append(
                ConfigProblem(
                    PORTALS_FILE,
                    here,
                    "portal_name",
                    row["portal_name"],
                    f"portal_name {row['portal_name']!r} is the portal_id "
                    f"of {owner}: a request naming it would be ambiguous",
                )
            )
    if problems:
        raise ConfigError(problems)
    frame = pd.DataFrame([row for _, row in rows], columns=list(PORTAL_COLUMNS))
    frame["seats_total"] = frame["seats_total"].astype("int64")
    return frame
