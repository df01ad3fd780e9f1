"""A private PostgreSQL cluster under the project's state folder.

Used when `DATABASE_URL` is not set: `initdb` once into the cluster folder,
then `pg_ctl` start/stop around each run, so the data survives restarts; a
crash's stale lock files, or a server a killed parent left running, never
stop the next start.

In this module, in order (security model: docs/security.md):
- the lifecycle: `PrivatePostgres`, `database_url`, `local_database`;
- the server binaries (`ServerBinaries`): finding `initdb`/`pg_ctl`, and
  running only them as the unprivileged `postgres` user when we are root
  (Python never does);
- the cluster folder (`ClusterFolder`): where the cluster's files live
  (`<state>/postgres`, or a checked fallback folder in /var/tmp), private to
  the cluster's user; the state folder is 0700 (0710 for the `postgres` group
  when root keeps the cluster inside it, so the server can reach its folder
  and nothing else);
- the logins: password (SCRAM) logins only, generated passwords kept in
  `<state>/pgpass`, the application as a non-superuser role.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import asyncpg

from ttai.config import Settings
from ttai.db.provision import (
    APP_DATABASE,
    APP_ROLE,
    ensure_app_database,
    new_password,
    scram_verifier,
)
from ttai.loopback import LOOPBACK
from ttai.private_files import PrivateFileError, read_private_text
from ttai.servers import (
    LocalServer,
    StackError,
    child_environment,
    process_alive,
    register_hard_stop,
    require_free_port,
    unregister_hard_stop,
)
from ttai.servers.files import (
    PRIVATE_DIR,
    ensure_state_dir,
    grant_group_traverse,
    make_private_dir,
    opened_dir,
    read_text_nofollow,
    write_private_file,
    write_private_file_atomically,
)
from ttai.telemetry.redaction import register_secret

logger = logging.getLogger("ttai.servers.postgres")

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
        return self._dsn(ROLE, DATABASE)

    @property
    def admin_dsn(self) -> str:
        """The superuser on the maintenance database, for creating and dropping databases."""
        return self._dsn(SUPERUSER, "postgres")

    def _dsn(self, user: str, database: str) -> str:
        sockets = socket_folder(self.state_dir / "postgres", self.port)
        return cluster_dsn(user, database, port=self.port, passfile=self.passfile, sockets=sockets)

    async def start(self) -> None:
        folder = self.folder
        await folder.prepare(self._binaries.can_traverse)
        passwords = load_passwords(self.passfile)
        # First: a postmaster we left running (killed parent) may hold our port.
        await self._clear_stale_locks()
        require_free_port(self.port, "PostgreSQL", env_var=self.port_env_var)
        if not (folder.data_dir / "PG_VERSION").exists():
            await self._initdb(passwords[SUPERUSER])
        # Clusters made by older versions trusted every local connection: converted
        # before the server listens, so it never starts trusting anyone.
        convert = read_hba(folder.data_dir) != PG_HBA
        if convert:
            await self._require_passwords(passwords[SUPERUSER])
        folder.make_private_dir("run")
        sockets = socket_folder(folder.root, self.port)
        options = [
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            f"port={self.port}",
            # A private socket folder: never the system's /var/run/postgresql.
            # (None: its path is too long for a socket: TCP only.)
            "-c",
            f"unix_socket_directories={sockets or ''}",
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
                await warn_about_unknown_roles(self.admin_dsn)
            await ensure_app_database(self.admin_dsn, passwords[ROLE], role=ROLE, database=DATABASE)
        except BaseException as err:
            await self.stop()
            if isinstance(err, asyncpg.InvalidPasswordError):
                raise StackError(self._refused_password()) from None
            raise

    def _refused_password(self) -> str:
        if os.environ.get("PGPASSWORD"):
            # libpq's order, which asyncpg follows: the variable before the file.
            return (
                f"PostgreSQL refused the login: PGPASSWORD is set in this environment "
                f"and is used before {self.passfile}; unset it to use the local stack"
            )
        return (
            f"PostgreSQL refused the password in {self.passfile}: restore that file, "
            "or delete the state folder (make clean) to start over"
        )

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

    async def _require_passwords(self, superuser_password: str) -> None:
        """Convert a cluster that trusted local connections, offline: give the
        superuser its password in single-user mode (no listener at all), then
        allow password logins only (`PG_HBA`)."""
        verifier = scram_verifier(superuser_password)
        assert "'" not in verifier  # base64 and `$:` only
        statement = f"ALTER ROLE {SUPERUSER} PASSWORD '{verifier}'\n"
        data_dir = str(self.folder.data_dir)
        rc, output = await self._binaries.single_user(data_dir, "postgres", statement)
        if rc != 0 or "ERROR" in output or "FATAL" in output:
            raise StackError(
                f"could not give the older PostgreSQL cluster in {data_dir} a password: "
                f"{_last_line(output)}"
            )
        write_hba(self.folder.data_dir, self.folder.owner_ids())

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
    if settings.database_url:
        return settings.database_url
    return PrivatePostgres(settings.state_dir, port=settings.postgres_port).dsn


@contextlib.asynccontextmanager
async def local_database(settings: Settings) -> AsyncIterator[str]:
    """The DSN to use: `DATABASE_URL` when set, else the private cluster (started here)."""
    if settings.database_url:
        yield settings.database_url
        return
    async with PrivatePostgres(settings.state_dir, port=settings.postgres_port) as pg:
        yield pg.dsn


# -----------------------------------------------------------------------------
# The server binaries: found on this machine, run as the right user.
#
# `initdb` and `pg_ctl` come from one installation: PATH first, else Debian's
# newest `/usr/lib/postgresql/<major>/bin`. When we are root they run as the
# unprivileged `postgres` user through `runuser` (PostgreSQL refuses to run as
# root); Python itself never does. Each runs in its own session from `/`, so
# Ctrl-C reaches us first and the server is stopped in order.

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them "
    "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing database"
)
# Debian's versioned server installs: <root>/<major>/bin.
DEBIAN_INSTALL_ROOT = Path("/usr/lib/postgresql")


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


class ServerBinaries:
    """The binaries of one installation, run as the service user when `as_service_user`."""

    def __init__(self, *, as_service_user: bool) -> None:
        self.bin_dir = find_bin_dir()
        self.as_service_user = as_service_user

    def command(self, *args: str) -> list[str]:
        if self.as_service_user:
            return [shutil.which("runuser") or "runuser", "-u", SERVICE_USER, "--", *args]
        return list(args)

    async def run(self, *args: str, stdin: str | None = None) -> tuple[int, str]:
        """Run a command (as the service user when root): its exit code and output."""
        proc = await asyncio.create_subprocess_exec(
            *self.command(*args),
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Own session: Ctrl-C in the terminal reaches us, and we stop the
            # server in order, instead of the postmaster dying mid-write.
            start_new_session=True,
            cwd="/",  # the postgres user may not be able to enter our cwd
            env=child_environment(),  # never our secrets (see CHILD_VARIABLES)
        )
        out, _ = await proc.communicate(None if stdin is None else stdin.encode())
        return proc.returncode or 0, out.decode(errors="replace")

    async def initdb(self, *args: str) -> tuple[int, str]:
        return await self.run(str(self.bin_dir / "initdb"), *args)

    async def pg_ctl(self, *args: str) -> tuple[int, str]:
        return await self.run(str(self.bin_dir / "pg_ctl"), *args)

    async def single_user(self, data_dir: str, database: str, statements: str) -> tuple[int, str]:
        """`postgres --single`: statements (one per line) on a stopped cluster, with
        no listener of any kind; its exit code and output."""
        return await self.run(
            str(self.bin_dir / "postgres"), "--single", "-D", data_dir, database, stdin=statements
        )

    def pg_ctl_blocking(self, *args: str) -> None:
        """`pg_ctl` without the event loop, output discarded (emergency stops)."""
        subprocess.run(
            self.command(str(self.bin_dir / "pg_ctl"), *args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            env=child_environment(),
            timeout=30,
            check=False,
        )

    async def can_traverse(self, path: Path) -> bool:
        """Could the server pass through the folder `path`?"""
        if not self.as_service_user:
            return True
        rc, _ = await self.run("test", "-x", str(path))
        return rc == 0


# -----------------------------------------------------------------------------
# The cluster folder: where the cluster keeps its files, and why nobody else can use them.
#
# The cluster's folder is `<state>/postgres`. When the state folder is out of
# the `postgres` user's reach (under /root, say) and we are root, the cluster
# lives instead in a folder made by `mkdtemp` in /var/tmp, linked from
# `<state>/postgres`; an existing folder is used only if it passes
# `ClusterFolder.check_fallback` (a real folder, ours, private, pointing back at
# us), and nothing there is ever changed through a symlink. Fallback folders
# whose state folder is gone are swept when a new one is made.
#
# When we are root the cluster's files belong to the `postgres` user
# (PostgreSQL refuses to run as root); otherwise to us.

SERVICE_USER = "postgres"
# Where the cluster lives when the state folder is unreachable for SERVICE_USER.
FALLBACK_PARENT = Path("/var/tmp")
FALLBACK_PREFIX = "ttai-pg-"
# File in a fallback cluster folder naming the symlink that points at it.
_BACK_REFERENCE = "pointer"


class ClusterFolder:
    """The cluster folder of one state folder: found, checked or made by `prepare`."""

    def __init__(self, state_dir: Path, *, as_service_user: bool) -> None:
        self.state_dir = state_dir
        self.as_service_user = as_service_user
        self._root: Path | None = None

    @property
    def pointer(self) -> Path:
        """`<state>/postgres`: the cluster folder itself, or a symlink to it."""
        return self.state_dir / "postgres"

    @property
    def prepared(self) -> bool:
        return self._root is not None

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

    def owner(self) -> dict[str, int]:
        """Who owns the cluster's files: the service user when we are root, else us."""
        if self.as_service_user:
            user = service_user()
            return {"uid": user.pw_uid, "gid": user.pw_gid}
        return {"uid": os.geteuid(), "gid": os.getegid()}

    def owner_ids(self) -> tuple[int, int]:
        owner = self.owner()
        return owner["uid"], owner["gid"]

    async def prepare(self, service_user_can_reach: Callable[[Path], Awaitable[bool]]) -> None:
        """Find (and check) or make the cluster folder; `service_user_can_reach(path)`
        says whether the server could traverse `path`."""
        if self._root is not None:
            return
        ensure_state_dir(self.state_dir)
        root = self.existing()
        if root is None:
            if await service_user_can_reach(self.state_dir.parent):
                root = self.pointer
                with opened_dir(self.state_dir, follow=True) as state_fd:
                    make_private_dir(state_fd, root.name, **self.owner(), where=root)
            else:
                # The state folder sits under a directory the postgres user
                # cannot traverse (e.g. /root/...): keep the cluster in a
                # fresh private folder it can reach, linked from the state folder.
                root = self.create_fallback()
        if root == self.pointer and self.as_service_user:
            # The server must pass through the (0700) state folder to its own.
            grant_group_traverse(self.state_dir, service_user().pw_gid)
        self._root = root

    def find_existing(self) -> bool:
        """Adopt the folder an earlier run made (checked), unless prepared; is there one?"""
        if self._root is None:
            self._root = self.existing()
        return self._root is not None

    def existing(self) -> Path | None:
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
            self.check_fallback(target)
            return target
        if stat.S_ISDIR(info.st_mode):
            uid = self.owner()["uid"]
            if info.st_uid not in (uid, os.geteuid()) or info.st_mode & 0o077:
                raise StackError(
                    f"refusing {self.pointer}: not a private folder of this project "
                    f"(owner uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):o}); remove it"
                )
            return self.pointer
        raise StackError(f"refusing {self.pointer}: not a folder or a link to one; remove it")

    def check_fallback(self, target: Path) -> None:
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
        uid = self.owner()["uid"]
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

    def create_fallback(self) -> Path:
        sweep_abandoned_fallbacks(self.owner()["uid"])
        # mkdtemp: a new folder with an unpredictable name, mode 0700, made
        # here (never an existing one, never through a planted symlink).
        root = Path(tempfile.mkdtemp(prefix=FALLBACK_PREFIX, dir=FALLBACK_PARENT))
        try:
            with opened_dir(root) as root_fd:
                # Symlink first, back-reference second: a concurrent sweep never
                # sees a back-reference without its symlink.
                self.pointer.symlink_to(root)
                write_private_file(root_fd, _BACK_REFERENCE, str(self.pointer))
                os.fchown(root_fd, *self.owner_ids())
                os.fchmod(root_fd, PRIVATE_DIR)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return root

    def make_private_dir(self, name: str) -> None:
        """`<root>/name`, 0700, owned by the cluster's owner; never through a symlink."""
        with opened_dir(self.root) as root_fd:
            make_private_dir(root_fd, name, **self.owner(), where=self.root / name)

    def remove(self) -> None:
        """Delete the cluster folder and the link to it (the server must be stopped)."""
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)  # never follows a symlink
        if self.pointer.is_symlink():
            self.pointer.unlink()
        self._root = None


