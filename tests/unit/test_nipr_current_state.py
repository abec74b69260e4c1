"""Applying parsed NIPR reports to current-state rows (assets/nipr/current_state.py).

Small hand-built frames: each test says which rows a compliance analyst would expect to see
in `licenses`, `license_loas`, `appointments` and `producers` after a report is applied.
"""

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

T0 = dt.datetime(2026, 3, 6, 18, 0, tzinfo=dt.UTC)  # initial sync
T1 = dt.datetime(2026, 3, 9, 12, 0, tzinfo=dt.UTC)  # an Alerts day
T2 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)  # the next one
EXP = dt.date(2027, 1, 31)


def lic(npn, state, number, cls="1", active=True, expires=EXP, resident=False):
    return (
        npn,
        state,
        number,
        cls,
        f"class {cls}",
        resident,
        active,
        dt.date(2020, 1, 1),
        expires,
        None,
    )


def loa(npn, state, number, code, active=True, cls="1"):
    return (npn, state, number, cls, code, f"line {code}", active, dt.date(2020, 1, 1))


def appt(npn, state, cocode, code, status="Appointed"):
    return (npn, state, cocode, code, f"Co {cocode}", status, dt.date(2021, 1, 1), None, None, None)


def frame(rows, columns):
    return pd.DataFrame(rows, columns=list(columns), dtype=object)


def report(
    kind="alerts",
    licenses=(),
    loas=(),
    appointments=(),
    scopes=(),
    producers=(),
    as_of=T1,
) -> ParsedReport:
    return ParsedReport(
        report_kind=kind,
        producers=frame(producers, PRODUCER_COLUMNS),
        licenses=frame(licenses, LICENSE_COLUMNS),
        license_loas=frame(loas, LICENSE_LOA_COLUMNS),
        appointments=frame(appointments, APPOINTMENT_COLUMNS),
        reported_scopes=frame(scopes, SCOPE_COLUMNS),
        errors=frame([], ("npn", "code", "message")),
        report_date=as_of.date() if kind == "alerts" else None,
        as_of=as_of if kind == "alerts" else None,
    )


def stored(scopes, as_of):
    rows = [(npn, state, cat, as_of, None, "entity_info", as_of) for npn, state, cat in scopes]
    return frame(
        rows,
        ("npn", "state_code", "category", "data_as_of", "report_date", "source", "applied_at"),
    )


def current(licenses=(), loas=(), appointments=(), people=(), scopes=None) -> CurrentRows:
    return CurrentRows(
        producers=frame(people, ("npn", "first_name", "last_name", "email")),
        licenses=frame(licenses, LICENSE_COLUMNS),
        license_loas=frame(loas, LICENSE_LOA_COLUMNS),
        appointments=frame(appointments, APPOINTMENT_COLUMNS),
        scope_reports=scopes if scopes is not None else stored([], T0),
    )


def apply(state, parsed, as_of=None, tracked=("111", "222")):
    return apply_report(
        state,
        parsed,
        data_as_of=as_of or parsed.as_of or T0,
        tracked_npns=tracked,
        applied_at=T2,
    )


def keys(frame_, *columns):
    return sorted(frame_[list(columns)].itertuples(index=False, name=None))


# A producer 111 with licenses in CA (two) and TX, appointments in CA and TX; 222 in CA.
BASE = current(
    licenses=[
        lic("111", "CA", "CA-1", resident=True),
        lic("111", "CA", "CA-2", cls="2"),
        lic("111", "TX", "TX-1"),
        lic("222", "CA", "CA-9"),
    ],
    loas=[
        loa("111", "CA", "CA-1", "16"),
        loa("111", "CA", "CA-2", "12", cls="2"),
        loa("111", "TX", "TX-1", "16"),
        loa("222", "CA", "CA-9", "16"),
    ],
    appointments=[appt("111", "CA", "12345", "16"), appt("111", "TX", "12345", "16")],
    people=[("111", "Ann", "Lee", None), ("222", "Bo", "Kim", "bo@example.com")],
    scopes=stored(
        [
            ("111", "CA", "LICENSING"),
            ("111", "TX", "LICENSING"),
            ("111", "CA", "APPOINTMENTS"),
            ("111", "TX", "APPOINTMENTS"),
            ("222", "CA", "LICENSING"),
        ],
        T0,
    ),
)


