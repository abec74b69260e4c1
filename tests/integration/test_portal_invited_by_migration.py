"""Migration 0012 on SQLite and PostgreSQL: `portal_users` gains who invited and who revoked,
an invitation recorded before it keeps its row with no person (its door is still in
`invitation_source`), and the downgrade takes the columns away keeping every row."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from schemas import migrate

NEW_COLUMNS = {"invited_by", "revoked_at", "revoked_by"}


def _engine(database_url: str) -> sa.Engine:
    return sa.create_engine(database_url, poolclass=sa.NullPool)


def _columns(database_url: str) -> set[str]:
    engine = _engine(database_url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns("portal_users")}
    finally:
        engine.dispose()


def _users(database_url: str, columns: str) -> list[tuple[object, ...]]:
    engine = _engine(database_url)
    try:
        with engine.connect() as connection:
            query = f"SELECT {columns} FROM portal_users ORDER BY npn"  # test-owned names only
            return [tuple(row) for row in connection.execute(sa.text(query))]
    finally:
        engine.dispose()


def test_0012_adds_who_invited_and_revoked_and_keeps_older_invitations(database_url) -> None:
    migrate.upgrade(database_url, "0011")
    engine = _engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO portals (portal_id, seats_total) VALUES ('agents', 2)")
            )
            connection.execute(
                sa.text(
                    "INSERT INTO portal_users (npn, portal_id, status, invited_at, "
                    "invitation_source) VALUES ('10000001', 'agents', 'Invited', :at, "
                    "'upload portal_invite__old.csv__abc')"
                ),
                {"at": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)},
            )
    finally:
        engine.dispose()
    assert not NEW_COLUMNS & _columns(database_url)

    migrate.upgrade(database_url, "0012")

    assert _columns(database_url) >= NEW_COLUMNS
    assert _users(database_url, "npn, status, invitation_source, invited_by, revoked_by") == [
        ("10000001", "Invited", "upload portal_invite__old.csv__abc", None, None)
    ]

    migrate.downgrade(database_url, "0011")

    assert not NEW_COLUMNS & _columns(database_url)
    assert _users(database_url, "npn, status, invitation_source") == [
        ("10000001", "Invited", "upload portal_invite__old.csv__abc")
    ]