def sweep_abandoned_fallbacks(owner_uid: int) -> None:
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
        if not postmaster_serves(root / "data" / "postmaster.pid", root / "data"):
            shutil.rmtree(root, ignore_errors=True)


def postmaster_serves(pid_file: Path, data_dir: Path) -> bool:
    """Is the PID in `pid_file` alive and working in `data_dir` (as a postmaster does)?"""
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        return Path(f"/proc/{pid}/cwd").resolve(strict=True) == data_dir.resolve()
    except (OSError, ValueError, IndexError):
        return False


def service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise StackError(
            f"running as root needs the '{SERVICE_USER}' system user to run PostgreSQL "
            "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL"
        ) from None


# -----------------------------------------------------------------------------
# The logins: who may log in to the cluster, with which password, and how.
#
# - logins need a password (SCRAM), on 127.0.0.1 and the private socket alike
#   (`PG_HBA`); a cluster whose pg_hba.conf differs (older versions trusted
#   every local user) is converted before it starts (`_require_passwords`);
# - the passwords are generated once and kept in `<state>/pgpass` (mode 0600,
#   libpq's pgpass format): asyncpg reads it through `passfile=` in the DSN, so
#   no URL ever holds a password, and each is registered for log redaction;
# - the application connects as `ttai_app`, a non-superuser owning the `ttai`
#   database; the superuser `ttai` only creates that role and database
#   (`ttai.db.provision`).


