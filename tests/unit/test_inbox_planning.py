"""The inbox sensor's decisions (assets/uploads/inbox.py), against an in-memory bucket that lists
like S3: key order, strictly after `start_after`, counted so a test sees what each tick read."""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import pytest

from assets.uploads.inbox import (
    DEFAULT_CHANGE_MARGIN,
    MAX_CURSOR_BYTES,
    InboxTick,
    is_upload_key,
    kind_from_key,
    listing_start_after,
    partition_key_for,
    plan_inbox_tick,
)

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
OLD = T0 - dt.timedelta(days=30)


@dataclass(frozen=True)
class Obj:
    key: str
    etag: str
    last_modified: dt.datetime


def etag_of(content: str) -> str:
    return hashlib.md5(content.encode()).hexdigest()


class FakeBucket:
    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.taken = 0  # objects the planner pulled from listings

    def put(self, key: str, content: str = "", at: dt.datetime = OLD) -> Obj:
        obj = Obj(key, etag_of(content or key), at)
        self.objects[key] = obj
        return obj

    def list_objects(self, prefix: str = "", start_after: str = ""):
        for key in sorted(self.objects):
            if key.startswith(prefix) and key > start_after:
                self.taken += 1
                yield self.objects[key]

    def tick(self, cursor: str | None, now: dt.datetime, **limits) -> InboxTick:
        self.taken = 0
        listing = self.list_objects("inbox/", listing_start_after(cursor))
        return plan_inbox_tick(listing, cursor, now=now, **limits)


def run_pass(bucket: FakeBucket, cursor: str | None, now: dt.datetime, **limits):
    """Ticks until a listing comes back short; returns (files found, cursor, ticks)."""
    found, ticks = [], []
    while True:
        tick = bucket.tick(cursor, now, **limits)
        found += tick.new_files
        ticks.append(tick)
        cursor = tick.cursor
        now += dt.timedelta(seconds=30)
        assert len(ticks) < 10_000, "the pass never ends"
        if tick.done_listing:
            return found, cursor, ticks


def test_new_files_are_found_in_key_order_with_keys_and_kinds():
    bucket = FakeBucket()
    for key in ["inbox/terminate/t.csv", "inbox/agent/b.csv", "inbox/agent/a.xlsx", "inbox/x.csv"]:
        bucket.put(key)

    tick = bucket.tick(None, T0)

    assert [f.key for f in tick.new_files] == [
        "inbox/agent/a.xlsx",
        "inbox/agent/b.csv",
        "inbox/terminate/t.csv",
        "inbox/x.csv",
    ]
    assert [f.kind for f in tick.new_files] == ["agent", "agent", "terminate", None]
    first = tick.new_files[0]
    assert first.run_key == f"inbox/agent/a.xlsx:{first.etag}"
    assert first.partition_key.startswith("agent__a.xlsx__")
    assert tick.done_listing and tick.listed == 4


def test_new_files_per_tick_are_capped_and_the_cursor_stops_at_the_last_one_handled():
    bucket = FakeBucket()
    for i in range(5):
        bucket.put(f"inbox/agent/{i}.csv")

    first = bucket.tick(None, T0, max_new_per_tick=2)
    assert [f.key for f in first.new_files] == ["inbox/agent/0.csv", "inbox/agent/1.csv"]
    assert not first.done_listing
    assert listing_start_after(first.cursor) == "inbox/agent/1.csv"
    assert bucket.taken == 2  # it stopped pulling the listing at the cap

    second = bucket.tick(first.cursor, T0, max_new_per_tick=2)
    third = bucket.tick(second.cursor, T0, max_new_per_tick=2)
    assert [f.key for f in second.new_files + third.new_files] == [
        "inbox/agent/2.csv",
        "inbox/agent/3.csv",
        "inbox/agent/4.csv",
    ]


def test_a_tick_stopped_by_the_listing_cap_skips_nothing():
    bucket = FakeBucket()
    for i in range(10):
        bucket.put(f"inbox/{i:02d}.csv")
        bucket.put(f"inbox/{i:02d}.csv.errors.csv")  # listed, never new

    keys, cursor = [], None
    for _ in range(20):
        tick = bucket.tick(cursor, T0, max_listed_per_tick=3)
        assert tick.listed <= 3 and bucket.taken <= 3
        keys += [f.key for f in tick.new_files]
        cursor = tick.cursor
        if tick.done_listing:
            break
    assert keys == [f"inbox/{i:02d}.csv" for i in range(10)]


