"""kill -9 between an upload's steps, then the file dropped again: nothing lost, nothing twice.

Issue 13, item 6: a worker killed after `core_uploads__processed` committed and before the
appointment step committed left the upload `Processed` with no batches; nothing asked again,
and dropping the file again was refused as `Duplicate`. Here a real process runs the whole
`process_upload_job` selection and SIGKILLs itself the moment the appointment step starts (so
the validation's transaction is committed and the evaluation's never begins). The file is
then dropped again, under another name and under the same name, and processed as the daemon
would: the requests become transactions once, owned by the first upload.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.appointments.assets import APPOINTMENT_ASSETS
from assets.keys import UPLOADS_PARTITIONS
from assets.uploads.assets import UPLOAD_ASSETS
from assets.uploads.inbox import partition_key_for
from assets.uploads.ledger import run_tags
from resources.database import OperationalDatabase
from resources.object_store import LocalFolderObjectStore
from resources.ssn import SsnVault
from schemas import statuses
from support.seed import seeded_database

from .test_concurrent_uploads import NPNS, _rows, _world

REPO = Path(__file__).resolve().parents[2]

KILLED_CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    import dagster as dg
    from assets.appointments.assets import APPOINTMENT_ASSETS
    from assets.batches import upload_step
    from assets.keys import UPLOADS_PARTITIONS
    from assets.uploads.assets import UPLOAD_ASSETS
    from assets.uploads.inbox import partition_key_for
    from assets.uploads.ledger import run_tags
    from resources.database import OperationalDatabase
    from resources.object_store import LocalFolderObjectStore
    from resources.ssn import SsnVault

    args = json.loads(sys.argv[1])

    def killed(*a, **k):  # the validation committed; the evaluation's transaction never begins
        os.kill(os.getpid(), signal.SIGKILL)

    upload_step._evaluate_and_write = killed
    store = LocalFolderObjectStore(root=args["bucket"])
    stored = next(o for o in store.list_objects(prefix=args["key"]) if o.key == args["key"])
    partition = partition_key_for(stored.key, stored.etag)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
    dg.materialize(
        [*UPLOAD_ASSETS, *APPOINTMENT_ASSETS],
        partition_key=partition,
        instance=instance,
        resources={
            "database": OperationalDatabase(url=args["url"]),
            "object_store": store,
            "ssn_vault": SsnVault(key=None),
        },
        tags=run_tags(stored.key, stored.etag, "appoint"),
    )
    """
)


def _process(database_url: str, store: LocalFolderObjectStore, key: str) -> str:
    stored = next(o for o in store.list_objects(prefix=key) if o.key == key)
    partition = partition_key_for(stored.key, stored.etag)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
        result = dg.materialize(
            [*UPLOAD_ASSETS, *APPOINTMENT_ASSETS],
            partition_key=partition,
            instance=instance,
            resources={
                "database": OperationalDatabase(url=database_url),
                "object_store": store,
                "ssn_vault": SsnVault(key=None),
            },
            tags=run_tags(stored.key, stored.etag, "appoint"),
        )
    assert result.success
    return partition


def _killed_run(database_url: str, store: LocalFolderObjectStore, key: str) -> str:
    args = {"url": database_url, "bucket": store.root, "key": key}
    child = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, json.dumps(args)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    stored = next(o for o in store.list_objects(prefix=key) if o.key == key)
    return partition_key_for(stored.key, stored.etag)


def _open_lines(database: OperationalDatabase) -> list[tuple[str, str, str]]:
    t = database.read_table("transactions")
    t = t[t["status"].isin(sorted(statuses.OPEN_TRANSACTION_STATUSES))]
    return sorted(zip(t["upload_id"], t["npn"], t["state_code"], strict=True))


@pytest.mark.parametrize(
    "again_as", ["inbox/appoint/requests (1).csv", "inbox/appoint/requests.csv"]
)
def test_a_kill_between_steps_is_recovered_by_dropping_the_file_again(
    database_url, tmp_path, again_as
):
    database = seeded_database(database_url, _world())
    store = LocalFolderObjectStore(root=str(tmp_path / "bucket"))
    data = _rows(*[(npn, "TX", "Life") for npn in NPNS])
    store.put_bytes("inbox/appoint/requests.csv", data)

    first = _killed_run(database_url, store, "inbox/appoint/requests.csv")
    uploads = database.read_table("uploads").set_index("upload_id")
    assert uploads.loc[first, "status"] == "Processed"
    assert pd.isna(uploads.loc[first, "completed_at"])  # cut short
    assert _open_lines(database) == []  # the kill lost the evaluation

    store.put_bytes(again_as, data)  # the analyst drops the file again
    if again_as.endswith("(1).csv"):
        again = _process(database_url, store, again_as)
        assert database.read_table("uploads").set_index("upload_id").loc[again, "status"] == (
            "Duplicate"
        )
    else:
        # The same name is the same partition: unfinished_uploads_sensor asks for it again at
        # once (tests/dagster/test_upload_recovery.py); its run is this one.
        assert _process(database_url, store, again_as) == first

    expected = [(first, npn, "TX") for npn in NPNS]
    assert _open_lines(database) == expected
    # And once only: processing either drop again creates nothing more.
    _process(database_url, store, again_as)
    assert _open_lines(database) == expected
    completed = database.read_table("uploads").set_index("upload_id").loc[first, "completed_at"]
    assert not pd.isna(completed)
