"""A private PostgreSQL cluster under the project's state folder: its lifecycle.

Used when `DATABASE_URL` is not set: `initdb` once into the cluster folder,
then `pg_ctl` start/stop around each run, so the data survives restarts; a
crash's stale lock files, or a server a killed parent left running, never
stop the next start.

The rest lives in neighbouring modules, one concern each (security model:
docs/operations.md):
- `postgres_binaries`: finding `initdb`/`pg_ctl`, and running only them as
  the unprivileged `postgres` user when we are root (Python never does);
- `postgres_folder`: where the cluster's files live (`<state>/postgres`, or a
  checked fallback folder in /var/tmp), private to the cluster's user; the
  state folder is 0700 (0710 for the `postgres` group when root keeps the
  cluster inside it, so the server can reach its folder and nothing else);
- `postgres_logins`: password (SCRAM) logins only, generated passwords kept
  in `<state>/pgpass`, the application as a non-superuser role.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from ttai.config import Settings
from ttai.db.provision import ensure_app_database
from ttai.loopback import LOOPBACK
from ttai.servers import (
    LocalServer,
    StackError,
    process_alive,
    register_hard_stop,
    require_free_port,
    unregister_hard_stop,
)
from ttai.servers.files import opened_dir, read_text_nofollow, write_private_file
from ttai.servers.postgres_binaries import ServerBinaries
from ttai.servers.postgres_folder import ClusterFolder, postmaster_serves
from ttai.servers.postgres_logins import (
    DATABASE,
    PASSWORDS_FILE,
    PG_HBA,
    ROLE,
    SUPERUSER,
    cluster_dsn,
    load_passwords,
    read_hba,
    require_passwords,
    write_hba,
)

_INITDB_PASSWORD = ".initdb-password"
# Unix socket paths are limited to 107 bytes (sun_path); past that, TCP only.
_MAX_SOCKET_PATH = 100


class PrivatePostgres(LocalServer):
    """One PostgreSQL cluster owned by this project, listening on 127.0.0.1 only.

    `async with PrivatePostgres(state_dir, port=p) as pg:` starts it (running
    `initdb` the first time) and stops it on exit; `pg.dsn` is the URL of the
    `ttai` database for the application's role, `pg.admin_dsn` the
    superuser's (both name the passwords file, never a password).
    `pg.folder` is where its files are. `durable=False` turns fsync off for
    throw-away test data.
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
        as_service_user = os.geteuid() == 0
        self._binaries = ServerBinaries(as_service_user=as_service_user)
        self.folder = ClusterFolder(self.state_dir, as_service_user=as_service_user)

    @property
    def passfile(self) -> Path:
        """`<state>/pgpass`: the generated passwords (mode 0600, pgpass format)."""
        return self.state_dir / PASSWORDS_FILE

    @property
    def dsn(self) -> str:
        return cluster_dsn(ROLE, DATABASE, port=self.port, passfile=self.passfile)

    @property
    def admin_dsn(self) -> str:
        """The superuser on the maintenance database, for creating and dropping databases."""
        return cluster_dsn(SUPERUSER, "postgres", port=self.port, passfile=self.passfile)

    async def start(self) -> None:
        folder = self.folder
        await folder.prepare(self._binaries.can_traverse)
        passwords = load_passwords(self.passfile)
        # First: a postmaster we left running (killed parent) may hold our port.
        await self._clear_stale_locks()
        require_free_port(self.port, "PostgreSQL", env_var=self.port_env_var)
        if not (folder.data_dir / "PG_VERSION").exists():
            await self._initdb(passwords[SUPERUSER])
        # Clusters made by older versions trusted every local connection.
        convert = read_hba(folder.data_dir) != PG_HBA
        folder.make_private_dir("run")
        socket_dir = folder.root / "run"
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
        log_offset = folder.log_path.stat().st_size if folder.log_path.exists() else 0
        rc, output = await self._binaries.pg_ctl(
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(folder.data_dir),
            "-l",
            str(folder.log_path),
            "-o",
            shlex.join(options),  # pg_ctl hands -o to a shell
        )
        if rc != 0:
            raise StackError(
                f"PostgreSQL did not start on port {self.port}: "
                f"{self._failure_reason(log_offset) or _last_line(output)} "
                f"(log: {folder.log_path})"
            )
        with opened_dir(folder.root) as root_fd:
            write_private_file(root_fd, "owner.pid", str(os.getpid()))
        register_hard_stop(self, self._stop_immediately)
        try:
            if convert:
                await require_passwords(
                    self.admin_dsn, folder.data_dir, folder.owner_ids(), passwords[SUPERUSER]
                )
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
        data_dir = self.folder.data_dir if self.folder.prepared else None
        # Nothing to stop, or only a stale PID file a crash left (its PID may
        # now belong to an unrelated process: never signal that).
        if data_dir is None or not postmaster_serves(data_dir / "postmaster.pid", data_dir):
            return
        rc, output = await self._binaries.pg_ctl("stop", "-w", "-m", "fast", "-D", str(data_dir))
        if rc != 0 and (data_dir / "postmaster.pid").exists():
            raise StackError(f"PostgreSQL did not stop: {_last_line(output)}")
        self.folder.owner_file.unlink(missing_ok=True)

    def _stop_immediately(self) -> None:
        """Blocking emergency stop (see `ttai.servers.hard_stop_all`): no checkpoint, no wait."""
        self._binaries.pg_ctl_blocking("stop", "-m", "immediate", "-D", str(self.folder.data_dir))

    async def destroy(self) -> None:
        """Stop and delete the cluster, its data and its passwords (tests; `make clean` too)."""
        if self.folder.find_existing():
            await self.stop()
        self.folder.remove()
        self.passfile.unlink(missing_ok=True)

    async def _initdb(self, superuser_password: str) -> None:
        folder = self.folder
        # A half-written data folder from an interrupted initdb holds nothing.
        if folder.data_dir.exists():
            shutil.rmtree(folder.data_dir)
        folder.make_private_dir("data")
        with opened_dir(folder.root) as root_fd:
            write_private_file(
                root_fd, _INITDB_PASSWORD, superuser_password, owner=folder.owner_ids()
            )
        args = [
            "-D",
            str(folder.data_dir),
            "-U",
            SUPERUSER,
            f"--pwfile={folder.root / _INITDB_PASSWORD}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ]
        if not self.durable:
            args.append("--no-sync")
        try:
            rc, output = await self._binaries.initdb(*args)
        finally:
            with opened_dir(folder.root) as root_fd, contextlib.suppress(FileNotFoundError):
                os.unlink(_INITDB_PASSWORD, dir_fd=root_fd)
        if rc != 0:
            raise StackError(f"initdb failed in {folder.data_dir}: {_last_line(output)}")
        write_hba(folder.data_dir, folder.owner_ids())

    async def _clear_stale_locks(self) -> None:
        """Let the next start succeed after a crash.

        A postmaster.pid naming a process that is not a postgres serving this
        data folder is stale (in containers the PID is often reused, and
        PostgreSQL then refuses to start). A postmaster still serving it whose
        owner (the process that started it, in `owner.pid`) is gone was left
        behind by a killed parent: it is stopped and started again on our port.
        """
        data_dir = self.folder.data_dir
        pid_file = data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        if postmaster_serves(pid_file, data_dir):
            if _live_owner(self.folder.owner_file) is not None:
                return  # another run's cluster: the port check or pg_ctl reports it
            await self._binaries.pg_ctl("stop", "-w", "-m", "fast", "-D", str(data_dir))
            return
        pid_file.unlink()
        for lock in (self.folder.root / "run").glob(".s.PGSQL.*"):
            lock.unlink()

    def _failure_reason(self, log_offset: int) -> str:
        """The last FATAL/ERROR line this start wrote to the log (else its last line)."""
        try:
            text = read_text_nofollow(self.folder.log_path)[log_offset:]
        except OSError:
            return ""
        errors = [line for line in text.splitlines() if "FATAL" in line or "ERROR" in line]
        return errors[-1].strip() if errors else _last_line(text)


def _live_owner(owner_file: Path) -> int | None:
    """The PID in `owner_file` if that process is alive and is not us."""
    try:
        owner = int(owner_file.read_text())
    except (OSError, ValueError):
        return None
    return owner if owner != os.getpid() and process_alive(owner) else None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def database_url(settings: Settings) -> str:
    """The application's DSN: `DATABASE_URL` when set, else the private cluster's
    (running or not; `local_database` starts it). Names the passwords file, never a password."""
    passfile = Path(settings.state_dir).absolute() / PASSWORDS_FILE
    return settings.database_url or cluster_dsn(
        ROLE, DATABASE, port=settings.postgres_port, passfile=passfile
    )


@contextlib.asynccontextmanager
async def local_database(settings: Settings) -> AsyncIterator[str]:
    """The DSN to use: `DATABASE_URL` when set, else the private cluster (started here)."""
    if settings.database_url:
        yield settings.database_url
        return
    async with PrivatePostgres(settings.state_dir, port=settings.postgres_port) as pg:
        yield pg.dsn