def test_a_changed_file_is_found_again_in_the_next_pass():
    bucket = FakeBucket()
    for key in ["inbox/agent/a.csv", "inbox/agent/b.csv", "inbox/agent/c.csv"]:
        bucket.put(key)
    found, cursor, _ = run_pass(bucket, None, T0)
    assert len(found) == 3

    # Changed behind the cursor (same key, new content), while the sensor runs on.
    later = T0 + dt.timedelta(minutes=5)
    changed = bucket.put("inbox/agent/a.csv", "new content", at=later)
    found, cursor, _ = run_pass(bucket, cursor, later)

    assert [(f.key, f.etag) for f in found] == [("inbox/agent/a.csv", changed.etag)]
    assert found[0].run_key == f"inbox/agent/a.csv:{changed.etag}"
    first_partition = partition_key_for("inbox/agent/a.csv", etag_of("inbox/agent/a.csv"))
    assert found[0].partition_key != first_partition

    # Unchanged from then on: later passes find nothing.
    found, _, _ = run_pass(bucket, cursor, later + dt.timedelta(hours=2))
    assert found == []


def test_a_file_dropped_behind_the_cursor_mid_pass_is_found_in_the_next_pass():
    bucket = FakeBucket()
    for i in range(6):
        bucket.put(f"inbox/agent/{i}.csv")
    tick = bucket.tick(None, T0, max_listed_per_tick=3)  # pass 1 is at "2.csv"
    late = bucket.put("inbox/agent/0a.csv", at=T0 + dt.timedelta(seconds=10))

    found, cursor, _ = run_pass(bucket, tick.cursor, T0 + dt.timedelta(seconds=30))
    assert [f.key for f in found] == ["inbox/agent/3.csv", "inbox/agent/4.csv", "inbox/agent/5.csv"]
    found, _, _ = run_pass(bucket, cursor, T0 + dt.timedelta(minutes=2))
    assert [f.key for f in found] == [late.key]


def test_recent_files_are_not_requested_again_pass_after_pass():
    # Within the change margin `since` cannot rule them out; the cursor's `seen` window does.
    bucket = FakeBucket()
    bucket.put("inbox/agent/a.csv", at=T0)
    now = T0 + dt.timedelta(seconds=1)
    found, cursor, _ = run_pass(bucket, None, now)
    assert len(found) == 1
    for _ in range(5):
        now += dt.timedelta(minutes=1)
        found, cursor, _ = run_pass(bucket, cursor, now)
        assert found == []
    assert now - T0 < DEFAULT_CHANGE_MARGIN


def test_ten_thousand_files_are_worked_through_in_capped_ticks_each_found_once():
    bucket = FakeBucket()
    keys = sorted(f"inbox/agent/roster_{i:05d}.csv" for i in range(10_000))
    for key in keys:
        bucket.put(key)

    found, cursor, ticks = run_pass(bucket, None, T0)
    assert [f.key for f in found] == keys  # every one, in key order, exactly once
    assert len({f.partition_key for f in found}) == 10_000
    assert len(ticks) > 10
    assert all(t.listed <= 2000 and len(t.new_files) <= 100 for t in ticks)
    assert max(len(t.cursor.encode()) for t in ticks) <= MAX_CURSOR_BYTES

    # The next pass reads the whole inbox in a few ticks and requests nothing unchanged...
    now = T0 + dt.timedelta(hours=1)
    for key in keys[10:13]:
        bucket.put(key, "changed", at=now)
    bucket.put("inbox/agent/roster_new.csv", at=now)
    found, cursor, ticks = run_pass(bucket, cursor, now + dt.timedelta(seconds=5))
    # ...but the changed and the new ones.
    assert [f.key for f in found] == keys[10:13] + ["inbox/agent/roster_new.csv"]
    assert len(ticks) == 6  # 10,001 objects: five full listings of 2,000 and one short one
    assert all(t.listed <= 2000 for t in ticks)


def test_the_cursor_stays_small_however_many_files_were_requested():
    bucket = FakeBucket()
    for i in range(3000):  # all recent: each lands in the `seen` window
        bucket.put(f"inbox/agent/{'é' * 450}_{i:05d}.csv", at=T0)  # ~900-byte keys
    cursor = None
    for _ in range(40):
        tick = bucket.tick(cursor, T0 + dt.timedelta(seconds=1))
        cursor = tick.cursor
        assert len(cursor.encode("utf-8")) <= MAX_CURSOR_BYTES
    state = json.loads(cursor)
    assert set(state) == {"v", "pass", "after", "started", "since", "seen"}


def test_a_store_clock_behind_the_sensor_clock_loses_no_change():
    # The store stamps versions 10 minutes behind the sensor's clock (within the margin).
    skew = dt.timedelta(minutes=10)
    bucket = FakeBucket()
    for i in range(4):
        bucket.put(f"inbox/agent/{i}.csv")
    tick = bucket.tick(None, T0, max_listed_per_tick=2)  # pass 1 is at "1.csv"
    changed = bucket.put("inbox/agent/0.csv", "changed", at=T0 + dt.timedelta(seconds=5) - skew)

    found, cursor, _ = run_pass(bucket, tick.cursor, T0 + dt.timedelta(seconds=30))
    found, _, _ = run_pass(bucket, cursor, T0 + dt.timedelta(minutes=1))
    assert [(f.key, f.etag) for f in found] == [(changed.key, changed.etag)]