def test_a_reported_category_replaces_that_state_whole():
    parsed = report(
        licenses=[
            lic("111", "CA", "CA-1", resident=True, expires=dt.date(2029, 1, 31)),
            lic("111", "CA", "CA-3", cls="3"),
        ],
        loas=[loa("111", "CA", "CA-1", "16"), loa("111", "CA", "CA-3", "14", cls="3")],
        scopes=[("111", "CA", "LICENSING")],
    )
    result = apply(BASE, parsed)
    licenses = result.result.licenses
    assert keys(licenses[licenses.npn == "111"], "state_code", "license_number") == [
        ("CA", "CA-1"),
        ("CA", "CA-3"),
        ("TX", "TX-1"),
    ]
    renewed = licenses[licenses.license_number == "CA-1"].iloc[0]
    assert renewed.expiration_date == dt.date(2029, 1, 31)
    # CA-2 is gone with its lines; the new license brought its own.
    assert keys(result.result.license_loas, "npn", "license_number", "loa_code") == [
        ("111", "CA-1", "16"),
        ("111", "CA-3", "14"),
        ("111", "TX-1", "16"),
        ("222", "CA-9", "16"),
    ]
    assert result.counts()["licenses_deleted"] == 2
    assert result.counts()["licenses_inserted"] == 2
    assert keys(result.changed_scopes, "npn", "state_code", "category") == [
        ("111", "CA", "LICENSING")
    ]


def test_an_empty_scope_deletes_that_category_in_that_state():
    parsed = report(
        scopes=[("111", "TX", "LICENSING"), ("111", "CA", "APPOINTMENTS")],
    )
    result = apply(BASE, parsed).result
    assert keys(result.licenses[result.licenses.npn == "111"], "state_code") == [("CA",), ("CA",)]
    assert "TX-1" not in set(result.license_loas.license_number)
    # APPOINTMENTS in CA deleted; TX appointments were not reported, so they stay.
    assert keys(result.appointments, "npn", "state_code") == [("111", "TX")]


def test_other_categories_states_and_producers_are_untouched():
    parsed = report(
        appointments=[appt("111", "CA", "12345", "16", status="Terminated")],
        scopes=[("111", "CA", "APPOINTMENTS")],
    )
    result = apply(BASE, parsed).result
    for table in ("licenses", "license_loas"):
        pd.testing.assert_frame_equal(
            result.table(table).sort_values(list(result.table(table).columns), ignore_index=True),
            BASE.table(table).sort_values(list(BASE.table(table).columns), ignore_index=True),
            check_dtype=False,
        )
    statuses = dict(zip(result.appointments.state_code, result.appointments.status, strict=True))
    assert statuses == {"CA": "Terminated", "TX": "Appointed"}


def test_an_older_report_is_skipped_and_counted():
    newer = stored([("111", "CA", "LICENSING")], T2)
    state = current(
        licenses=[lic("111", "CA", "CA-1", expires=dt.date(2030, 1, 1))],
        scopes=pd.concat([newer, stored([("111", "TX", "LICENSING")], T0)], ignore_index=True),
    )
    parsed = report(
        licenses=[lic("111", "CA", "CA-1", expires=dt.date(2026, 1, 1)), lic("111", "TX", "TX-5")],
        scopes=[("111", "CA", "LICENSING"), ("111", "TX", "LICENSING")],
        as_of=T1,
    )
    result = apply(state, parsed)
    assert result.counts()["scopes_skipped_as_older"] == 1
    assert keys(result.skipped_scopes, "state_code", "category") == [("CA", "LICENSING")]
    licenses = result.result.licenses.set_index("license_number")
    assert licenses.loc["CA-1", "expiration_date"] == dt.date(2030, 1, 1)  # newer data kept
    assert "TX-5" in licenses.index  # the scope with older stored data was applied
    recorded = result.result.scope_reports.set_index(["state_code", "category"])
    assert recorded.loc[("CA", "LICENSING"), "data_as_of"] == pd.Timestamp(T2)
    assert recorded.loc[("TX", "LICENSING"), "data_as_of"] == pd.Timestamp(T1)


