"""Apply a parsed NIPR report to the current-state rows of the producers it covers. Pure.

No Dagster, no database: the caller reads the current rows of the affected producers (the
four tables and their `nipr_scope_reports` rows), calls `apply_report`, and writes what comes
back in one transaction (`assets/nipr/store.py`).

The unit of replacement is a *scope*, `(npn, state_code, category)`:

- LICENSING: the producer's `licenses` and `license_loas` in that state;
- APPOINTMENTS: the producer's `appointments` in that state;
- DEMOGRAPHICS: the producer's names and email (`producers`; our tables keep no per-state
  demographics, so an applied DEMOGRAPHICS scope of any state updates them).

PDB Alerts resend a changed category whole for a state, and an empty scope means "everything
of that category was deleted there" (parsing.py). So every reported scope *replaces* the
stored rows of that scope by the report's rows, and a scope without rows deletes them. Rows
of other states and categories are never touched.

Entity Info is a full picture of a producer: it covers LICENSING and APPOINTMENTS in every
state the producer has rows in now *or* in the report, so states NIPR no longer lists are
deleted.

Which data wins. Each applied scope records `data_as_of` (when NIPR's data was current: the
Alerts report's `MessageDateTime`, else the time the reply was fetched). A scope is replaced
only when the incoming `data_as_of` is at least the stored one (or none is stored); older
scopes are skipped and counted. Hence:
- re-applying the same report is a no-op (same data, same as-of: replaced by itself);
- applying an older day after a newer one never overwrites newer data, which makes backfills
  and out-of-order re-processing safe (NIPR: "Alerts will always provide current data so it
  is OK if reports are retrieved and processed out of order");
- a deletion is recorded like any other scope, so an older report cannot resurrect it.

Everything here is joins and anti-joins over frames; there is no Python loop per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from assets.nipr.parsing import (
    APPOINTMENT_COLUMNS,
    APPOINTMENTS,
    DEMOGRAPHICS,
    ENTITY_INFO,
    LICENSE_COLUMNS,
    LICENSE_LOA_COLUMNS,
    LICENSING,
    ParsedReport,
)

__all__ = [
    "CATEGORY_OF_TABLE",
    "DATA_TABLES",
    "NAME_COLUMNS",
    "PRIMARY_KEYS",
    "SCOPE_REPORT_COLUMNS",
    "Application",
    "CurrentRows",
    "apply_report",
    "utc_series",
]

DATA_TABLES = ("licenses", "license_loas", "appointments")
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "licenses": LICENSE_COLUMNS,
    "license_loas": LICENSE_LOA_COLUMNS,
    "appointments": APPOINTMENT_COLUMNS,
}
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "licenses": ("npn", "state_code", "license_number", "license_class_code"),
    "license_loas": ("npn", "state_code", "license_number", "license_class_code", "loa_code"),
    "appointments": ("npn", "state_code", "cocode", "loa_code"),
}
CATEGORY_OF_TABLE = {
    "licenses": LICENSING,
    "license_loas": LICENSING,
    "appointments": APPOINTMENTS,
}
NAME_COLUMNS = ("first_name", "last_name", "email")
SCOPE_KEY = ["npn", "state_code", "category"]
STATE_KEY = ["npn", "state_code"]
SCOPE_REPORT_COLUMNS = (
    "npn",
    "state_code",
    "category",
    "data_as_of",
    "report_date",
    "source",
    "applied_at",
)
_TIMESTAMP_COLUMNS = frozenset({"nipr_updated_at"})
_BOOL_COLUMNS = frozenset({"is_active", "is_resident"})
_DATE_COLUMNS = frozenset(
    {"issue_date", "expiration_date", "effective_date", "status_reason_date", "renewal_date"}
)


def _empty(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in columns})


@dataclass(frozen=True, eq=False)
class CurrentRows:
    """Current-state rows of some producers, as read from the database.

    `producers` needs npn and the NAME_COLUMNS; the data tables need their SPEC columns;
    `scope_reports` needs npn, state_code, category and data_as_of (naive values are UTC).
    """

    producers: pd.DataFrame = field(default_factory=lambda: _empty(("npn", *NAME_COLUMNS)))
    licenses: pd.DataFrame = field(default_factory=lambda: _empty(LICENSE_COLUMNS))
    license_loas: pd.DataFrame = field(default_factory=lambda: _empty(LICENSE_LOA_COLUMNS))
    appointments: pd.DataFrame = field(default_factory=lambda: _empty(APPOINTMENT_COLUMNS))
    scope_reports: pd.DataFrame = field(default_factory=lambda: _empty(SCOPE_REPORT_COLUMNS))

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)


@dataclass(frozen=True, eq=False)
class Application:
    """What applying one report does, and the rows that result.

    To write it: for each data table, delete the rows of `cleared[table]` (npn, state_code)
    and insert `inserted[table]`, of the scopes that changed (`rewrites`); update
    `producer_updates` (npn + NAME_COLUMNS); upsert `scope_reports` (every applied scope). `result` is the given current rows with all of that done (built when
    first asked for: the writes need only the changes).
    """

    source: str
    data_as_of: pd.Timestamp  # the report's as-of (given per NPN: the newest of them)
    cleared: dict[str, pd.DataFrame]  # table -> (npn, state_code) whose rows are replaced
    deleted: dict[str, int]  # table -> rows those scopes held before
    inserted: dict[str, pd.DataFrame]  # table -> the report's rows for those scopes
    producer_updates: pd.DataFrame  # npn + NAME_COLUMNS, final values, changed rows only
    scope_reports: pd.DataFrame  # SCOPE_REPORT_COLUMNS rows to upsert (applied scopes)
    # npn, state_code, category, rows_before, rows_after, loas_before, loas_after, changed
    applied_scopes: pd.DataFrame
    skipped_scopes: pd.DataFrame  # npn, state_code, category, stored_as_of (newer than ours)
    ignored_npns: tuple[str, ...]  # in the report, not tracked by us
    ignored_rows: int  # report rows of those NPNs
    unusable_rows: int  # report rows without a full key, or repeating a key
    build_result: Callable[[], CurrentRows] = field(repr=False)

    @cached_property
    def result(self) -> CurrentRows:
        return self.build_result()

    def rewrites(self, table: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """What writing `table` takes: the (npn, state_code) pairs of `cleared[table]` to
        clear and the rows of `inserted[table]` to insert, of the applied scopes whose content
        changed only. An unchanged scope's stored rows already are the report's (the same
        multiset of canonical rows, every column: `applied_scopes.changed`), so rewriting
        them would only churn the table, its indexes and the log: on a usual day most of the
        scopes NIPR sends are unchanged (1,988 of 18,156 in bench/e2e_daily_sync.py)."""
        scopes = self.applied_scopes
        wanted = scopes["changed"].to_numpy(dtype=bool) & (
            scopes["category"] == CATEGORY_OF_TABLE[table]
        ).to_numpy(dtype=bool)
        keys = set(_key(scopes.loc[wanted, list(STATE_KEY)], STATE_KEY))
        cleared, inserted = self.cleared[table], self.inserted[table]
        return (
            cleared[_key(cleared, STATE_KEY).isin(keys).to_numpy(dtype=bool)],
            inserted[_key(inserted, STATE_KEY).isin(keys).to_numpy(dtype=bool)],
        )

    @property
    def changed_scopes(self) -> pd.DataFrame:
        """Applied scopes whose content differs from what was stored."""
        return self.applied_scopes[self.applied_scopes["changed"]].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        """Plain numbers for logs, the report-day ledger and asset metadata."""
        counts = {
            "scopes_applied": len(self.applied_scopes),
            "scopes_changed": int(self.applied_scopes["changed"].sum()),
            "scopes_skipped_as_older": len(self.skipped_scopes),
            "producers_updated": len(self.producer_updates),
            "ignored_npns": len(self.ignored_npns),
            "ignored_rows": self.ignored_rows,
            "unusable_rows": self.unusable_rows,
        }
        for table in DATA_TABLES:
            counts[f"{table}_deleted"] = self.deleted[table]
            counts[f"{table}_inserted"] = len(self.inserted[table])
        return counts


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

_SEP = "\x1f"  # joins key columns into one string key (never inside an NPN or a code)


def apply_report(
    current: CurrentRows,
    report: ParsedReport,
    *,
    data_as_of: dt.datetime | Mapping[str, dt.datetime] | pd.Series,
    tracked_npns: Iterable[str],
    applied_at: dt.datetime,
    report_date: dt.date | None = None,
) -> Application:
    """Apply `report` (data current as of `data_as_of`) to `current`, for tracked NPNs only.

    `current` must hold every current row of the report's tracked producers (it may hold
    more); for an Alerts report, which replaces only the scopes it names, the rows and ledger
    rows of its scopes' (npn, state) pairs are enough (and `result` then holds those states). `report_date` is the Alerts day being applied (None for Entity Info); it is only
    recorded. Rows of untracked NPNs are counted and ignored.

    `data_as_of` is one time for the whole report, or a time per tracked NPN (a mapping or a
    Series indexed by NPN): the initial sync applies many producers' Entity Info replies at
    once, each current as of its own fetch, and every producer's scopes keep its own as-of.
    """
    tracked = {str(n) for n in tracked_npns}
    as_of, as_of_by_npn = _as_of(data_as_of, tracked)
    source = report.report_kind

    incoming, unusable = _usable_rows(report)
    report_npns = set(report.reported_scopes["npn"].dropna().astype(str))
    report_npns.update(report.producers["npn"].dropna().astype(str))
    for table in DATA_TABLES:
        report_npns.update(incoming[table]["npn"].astype(str))
    ignored = report_npns - tracked
    ignored_rows = sum(int(incoming[t]["npn"].isin(ignored).sum()) for t in DATA_TABLES)

    scopes = report.reported_scopes[SCOPE_KEY].dropna().astype(str)
    scopes = scopes[scopes["npn"].isin(tracked)].drop_duplicates()
    if source == ENTITY_INFO:
        scopes = _full_picture(scopes, current, report_npns & tracked)
    scopes = scopes.reset_index(drop=True)

    # The as-of rule: replace a scope only with data at least as new as what is stored.
    stored = _canonical_scopes(current.scope_reports)
    stored_as_of = (
        stored.assign(key=_key(stored, SCOPE_KEY))
        .sort_values("data_as_of")
        .drop_duplicates("key", keep="last")
        .set_index("key")["data_as_of"]
    )
    incoming_as_of = stored_as_of.reindex(_key(scopes, SCOPE_KEY)).reset_index(drop=True)
    scope_as_of = as_of if as_of_by_npn is None else scopes["npn"].map(as_of_by_npn)
    take = (incoming_as_of.isna() | (incoming_as_of <= scope_as_of)).to_numpy()
    applied = scopes[take].reset_index(drop=True)
    skipped = scopes[~take].assign(stored_as_of=incoming_as_of[~take])
    skipped = skipped.reset_index(drop=True)

    applied_keys = _key(applied, SCOPE_KEY)
    cleared: dict[str, pd.DataFrame] = {}
    deleted: dict[str, int] = {}
    inserted: dict[str, pd.DataFrame] = {}
    kept: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    hits: dict[str, np.ndarray] = {}
    removed_rows: list[tuple[pd.DataFrame, pd.Series, str]] = []
    for table in DATA_TABLES:
        category = CATEGORY_OF_TABLE[table]
        keys = applied.loc[applied["category"] == category, STATE_KEY]
        key_set = set(_key(keys, STATE_KEY))
        before = _canonical(current.table(table), table)
        before_keys = _key(before, STATE_KEY)
        hit = before_keys.isin(key_set).to_numpy()
        rows = incoming[table]
        rows = _canonical(rows[_key(rows, STATE_KEY).isin(key_set).to_numpy()], table)
        cleared[table] = keys.reset_index(drop=True)
        deleted[table] = int(hit.sum())
        inserted[table] = rows
        kept[table] = (before, rows)
        hits[table] = hit
        removed_rows.append((before[hit], before_keys[hit] + _SEP + category, table))
        removed_rows.append((rows, _key(rows, STATE_KEY) + _SEP + category, table))
    summary = _describe(applied, applied_keys, removed_rows)

    producers, updates = _update_names(current.producers, report.producers, applied)
    demographics = (summary["category"] == DEMOGRAPHICS).to_numpy()
    summary.loc[demographics, "changed"] = summary.loc[demographics, "npn"].isin(updates["npn"])

    scope_rows = applied.assign(
        data_as_of=as_of if as_of_by_npn is None else applied["npn"].map(as_of_by_npn),
        report_date=report_date,
        source=source,
        applied_at=_utc_timestamp(applied_at),
    )[list(SCOPE_REPORT_COLUMNS)]

    def build_result() -> CurrentRows:
        tables = {
            table: _concat([before[~hits[table]], rows], TABLE_COLUMNS[table])
            for table, (before, rows) in kept.items()
        }
        remaining = stored[~_key(stored, SCOPE_KEY).isin(set(applied_keys)).to_numpy()]
        return CurrentRows(
            producers=producers,
            scope_reports=_concat([remaining, scope_rows], SCOPE_REPORT_COLUMNS),
            **tables,
        )

    return Application(
        source=source,
        data_as_of=as_of,
        cleared=cleared,
        deleted=deleted,
        inserted=inserted,
        producer_updates=updates,
        scope_reports=scope_rows.reset_index(drop=True),
        applied_scopes=summary,
        skipped_scopes=skipped,
        ignored_npns=tuple(sorted(ignored)),
        ignored_rows=ignored_rows,
        unusable_rows=unusable,
        build_result=build_result,
    )


# --------------------------------------------------------------------------------------------
# Scopes
# --------------------------------------------------------------------------------------------


def _full_picture(scopes: pd.DataFrame, current: CurrentRows, npns: set[str]) -> pd.DataFrame:
    """Entity Info: LICENSING and APPOINTMENTS in every state the producer has now or in the
    report (so a state NIPR no longer lists is a scope without rows: deleted)."""
    recorded = current.scope_reports
    reported = scopes[scopes["category"].isin([LICENSING, APPOINTMENTS])]
    recorded = recorded[recorded["category"].isin([LICENSING, APPOINTMENTS])]
    sources = [*(current.table(t) for t in DATA_TABLES), recorded, reported]
    states = pd.DataFrame(
        {
            name: np.concatenate([f[name].to_numpy(dtype=object) for f in sources])
            for name in STATE_KEY
        }
    )
    states = states[states["npn"].isin(npns) & states["state_code"].notna()]
    states = states.astype(str).drop_duplicates()
    full = pd.DataFrame(
        {
            "npn": np.repeat(states["npn"].to_numpy(dtype=object), 2),
            "state_code": np.repeat(states["state_code"].to_numpy(dtype=object), 2),
            "category": np.tile(np.array([LICENSING, APPOINTMENTS], dtype=object), len(states)),
        }
    )
    demographics = scopes[scopes["category"] == DEMOGRAPHICS]
    return _concat([full, demographics], SCOPE_KEY)


def _canonical_scopes(scope_reports: pd.DataFrame) -> pd.DataFrame:
    frame = scope_reports.reindex(columns=list(SCOPE_REPORT_COLUMNS))
    return frame.assign(
        data_as_of=utc_series(frame["data_as_of"]),
        applied_at=utc_series(frame["applied_at"]),
    )


def _describe(
    applied: pd.DataFrame,
    applied_keys: pd.Series,
    sides: list[tuple[pd.DataFrame, pd.Series, str]],
) -> pd.DataFrame:
    """Per applied scope: rows before and after, and whether the content changed.

    `sides` alternates (rows removed, scope keys, table) and (rows inserted, ...). A scope is
    unchanged when its rows are the same multiset before and after: same counts, and the
    wrapping sum of row hashes before minus after is zero. Rows are canonical (Python
    values), so equal rows hash equally whichever side they came from; `map` hashes in C.
    """
    keys: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    columns: list[np.ndarray] = []
    for number, (rows, scope_keys, table) in enumerate(sides):
        if rows.empty:
            continue
        after = number % 2 == 1
        row_hashes = np.fromiter(
            map(hash, map(tuple, rows.to_numpy(dtype=object))), dtype=np.int64, count=len(rows)
        ).view(np.uint64)
        keys.append(scope_keys.to_numpy(dtype=object))
        hashes.append(np.uint64(0) - row_hashes if after else row_hashes)
        prefix = "loas" if table == "license_loas" else "rows"
        columns.append(np.full(len(rows), f"{prefix}_{'after' if after else 'before'}"))
    summary = applied.copy()
    count_columns = ["rows_before", "rows_after", "loas_before", "loas_after"]
    if not keys:
        summary[count_columns] = 0
        summary["changed"] = False
        return summary
    frame = pd.DataFrame(
        {
            "key": np.concatenate(keys),
            "h": np.concatenate(hashes),
            "column": np.concatenate(columns),
        }
    )
    difference = frame.groupby("key")["h"].sum()  # uint64: wraps, so before - after == 0
    counts = frame.groupby(["key", "column"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=count_columns, fill_value=0).reindex(applied_keys)
    for name in count_columns:
        summary[name] = counts[name].fillna(0).astype(int).to_numpy()
    summary["changed"] = (
        (summary["rows_before"] != summary["rows_after"])
        | (summary["loas_before"] != summary["loas_after"])
        | (difference.reindex(applied_keys).fillna(0).to_numpy() != 0)
    ).to_numpy()
    return summary


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def _usable_rows(report: ParsedReport) -> tuple[dict[str, pd.DataFrame], int]:
    """The report's rows that can be stored: full primary key, one row per key (the last)."""
    usable: dict[str, pd.DataFrame] = {}
    dropped = 0
    for table in DATA_TABLES:
        frame = getattr(report, table)
        key = list(PRIMARY_KEYS[table])
        deduplicated = frame.dropna(subset=key).drop_duplicates(subset=key, keep="last")
        dropped += len(frame) - len(deduplicated)
        usable[table] = deduplicated.reset_index(drop=True)
    return usable, dropped