def test_an_unreadable_cursor_starts_afresh():
    bucket = FakeBucket()
    bucket.put("inbox/agent/a.csv")
    for bad in ["not json", "[]", '{"v": 99}', '{"v": 1, "pass": "x"}']:
        tick = bucket.tick(bad, T0)
        assert [f.key for f in tick.new_files] == ["inbox/agent/a.csv"]


def test_objects_out_of_key_order_are_refused():
    objects = [Obj("inbox/b.csv", "1", OLD), Obj("inbox/a.csv", "2", OLD)]
    with pytest.raises(ValueError, match="key order"):
        plan_inbox_tick(objects, None, now=T0)


def test_objects_before_the_cursor_or_outside_the_inbox_are_passed_over():
    cursor = plan_inbox_tick([Obj("inbox/b.csv", "1", OLD)], None, now=T0, max_new_per_tick=1)
    listing = [
        Obj("archive/z.csv", "0", OLD),
        Obj("inbox/a.csv", "1", OLD),
        Obj("inbox/b.csv", "1", OLD),
        Obj("inbox/c.csv", "1", OLD),
    ]
    tick = plan_inbox_tick(listing, cursor.cursor, now=T0)
    assert [f.key for f in tick.new_files] == ["inbox/c.csv"]


@pytest.mark.parametrize(
    "key",
    [
        "inbox/agent/roster.csv.errors.csv",
        "inbox/agent/roster.xlsx.errors.xlsx",
        "inbox/agent/ROSTER.XLSX.ERRORS.XLSX",
        "inbox/agent/.roster.csv.1a2b3c4d.partial",
        "inbox/.DS_Store",
        "inbox/.hidden/roster.csv",
        "inbox/agent/~$roster.xlsx",
        "inbox/agent/processed/roster.csv",
        "inbox/Processed/2026/roster.csv",
        "inbox/archive/roster.csv",
        "inbox/agent/",
        "inbox/",
        "outbox/roster.csv",
        "inboxes/roster.csv",
    ],
)
def test_reports_hidden_files_and_handled_folders_are_not_uploads(key):
    assert not is_upload_key(key)
    assert plan_inbox_tick([Obj(key, "e", OLD)], None, now=T0).new_files == []


@pytest.mark.parametrize(
    "key, kind",
    [
        ("inbox/agent/a.csv", "agent"),
        ("inbox/appoint/2026/march/a.xlsx", "appoint"),
        ("inbox/terminate/a.csv", "terminate"),
        ("inbox/portal_invite/a.csv", "portal_invite"),
        ("inbox/Portal-Invite/a.csv", "portal_invite"),
        ("inbox/AGENT/a.csv", "agent"),
        ("inbox/a.csv", None),
        ("inbox/agents/a.csv", None),
        ("inbox/misc/agent/a.csv", None),
    ],
)
def test_the_kind_comes_from_the_first_folder(key, kind):
    assert is_upload_key(key)
    assert kind_from_key(key) == kind


def test_partition_keys_are_valid_deterministic_and_distinct():
    keys = [
        "inbox/agent/roster march.csv",
        "inbox/agent/roster|march,2026.csv",
        "inbox/agent/roster...march.csv",
        "inbox/appoint/Été – nouveaux agents (final).xlsx",
        "inbox/x/" + "very long name " * 20 + ".xlsx",
        "inbox/日本.csv",
        "inbox/agent/roster march.csv ",
    ]
    seen = set()
    for key in keys:
        for etag in ["3f9a1c2b" * 4, "0" * 32, "d41d8cd98f00b204e9800998ecf8427e-3"]:
            pk = partition_key_for(key, etag)
            assert pk == partition_key_for(key, etag)
            assert not set(pk) & set("|,/\\ \n\t") and "..." not in pk and ".." not in pk
            assert len(pk) <= 90, pk
            seen.add(pk)
    assert len(seen) == len(keys) * 3
    assert partition_key_for("inbox/agent/roster march.csv", "e").startswith(
        "agent__roster_march.csv__"
    )
    assert (
        partition_key_for("inbox/x/" + "long " * 40 + ".xlsx", "e").split("__")[1].endswith(".xlsx")
    )
    assert partition_key_for("inbox/日本.csv", "e").startswith("inbox__csv__")


def test_versions_whose_partition_exists_are_passed_over_and_counted():
    bucket = FakeBucket()
    done = bucket.put("inbox/agent/a.csv", "one")
    bucket.put("inbox/agent/b.csv", "two")
    known = {partition_key_for(done.key, done.etag)}

    tick = plan_inbox_tick(bucket.list_objects("inbox/"), None, now=T0, known_partitions=known)

    assert [f.key for f in tick.new_files] == ["inbox/agent/b.csv"]
    assert tick.already_processed == 1
    # The same key with new content is a new version: requested.
    changed = bucket.put("inbox/agent/a.csv", "one, corrected")
    again = plan_inbox_tick(bucket.list_objects("inbox/"), None, now=T0, known_partitions=known)
    assert [(f.key, f.etag) for f in again.new_files] == [
        ("inbox/agent/a.csv", changed.etag),
        ("inbox/agent/b.csv", etag_of("two")),
    ]
