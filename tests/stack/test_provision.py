"""`python -m ttai.db.provision` (compose's db-setup): a login role that is no
superuser, owning its database, including data a superuser made before."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from tests.helpers.db import DatabaseFactory, drop_database
from ttai.config import PROJECT_ROOT
from ttai.db.provision import (
    ProvisionError,
    create_database,
    database_dsn,
    scram_verifier,
)

PASSWORD = "Provision-Test-Pw-0123456789"


@pytest_asyncio.fixture(loop_scope="session")
async def admin_dsn(postgres: DatabaseFactory) -> AsyncIterator[str]:
    conn = await asyncpg.connect(postgres.admin_dsn)
    try:
        if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            pytest.skip("DATABASE_URL is not a superuser: cannot create roles")
    finally:
        await conn.close()
    yield postgres.admin_dsn


async def _provision(admin_dsn: str, role: str, database: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_ADMIN_URL": admin_dsn,
        "TTAI_DB_ROLE": role,
        "TTAI_DB_NAME": database,
        "TTAI_DB_PASSWORD": PASSWORD,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ttai.db.provision",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_role_owns_its_database_and_older_data(admin_dsn: str) -> None:
    suffix = uuid.uuid4().hex[:10]
    role, database = f"prov_role_{suffix}", f"prov_db_{suffix}"
    # What an older compose setup left: the database and its tables owned by the superuser.
    owned_by_superuser = await create_database(admin_dsn, database)
    conn = await asyncpg.connect(owned_by_superuser)
    await conn.execute("CREATE TABLE kept (id serial PRIMARY KEY, v text)")
    await conn.execute("INSERT INTO kept (v) VALUES ('x')")
    await conn.execute("CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    await conn.close()
    try:
        for _ in range(2):  # idempotent: db-setup runs on every `up`
            code, output = await _provision(admin_dsn, role, database)
            assert code == 0, output
            assert PASSWORD not in output
        app = await asyncpg.connect(database_dsn(admin_dsn, database), user=role, password=PASSWORD)
        try:
            assert await app.fetchval("SELECT v FROM kept") == "x"
            await app.execute("ALTER TABLE kept ADD COLUMN w text")  # migrations run as it
            await app.execute("INSERT INTO kept (v) VALUES ('y')")
            await app.execute(
                "CREATE OR REPLACE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 2'"
            )
            assert not await app.fetchval(
                "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles "
                "WHERE rolname = current_user"
            )
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute("COPY (SELECT 1) TO PROGRAM 'true'")
        finally:
            await app.close()
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(database_dsn(admin_dsn, database), user=role, password="nope")
    finally:
        await drop_database(admin_dsn, database)
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        await conn.close()


async def test_a_superuser_is_never_made_the_application_role(admin_dsn: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    superuser = await conn.fetchval("SELECT current_user")
    await conn.close()
    code, output = await _provision(admin_dsn, superuser, f"prov_db_{uuid.uuid4().hex[:10]}")
    assert code == 2
    assert output.strip() == (
        f"error: role {superuser} is a superuser; the application's role must not be "
        "(use another role name)"
    )


def test_scram_verifier_format_and_refusals() -> None:
    verifier = scram_verifier("pw", salt=bytes(16))
    assert verifier.startswith("SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$")
    for bad in ("pässword", "tab\there"):
        with pytest.raises(ProvisionError, match="printable ASCII"):
            scram_verifier(bad)