def _canonical(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """One representation for rows from the parser and from the database: object columns,
    None for missing, `datetime.date` dates, Python bools, UTC timestamps."""
    columns = list(TABLE_COLUMNS[table])
    if frame.empty:
        return _empty(columns)
    frame = frame.reindex(columns=columns)
    dates = {
        name: frame[name].dt.date
        for name in _DATE_COLUMNS.intersection(columns)
        if pd.api.types.is_datetime64_any_dtype(frame[name].dtype)
    }
    stamps = {name: utc_series(frame[name]) for name in _TIMESTAMP_COLUMNS.intersection(columns)}
    values = frame.to_numpy(dtype=object, copy=True)
    values[pd.isna(values)] = None
    out = pd.DataFrame(values, columns=columns, dtype=object)
    for name, series in {**dates, **stamps}.items():
        column = series.to_numpy(dtype=object, copy=True)
        column[pd.isna(column)] = None
        out[name] = column
    return out


def _update_names(
    current: pd.DataFrame, reported: pd.DataFrame, applied: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Names and email of producers with an applied DEMOGRAPHICS scope, where NIPR sent them
    (a value NIPR left empty keeps ours: firms have no first name, some records no email)."""
    columns = ["npn", *NAME_COLUMNS]
    names = list(NAME_COLUMNS)
    now = current.reindex(columns=columns)
    npns = set(applied.loc[applied["category"] == DEMOGRAPHICS, "npn"])
    old = now[names].to_numpy(dtype=object, copy=True)
    old[pd.isna(old)] = None
    if not npns or now.empty:
        return pd.DataFrame(
            {"npn": now["npn"].to_numpy(dtype=object), **dict(zip(names, old.T, strict=True))}
        ), _empty(columns)
    incoming = reported.reindex(columns=columns)
    incoming = incoming[incoming["npn"].isin(npns)].drop_duplicates("npn", keep="last")
    sent = incoming.set_index("npn")[names].reindex(now["npn"]).to_numpy(dtype=object)
    new = np.where(pd.isna(sent), old, sent)
    changed = (new != old).any(axis=1)
    result = pd.DataFrame(new, columns=names, dtype=object)
    result.insert(0, "npn", now["npn"].to_numpy(dtype=object))
    return result, result[changed].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _key(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The columns joined into one string per row (a cheap composite key for isin/map)."""
    if frame.empty:
        return pd.Series([], index=frame.index, dtype=object)
    out = frame[columns[0]].astype(str)
    for name in columns[1:]:
        out = out + _SEP + frame[name].astype(str)
    return out


def _concat(frames: list[pd.DataFrame], columns: Iterable[str]) -> pd.DataFrame:
    columns = list(columns)
    parts = [f.reindex(columns=columns).astype(object) for f in frames if len(f)]
    if not parts:
        return _empty(columns)
    return pd.concat(parts, ignore_index=True)


def utc_series(series: pd.Series) -> pd.Series:
    """Timestamps as UTC (naive values are taken as UTC, as SQLite hands them back)."""
    if series.empty:
        return pd.Series([], index=series.index, dtype="datetime64[us, UTC]")
    return pd.to_datetime(series, utc=True, format="mixed")


def _as_of(
    data_as_of: dt.datetime | Mapping[str, dt.datetime] | pd.Series, tracked: set[str]
) -> tuple[pd.Timestamp, pd.Series | None]:
    """The report's as-of (UTC) and, when given per NPN, the UTC as-of of every tracked NPN
    indexed by NPN (a scope without its producer's as-of could not be ordered: an error)."""
    if isinstance(data_as_of, dt.datetime):
        return _utc_timestamp(data_as_of), None
    given = pd.Series(data_as_of, dtype=object)
    by_npn = pd.Series(
        pd.to_datetime([_utc_timestamp(v) for v in given], utc=True),
        index=given.index.astype(str),
    )
    missing = tracked.difference(by_npn.index)
    if missing:
        raise ValueError(f"no data_as_of for tracked NPN {', '.join(sorted(missing)[:5])}")
    newest = by_npn.max() if len(by_npn) else pd.NaT
    return newest, by_npn


def _utc_timestamp(value: dt.datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