def test_naive_stored_timestamps_are_utc_as_sqlite_returns_them():
    naive = stored([("111", "CA", "LICENSING")], T2.replace(tzinfo=None))
    state = current(licenses=[lic("111", "CA", "CA-1")], scopes=naive)
    parsed = report(scopes=[("111", "CA", "LICENSING")], as_of=T1)
    assert apply(state, parsed).counts()["scopes_skipped_as_older"] == 1
    same_instant_elsewhere = T2.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    parsed = report(scopes=[("111", "CA", "LICENSING")], as_of=same_instant_elsewhere)
    assert apply(state, parsed).counts()["scopes_applied"] == 1  # equal as-of: applied


def test_a_deletion_is_not_resurrected_by_an_older_report():
    deleted = apply(BASE, report(scopes=[("111", "TX", "LICENSING")], as_of=T2)).result
    older = report(
        licenses=[lic("111", "TX", "TX-1")],
        loas=[loa("111", "TX", "TX-1", "16")],
        scopes=[("111", "TX", "LICENSING")],
        as_of=T1,
    )
    result = apply(deleted, older)
    assert result.counts()["scopes_skipped_as_older"] == 1
    assert "TX" not in set(result.result.licenses.state_code)


def test_applying_the_same_report_twice_gives_the_same_rows():
    parsed = report(
        licenses=[lic("111", "CA", "CA-7")],
        loas=[loa("111", "CA", "CA-7", "16")],
        appointments=[appt("111", "TX", "55555", "12")],
        scopes=[("111", "CA", "LICENSING"), ("111", "TX", "APPOINTMENTS")],
        producers=[("111", "Ann", "Lee-Park", "ann@example.com", None, None, None)],
    )
    once = apply(BASE, parsed)
    twice = apply(once.result, parsed)
    for table in ("producers", "licenses", "license_loas", "appointments"):
        first, second = once.result.table(table), twice.result.table(table)
        columns = list(first.columns)
        pd.testing.assert_frame_equal(
            first.sort_values(columns, ignore_index=True),
            second.sort_values(columns, ignore_index=True),
        )
    assert once.counts()["scopes_changed"] == 2
    assert twice.counts()["scopes_changed"] == 0
    assert twice.counts()["scopes_applied"] == 2  # re-applied, not skipped: same as-of


def test_entity_info_replaces_everything_of_the_producer():
    parsed = report(
        kind="entity_info",
        licenses=[lic("111", "CA", "CA-1", resident=True), lic("111", "NY", "NY-1")],
        loas=[loa("111", "CA", "CA-1", "16"), loa("111", "NY", "NY-1", "14")],
        appointments=[appt("111", "NY", "12345", "14")],
        scopes=[
            ("111", "CA", "LICENSING"),
            ("111", "CA", "APPOINTMENTS"),
            ("111", "NY", "LICENSING"),
            ("111", "NY", "APPOINTMENTS"),
            ("111", "CA", "DEMOGRAPHICS"),
        ],
        producers=[("111", "Ann", "Lee", "ann@nipr.example", None, None, True)],
    )
    result = apply(BASE, parsed, as_of=T1)
    after = result.result
    ours = after.licenses[after.licenses.npn == "111"]
    assert keys(ours, "state_code", "license_number") == [("CA", "CA-1"), ("NY", "NY-1")]
    assert keys(after.appointments, "npn", "state_code") == [("111", "NY")]  # CA, TX deleted
    assert keys(after.licenses[after.licenses.npn == "222"], "license_number") == [("CA-9",)]
    # TX is no longer in NIPR's picture: recorded as a deletion at the report's as-of.
    recorded = after.scope_reports[after.scope_reports.npn == "111"]
    tx = recorded[(recorded.state_code == "TX") & (recorded.category == "LICENSING")]
    assert tx.iloc[0].data_as_of == pd.Timestamp(T1)
    assert tx.iloc[0].source == "entity_info"
    assert result.producer_updates.iloc[0].email == "ann@nipr.example"


def test_entity_info_older_than_an_applied_alert_keeps_that_scope():
    alerted = apply(
        BASE,
        report(licenses=[lic("111", "TX", "TX-2")], scopes=[("111", "TX", "LICENSING")], as_of=T2),
    ).result
    parsed = report(
        kind="entity_info",
        licenses=[lic("111", "CA", "CA-1")],
        scopes=[("111", "CA", "LICENSING"), ("111", "CA", "APPOINTMENTS")],
    )
    result = apply(alerted, parsed, as_of=T1)
    assert keys(result.skipped_scopes, "state_code", "category") == [("TX", "LICENSING")]
    assert keys(result.result.licenses[result.result.licenses.npn == "111"], "license_number") == [
        ("CA-1",),
        ("TX-2",),
    ]


