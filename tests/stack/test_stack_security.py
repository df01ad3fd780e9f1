"""The local stack's hardening (issue 14): as root it never follows or adopts
a planted path, logins need the generated password, the application's role is
not a superuser, and the state folder and its files are private."""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from ttai.loopback import free_port
from ttai.servers import StackError
from ttai.servers.postgres import (
    FALLBACK_PARENT,
    PG_HBA,
    PrivatePostgres,
    ServerBinaries,
    read_hba,
)
from ttai.servers.temporal_server import TemporalDevServer
from ttai.telemetry.redaction import Redactor

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="the attacks target a root run")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A folder every user can traverse (pytest's tmp_path is 0700 under /tmp)."""
    with tempfile.TemporaryDirectory(prefix="ttai-stack-") as name:
        os.chmod(name, 0o755)
        yield Path(name)


@ROOT_ONLY
async def test_a_symlink_planted_at_the_old_predictable_name_is_never_followed(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"  # under 0700 folders: the cluster lives in /var/tmp
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    (victim / "keep").write_text("root's file")
    # Older versions named the folder after a hash of the state path; anyone
    # could plant a link there to a folder of root's choosing.
    digest = hashlib.sha256(str(state).encode()).hexdigest()[:16]
    planted = FALLBACK_PARENT / f"ttai-pg-{digest}"
    planted.symlink_to(victim)
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    try:
        async with pg:
            target = (state / "postgres").readlink()
            assert target.parent == FALLBACK_PARENT
            assert target != planted
            assert os.lstat(target).st_uid == pwd.getpwnam("postgres").pw_uid
            assert _mode(target) == 0o700
        info = os.stat(victim)
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o755)
        assert sorted(p.name for p in victim.iterdir()) == ["keep"]
        assert planted.is_symlink() and planted.readlink() == victim
    finally:
        planted.unlink(missing_ok=True)
        await pg.destroy()


@ROOT_ONLY
async def test_a_folder_planted_where_the_cluster_was_is_refused_and_left_alone(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    first = PrivatePostgres(state, port=free_port(), durable=False)
    async with first:
        target = first.folder.root
    # The folder is cleaned away (tmpfiles, a reboot); another user, who knows
    # its name, makes one of their own there before the next run.
    shutil.rmtree(target)
    nobody = pwd.getpwnam("nobody")
    target.mkdir()
    (target / "planted").write_text("x")
    os.chmod(target, 0o777)
    os.chown(target, nobody.pw_uid, nobody.pw_gid)
    intruded = PrivatePostgres(state, port=free_port(), durable=False)
    try:
        with pytest.raises(StackError, match=r"refusing .*belongs to uid 65534"):
            await intruded.start()
        info = os.lstat(target)
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (nobody.pw_uid, 0o777)
        assert [p.name for p in target.iterdir()] == ["planted"]
    finally:
        await intruded.stop()
        shutil.rmtree(target, ignore_errors=True)
        (state / "postgres").unlink(missing_ok=True)


@ROOT_ONLY
async def test_a_link_planted_inside_the_cluster_folder_is_replaced_not_written_through(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    pg = PrivatePostgres(tmp_path / "state", port=free_port(), durable=False)
    try:
        async with pg:
            pass
        # The postgres user owns the cluster folder and could plant links in it.
        pg.folder.owner_file.symlink_to(victim)
        async with PrivatePostgres(tmp_path / "state", port=free_port(), durable=False) as again:
            assert not again.folder.owner_file.is_symlink()
            assert again.folder.owner_file.read_text() == str(os.getpid())
        assert victim.read_text() == "precious"
    finally:
        await pg.destroy()


@ROOT_ONLY
async def test_a_dangling_link_starts_a_new_cluster_elsewhere(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    try:
        async with pg:
            old = pg.folder.root
        shutil.rmtree(old)
        async with PrivatePostgres(state, port=free_port(), durable=False) as again:
            assert again.folder.root != old
            assert not old.exists()
    finally:
        await PrivatePostgres(state, port=free_port()).destroy()


async def test_logins_need_the_generated_password(tmp_path: Path) -> None:
    empty_passfile = tmp_path / "empty-pgpass"
    empty_passfile.write_text("")
    empty_passfile.chmod(0o600)
    pg = PrivatePostgres(tmp_path / "state", port=free_port(), durable=False)
    try:
        async with pg:
            for user, database in (("ttai", "postgres"), ("ttai_app", "ttai")):
                for password in (None, "guessed"):
                    with pytest.raises(asyncpg.InvalidPasswordError):
                        await asyncpg.connect(
                            host="127.0.0.1",
                            port=pg.port,
                            user=user,
                            database=database,
                            password=password,
                            passfile=str(empty_passfile),
                        )
            # The DSNs name the passwords file, never a password: safe to print.
            passwords = pg.passfile.read_text()
            for dsn in (pg.dsn, pg.admin_dsn):
                assert "passfile=" in dsn
                assert ":" not in dsn.split("@")[0].removeprefix("postgresql://")
                for line in passwords.splitlines()[1:]:
                    assert line.rsplit(":", 1)[1] not in dsn
            conn = await asyncpg.connect(pg.dsn)
            assert await conn.fetchval("SELECT current_user") == "ttai_app"
            await conn.close()
    finally:
        await pg.destroy()


async def test_the_application_role_is_not_a_superuser(tmp_path: Path) -> None:
    pg = PrivatePostgres(tmp_path / "state", port=free_port(), durable=False)
    try:
        async with pg:
            conn = await asyncpg.connect(pg.dsn)
            try:
                role = await conn.fetchrow(
                    "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                    "WHERE rolname = current_user"
                )
                assert tuple(role) == (False, False, False)
                # It owns its database, so migrations run as it ...
                owner = await conn.fetchval(
                    "SELECT pg_get_userbyid(datdba) FROM pg_database "
                    "WHERE datname = current_database()"
                )
                assert owner == await conn.fetchval("SELECT current_user")
                await conn.execute("CREATE TABLE mine (v int)")
                # ... but cannot run programs as the server's OS user.
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute("COPY (SELECT 1) TO PROGRAM 'true'")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetchval("SELECT pg_read_file('/etc/passwd')")
            finally:
                await conn.close()
    finally:
        await pg.destroy()


async def test_restart_reuses_the_generated_passwords(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    try:
        async with pg:
            conn = await asyncpg.connect(pg.dsn)
            await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('x')")
            await conn.close()
            passwords = pg.passfile.read_text()
        async with PrivatePostgres(state, port=free_port(), durable=False) as again:
            assert again.passfile.read_text() == passwords
            conn = await asyncpg.connect(again.dsn)
            assert await conn.fetchval("SELECT v FROM kept") == "x"
            await conn.close()
    finally:
        await pg.destroy()


async def make_trusting_cluster(pg: PrivatePostgres, *, intruder: str | None = None) -> str:
    """What older versions made: superuser `ttai`, trust, data owned by it (and,
    with `intruder`, a role someone added while it trusted everyone). Stopped;
    returns its URL without a password."""
    binaries, folder = ServerBinaries(as_service_user=os.geteuid() == 0), pg.folder
    await folder.prepare(binaries.can_traverse)
    folder.make_private_dir("data")
    folder.make_private_dir("run")
    initdb = ["-D", str(folder.data_dir), "-U", "ttai"]
    rc, output = await binaries.initdb(*initdb, "--auth=trust", "--locale=C", "--no-sync")
    assert rc == 0, output
    options = f"-c listen_addresses=127.0.0.1 -c port={pg.port} -c unix_socket_directories="
    pg_ctl = ["-w", "-D", str(folder.data_dir), "-l", str(folder.log_path)]
    rc, output = await binaries.pg_ctl(*pg_ctl, "-o", options, "start")
    assert rc == 0, output
    old = f"postgresql://ttai@127.0.0.1:{pg.port}"
    conn = await asyncpg.connect(f"{old}/postgres")
    await conn.execute("CREATE DATABASE ttai")
    if intruder:
        await conn.execute(f"CREATE ROLE {intruder} LOGIN SUPERUSER")
    await conn.close()
    conn = await asyncpg.connect(f"{old}/ttai")
    await conn.execute("CREATE TABLE kept (id serial PRIMARY KEY, v text)")
    await conn.execute("INSERT INTO kept (v) VALUES ('x')")
    await conn.close()
    rc, output = await binaries.pg_ctl(*pg_ctl, "stop")
    assert rc == 0, output
    return old


async def test_a_trusting_cluster_from_older_versions_is_converted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    try:
        old = await make_trusting_cluster(pg)
        empty_passfile = tmp_path / "empty-pgpass"
        empty_passfile.write_text("")
        empty_passfile.chmod(0o600)
        async with PrivatePostgres(state, port=pg.port, durable=False) as converted:
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(f"{old}/postgres", passfile=str(empty_passfile))
            conn = await asyncpg.connect(converted.dsn)
            try:
                assert await conn.fetchval("SELECT v FROM kept") == "x"
                # The data now belongs to the application's role: it can migrate it.
                await conn.execute("ALTER TABLE kept ADD COLUMN w text")
                await conn.execute("INSERT INTO kept (v) VALUES ('y')")
                assert not await conn.fetchval(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                )
            finally:
                await conn.close()
    finally:
        await pg.destroy()


async def test_a_trusting_cluster_never_listens_while_it_trusts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 22: the conversion used to start the server with trust still on (anyone
    local could log in as the superuser), then set the password. Now the password
    is set offline and pg_hba.conf written before the first start; roles someone
    added meanwhile are named."""
    state = tmp_path / "state"
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    try:
        await make_trusting_cluster(pg, intruder="mallory")
        at_start: list[str] = []
        real_pg_ctl = ServerBinaries.pg_ctl

        async def watched(self: ServerBinaries, *args: str) -> tuple[int, str]:
            if "start" in args:
                at_start.append(read_hba(pg.folder.data_dir))
            return await real_pg_ctl(self, *args)

        monkeypatch.setattr(ServerBinaries, "pg_ctl", watched)
        with caplog.at_level(logging.WARNING, logger="ttai.servers.postgres"):
            async with PrivatePostgres(state, port=pg.port, durable=False):
                pass
        assert at_start == [PG_HBA]
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("mallory (superuser)" in w for w in warnings), warnings
        assert not any("ttai_app" in w for w in warnings)
    finally:
        await pg.destroy()


async def test_state_folder_and_files_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    # A state folder from older versions: world-readable, like its files.
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    legacy_log = state / "temporal.log"
    legacy_log.write_text("old log\n")
    legacy_log.chmod(0o644)
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    server = TemporalDevServer(
        log_path=state / "temporal.log",
        port=free_port(),
        db_file=state / "temporal.db",
        port_env_var=None,
    )
    try:
        async with pg, server:
            expected = {0o700}
            if os.geteuid() == 0 and pg.folder.root == pg.folder.pointer:
                expected = {0o710}  # the postgres group may pass through, nothing more
            assert _mode(state) in expected
            assert _mode(pg.passfile) == 0o600
            assert _mode(pg.folder.root) == 0o700
            for name in ("temporal.db", "temporal.db-wal", "temporal.log", "temporal.pid"):
                assert _mode(state / name) == 0o600, name
            for name in ("temporal.db-shm",):
                if (state / name).exists():
                    assert _mode(state / name) == 0o600, name
    finally:
        await pg.destroy()


@ROOT_ONLY
async def test_a_cluster_inside_the_state_folder_opens_it_to_the_postgres_group_only(
    reachable_dir: Path,
) -> None:
    state = reachable_dir / "state"
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    try:
        async with pg:
            assert pg.folder.root == state / "postgres"
            info = os.stat(state)
            assert stat.S_IMODE(info.st_mode) == 0o710
            assert info.st_gid == pwd.getpwnam("postgres").pw_gid
            assert _mode(pg.passfile) == 0o600
    finally:
        await pg.destroy()


async def test_a_shared_state_folder_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(StackError, match="everyone may write"):
        await PrivatePostgres(shared, port=free_port()).start()
    assert _mode(shared) == 0o1777


async def test_a_state_folder_linked_elsewhere_by_its_owner_works(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "ttai-state"
    real.mkdir(parents=True)
    state = tmp_path / "state"
    state.symlink_to(real)
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    try:
        async with pg:
            conn = await asyncpg.connect(pg.dsn)
            await conn.close()
        assert _mode(real) == 0o700
        assert (real / "pgpass").exists()
    finally:
        await pg.destroy()


async def test_a_replaced_passwords_file_is_one_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    try:
        async with pg:
            pass
        pg.passfile.write_text("127.0.0.1:*:*:ttai:other\n127.0.0.1:*:*:ttai_app:other\n")
        again = PrivatePostgres(state, port=free_port(), durable=False)
        with pytest.raises(StackError, match=r"refused the password in .*pgpass"):
            await again.start()
        # Not left running behind the error.
        assert not (again.folder.data_dir / "postmaster.pid").exists()
    finally:
        await pg.destroy()


async def test_a_stray_pgpassword_is_named_not_the_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PGPASSWORD meant for another server goes before the pgpass file: the
    error names it, and does not advise deleting the state folder."""
    monkeypatch.setenv("PGPASSWORD", "meant-for-another-server")
    pg = PrivatePostgres(tmp_path / "state", port=free_port(), durable=False)
    try:
        with pytest.raises(StackError, match="PGPASSWORD is set") as refused:
            await pg.start()
        assert "make clean" not in str(refused.value)
        # As it is logged: the redactor leaves the variable's name readable.
        assert "PGPASSWORD is set" in Redactor().redact(str(refused.value))
        assert not (pg.folder.data_dir / "postmaster.pid").exists()
    finally:
        await pg.destroy()
