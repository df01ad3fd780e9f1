"""A private PostgreSQL cluster under the project's state folder.

Used when `DATABASE_URL` is not set: `initdb` once into `<state>/postgres`,
then `pg_ctl` start/stop around each run, so the data survives restarts.
Only the PostgreSQL binaries run as the unprivileged `postgres` user when we
are root (PostgreSQL refuses to run as root); Python never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import pwd
import re
import shlex
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from ttai.config import Settings
from ttai.stack import (
    LocalServer,
    StackError,
    process_alive,
    register_hard_stop,
    unregister_hard_stop,
)
from ttai.stack.ports import LOOPBACK, ensure_port_free

SERVICE_USER = "postgres"
ROLE = "ttai"
DATABASE = "ttai"
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them "
    "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing database"
)
# Debian's versioned server installs: <root>/<major>/bin.
DEBIAN_INSTALL_ROOT = Path("/usr/lib/postgresql")
# Where the cluster lives when the state folder is unreachable for SERVICE_USER.
FALLBACK_PARENT = Path("/var/tmp")
# File in a fallback cluster folder naming the symlink that points at it.
_BACK_REFERENCE = "pointer"
# Unix socket paths are limited to 107 bytes (sun_path); past that, TCP only.
_MAX_SOCKET_PATH = 100
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


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
    `ttai` database. `durable=False` turns fsync off for throw-away test data.
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
    def dsn(self) -> str:
        return f"postgresql://{ROLE}@{LOOPBACK}:{self.port}/{DATABASE}"

    @property
    def admin_dsn(self) -> str:
        """The maintenance database, for creating and dropping databases."""
        return database_dsn(self.dsn, "postgres")

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
        # First: a postmaster we left running (killed parent) may hold our port.
        await self._clear_stale_locks()
        ensure_port_free(self.port, "PostgreSQL", env_var=self.port_env_var)
        if not (self.data_dir / "PG_VERSION").exists():
            await self._initdb()
        socket_dir = self.root / "run"
        self._make_private_dir(socket_dir)
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
        self.owner_file.write_text(str(os.getpid()))
        register_hard_stop(self, self._stop_immediately)
        await create_database(self.admin_dsn, DATABASE, exist_ok=True)

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
        """Stop and delete the cluster and its data (tests; `make clean` does the same)."""
        await self._prepare_root()
        await self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        if self.pointer.is_symlink():
            self.pointer.unlink()
        self._root = None

    async def _prepare_root(self) -> None:
        if self._root is not None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.pointer.is_symlink():
            root = self.pointer.readlink()
        elif self.pointer.exists() or await self._service_user_can_reach(self.state_dir):
            root = self.pointer
        else:
            # The state folder sits under a directory the postgres user cannot
            # traverse (e.g. /root/...). Keep the cluster in a private folder it
            # can reach, named after the state folder so each checkout gets its
            # own, and leave a symlink in the state folder pointing at it.
            digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:16]
            root = FALLBACK_PARENT / f"ttai-pg-{digest}"
            # No pointer means the state folder was wiped: a leftover cluster
            # for it is stale, not history to keep.
            shutil.rmtree(root, ignore_errors=True)
            _sweep_abandoned_fallbacks()
            # Symlink first, back-reference second: a concurrent sweep never
            # sees a back-reference without its symlink.
            self.pointer.symlink_to(root)
            self._make_private_dir(root)
            (root / _BACK_REFERENCE).write_text(str(self.pointer))
        self._make_private_dir(root)
        self._root = root

    async def _service_user_can_reach(self, path: Path) -> bool:
        if not self._as_service_user:
            return True
        rc, _ = await self._run("test", "-x", str(path))
        return rc == 0

    def _make_private_dir(self, path: Path) -> None:
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)
        if self._as_service_user:
            user = _service_user()
            os.chown(path, user.pw_uid, user.pw_gid)

    async def _initdb(self) -> None:
        # A half-written data folder from an interrupted initdb holds nothing.
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self._make_private_dir(self.data_dir)
        args = [
            str(self._bin / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            ROLE,
            # Trust auth: the cluster listens on 127.0.0.1 only and holds dev
            # data; any local user may connect, which is the point of a dev box.
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]
        if not self.durable:
            args.append("--no-sync")
        rc, output = await self._run(*args)
        if rc != 0:
            raise StackError(f"initdb failed in {self.data_dir}: {_last_line(output)}")

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
            with self.log_path.open("rb") as log:
                log.seek(log_offset)
                text = log.read().decode(errors="replace")
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


def _sweep_abandoned_fallbacks() -> None:
    """Delete fallback clusters whose state folder is gone and that nothing runs.

    Their symlink vanished with the state folder (pytest prunes old temp
    folders; a test run may be killed before it cleans up), so nobody can
    reach that data again.
    """
    for root in FALLBACK_PARENT.glob("ttai-pg-*"):
        try:
            pointer = Path((root / _BACK_REFERENCE).read_text())
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


def quote_identifier(name: str) -> str:
    """`name` as a quoted SQL identifier, for plain database names only."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return f'"{name}"'


async def create_database(
    admin_dsn: str, name: str, *, template: str | None = None, exist_ok: bool = False
) -> str:
    """Create database `name` (optionally copied from `template`); return its DSN."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not (exists and exist_ok):
            copy = f" TEMPLATE {quote_identifier(template)}" if template else ""
            await conn.execute(f"CREATE DATABASE {quote_identifier(name)}{copy}")
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