# The cluster's bootstrap superuser: it only creates the application's role
# and database (ttai.db.provision). Older versions ran everything as it.
SUPERUSER = "ttai"
# What the application connects as: a non-superuser owning its database.
ROLE = APP_ROLE
DATABASE = APP_DATABASE
PASSWORDS_FILE = "pgpass"
# pgpass matches a socket connection as "localhost", a TCP one by its address.
_PASSFILE_HOSTS = ("localhost", LOOPBACK)
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


def cluster_dsn(
    user: str, database: str, *, port: int, passfile: Path, sockets: Path | None = None
) -> str:
    """A URL naming the passwords file, never a password.

    Through the private socket folder `sockets` when given: only the cluster's
    user can make a socket there, so whatever answers is our cluster. Over TCP,
    anyone who bound 127.0.0.1:`port` first (our cluster not running) would be
    asked for the password, and asyncpg hands it over in clear if asked to.
    """
    query = f"passfile={quote(str(passfile), safe='/')}"
    if sockets is not None:
        host = quote(str(sockets), safe="/")
        return f"postgresql://{user}@/{database}?host={host}&port={port}&{query}"
    return f"postgresql://{user}@{LOOPBACK}:{port}/{database}?{query}"


def socket_folder(cluster_root: Path, port: int) -> Path | None:
    """The cluster's private socket folder (`<cluster folder>/run`, symlinks
    resolved), or None when the socket's path would be too long (TCP only)."""
    folder = Path(os.path.realpath(cluster_root)) / "run"
    return folder if len(f"{folder}/.s.PGSQL.{port}") <= _MAX_SOCKET_PATH else None


