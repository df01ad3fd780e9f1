"""The application's role: a non-superuser that owns its database.

A superuser connection is used only here, to create the role and the
database and to hand over objects a superuser created earlier (older local
clusters and compose volumes ran the application as the superuser), and by
`create_database`, which the tests use for their throw-away databases. The
application, migrations included, then runs as the role, so it cannot run
`COPY ... TO PROGRAM`, read server files or touch other databases.

Passwords are sent as SCRAM verifiers computed here, so the clear text never
reaches the server (nor its log, should a statement fail).

`python -m ttai.db.provision` does it for docker-compose's `db-setup` service:
the superuser connection comes from `DATABASE_ADMIN_URL` or the libpq
variables (`PGHOST`, `PGUSER`, `PGPASSWORD` ...), the role's password from
`TTAI_DB_PASSWORD`; `TTAI_DB_ROLE` and `TTAI_DB_NAME` default to
`ttai_app` and `ttai`. It is idempotent: run it on every start.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
import secrets
import sys
from urllib.parse import urlsplit, urlunsplit

import asyncpg

APP_ROLE = "ttai_app"
APP_DATABASE = "ttai"
SCRAM_ITERATIONS = 4096
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Relations a superuser may have created; owned sequences (serial, identity)
# follow their table.
_RELATION_KINDS = {
    "r": "TABLE",
    "p": "TABLE",
    "f": "FOREIGN TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "S": "SEQUENCE",
}


class ProvisionError(RuntimeError):
    """The role or database cannot be set up as required (message: one line, no secrets)."""


def identifier(name: str) -> str:
    """`name` quoted as an SQL identifier; only plain lower-case names are accepted."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain database or role name: {name!r}")
    return f'"{name}"'


def new_password() -> str:
    """A generated password: 256 bits, URL- and pgpass-safe characters only."""
    return secrets.token_urlsafe(32)


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """PostgreSQL's stored form of `password` for SCRAM-SHA-256 (RFC 5802/7677)."""
    if not (password.isascii() and password.isprintable()):
        # SASLprep of printable ASCII is the identity; anything else would
        # need the full profile, so it is refused rather than mis-hashed.
        raise ProvisionError("database passwords must be printable ASCII")
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


async def set_password(conn: asyncpg.Connection, role: str, password: str) -> None:
    """`ALTER ROLE role PASSWORD <verifier>` (utility statements take no bind
    parameters, so the server quotes the values with `format`)."""
    statement = await conn.fetchval(
        "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)",
        role,
        scram_verifier(password),
    )
    await conn.execute(statement)


async def ensure_app_database(
    admin_dsn: str | None,
    password: str,
    *,
    role: str = APP_ROLE,
    database: str = APP_DATABASE,
) -> None:
    """Make `role` a login, non-superuser role with `password` that owns `database`.

    `admin_dsn` is a superuser connection (None: the libpq environment). Safe
    to repeat: an existing role gets the password again, an existing database
    and the objects in it are handed over to `role`.
    """
    quoted_role, quoted_db = identifier(role), identifier(database)
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            raise ProvisionError("setting up the application role needs a superuser connection")
        existing = await conn.fetchrow("SELECT rolsuper FROM pg_roles WHERE rolname = $1", role)
        if existing is None:
            await conn.execute(f"CREATE ROLE {quoted_role}")
        elif existing["rolsuper"]:
            raise ProvisionError(
                f"role {role} is a superuser; the application's role must not be "
                "(use another role name)"
            )
        await conn.execute(
            f"ALTER ROLE {quoted_role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
            "NOREPLICATION NOBYPASSRLS"
        )
        await set_password(conn, role, password)
        owner = await conn.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", database
        )
        if owner is None:
            await conn.execute(f"CREATE DATABASE {quoted_db} OWNER {quoted_role}")
        elif owner != role:
            await conn.execute(f"ALTER DATABASE {quoted_db} OWNER TO {quoted_role}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(admin_dsn, database=database)
    try:
        await _hand_over(conn, role)
    finally:
        await conn.close()


async def _hand_over(conn: asyncpg.Connection, role: str) -> None:
    """Give `role` the schemas, relations and functions others own in this database."""
    others = """
        n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_%'
    """
    async with conn.transaction():
        schemas = await conn.fetch(
            f"""SELECT n.nspname FROM pg_namespace n
                WHERE {others}
                  AND pg_get_userbyid(n.nspowner) NOT IN ($1, 'pg_database_owner')""",
            role,
        )
        relations = await conn.fetch(
            f"""SELECT c.oid::regclass::text AS name, c.relkind::text AS kind
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE {others}
                  AND c.relkind::text = ANY($2::text[])
                  AND pg_get_userbyid(c.relowner) <> $1
                  AND NOT EXISTS (
                      SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype IN ('a', 'i'))""",
            role,
            list(_RELATION_KINDS),
        )
        routines = await conn.fetch(
            f"""SELECT p.oid::regprocedure::text AS name
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE {others} AND pg_get_userbyid(p.proowner) <> $1""",
            role,
        )
        quoted_role = identifier(role)
        for row in schemas:
            await conn.execute(
                await conn.fetchval("SELECT format('ALTER SCHEMA %I', $1::text)", row["nspname"])
                + f" OWNER TO {quoted_role}"
            )
        # regclass/regprocedure text is already quoted and schema-qualified as needed.
        for row in relations:
            await conn.execute(
                f"ALTER {_RELATION_KINDS[row['kind']]} {row['name']} OWNER TO {quoted_role}"
            )
        for row in routines:
            await conn.execute(f"ALTER ROUTINE {row['name']} OWNER TO {quoted_role}")


def database_dsn(dsn: str, name: str) -> str:
    """`dsn` with its database replaced by `name`."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def create_database(
    admin_dsn: str,
    name: str,
    *,
    template: str | None = None,
    exist_ok: bool = False,
    owner: str | None = None,
) -> str:
    """Create database `name` (optionally copied from `template`, owned by role
    `owner`); return its DSN for the admin's role."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not (exists and exist_ok):
            copy = f" TEMPLATE {identifier(template)}" if template else ""
            owned = f" OWNER {identifier(owner)}" if owner else ""
            await conn.execute(f"CREATE DATABASE {identifier(name)}{copy}{owned}")
    finally:
        await conn.close()
    return database_dsn(admin_dsn, name)


async def _main() -> int:
    password = os.environ.get("TTAI_DB_PASSWORD", "")
    if not password:
        print("error: TTAI_DB_PASSWORD is not set", file=sys.stderr)
        return 2
    role = os.environ.get("TTAI_DB_ROLE", "").strip() or APP_ROLE
    database = os.environ.get("TTAI_DB_NAME", "").strip() or APP_DATABASE
    try:
        await ensure_app_database(
            os.environ.get("DATABASE_ADMIN_URL") or None, password, role=role, database=database
        )
    except (ProvisionError, ValueError, OSError, asyncpg.PostgresError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"database {database} is owned by role {role} (login, not a superuser)")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_main()))
