"""Which cut-short uploads to run again: what `unfinished_uploads_sensor` decides. Pure.

An upload whose steps did not all commit (a crash between `core_uploads__processed` and the
appointment step, a killed worker, a run that failed on a passing database error) has no
`uploads.completed_at`. Every step is idempotent and continues where the last one committed
(docs/uploads.md), so running the partition's `process_upload_job` again finishes it. This
module decides when: an unfinished upload is requested again once it has been quiet for
`quiet_for` (its own run may simply be slow or queued), or at once when its file was dropped
again under the same name since (the same bytes under the same name are the same partition,
so the inbox sensor, which requests a file version once, does not ask again), and only while
no run of its partition is queued or in progress; at most `max_attempts` times, each attempt
with its own run key. After that it is
left for a person (the sensor's skip message names it): a file that fails the same way three
times needs reading, not a fourth try.

The cursor (JSON) keeps, per upload still unfinished, the attempts made and when the last was
requested; finished uploads drop out of it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_QUIET_FOR = dt.timedelta(minutes=10)
DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Unfinished:
    upload_id: str
    received_at: dt.datetime
    # The file's last write in the bucket, when known: later than the upload's last attempt
    # means someone dropped it again.
    dropped_at: dt.datetime | None = None


@dataclass(frozen=True)
class ContinuationTick:
    requests: list[tuple[str, str]]  # (upload_id = partition key, run key)
    given_up: list[str]  # unfinished after max_attempts: left for a person
    cursor: str


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _parse(cursor: str | None) -> dict[str, tuple[int, dt.datetime]]:
    try:
        raw = json.loads(cursor or "{}").get("uploads", {})
        return {
            str(upload_id): (int(attempts), dt.datetime.fromisoformat(str(last)))
            for upload_id, (attempts, last) in raw.items()
        }
    except (ValueError, TypeError, AttributeError):
        return {}  # an unreadable cursor starts afresh: at worst a few extra attempts


def plan_continuations(
    unfinished: Iterable[Unfinished],
    busy_partitions: set[str],
    cursor: str | None,
    now: dt.datetime,
    *,
    quiet_for: dt.timedelta = DEFAULT_QUIET_FOR,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> ContinuationTick:
    """The runs to request this tick and the next cursor."""
    now = _aware(now)
    previous = _parse(cursor)
    kept: dict[str, tuple[int, dt.datetime]] = {}
    requests: list[tuple[str, str]] = []
    given_up: list[str] = []
    for upload in unfinished:
        attempts, last = previous.get(upload.upload_id, (0, _aware(upload.received_at)))
        last = _aware(last)
        dropped_again = upload.dropped_at is not None and _aware(upload.dropped_at) > last
        if attempts >= max_attempts:
            given_up.append(upload.upload_id)
        elif upload.upload_id not in busy_partitions and (dropped_again or now - last >= quiet_for):
            attempts += 1
            last = now
            requests.append((upload.upload_id, f"{upload.upload_id}:continue:{attempts}"))
        kept[upload.upload_id] = (attempts, last)
    next_cursor = json.dumps(
        {"uploads": {k: [n, when.isoformat()] for k, (n, when) in sorted(kept.items())}}
    )
    return ContinuationTick(requests=requests, given_up=given_up, cursor=next_cursor)
