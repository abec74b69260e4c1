"""What the inbox sensor decides at each tick: which dropped files are new, and the next cursor.

Pure (no Dagster, no I/O): the sensor lists the store and wires the result, roughly

    start = listing_start_after(context.cursor)
    objects = object_store.list_objects(prefix=INBOX_PREFIX, start_after=start)  # lazy
    tick = plan_inbox_tick(objects, context.cursor)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f.run_key, partition_key=f.partition_key)
                      for f in tick.new_files],
        dynamic_partitions_requests=[
            uploads_partitions.build_add_request([f.partition_key for f in tick.new_files])],
        cursor=tick.cursor,
    )

What counts as an upload: keys under `inbox/`, except "folders" (keys ending in '/'), hidden
files (any segment starting with '.': partial writes, `.DS_Store`), Excel's lock files
(`~$name.xlsx`), our own error reports (`*.errors.csv`, `*.errors.xlsx`, written beside the
upload) and anything inside a folder named `processed` or `archive` at any depth below
`inbox/` (where people may move handled files; npnflow itself never moves or deletes uploads).
The kind is the first folder, `inbox/<kind>/...` (agent, appoint, terminate, portal_invite;
case and '-'/'_' forgiven), else None and the pipeline recognises it from the header.

The cursor (JSON, at most `MAX_CURSOR_BYTES`; never the list of every key seen):

    {"v": 1, "pass": 3, "after": "inbox/agent/b.csv", "started": "...Z", "since": "...Z",
     "seen": ["3f9a1c2b5d6e7f80", ...]}

- A *pass* walks the inbox once in key order, over as many ticks as it takes. Each tick lists
  from `after` (the last key fully handled in this pass) and stops after `max_listed_per_tick`
  objects or `max_new_per_tick` new files, whichever comes first; `after` then moves to the
  last object it looked at, never further, so nothing is skipped when a tick stops early. A
  bucket of 10,000 files is a pass of a few cheap ticks (two ListObjectsV2 pages each).
- When a listing comes back short, the pass is over: the next tick starts again from the first
  key, which is how changes to keys behind the cursor (same key, new ETag) are found.
- `since`: a version is a candidate in pass n only if its `last_modified` is at or after
  `since` = start of pass n-1 minus `change_margin`. Anything older existed, unchanged, during
  all of pass n-1, so pass n-1 (or an earlier one) already requested it. Pass 1 has no `since`:
  every file is a candidate. The margin covers the store's clock running behind the sensor's
  (S3 refuses requests skewed by more than 15 minutes) and uploads that take a while.
- `seen`: short hashes of the (key, ETag) pairs requested most recently (newest last, trimmed
  to the byte budget), so files inside the margin are not requested again pass after pass.
- A version whose partition already exists (`known_partitions`, the instance's `uploads`
  partitions) is never requested again: it was requested before, by this sensor under an
  earlier cursor or by `npnflow demo`, which evaluates this sensor and runs its requests in
  process (runs Dagster's run-key check does not see). So switching the sensor on after the
  demo, or losing the cursor, reprocesses nothing.
- The cursor is an efficiency bound, not the exactly-once guard: the run key
  `"{key}:{etag}"` is. If the window overflows, or the cursor is lost or unreadable (it then
  starts afresh at pass 1), files are requested again and Dagster skips every run key it has
  already seen, so an unchanged file never runs twice; a changed file has a new ETag, hence a
  new run key and a new partition.
"""

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

INBOX_PREFIX = "inbox/"
KINDS = ("agent", "appoint", "terminate", "portal_invite", "offboard", "jit_release")
IGNORED_FOLDERS = frozenset({"processed", "archive"})
ERROR_REPORT_SUFFIXES = (".errors.csv", ".errors.xlsx")

DEFAULT_MAX_NEW_PER_TICK = 100
DEFAULT_MAX_LISTED_PER_TICK = 2000
DEFAULT_CHANGE_MARGIN = dt.timedelta(minutes=30)
MAX_CURSOR_BYTES = 8192
CURSOR_VERSION = 1
_SEEN_HASH_CHARS = 16  # 64 bits: a false "seen" among a few hundred entries is ~1e-17
_MAX_SEEN = 400
_NAME_CHARS = 60  # of the file name inside a partition key
_PARTITION_HASH_CHARS = 12


