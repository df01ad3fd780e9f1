"""A private PostgreSQL cluster under the project's state folder.

Used when `DATABASE_URL` is not set: `initdb` once into `<state>/postgres`,
then `pg_ctl` start/stop around each run, so the data survives restarts.
Only the PostgreSQL binaries run as the unprivileged `postgres` user when we
are root (PostgreSQL refuses to run as root); Python never does.

Security model (see docs/operations.md):
- logins need a password (SCRAM), on 127.0.0.1 and the private socket alike;
  the passwords are generated once and kept in `<state>/pgpass` (mode 0600);
- the application connects as `ttai_app`, a non-superuser owning the `ttai`
  database; the superuser `ttai` only creates that role and database;
- the state folder is 0700 (0710 for the `postgres` group when root keeps the
  cluster inside it, so the server can reach its folder and nothing else);
- when the state folder is out of the `postgres` user's reach, the cluster
  lives in a folder made by `mkdtemp` in /var/tmp, linked from
  `<state>/postgres`; an existing folder is used only if it passes the checks
  in `_check_fallback` (a real folder, ours, private, pointing back at us),
  and nothing there is ever changed through a symlink.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from ttai.config import Settings
from ttai.db.provision import (
    APP_DATABASE,
    APP_ROLE,
    ensure_app_database,
    identifier,
    new_password,
    set_password,
)
from ttai.private_files import PrivateFileError, read_private_text
from ttai.stack import (
    LocalServer,
    StackError,
    process_alive,
    register_hard_stop,
    unregister_hard_stop,
)
from ttai.stack.files import (
    PRIVATE_DIR,
    ensure_state_dir,
    grant_group_traverse,
    make_private_dir,
    opened_dir,
    read_text_nofollow,
    write_private_file,
    write_private_file_atomically,
)
from ttai.stack.ports import LOOPBACK, ensure_port_free
from ttai.telemetry.redaction import register_secret

SERVICE_USER = "postgres"
# The cluster's bootstrap superuser: it only creates the application's role
# and database (ttai.db.provision). Older versions ran everything as it.
SUPERUSER = "ttai"
# What the application connects as: a non-superuser owning its database.
ROLE = APP_ROLE
DATABASE = APP_DATABASE
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them "
    "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing database"
)
# Debian's versioned server installs: <root>/<major>/bin.
DEBIAN_INSTALL_ROOT = Path("/usr/lib/postgresql")
# Where the cluster lives when the state folder is unreachable for SERVICE_USER.
FALLBACK_PARENT = Path("/var/tmp")
FALLBACK_PREFIX = "ttai-pg-"
# File in a fallback cluster folder naming the symlink that points at it.
_BACK_REFERENCE = "pointer"
# The generated passwords, in libpq's pgpass format (asyncpg reads it through
# `passfile=` in the DSN, so no URL ever holds a password).
PASSWORDS_FILE = "pgpass"
_PASSWORDS_WHAT = "the local PostgreSQL passwords file"
# Password (SCRAM) logins only, on the private socket and 127.0.0.1. The file
# is the project's: a cluster whose pg_hba.conf differs (older versions
# trusted every local user) is converted on start.
PG_HBA = """\
# Written by TTAI (ttai/stack/postgres.py): password (SCRAM) logins only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
"""
_INITDB_PASSWORD = ".initdb-password"
# Unix socket paths are limited to 107 bytes (sun_path); past that, TCP only.
_MAX_SOCKET_PATH = 100


def find_bin_dir() -> Path:
    """`pg_ctl`/`initdb` from PATH, else the newest `/usr/lib/postgresql/*/bin`."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        # Resolve symlinks (/usr/local/bin/pg_ctl -> .../15/bin/pg_ctl): the
        # binaries must come from one installation.
        bin_dir = Path(on_path).resolve().parent
        if (bin_dir / "initdb").exists():
            return bin_dir
    candidates = [
        d
        for d in DEBIAN_INSTALL_ROOT.glob("*/bin")
        if (d / "pg_ctl").exists() and (d / "initdb").exists()
    ]
    if not candidates:
        raise StackError(INSTALL_HINT)
    return max(candidates, key=lambda d: _version_key(d.parent.name))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


