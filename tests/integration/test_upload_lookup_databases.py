"""Finding an upload by name and reading a producer's story on both databases (SQLite file
and PostgreSQL): LIKE with its escape, timestamps with and without offsets.

The world is tests/support/answers.py's, seeded with the shipped reference tables.
"""

from __future__ import annotations

import pytest

from assets.onboarding.producer_view import producer_view
from assets.uploads.lookup import UploadNotFound, find_upload, list_uploads, upload_detail
from support.answers import APPOINT_AGAIN_ID, APPOINT_ID, NORA, ROSTER_ID, world_tables
from support.offboarding import ANN
from support.seed import seeded_database


@pytest.fixture
def database(database_url):
    database = seeded_database(database_url, world_tables())
    yield database
    database.engine.dispose()


def test_a_name_a_key_an_id_and_its_start_find_the_upload(database) -> None:
    with database.engine.connect() as connection:
        named = find_upload(connection, "appoint.csv")
        assert named.upload["upload_id"] == APPOINT_AGAIN_ID
        assert [u["upload_id"] for u in named.others] == [APPOINT_ID]
        assert find_upload(connection, "inbox/agent/roster.csv").upload["upload_id"] == ROSTER_ID
        assert find_upload(connection, APPOINT_ID[:-3]).upload["upload_id"] == APPOINT_ID
        # `_` is a LIKE wildcard: "appoint_csv" is no file name here.
        with pytest.raises(UploadNotFound):
            find_upload(connection, "appoint_csv")
        with pytest.raises(UploadNotFound, match="give the file name or more of the id"):
            find_upload(connection, "appoint__")
        assert list_uploads(connection, limit=2)["upload_id"].tolist()[1] == APPOINT_AGAIN_ID
        detail = upload_detail(connection, ROSTER_ID, error_limit=5)
        assert detail.producers_added["npn"].tolist()[0] == NORA


def test_a_producers_story_reads_the_same_on_either_database(database) -> None:
    with database.engine.connect() as connection:
        view = producer_view(connection, "00" + ANN)
    assert view.npn == ANN and view.agency_name == "Lee Agency"
    assert len(view.appointments) == 6 and len(view.open_transactions) == 4
    assert sorted(view.portal_seats["portal_id"]) == ["harborstone", "summit"]