class ListedObject(Protocol):
    """What the planner needs of a listed object (`resources.object_store.StoredObject`)."""

    @property
    def key(self) -> str: ...

    @property
    def etag(self) -> str: ...

    @property
    def last_modified(self) -> dt.datetime: ...


@dataclass(frozen=True)
class InboxFile:
    key: str
    etag: str
    partition_key: str
    run_key: str
    kind: str | None


@dataclass(frozen=True)
class InboxTick:
    new_files: list[InboxFile]
    cursor: str
    listed: int
    done_listing: bool
    already_processed: int = 0  # versions passed over because their partition exists


# ====================================================================== which keys
def is_upload_key(key: str) -> bool:
    """Whether `key` is a file someone dropped for processing (see the module docstring)."""
    if not key.startswith(INBOX_PREFIX) or key.endswith("/"):
        return False
    parts = key[len(INBOX_PREFIX) :].split("/")
    name = parts[-1]
    if not name or any(part.startswith(".") for part in parts):
        return False
    if name.startswith("~$") or name.lower().endswith(ERROR_REPORT_SUFFIXES):
        return False
    return not any(folder.lower() in IGNORED_FOLDERS for folder in parts[:-1])


def kind_from_key(key: str) -> str | None:
    """The kind named by the folder `inbox/<kind>/...`, else None."""
    parts = key[len(INBOX_PREFIX) :].split("/") if key.startswith(INBOX_PREFIX) else []
    if len(parts) < 2:
        return None
    folder = parts[0].strip().lower().replace("-", "_")
    return folder if folder in KINDS else None


def run_key_for(key: str, etag: str) -> str:
    return f"{key}:{etag}"


def partition_key_for(key: str, etag: str) -> str:
    """`<kind or inbox>__<file name>__<hash of key and etag>`: readable in the UI, unique per
    version, at most ~90 characters of `[A-Za-z0-9._-]` (no '|' or ',' for Dagster, no '..')."""
    name = key.rsplit("/", 1)[-1]
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name)
    clean = re.sub(r"\.{2,}", ".", clean).strip("._-") or "file"
    if len(clean) > _NAME_CHARS:
        stem, dot, ext = clean.rpartition(".")
        ext = f"{dot}{ext}" if stem and len(ext) <= 8 else ""
        clean = clean[: _NAME_CHARS - len(ext)].rstrip("._-") + ext
    digest = hashlib.sha256(run_key_for(key, etag).encode("utf-8")).hexdigest()
    return f"{kind_from_key(key) or 'inbox'}__{clean}__{digest[:_PARTITION_HASH_CHARS]}"


def _seen_hash(key: str, etag: str) -> str:
    return hashlib.sha256(run_key_for(key, etag).encode("utf-8")).hexdigest()[:_SEEN_HASH_CHARS]


