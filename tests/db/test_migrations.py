"""Schema migrations and the shared database fixtures, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from tests.helpers.db import DatabaseFactory, drop_database
from ttai.db.alerts import AlertStore
from ttai.db.migrate import MIGRATIONS_DIR, migrate
from ttai.db.pool import create_pool
from ttai.db.provision import create_database

# Listed here independently of the code under test.
ALL_VERSIONS = sorted(path.stem for path in MIGRATIONS_DIR.iterdir() if path.suffix == ".sql")


@pytest_asyncio.fixture(loop_scope="session")
async def empty_database(postgres: DatabaseFactory) -> AsyncIterator[str]:
    """A database with no schema at all (not copied from the migrated template)."""
    name = f"ttai_empty_{uuid.uuid4().hex[:12]}"
    dsn = await create_database(postgres.admin_dsn, name)
    try:
        yield dsn
    finally:
        await drop_database(postgres.admin_dsn, name)


async def recorded_versions(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    return [row["version"] for row in rows]


async def test_migrate_applies_everything_once(empty_database: str) -> None:
    pool = await create_pool(empty_database, max_size=2)
    try:
        assert await migrate(pool) == ALL_VERSIONS
        async with pool.acquire() as conn:
            assert await migrate(conn) == []
            assert await recorded_versions(conn) == ALL_VERSIONS
            # 001_core's tables exist.
            assert await conn.fetchval("SELECT to_regclass('public.analyses')") == "analyses"
    finally:
        await pool.close()


async def test_concurrent_migrations_apply_each_file_once(empty_database: str) -> None:
    conns = [await asyncpg.connect(empty_database) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(conn) for conn in conns))
        applied = [version for result in results for version in result]
        assert sorted(applied) == ALL_VERSIONS
        assert await recorded_versions(conns[0]) == ALL_VERSIONS
    finally:
        for conn in conns:
            await conn.close()


async def test_failed_migration_leaves_nothing_half_applied(
    empty_database: str, tmp_path: Path
) -> None:
    (tmp_path / "001_first.sql").write_text("CREATE TABLE first (id int);")
    (tmp_path / "002_second.sql").write_text("CREATE TABLE second (id int); SELECT 1/0;")
    conn = await asyncpg.connect(empty_database)
    try:
        with pytest.raises(asyncpg.DivisionByZeroError):
            await migrate(conn, directory=tmp_path)
        assert await recorded_versions(conn) == ["001_first"]
        assert await conn.fetchval("SELECT to_regclass('public.second')") is None

        (tmp_path / "002_second.sql").write_text("CREATE TABLE second (id int);")
        assert await migrate(conn, directory=tmp_path) == ["002_second"]
        assert await conn.fetchval("SELECT to_regclass('public.second')") == "second"
    finally:
        await conn.close()


async def test_each_test_gets_its_own_migrated_database(
    db_pool: asyncpg.Pool, postgres: DatabaseFactory
) -> None:
    async with db_pool.acquire() as conn:
        assert await recorded_versions(conn) == ALL_VERSIONS
        await conn.execute(
            "INSERT INTO notifications (idempotency_key, kind, title, body, payload)"
            " VALUES ('k', 'test', 't', 'b', $1)",
            {"nested": [1, "two"]},
        )
        # The pool's codec turns jsonb into Python values both ways.
        assert await conn.fetchval("SELECT payload FROM notifications") == {"nested": [1, "two"]}
        assert await conn.fetchval("SELECT payload->'nested'->>1 FROM notifications") == "two"
    name, other_dsn = await postgres.create()
    try:
        other = await asyncpg.connect(other_dsn)
        try:
            assert await other.fetchval("SELECT count(*) FROM notifications") == 0
        finally:
            await other.close()
    finally:
        await postgres.drop(name)


async def test_older_rules_still_read_after_013(empty_database: str, tmp_path: Path) -> None:
    """Rules saved before 013 (cooldown 0, a note with escapes) read under the new bounds."""
    for version in ALL_VERSIONS:
        if version < "013":
            (tmp_path / f"{version}.sql").write_text(
                (MIGRATIONS_DIR / f"{version}.sql").read_text()
            )
    pool = await create_pool(empty_database, max_size=2)
    try:
        await migrate(pool, directory=tmp_path)
        await pool.execute(
            "INSERT INTO alert_rules (request_id, symbol, condition, threshold, mode, "
            "cooldown_seconds, note) VALUES ('old', 'AAPL', 'price_above', 0, 'rearm', 0, $1)",
            "log in\x1b[31m now\nplease\u202e",
        )
        assert await migrate(pool) == [v for v in ALL_VERSIONS if v >= "013"]
        (rule,) = await AlertStore(pool).rules()
        assert rule.spec.cooldown_seconds == 300
        assert rule.spec.note == "log in[31m nowplease"
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.execute("UPDATE alert_rules SET cooldown_seconds = 0")
    finally:
        await pool.close()
