"""`apply_report` with an as-of per producer (the initial sync applies many producers' Entity
Info at once, each current as of its own fetch): each producer's scopes are ordered, and
recorded, by that producer's own as-of."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from assets.nipr.current_state import CurrentRows, apply_report
from assets.nipr.parsing import (
    APPOINTMENT_COLUMNS,
    LICENSE_COLUMNS,
    LICENSE_LOA_COLUMNS,
    PRODUCER_COLUMNS,
    SCOPE_COLUMNS,
    ParsedReport,
)

EARLY = dt.datetime(2026, 3, 6, 12, 0, tzinfo=dt.UTC)
STORED = dt.datetime(2026, 3, 6, 15, 0, tzinfo=dt.UTC)
LATE = dt.datetime(2026, 3, 6, 18, 0, tzinfo=dt.UTC)
APPLIED = dt.datetime(2026, 3, 7, tzinfo=dt.UTC)
SCOPE_REPORT = ("npn", "state_code", "category", "data_as_of", "report_date", "source")


def frame(rows, columns):
    return pd.DataFrame(rows, columns=list(columns), dtype=object)


def lic(npn, state, number):
    return (npn, state, number, "1", "class 1", False, True, None, None, None)


def entity_info(licenses, npns) -> ParsedReport:
    states = sorted({(row[0], row[1]) for row in licenses})
    return ParsedReport(
        report_kind="entity_info",
        producers=frame(
            [(n, "A", f"Name {n}", None, None, None, True) for n in npns], PRODUCER_COLUMNS
        ),
        licenses=frame(licenses, LICENSE_COLUMNS),
        license_loas=frame([], LICENSE_LOA_COLUMNS),
        appointments=frame([], APPOINTMENT_COLUMNS),
        reported_scopes=frame(
            [(n, s, "LICENSING") for n, s in states] + [(n, "CA", "DEMOGRAPHICS") for n in npns],
            SCOPE_COLUMNS,
        ),
        errors=frame([], ("npn", "code", "message")),
    )


# 111 and 222 each hold a CA license whose scope was applied at STORED.
CURRENT = CurrentRows(
    producers=frame(
        [("111", "A", "Old", None), ("222", "B", "Old", None)],
        ("npn", "first_name", "last_name", "email"),
    ),
    licenses=frame([lic("111", "CA", "OLD-1"), lic("222", "CA", "OLD-2")], LICENSE_COLUMNS),
    scope_reports=frame(
        [(n, "CA", "LICENSING", STORED, None, "entity_info", STORED) for n in ("111", "222")],
        (*SCOPE_REPORT, "applied_at"),
    ),
)
REPORT = entity_info([lic("111", "CA", "NEW-1"), lic("222", "CA", "NEW-2")], ["111", "222"])


def test_each_producer_is_ordered_by_its_own_as_of():
    """111's reply was fetched before its stored scope: skipped; 222's after: applied."""
    applied = apply_report(
        CURRENT,
        REPORT,
        data_as_of={"111": EARLY, "222": LATE},
        tracked_npns=["111", "222"],
        applied_at=APPLIED,
    )
    numbers = dict(
        zip(applied.result.licenses.license_number, applied.result.licenses.npn, strict=True)
    )
    assert numbers == {"OLD-1": "111", "NEW-2": "222"}
    skipped = applied.skipped_scopes
    assert list(zip(skipped.npn, skipped.category, strict=True)) == [("111", "LICENSING")]
    recorded = applied.scope_reports.set_index(["npn", "category"])["data_as_of"]
    assert recorded[("222", "LICENSING")] == pd.Timestamp(LATE)
    assert recorded[("111", "DEMOGRAPHICS")] == pd.Timestamp(EARLY)  # its own, not the newest
    assert recorded[("222", "DEMOGRAPHICS")] == pd.Timestamp(LATE)
    assert applied.data_as_of == pd.Timestamp(LATE)


def test_an_as_of_per_npn_equals_applying_each_producer_alone():
    together = apply_report(
        CURRENT,
        REPORT,
        data_as_of=pd.Series({"111": EARLY, "222": LATE}),
        tracked_npns=["111", "222"],
        applied_at=APPLIED,
    )
    alone = {
        npn: apply_report(CURRENT, REPORT, data_as_of=as_of, tracked_npns=[npn], applied_at=APPLIED)
        for npn, as_of in (("111", EARLY), ("222", LATE))
    }

    def rows(frame_, npn=None):
        frame_ = frame_.astype(object).where(frame_.notna(), None)
        if npn is not None:
            frame_ = frame_[frame_.npn == npn]
        return sorted(map(str, frame_.itertuples(index=False, name=None)))

    for table in ("licenses", "license_loas", "appointments"):
        assert rows(together.inserted[table]) == sorted(
            rows(alone["111"].inserted[table]) + rows(alone["222"].inserted[table])
        )
    assert rows(together.scope_reports) == sorted(
        rows(alone["111"].scope_reports) + rows(alone["222"].scope_reports)
    )
    assert rows(together.producer_updates) == sorted(
        rows(alone["111"].producer_updates) + rows(alone["222"].producer_updates)
    )


def test_a_tracked_producer_without_an_as_of_is_refused():
    with pytest.raises(ValueError, match="no data_as_of for tracked NPN 222"):
        apply_report(
            CURRENT,
            REPORT,
            data_as_of={"111": LATE},
            tracked_npns=["111", "222"],
            applied_at=APPLIED,
        )