def load_passwords(passfile: Path) -> dict[str, str]:
    """The generated passwords by role, from the passwords file (made on first use)."""
    passwords: dict[str, str] = {}
    entries: set[tuple[str, str]] = set()
    if os.path.lexists(passfile):
        try:
            text = read_private_text(passfile, _PASSWORDS_WHAT)
        except PrivateFileError as err:
            raise StackError(str(err)) from None
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) == 5 and not line.startswith("#"):
                passwords[fields[3]] = fields[4]
                entries.add((fields[0], fields[3]))
    missing = [role for role in (SUPERUSER, ROLE) if not passwords.get(role)]
    wanted = {(host, role) for host in _PASSFILE_HOSTS for role in (SUPERUSER, ROLE)}
    if missing or not wanted <= entries:  # older files: no line for the socket
        passwords |= {role: new_password() for role in missing}
        lines = [
            f"{host}:*:*:{role}:{passwords[role]}"
            for host in _PASSFILE_HOSTS
            for role in (SUPERUSER, ROLE)
        ]
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


async def warn_about_unknown_roles(admin_dsn: str) -> None:
    """After converting a cluster that trusted every local login: anyone on this
    machine could have added roles meanwhile. Name the ones TTAI did not make."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT rolname, rolsuper FROM pg_roles "
            "WHERE rolname NOT LIKE 'pg\\_%' AND rolname <> ALL($1::text[]) ORDER BY rolname",
            [SUPERUSER, ROLE],
        )
    finally:
        await conn.close()
    if rows:
        names = ", ".join(f"{r['rolname']}{' (superuser)' if r['rolsuper'] else ''}" for r in rows)
        logger.warning(
            "the local PostgreSQL cluster trusted every local login before this start, and "
            "holds roles TTAI did not create: %s. Check them; if they are not yours, drop "
            "them (DROP ROLE) or delete the state folder (make clean) to start over",
            names,
        )
