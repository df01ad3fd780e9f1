"""Who may log in to the private PostgreSQL cluster, with which password, and how.

- logins need a password (SCRAM), on 127.0.0.1 and the private socket alike
  (`PG_HBA`); a cluster whose pg_hba.conf differs (older versions trusted
  every local user) is converted on start (`require_passwords`);
- the passwords are generated once and kept in `<state>/pgpass` (mode 0600,
  libpq's pgpass format): asyncpg reads it through `passfile=` in the DSN, so
  no URL ever holds a password, and each is registered for log redaction;
- the application connects as `ttai_app`, a non-superuser owning the `ttai`
  database; the superuser `ttai` only creates that role and database
  (`ttai.db.provision`).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import asyncpg

from ttai.db.provision import APP_DATABASE, APP_ROLE, new_password, set_password
from ttai.loopback import LOOPBACK
from ttai.private_files import PrivateFileError, read_private_text
from ttai.servers import StackError
from ttai.servers.files import (
    opened_dir,
    read_text_nofollow,
    write_private_file,
    write_private_file_atomically,
)
from ttai.telemetry.redaction import register_secret

# The cluster's bootstrap superuser: it only creates the application's role
# and database (ttai.db.provision). Older versions ran everything as it.
SUPERUSER = "ttai"
# What the application connects as: a non-superuser owning its database.
ROLE = APP_ROLE
DATABASE = APP_DATABASE
PASSWORDS_FILE = "pgpass"
_PASSWORDS_WHAT = "the local PostgreSQL passwords file"
# The file is the project's: a cluster whose pg_hba.conf differs is converted on
# start, so this text (its comment included) never changes without a reason.
# (The comment names the module by its old path, which existing clusters hold.)
PG_HBA = """\
# Written by TTAI (ttai/stack/postgres.py): password (SCRAM) logins only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
"""


def cluster_dsn(user: str, database: str, *, port: int, passfile: Path) -> str:
    """A URL naming the passwords file, never a password."""
    quoted = quote(str(passfile), safe="/")
    return f"postgresql://{user}@{LOOPBACK}:{port}/{database}?passfile={quoted}"


def load_passwords(passfile: Path) -> dict[str, str]:
    """The generated passwords by role, from the passwords file (made on first use)."""
    passwords: dict[str, str] = {}
    if os.path.lexists(passfile):
        try:
            text = read_private_text(passfile, _PASSWORDS_WHAT)
        except PrivateFileError as err:
            raise StackError(str(err)) from None
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) == 5 and not line.startswith("#"):
                passwords[fields[3]] = fields[4]
    missing = [role for role in (SUPERUSER, ROLE) if not passwords.get(role)]
    if missing:
        passwords |= {role: new_password() for role in missing}
        lines = [f"{LOOPBACK}:*:*:{role}:{passwords[role]}" for role in (SUPERUSER, ROLE)]
        write_private_file_atomically(
            passfile.parent,
            passfile.name,
            "# Generated passwords of the private PostgreSQL cluster (pgpass format).\n"
            + "\n".join(lines)
            + "\n",
        )
    for password in passwords.values():
        register_secret(password)  # never in a log line of this process
    return passwords


def read_hba(data_dir: Path) -> str:
    try:
        return read_text_nofollow(data_dir / "pg_hba.conf")
    except OSError:
        return ""


def write_hba(data_dir: Path, owner: tuple[int, int]) -> None:
    with opened_dir(data_dir) as data_fd:
        write_private_file(data_fd, "pg_hba.conf", PG_HBA, owner=owner)


async def require_passwords(
    admin_dsn: str, data_dir: Path, owner: tuple[int, int], superuser_password: str
) -> None:
    """Convert a running cluster that trusted local connections: give the
    superuser its password, then allow password logins only."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await set_password(conn, SUPERUSER, superuser_password)
        write_hba(data_dir, owner)
        await conn.fetchval("SELECT pg_reload_conf()")
    finally:
        await conn.close()
