"""Fixtures of the Dagster asset tests: a seeded SQLite database and a local bucket driven
through the real assets, sensors and jobs on a test instance."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.keys import UPLOADS_PARTITIONS
from assets.uploads.assets import UPLOAD_ASSETS
from assets.uploads.inbox import partition_key_for
from assets.uploads.ledger import run_tags
from pipelines.definitions import build_definitions
from resources.database import OperationalDatabase
from resources.object_store import LocalFolderObjectStore, ObjectStore
from resources.ssn import SsnVault
from support import seed


def _seeded_database(path: Path, tables: Mapping[str, pd.DataFrame]) -> Path:
    """A migrated SQLite file with the reference tables, the shipped company setup and
    `tables` (producers, licenses, appointments, ...): the template each test copies."""
    seed.seeded_database(f"sqlite:///{path}", tables).engine.dispose()
    return path


@pytest.fixture(scope="session")
def seeded_database() -> Callable[[Path, Mapping[str, pd.DataFrame]], Path]:
    """`seeded_database(path, tables)`: for the module-scoped template databases."""
    return _seeded_database


class Pipeline:
    """A copy of a template database, a bucket and a test instance, with the steps a dropped
    file goes through."""

    def __init__(
        self,
        tmp_path: Path,
        template_db: Path,
        instance: dg.DagsterInstance,
        assets: Sequence[dg.AssetsDefinition],
    ):
        db_path = tmp_path / "npnflow.db"
        shutil.copy(template_db, db_path)
        self.database = OperationalDatabase(url=f"sqlite:///{db_path}")
        # Any bucket: a test may swap in an S3 store (moto's server).
        self.store: ObjectStore = LocalFolderObjectStore(root=str(tmp_path / "bucket"))
        self.instance = instance
        self.assets = [*UPLOAD_ASSETS, *assets]
        self.defs = build_definitions("local")

    @property
    def resources(self) -> dict[str, object]:
        return {
            "database": self.database,
            "object_store": self.store,
            "ssn_vault": SsnVault(key=None),
        }

    def drop_and_process(
        self, key: str, data: bytes, kind: str
    ) -> tuple[str, dg.ExecuteInProcessResult]:
        """Store the file and materialize its upload partition, as process_upload_job does."""
        return self.process(key, self.store.put_bytes(key, data).etag, kind)

    def process(self, key: str, etag: str, kind: str) -> tuple[str, dg.ExecuteInProcessResult]:
        """Materialize the upload partition of an object already in the bucket."""
        partition = partition_key_for(key, etag)
        self.instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
        result = dg.materialize(
            self.assets,
            partition_key=partition,
            instance=self.instance,
            resources=self.resources,
            tags=run_tags(key, etag, kind),
        )
        assert result.success
        return partition, result

    def table(self, name: str) -> pd.DataFrame:
        return self.database.read_table(name)

    @staticmethod
    def metadata(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict]:
        """Each materialized asset's metadata in a run."""
        return {
            event.event_specific_data.materialization.asset_key: (
                event.event_specific_data.materialization.metadata
            )
            for event in result.get_asset_materialization_events()
        }

    def sensor_tick(self, name: str):
        sensor = self.defs.resolve_sensor_def(name)
        with dg.build_sensor_context(
            instance=self.instance,
            instance_ref=self.instance.get_ref(),
            resources={"database": self.database, "object_store": self.store},
            definitions=self.defs,
        ) as context:
            return sensor.evaluate_tick(context)


@pytest.fixture
def make_pipeline(
    tmp_path,
) -> Iterator[Callable[[Path, Sequence[dg.AssetsDefinition]], Pipeline]]:
    """`make_pipeline(template_db, assets)`: a Pipeline over the upload assets and `assets`."""
    with dg.instance_for_test() as instance:
        yield lambda template_db, assets: Pipeline(tmp_path, template_db, instance, assets)
