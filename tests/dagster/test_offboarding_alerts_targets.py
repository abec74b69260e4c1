"""An offboarded producer leaves NIPR's PDB Alerts targets at the next subscriptions run:
`core_nipr__subscriptions` through `dg.materialize`, against the in-process NIPR sandbox over
HTTP, after `offboard_producers` marked the producer offboarded (nothing else is needed:
`assets/nipr/roster.py::is_tracked` reads `is_active`)."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from assets.nipr.subscriptions import core_nipr__subscriptions
from assets.offboarding.rules import OFFBOARDED, OffboardRequest
from assets.offboarding.service import offboard_producers
from resources.database import OperationalDatabase
from resources.nipr import NiprClient
from schemas.migrate import upgrade
from schemas.tables import producers
from support.sandbox import client_settings, sandbox_fixture

sandbox = sandbox_fixture(producers=30)


def test_an_offboarded_producer_is_removed_from_the_alerts_targets_at_the_next_run(
    sandbox, tmp_path
) -> None:
    sandbox.reset()
    npns = sorted(sandbox.world.individual_npns())[:3]
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    database = OperationalDatabase(url=url)
    with database.begin() as connection:
        connection.execute(
            producers.insert(),
            [
                {"npn": npn, "last_name": npn, "is_active": True, "sync_status": "Success"}
                for npn in npns
            ],
        )
    nipr = NiprClient(
        **client_settings(sandbox), timeout_seconds=5, read_retries=1, backoff_seconds=0.01
    )
    resources = {"database": database, "nipr": nipr}

    assert dg.materialize([core_nipr__subscriptions], resources=resources).success
    [subscription] = nipr.list_subscriptions()
    assert sorted(nipr.list_targets(subscription)) == npns

    leaving = npns[1]
    run = offboard_producers(database, [OffboardRequest(leaving)], offboarded_by="Dana")
    assert run.outcomes[0].outcome == OFFBOARDED
    # Offboarding itself calls nobody: NIPR still watches the producer until the next run.
    assert leaving in nipr.list_targets(subscription)

    assert dg.materialize([core_nipr__subscriptions], resources=resources).success
    assert sorted(nipr.list_targets(subscription)) == [npns[0], npns[2]]
    ledger = database.read_table("nipr_subscriptions").set_index("npn")
    assert pd.notna(ledger.at[leaving, "removed_at"])
    assert ledger.drop(index=leaving)["removed_at"].isna().all()
    database.engine.dispose()