class PrivatePostgres(LocalServer):
    """One PostgreSQL cluster owned by this project, listening on 127.0.0.1 only.

    `async with PrivatePostgres(state_dir, port=p) as pg:` starts it (running
    `initdb` the first time) and stops it on exit; `pg.dsn` is the URL of the
    `ttai` database for the application's role, `pg.admin_dsn` the
    superuser's (both name the passwords file, never a password).
    `durable=False` turns fsync off for throw-away test data.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int,
        port_env_var: str | None = "TTAI_POSTGRES_PORT",
        durable: bool = True,
    ) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.port = port
        self.port_env_var = port_env_var
        self.durable = durable
        self._bin = find_bin_dir()
        self._as_service_user = os.geteuid() == 0
        self._root: Path | None = None

    @property
    def passfile(self) -> Path:
        """`<state>/pgpass`: the generated passwords (mode 0600, pgpass format)."""
        return self.state_dir / PASSWORDS_FILE

    @property
    def dsn(self) -> str:
        return self._dsn(ROLE, DATABASE)

    @property
    def admin_dsn(self) -> str:
        """The superuser on the maintenance database, for creating and dropping databases."""
        return self._dsn(SUPERUSER, "postgres")

    def _dsn(self, user: str, database: str) -> str:
        passfile = quote(str(self.passfile), safe="/")
        return f"postgresql://{user}@{LOOPBACK}:{self.port}/{database}?passfile={passfile}"

    @property
    def pointer(self) -> Path:
        """`<state>/postgres`: the cluster folder itself, or a symlink to it."""
        return self.state_dir / "postgres"

    @property
    def root(self) -> Path:
        if self._root is None:
            raise StackError("PostgreSQL cluster folder not prepared yet; call start() first")
        return self._root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def owner_file(self) -> Path:
        return self.root / "owner.pid"

    async def start(self) -> None:
        await self._prepare_root()
        passwords = self._passwords()
        # First: a postmaster we left running (killed parent) may hold our port.
        await self._clear_stale_locks()
        ensure_port_free(self.port, "PostgreSQL", env_var=self.port_env_var)
        if not (self.data_dir / "PG_VERSION").exists():
            await self._initdb(passwords[SUPERUSER])
        # Clusters made by older versions trusted every local connection.
        convert = self._read_hba() != PG_HBA
        self._make_private_dir("run")
        socket_dir = self.root / "run"
        if len(f"{socket_dir}/.s.PGSQL.{self.port}") > _MAX_SOCKET_PATH:
            socket_dir_setting = ""  # path too long for a unix socket: TCP only
        else:
            socket_dir_setting = str(socket_dir)
        options = [
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            f"port={self.port}",
            # A private socket folder: never the system's /var/run/postgresql.
            "-c",
            f"unix_socket_directories={socket_dir_setting}",
        ]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            options += ["-c", "full_page_writes=off"]
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        rc, output = await self._run(
            str(self._bin / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-o",
            shlex.join(options),  # pg_ctl hands -o to a shell
        )
        if rc != 0:
            raise StackError(
                f"PostgreSQL did not start on port {self.port}: "
                f"{self._failure_reason(log_offset) or _last_line(output)} (log: {self.log_path})"
            )
        with opened_dir(self.root) as root_fd:
            write_private_file(root_fd, "owner.pid", str(os.getpid()))
        register_hard_stop(self, self._stop_immediately)
        try:
            if convert:
                await self._require_passwords(passwords[SUPERUSER])
            await ensure_app_database(self.admin_dsn, passwords[ROLE], role=ROLE, database=DATABASE)
        except BaseException as err:
            await self.stop()
            if isinstance(err, asyncpg.InvalidPasswordError):
                raise StackError(
                    f"PostgreSQL refused the password in {self.passfile}: restore that file, "
                    "or delete the state folder (make clean) to start over"
                ) from None
            raise

    async def stop(self) -> None:
        unregister_hard_stop(self)
        pid_file = self.data_dir / "postmaster.pid" if self._root is not None else None
        # Nothing to stop, or only a stale PID file a crash left (its PID may
        # now belong to an unrelated process: never signal that).
        if pid_file is None or not _postmaster_serves(pid_file, self.data_dir):
            return
        rc, output = await self._run(
            str(self._bin / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir)
        )
        if rc != 0 and (self.data_dir / "postmaster.pid").exists():
            raise StackError(f"PostgreSQL did not stop: {_last_line(output)}")
        self.owner_file.unlink(missing_ok=True)

    def _stop_immediately(self) -> None:
        """Blocking emergency stop (see `ttai.stack.hard_stop_all`): no checkpoint, no wait."""
        subprocess.run(
            self._command(
                str(self._bin / "pg_ctl"), "stop", "-m", "immediate", "-D", str(self.data_dir)
            ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            timeout=30,
            check=False,
        )

    async def destroy(self) -> None:
        """Stop and delete the cluster, its data and its passwords (tests; `make clean` too)."""
        if self._root is None:
            self._root = self._existing_root()
        if self._root is not None:
            await self.stop()
            shutil.rmtree(self._root, ignore_errors=True)  # never follows a symlink
        if self.pointer.is_symlink():
            self.pointer.unlink()
        self.passfile.unlink(missing_ok=True)
        self._root = None

    async def _prepare_root(self) -> None:
        if self._root is not None:
            return
        ensure_state_dir(self.state_dir)
        root = self._existing_root()
        if root is None:
            if await self._service_user_can_reach(self.state_dir.parent):
                root = self.pointer
                with opened_dir(self.state_dir, follow=True) as state_fd:
                    make_private_dir(state_fd, root.name, **self._owner(), where=root)
            else:
                # The state folder sits under a directory the postgres user
                # cannot traverse (e.g. /root/...): keep the cluster in a
                # fresh private folder it can reach, linked from the state folder.
                root = self._create_fallback()
        if root == self.pointer and self._as_service_user:
            # The server must pass through the (0700) state folder to its own.
            grant_group_traverse(self.state_dir, _service_user().pw_gid)
        self._root = root

    def _existing_root(self) -> Path | None:
        """The cluster folder an earlier run made for this state folder, checked; else None."""
        try:
            info = os.lstat(self.pointer)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(info.st_mode):
            target = Path(os.readlink(self.pointer))
            if not os.path.lexists(target):
                # Cleaned away (tmpfiles, reboot): its data is gone. Start
                # afresh in a new folder, never at the old, known path.
                self.pointer.unlink()
                return None
            self._check_fallback(target)
            return target
        if stat.S_ISDIR(info.st_mode):
            uid = self._owner()["uid"]
            if info.st_uid not in (uid, os.geteuid()) or info.st_mode & 0o077:
                raise StackError(
                    f"refusing {self.pointer}: not a private folder of this project "
                    f"(owner uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):o}); remove it"
                )
            return self.pointer
        raise StackError(f"refusing {self.pointer}: not a folder or a link to one; remove it")

    def _check_fallback(self, target: Path) -> None:
        """Refuse a linked cluster folder this project did not create for this state folder."""

        def refuse(reason: str) -> StackError:
            return StackError(
                f"refusing the PostgreSQL folder {target} linked from {self.pointer}: {reason}. "
                f"Check it, then remove {self.pointer} to start a new cluster"
            )

        if target.parent != FALLBACK_PARENT or not target.name.startswith(FALLBACK_PREFIX):
            raise refuse(f"not a {FALLBACK_PARENT}/{FALLBACK_PREFIX}* folder")
        info = os.lstat(target)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise refuse("not a real folder")
        uid = self._owner()["uid"]
        if info.st_uid != uid:
            raise refuse(f"it belongs to uid {info.st_uid}, not {uid}")
        if info.st_mode & 0o077:
            raise refuse(f"others may use it (mode {stat.S_IMODE(info.st_mode):o})")
        try:
            back_reference = read_text_nofollow(target / _BACK_REFERENCE)
        except OSError:
            raise refuse("it does not name its state folder") from None
        if back_reference != str(self.pointer):
            raise refuse("it belongs to another state folder")

    def _create_fallback(self) -> Path:
        _sweep_abandoned_fallbacks(self._owner()["uid"])
        # mkdtemp: a new folder with an unpredictable name, mode 0700, made
        # here (never an existing one, never through a planted symlink).
        root = Path(tempfile.mkdtemp(prefix=FALLBACK_PREFIX, dir=FALLBACK_PARENT))
        try:
            with opened_dir(root) as root_fd:
                # Symlink first, back-reference second: a concurrent sweep never
                # sees a back-reference without its symlink.
                self.pointer.symlink_to(root)
                write_private_file(root_fd, _BACK_REFERENCE, str(self.pointer))
                owner = self._owner()
                os.fchown(root_fd, owner["uid"], owner["gid"])
                os.fchmod(root_fd, PRIVATE_DIR)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return root

    def _owner(self) -> dict[str, int]:
        """Who owns the cluster's files: the service user when we are root, else us."""
        if self._as_service_user:
            user = _service_user()
            return {"uid": user.pw_uid, "gid": user.pw_gid}
        return {"uid": os.geteuid(), "gid": os.getegid()}

    async def _service_user_can_reach(self, path: Path) -> bool:
        if not self._as_service_user:
            return True
        rc, _ = await self._run("test", "-x", str(path))
        return rc == 0

    def _make_private_dir(self, name: str) -> None:
        """`<root>/name`, 0700, owned by the cluster's owner; never through a symlink."""
        with opened_dir(self.root) as root_fd:
            make_private_dir(root_fd, name, **self._owner(), where=self.root / name)

    def _passwords(self) -> dict[str, str]:
        """The generated passwords by role, from the passwords file (made on first use)."""
        passwords: dict[str, str] = {}
        if os.path.lexists(self.passfile):
            try:
                text = read_private_text(self.passfile, _PASSWORDS_WHAT)
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
                self.state_dir,
                PASSWORDS_FILE,
                "# Generated passwords of the private PostgreSQL cluster (pgpass format).\n"
                + "\n".join(lines)
                + "\n",
            )
        for password in passwords.values():
            register_secret(password)  # never in a log line of this process
        return passwords

    def _read_hba(self) -> str:
        try:
            return read_text_nofollow(self.data_dir / "pg_hba.conf")
        except OSError:
            return ""

    def _write_hba(self) -> None:
        with opened_dir(self.data_dir) as data_fd:
            owner = self._owner()
            write_private_file(data_fd, "pg_hba.conf", PG_HBA, owner=(owner["uid"], owner["gid"]))

    async def _require_passwords(self, superuser_password: str) -> None:
        """Convert a cluster that trusted local connections: give the superuser
        its password, then allow password logins only."""
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await set_password(conn, SUPERUSER, superuser_password)
            self._write_hba()
            await conn.fetchval("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    async def _initdb(self, superuser_password: str) -> None:
        # A half-written data folder from an interrupted initdb holds nothing.
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self._make_private_dir("data")
        owner = self._owner()
        with opened_dir(self.root) as root_fd:
            write_private_file(
                root_fd, _INITDB_PASSWORD, superuser_password, owner=(owner["uid"], owner["gid"])
            )
        args = [
            str(self._bin / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            f"--pwfile={self.root / _INITDB_PASSWORD}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ]
        if not self.durable:
            args.append("--no-sync")
        try:
            rc, output = await self._run(*args)
        finally:
            with opened_dir(self.root) as root_fd, contextlib.suppress(FileNotFoundError):
                os.unlink(_INITDB_PASSWORD, dir_fd=root_fd)
        if rc != 0:
            raise StackError(f"initdb failed in {self.data_dir}: {_last_line(output)}")
        self._write_hba()

    async def _clear_stale_locks(self) -> None:
        """Let the next start succeed after a crash.

        A postmaster.pid naming a process that is not a postgres serving this
        data folder is stale (in containers the PID is often reused, and
        PostgreSQL then refuses to start). A postmaster still serving it whose
        owner (the process that started it, in `owner.pid`) is gone was left
        behind by a killed parent: it is stopped and started again on our port.
        """
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        if _postmaster_serves(pid_file, self.data_dir):
            if _live_owner(self.owner_file) is not None:
                return  # another run's cluster: the port check or pg_ctl reports it
            await self._run(
                str(self._bin / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir)
            )
            return
        pid_file.unlink()
        for lock in (self.root / "run").glob(".s.PGSQL.*"):
            lock.unlink()

    def _failure_reason(self, log_offset: int) -> str:
        """The last FATAL/ERROR line this start wrote to the log (else its last line)."""
        try:
            text = read_text_nofollow(self.log_path)[log_offset:]
        except OSError:
            return ""
        errors = [line for line in text.splitlines() if "FATAL" in line or "ERROR" in line]
        return errors[-1].strip() if errors else _last_line(text)

    def _command(self, *args: str) -> list[str]:
        if self._as_service_user:
            return ["runuser", "-u", SERVICE_USER, "--", *args]
        return list(args)

    async def _run(self, *args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            *self._command(*args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Own session: Ctrl-C in the terminal reaches us, and we stop the
            # server in order, instead of the postmaster dying mid-write.
            start_new_session=True,
            cwd="/",  # the postgres user may not be able to enter our cwd
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode(errors="replace")


def _sweep_abandoned_fallbacks(owner_uid: int) -> None:
    """Delete fallback clusters whose state folder is gone and that nothing runs.

    Their symlink vanished with the state folder (pytest prunes old temp
    folders; a test run may be killed before it cleans up), so nobody can
    reach that data again. Only folders this project made are considered: real
    folders owned by `owner_uid`, private, with a back-reference.
    """
    for root in FALLBACK_PARENT.glob(f"{FALLBACK_PREFIX}*"):
        try:
            info = os.lstat(root)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != owner_uid or info.st_mode & 0o077:
                continue
            pointer = Path(read_text_nofollow(root / _BACK_REFERENCE))
            if pointer.is_symlink() and pointer.readlink() == root:
                continue
        except OSError:
            continue  # no back-reference: not ours to judge
        if not _postmaster_serves(root / "data" / "postmaster.pid", root / "data"):
            shutil.rmtree(root, ignore_errors=True)


def _postmaster_serves(pid_file: Path, data_dir: Path) -> bool:
    """Is the PID in `pid_file` alive and working in `data_dir` (as a postmaster does)?"""
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        return Path(f"/proc/{pid}/cwd").resolve(strict=True) == data_dir.resolve()
    except (OSError, ValueError, IndexError):
        return False


def _live_owner(owner_file: Path) -> int | None:
    """The PID in `owner_file` if that process is alive and is not us."""
    try:
        owner = int(owner_file.read_text())
    except (OSError, ValueError):
        return None
    return owner if owner != os.getpid() and process_alive(owner) else None


def _service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise StackError(
            f"running as root needs the '{SERVICE_USER}' system user to run PostgreSQL "
            "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL"
        ) from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


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


@contextlib.asynccontextmanager
async def local_database(settings: Settings) -> AsyncIterator[str]:
    """The DSN to use: `DATABASE_URL` when set, else the private cluster (started here)."""
    if settings.database_url:
        yield settings.database_url
        return
    async with PrivatePostgres(settings.state_dir, port=settings.postgres_port) as pg:
        yield pg.dsn
