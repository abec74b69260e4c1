"""Fixtures of the integration tests that run on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty operational database: a SQLite file, then a fresh PostgreSQL database (marked
    `postgres`: required in CI). A module may define its own `database_url` instead."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'npnflow.db'}"
    else:
        request.applymarker(pytest.mark.postgres)
        yield request.getfixturevalue("fresh_postgres_url")
