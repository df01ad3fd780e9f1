"""Apply `ttai/db/migrations/*.sql` in name order, each once.

Every file runs in its own transaction together with its row in
`schema_migrations`, so a failed migration leaves nothing half-applied. A
transaction-scoped advisory lock serializes workers that start at the same
time: the second one waits, then sees the version recorded and skips it.
Files must therefore not use statements that refuse to run in a transaction
(e.g. CREATE INDEX CONCURRENTLY).

A version is its file stem (`001_core`), recorded in `schema_migrations`:
never rename or renumber a file, or every database that applied it would run
it again. There is no 002: the numbers were handed out to features built in
parallel and no 002 file was ever committed. The gap is harmless (files run
in name order) and stays; a new migration takes the next number after the
highest one.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant shared by every process migrating this database.
_LOCK_KEY = 0x7474_6169_6D69_67  # "ttaimig"


def read_migrations(directory: Path = MIGRATIONS_DIR) -> list[tuple[str, str]]:
    """(version, sql) for every `*.sql` file, in name order."""
    paths = sorted(directory.glob("*.sql"), key=lambda path: path.name)
    return [(path.stem, path.read_text()) for path in paths]


async def migrate(
    db: asyncpg.Pool | asyncpg.Connection, *, directory: Path = MIGRATIONS_DIR
) -> list[str]:
    """Apply what is not yet applied; return the versions (file stems) applied now."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await _migrate(conn, directory)
    return await _migrate(db, directory)


async def _migrate(conn: asyncpg.Connection, directory: Path) -> list[str]:
    applied: list[str] = []
    for version, sql in read_migrations(directory):
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            # Inside the lock: concurrent CREATE TABLE IF NOT EXISTS can still
            # collide on the catalog's unique keys.
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = await conn.fetchval(
                "SELECT 1 FROM schema_migrations WHERE version = $1", version
            )
            if done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
        applied.append(version)
    return applied