# ====================================================================== the cursor
@dataclass
class _Cursor:
    pass_number: int = 1
    after: str = ""
    started: dt.datetime | None = None
    since: dt.datetime | None = None
    seen: list[str] | None = None

    @classmethod
    def parse(cls, text: str | None) -> "_Cursor":
        """The cursor, or a fresh one when there is none or it is unreadable (safe: run keys
        keep already-processed files from running again)."""
        if not text:
            return cls(seen=[])
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                return cls(seen=[])
            return cls(
                pass_number=int(data["pass"]),
                after=str(data["after"]),
                started=_parse_time(data.get("started")),
                since=_parse_time(data.get("since")),
                seen=[str(item) for item in data.get("seen", [])],
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls(seen=[])

    def dump(self) -> str:
        seen = list(self.seen or [])[-_MAX_SEEN:]
        while True:
            text = json.dumps(
                {
                    "v": CURSOR_VERSION,
                    "pass": self.pass_number,
                    "after": self.after,
                    "started": _format_time(self.started),
                    "since": _format_time(self.since),
                    "seen": seen,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
            if len(text.encode("utf-8")) <= MAX_CURSOR_BYTES or not seen:
                return text
            # Forget the oldest: at worst a file is requested again and its run key deduped.
            seen = seen[max(1, len(seen) // 8) :]


def _parse_time(value: object) -> dt.datetime | None:
    if value is None:
        return None
    return _aware(dt.datetime.fromisoformat(str(value)))


def _format_time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def listing_start_after(cursor: str | None) -> str:
    """Where the sensor's listing starts (`start_after`) for the tick this cursor leads to."""
    return _Cursor.parse(cursor).after


# ====================================================================== the tick
def plan_inbox_tick(
    objects: Iterable[ListedObject],
    cursor: str | None,
    *,
    max_new_per_tick: int = DEFAULT_MAX_NEW_PER_TICK,
    max_listed_per_tick: int = DEFAULT_MAX_LISTED_PER_TICK,
    now: dt.datetime | None = None,
    change_margin: dt.timedelta = DEFAULT_CHANGE_MARGIN,
    known_partitions: Collection[str] = frozenset(),
) -> InboxTick:
    """The new files of this tick and the next cursor.

    `objects` is the store's listing in key order, ideally started after
    `listing_start_after(cursor)`; it is consumed lazily and at most `max_listed_per_tick` items
    are taken, so a lazy S3 listing fetches no page beyond them. Objects at or before the
    cursor's position, or outside `inbox/`, are passed over (and counted as listed), and so
    are versions whose partition key is in `known_partitions` (requested before).
    """
    if max_new_per_tick < 1 or max_listed_per_tick < 1:
        raise ValueError("max_new_per_tick and max_listed_per_tick must be at least 1")
    now = _aware(now or dt.datetime.now(dt.UTC))
    state = _Cursor.parse(cursor)
    seen = list(state.seen or [])
    seen_set = set(seen)
    if not state.after and state.started is None:
        state.started = now  # the first tick of a pass

    new_files: list[InboxFile] = []
    listed = 0
    already_processed = 0
    previous_key = state.after
    exhausted = False
    iterator = iter(objects)
    while listed < max_listed_per_tick and len(new_files) < max_new_per_tick:
        try:
            obj = next(iterator)
        except StopIteration:
            exhausted = True
            break
        listed += 1
        if obj.key <= previous_key:
            if obj.key < previous_key and previous_key != state.after:
                raise ValueError(
                    f"the listing is not in key order: {obj.key!r} came after {previous_key!r}"
                )
            continue  # at or before the cursor: handled in an earlier tick
        previous_key = obj.key
        if not is_upload_key(obj.key):
            continue
        if state.since is not None and _aware(obj.last_modified) < state.since:
            continue  # unchanged since before the previous pass, which handled it
        fingerprint = _seen_hash(obj.key, obj.etag)
        if fingerprint in seen_set:
            continue
        partition_key = partition_key_for(obj.key, obj.etag)
        if partition_key in known_partitions:
            already_processed += 1
            continue
        seen.append(fingerprint)
        seen_set.add(fingerprint)
        new_files.append(
            InboxFile(
                key=obj.key,
                etag=obj.etag,
                partition_key=partition_key,
                run_key=run_key_for(obj.key, obj.etag),
                kind=kind_from_key(obj.key),
            )
        )

    if exhausted:
        # The end of the inbox: the next tick starts the next pass from the first key.
        started = state.started or now
        next_state = _Cursor(
            pass_number=state.pass_number + 1,
            after="",
            started=None,
            since=started - change_margin,
            seen=seen,
        )
    else:
        next_state = _Cursor(
            pass_number=state.pass_number,
            after=previous_key,
            started=state.started,
            since=state.since,
            seen=seen,
        )
    return InboxTick(
        new_files=new_files,
        cursor=next_state.dump(),
        listed=listed,
        done_listing=exhausted,
        already_processed=already_processed,
    )