def test_untracked_npns_are_counted_and_ignored():
    parsed = report(
        licenses=[lic("999", "CA", "X"), lic("111", "TX", "TX-1")],
        loas=[loa("999", "CA", "X", "16")],
        scopes=[("999", "CA", "LICENSING"), ("111", "TX", "LICENSING")],
    )
    result = apply(BASE, parsed)
    assert result.ignored_npns == ("999",)
    assert result.ignored_rows == 2
    assert "999" not in set(result.result.licenses.npn)
    assert result.counts()["scopes_applied"] == 1


def test_demographics_update_names_only_where_nipr_sent_them():
    parsed = report(
        scopes=[("111", "CA", "DEMOGRAPHICS"), ("222", "CA", "LICENSING")],
        licenses=[lic("222", "CA", "CA-9")],
        producers=[
            ("111", None, "Lee-Park", "ann@example.com", None, None, None),
            ("222", "Robert", "Kim", None, None, None, None),  # no DEMOGRAPHICS scope: ignored
        ],
    )
    result = apply(BASE, parsed)
    people = result.result.producers.set_index("npn")
    assert people.loc["111"].to_dict() == {
        "first_name": "Ann",  # NIPR sent none: ours stays
        "last_name": "Lee-Park",
        "email": "ann@example.com",
    }
    assert people.loc["222", "first_name"] == "Bo"
    assert list(result.producer_updates.npn) == ["111"]


def test_rows_without_a_full_key_or_repeating_one_are_dropped_and_counted():
    parsed = report(
        licenses=[
            lic("111", "CA", "CA-1"),
            lic("111", "CA", "CA-1"),  # the same key twice: the last one counts
            lic("111", "CA", None),
        ],
        scopes=[("111", "CA", "LICENSING")],
    )
    result = apply(BASE, parsed)
    assert result.unusable_rows == 2
    assert len(result.inserted["licenses"]) == 1


@pytest.mark.parametrize("tracked", [(), ("333",)])
def test_nothing_happens_for_producers_we_do_not_track(tracked):
    parsed = report(licenses=[lic("111", "CA", "CA-5")], scopes=[("111", "CA", "LICENSING")])
    result = apply(BASE, parsed, tracked=tracked)
    assert result.counts()["scopes_applied"] == 0
    assert len(result.result.licenses) == len(BASE.licenses)


def test_only_the_scopes_whose_content_changed_are_rewritten():
    # CA LICENSING changes (a new license), TX LICENSING and CA APPOINTMENTS are sent as
    # stored, and 222's CA licensing loses its only license.
    parsed = report(
        licenses=[
            lic("111", "CA", "CA-1", resident=True),
            lic("111", "CA", "CA-2", cls="2"),
            lic("111", "CA", "CA-3"),
            lic("111", "TX", "TX-1"),
        ],
        loas=[
            loa("111", "CA", "CA-1", "16"),
            loa("111", "CA", "CA-2", "12", cls="2"),
            loa("111", "TX", "TX-1", "16"),
        ],
        appointments=[appt("111", "CA", "12345", "16")],
        scopes=[
            ("111", "CA", "LICENSING"),
            ("111", "TX", "LICENSING"),
            ("111", "CA", "APPOINTMENTS"),
            ("222", "CA", "LICENSING"),
        ],
    )
    result = apply(BASE, parsed)
    cleared, inserted = result.rewrites("licenses")
    assert keys(cleared, "npn", "state_code") == [("111", "CA"), ("222", "CA")]
    assert keys(inserted, "npn", "license_number") == [("111", "CA-1"), ("111", "CA-2"), (
        "111", "CA-3")]  # fmt: skip
    cleared, inserted = result.rewrites("license_loas")
    assert keys(cleared, "npn", "state_code") == [("111", "CA"), ("222", "CA")]
    assert len(inserted) == 2
    cleared, inserted = result.rewrites("appointments")
    assert cleared.empty and inserted.empty  # sent as stored: nothing to write
    # What is replaced (the counts, the result) is still every applied scope.
    assert len(result.cleared["licenses"]) == 3 and len(result.inserted["licenses"]) == 4
    assert keys(result.result.licenses, "npn", "license_number") == [
        ("111", "CA-1"), ("111", "CA-2"), ("111", "CA-3"), ("111", "TX-1")]  # fmt: skip
