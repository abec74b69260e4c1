"""The NIPR sandbox's generated world and daily change model (no HTTP, no files written)."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pandas as pd
import pytest
from lxml import etree

from npnflow.sandbox.alerts import AlertsService, Subscription
from npnflow.sandbox.alerts_report import ACORD_NS, render_report
from npnflow.sandbox.changes import is_run_day
from npnflow.sandbox.frames import record_rows
from npnflow.sandbox.generator import Company, generate_world
from npnflow.sandbox.reference import NONE_LOA_CODE, load_reference

TODAY = date(2025, 3, 28)  # a Friday
SPEC_COLUMNS = {
    "producers": [
        "npn",
        "first_name",
        "last_name",
        "email",
        "agency_npn",
        "agent_type",
        "is_active",
    ],
    "licenses": [
        "npn",
        "state_code",
        "license_number",
        "license_class_code",
        "license_class",
        "is_resident",
        "is_active",
        "issue_date",
        "expiration_date",
        "nipr_updated_at",
    ],
    "license_loas": [
        "npn",
        "state_code",
        "license_number",
        "loa_code",
        "loa_name",
        "is_active",
        "issue_date",
    ],
    "appointments": [
        "npn",
        "state_code",
        "cocode",
        "loa_code",
        "company_name",
        "status",
        "effective_date",
        "termination_reason",
        "status_reason_date",
        "renewal_date",
    ],
}


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=11, producers=600, today=TODAY)


@pytest.fixture(scope="module")
def frames(world):
    return world.to_frames()


def run_days(world):
    day, out = world.epoch + timedelta(days=1), []
    while day <= world.today:
        if is_run_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def report_bytes(world, day):
    service = AlertsService(world, now=lambda: pd.Timestamp(TODAY).to_pydatetime())
    everyone = Subscription(
        "all",
        "ops@example.com",
        ["LICENSING", "APPOINTMENTS", "DEMOGRAPHICS"],
        None,
        "None",
        dict.fromkeys(world.npns),
    )
    return render_report(service.report_entries(day, [everyone]), day)


# ---------------------------------------------------------------------- determinism
def test_same_seed_gives_the_same_world_and_another_seed_does_not(frames):
    again = generate_world(seed=11, producers=600, today=TODAY).to_frames()
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame, again[name], obj=name)
    other = generate_world(seed=12, producers=600, today=TODAY).to_frames()
    assert set(other["producers"]["npn"]) != set(frames["producers"]["npn"])


def test_same_day_gives_the_same_report_even_from_a_fresh_world(world):
    day = run_days(world)[-3]
    first = report_bytes(world, day)
    report_bytes(world, run_days(world)[-1])  # asking other days first changes nothing
    assert report_bytes(world, day) == first
    assert report_bytes(generate_world(seed=11, producers=600, today=TODAY), day) == first
    assert b"JurisdictionReport" in first


def test_world_as_of_a_day_is_a_pure_function_of_seed_and_day(world):
    day = run_days(world)[4]
    fresh = generate_world(seed=11, producers=600, today=TODAY)
    for npn in world.npns[:40]:
        assert world.producer(npn, as_of=day) == fresh.producer(npn, as_of=day)
    pd.testing.assert_frame_equal(
        world.to_frames(as_of=day)["licenses"], fresh.to_frames(as_of=day)["licenses"]
    )


# ---------------------------------------------------------------------- realism
def test_frames_carry_the_spec_columns_and_no_ssn(frames):
    for table, columns in SPEC_COLUMNS.items():
        assert set(columns) <= set(frames[table].columns), table
    assert not any("ssn" in column for frame in frames.values() for column in frame.columns)


def test_npns_are_distinct_digit_strings_of_6_to_10_digits(frames):
    npns = frames["producers"]["npn"]
    assert npns.is_unique
    assert npns.str.fullmatch(r"[1-9]\d{5,9}").all()


def test_every_producer_holds_a_resident_license_in_the_resident_state(frames):
    licenses = frames["licenses"]
    resident = licenses[licenses["is_resident"]]
    merged = frames["producers"].merge(resident, on="npn", how="left", suffixes=("", "_lic"))
    assert merged["state_code"].notna().all()
    holds = merged["state_code"] == merged["resident_state"]
    assert holds.groupby(merged["npn"]).any().all()


def test_license_classes_and_loas_come_from_the_workbook(world, frames):
    reference = load_reference()
    licenses, loas = frames["licenses"], frames["license_loas"]
    individuals = set(frames["producers"].query("entity_type == 'INDIVIDUAL'")["npn"])
    for row in licenses[licenses["npn"].isin(individuals)].itertuples():
        listed = reference.producer_classes[row.state_code]
        residency = "R" if row.is_resident else "NR"
        assert (int(row.license_class_code), residency) in listed or (
            int(row.license_class_code),
            "any",
        ) in listed, row
    pairs = set(
        zip(
            loas["state_code"],
            loas["license_class_code"].astype(int),
            loas["loa_code"].astype(int),
            strict=True,
        )
    )
    assert pairs, "no lines of authority generated"
    for state, class_code, loa_code in pairs:
        assert loa_code != NONE_LOA_CODE
        assert loa_code in reference.class_loas[(state, class_code)], (state, class_code, loa_code)


def test_statuses_and_dates_are_realistic(world, frames):
    licenses, loas, apps = frames["licenses"], frames["license_loas"], frames["appointments"]
    today = pd.Timestamp(TODAY)
    expires = licenses["expiration_date"]
    assert (expires < today).any(), "no expired license"
    assert ((~licenses["is_active"]) & (expires >= today)).any(), "no inactive, unexpired license"
    for days in (30, 60, 90):
        window = (expires >= today) & (expires <= today + pd.Timedelta(days=days))
        assert window.any(), f"nothing expires within {days} days"
    assert (~licenses["is_resident"]).any()
    per_producer = licenses.groupby("npn").size()
    assert per_producer.max() >= 20, "no producer with 20+ licenses"
    assert (licenses["issue_date"] < licenses["expiration_date"]).all()
    assert 0.85 < loas["is_active"].mean() < 1.0
    terminated = apps[apps["status"] == "Terminated"]
    assert len(terminated) and (terminated["termination_reason"] != "").all()
    assert set(apps["status"]) == {"Appointed", "Terminated"}
    assert set(apps["cocode"]) <= {c.cocode for c in world.companies}
    assert (frames["producers"]["entity_type"] == "FIRM").sum() >= 2


def test_keys_of_section_3_are_unique(frames):
    assert (
        not frames["licenses"]
        .duplicated(["npn", "state_code", "license_number", "license_class_code"])
        .any()
    )
    assert (
        not frames["license_loas"]
        .duplicated(["npn", "state_code", "license_number", "loa_code"])
        .any()
    )
    assert not frames["appointments"].duplicated(["npn", "state_code", "cocode", "loa_code"]).any()


def test_fake_ssns_can_never_be_real(world):
    for npn in world.individual_npns()[:50]:
        ssn = world.producer(npn).fake_ssn
        assert ssn.startswith("9") and len(ssn) == 11  # area 900-999 is never issued


def test_callers_can_pass_the_customers_companies():
    ours = [
        Company("12345", "Customer Life", "123456789"),
        {"cocode": "54321", "company_name": "Customer P&C", "fein": "98-7654321"},
    ]
    small = generate_world(seed=3, producers=200, companies=ours, today=TODAY)
    cocodes = set(small.to_frames()["appointments"]["cocode"])
    assert cocodes and cocodes <= {"12345", "54321"}


def test_frames_agree_with_the_records_the_xml_is_rendered_from(world, frames):
    for npn in world.npns[:60]:
        rows = record_rows(world.producer(npn))
        for table in ("licenses", "license_loas", "appointments"):
            frame = frames[table]
            got = frame[frame["npn"] == npn]
            expected = pd.DataFrame(rows[table], columns=frame.columns)
            key = list(frame.columns[:4])
            got = got.sort_values(key).reset_index(drop=True)
            expected = expected.sort_values(key).reset_index(drop=True)
            assert len(got) == len(expected), (npn, table)
            for column in frame.columns:
                left = got[column].tolist()
                right = [
                    pd.Timestamp(v) if hasattr(v, "toordinal") else v
                    for v in expected[column].tolist()
                ]
                assert [None if pd.isna(v) else v for v in left] == [
                    None if pd.isna(v) else v for v in right
                ], (npn, table, column)
        producer_row = frames["producers"].set_index("npn").loc[npn]
        assert producer_row["email"] == rows["producers"][0][5]


# ---------------------------------------------------------------------- daily changes
def test_daily_changes_cover_every_category_and_both_kinds_of_deletion(world):
    changes = [c for day in run_days(world) for c in world.changes_on(day)]
    assert {c.category for c in changes} == {"LICENSING", "APPOINTMENTS", "DEMOGRAPHICS"}
    kinds = {c.kind for c in changes}
    assert {
        "licenses_deleted",
        "appointments_deleted",
        "license_renewed",
        "terminated",
        "appointed",
        "address_changed",
    } <= kinds
    sunday = next(
        d for d in (world.today - timedelta(days=i) for i in range(7)) if d.weekday() == 6
    )
    assert world.changes_on(sunday) == []


def test_deletions_and_renewals_show_in_the_world_as_of_that_day(world):
    changes = [c for day in run_days(world) for c in world.changes_on(day)]
    deleted = next(c for c in changes if c.kind == "licenses_deleted")
    before = world.producer(deleted.npn, as_of=deleted.day - timedelta(days=1))
    after = world.producer(deleted.npn, as_of=deleted.day)
    assert any(lic.state == deleted.state for lic in before.licenses)
    assert not any(lic.state == deleted.state for lic in after.licenses)
    assert any(lic.is_resident for lic in after.licenses)
    gone = next(c for c in changes if c.kind == "appointments_deleted")
    assert not any(
        a.state == gone.state for a in world.producer(gone.npn, as_of=gone.day).appointments
    )
    renewed = next(c for c in changes if c.kind == "license_renewed")
    before = world.producer(renewed.npn, as_of=renewed.day - timedelta(days=1))
    after = world.producer(renewed.npn, as_of=renewed.day)
    assert max(lic.expiration_date for lic in after.licenses if lic.state == renewed.state) > max(
        lic.expiration_date for lic in before.licenses if lic.state == renewed.state
    )


def test_a_changed_category_is_resent_whole_for_the_state(world):
    ns = {"a": ACORD_NS}
    for day in run_days(world):
        changes = world.changes_on(day)
        licensing = [c for c in changes if c.category == "LICENSING"]
        if not licensing:
            continue
        report = etree.fromstring(report_bytes(world, day))
        for change in licensing:
            producer = world.producer(change.npn)
            held = [lic for lic in producer.licenses if lic.state == change.state]
            primary = f"{'Org' if producer.is_firm else 'Person'}PRI{734_000_000 + producer.index}"
            items = report.xpath(
                "//a:JurisdictionReport[*[@personReference=$k or @organizationReference=$k]]"
                "/a:JurisdictionReportItem[a:StateOrProvinceCode=$s]",
                namespaces=ns,
                k=primary,
                s=change.state,
            )
            assert len(items) == 1, change
            wrappers = items[0].xpath("a:Licensee/a:InsuranceLicense", namespaces=ns)
            if held:
                numbers = sorted(
                    w.findtext(f"{{{ACORD_NS}}}License/{{{ACORD_NS}}}LicenseNumberId")
                    for w in wrappers
                )
                assert numbers == sorted(lic.number for lic in held), change
            else:  # NIPR's deletion tag: only a TypeCode
                assert [[c.tag for c in w] for w in wrappers] == [[f"{{{ACORD_NS}}}TypeCode"]]
        return
    pytest.fail("no licensing change in the window")


# ---------------------------------------------------------------------- scale
def test_a_20000_producer_world_builds_in_a_few_seconds():
    started = time.perf_counter()
    big = generate_world(seed=5, producers=20_000, today=TODAY)
    frames = big.to_frames()
    elapsed = time.perf_counter() - started
    assert len(frames["producers"]) == 20_000
    assert len(frames["licenses"]) > 80_000
    assert elapsed < 10, f"took {elapsed:.1f}s"
