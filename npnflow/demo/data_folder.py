"""Which run of the demo this is on its data folder, and the names of the files it drops.

`npnflow demo` runs on the data folder a person keeps (`.npnflow/`, or NPNFLOW_DATA_DIR), so a
second run finds the first run's producers, batches and files. It continues there instead of
failing: each run drops its files under names of its own (`demo-roster-2026-12-07-run2.csv`),
because a file version already processed is never processed again (the inbox sensor passes
over a version whose `uploads` partition exists), and what it drops is built from the current
data, so the second run shows what the product does with work already done: the same roster is
a Duplicate, lines already appointed are refused, producers already invited or offboarded are
said to be so.

The run's number is counted from the rosters earlier runs left in the bucket: the bucket is
the record of what was dropped, and nothing else needs to be kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from assets.uploads.inbox import is_upload_key

ROSTER_FOLDER = "inbox/agent"
ROSTER_PREFIX = "demo-roster-"


@dataclass(frozen=True)
class DemoRun:
    number: int  # 1 on a new data folder

    @property
    def continuing(self) -> bool:
        return self.number > 1

    def key(self, folder: str, name: str) -> str:
        """`folder/name` for the first run, `folder/<stem>-run<N>.<ext>` for run N: a new
        object, so the inbox sensor requests it (the same name would be the same version)."""
        if self.number > 1:
            stem, dot, extension = name.rpartition(".")
            name = f"{stem}-run{self.number}{dot}{extension}" if dot else f"{name}-run{self.number}"
        return f"{folder}/{name}"


_RUN_SUFFIX = re.compile(r"-run(\d+)\.csv$")


def demo_run_for(bucket: Path) -> DemoRun:
    """This run's number: one more than the highest of the demo rosters already in the bucket
    (a roster without `-runN` is run 1's). The highest, not the count: a run that stopped
    half-way leaves its roster, and the next run must not reuse its names."""
    folder = bucket / ROSTER_FOLDER
    if not folder.is_dir():
        return DemoRun(number=1)
    numbers = [0]
    for path in folder.glob(f"{ROSTER_PREFIX}*.csv"):
        if not is_upload_key(f"{ROSTER_FOLDER}/{path.name}"):
            continue  # the error report written beside a roster
        found = _RUN_SUFFIX.search(path.name)
        numbers.append(int(found.group(1)) if found else 1)
    return DemoRun(number=max(numbers) + 1)
