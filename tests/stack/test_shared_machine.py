"""The local stack on a machine shared with other users (issue 22).

- The servers get a minimal environment: nothing secret from ours ends up in
  `/proc/<pid>/environ`, readable by whoever runs as the server's user.
- Clients dial 127.0.0.1, never a name, and reach PostgreSQL through its
  private socket folder: someone who took the port first gets no password.
- A PID read from the state folder is signalled only when it is still our
  dev server (this user's, leading its own group), never a reused PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest

from tests.helpers.waiting import eventually
from ttai.config import Settings
from ttai.loopback import free_port
from ttai.servers import process_alive
from ttai.servers.files import ensure_state_dir
from ttai.servers.postgres import PrivatePostgres, database_url, load_passwords
from ttai.servers.temporal_server import TemporalDevServer

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs another user's process")
MARKER = "marker-secret-0f1e2d3c4b5a"
SECRET_VARIABLES = {
    "TT_REFRESH_TOKEN": MARKER,
    "TT_PROVIDER_SECRET": MARKER,
    "TTAI_ENCRYPTION_KEYS": f"k1:{MARKER}",
    "TTAI_NOTIFY_URLS": f"json://user:{MARKER}@hooks.example.com/x",
    "DATABASE_URL": f"postgresql://u:{MARKER}@db/ttai",
}


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = [entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry]
    return {name.decode(): value.decode(errors="replace") for name, value in pairs}


async def test_servers_never_inherit_our_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRET_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TZ", "America/New_York")  # what a server may keep
    state = tmp_path / "state"
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    server = TemporalDevServer(
        log_path=tmp_path / "temporal.log", port=free_port(), port_env_var=None
    )
    try:
        async with pg, server:
            postmaster = int((pg.folder.data_dir / "postmaster.pid").read_text().split()[0])
            dev_server = int(server.pid_file.read_text().split()[0])
            for pid in (postmaster, dev_server):
                env = environ_of(pid)
                leaked = [name for name, value in env.items() if MARKER in value]
                assert not leaked, f"pid {pid} holds {leaked}"
                assert env.get("TZ") == "America/New_York"
                assert "PATH" in env
    finally:
        await pg.destroy()


SSL_REQUEST = (80877103).to_bytes(4, "big")


class FakePostgres:
    """Whoever took 127.0.0.1:PORT first, playing PostgreSQL: it asks for the
    password in clear text (what asyncpg answers) and keeps what it is sent."""

    def __init__(self) -> None:
        self.connections = 0
        self.received = b""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                length = int.from_bytes(await reader.readexactly(4), "big")
                message = await reader.readexactly(length - 4)
                if message[:4] != SSL_REQUEST:
                    break  # the startup message
                writer.write(b"N")  # no TLS: go on in clear
            writer.write(b"R" + (8).to_bytes(4, "big") + (3).to_bytes(4, "big"))  # cleartext
            await writer.drain()
            self.received += await asyncio.wait_for(reader.read(4096), 5)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()


def test_clients_dial_the_loopback_address_never_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_PROFILE", "TTAI_TEMPORAL_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert Settings.from_env().temporal_address == "127.0.0.1:7233"
    assert Settings().temporal_address == "127.0.0.1:7233"


async def test_the_database_is_reached_through_the_private_socket_never_a_squatted_port(
    tmp_path: Path,
) -> None:
    fake = FakePostgres()
    squatter = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    port = squatter.sockets[0].getsockname()[1]
    state = tmp_path / "state"
    settings = Settings(state_dir=state, postgres_port=port)
    ensure_state_dir(state)
    passwords = load_passwords(state / "pgpass")
    dsn = database_url(settings)  # what the LISTEN bridge and the worker use
    try:
        # Our cluster is not running: nothing to log in to.
        with pytest.raises((OSError, asyncpg.PostgresError, asyncpg.InterfaceError)):
            await asyncpg.connect(dsn, timeout=5)
    finally:
        squatter.close()
        await squatter.wait_closed()
    assert all(password.encode() not in fake.received for password in passwords.values())
    assert fake.connections == 0
    assert f"host={quote(str(state.resolve()))}/postgres/run" in dsn


async def test_a_running_cluster_takes_socket_logins_with_the_generated_password(
    tmp_path: Path,
) -> None:
    pg = PrivatePostgres(tmp_path / "state", port=free_port(), durable=False)
    try:
        async with pg:
            settings = Settings(state_dir=tmp_path / "state", postgres_port=pg.port)
            assert database_url(settings) == pg.dsn
            conn = await asyncpg.connect(pg.dsn)
            try:
                # A Unix-socket session has no client address.
                assert await conn.fetchval("SELECT inet_client_addr()") is None
                assert await conn.fetchval("SELECT current_user") == "ttai_app"
            finally:
                await conn.close()
    finally:
        await pg.destroy()


# One process whose command line holds `start-dev`, as the dev server's does (the
# system interpreter: ours may sit where another user cannot read it).
LOOKALIKE = ("/usr/bin/python3", "-c", "import time; time.sleep(600)", "start-dev")


async def dead_pid() -> int:
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    return proc.pid


@ROOT_ONLY
async def test_a_reused_pid_of_another_user_is_never_signalled(tmp_path: Path) -> None:
    """Issue 22: `_stop_leftover` killed the PID in temporal.pid after only a
    command-line check; as root, that could be any user's `... start-dev`."""
    other = await asyncio.create_subprocess_exec(
        "runuser", "-u", "nobody", "--", *LOOKALIKE,
        start_new_session=True, cwd="/",
    )  # fmt: skip
    server = TemporalDevServer(
        log_path=tmp_path / "temporal.log", port=free_port(), port_env_var=None
    )
    # What a crashed run left, naming a PID the kernel has since given to `sleep`.
    sleeper = await eventually(lambda: _child_of(other.pid), what="runuser's child")
    (tmp_path / "temporal.pid").write_text(f"{sleeper} {await dead_pid()}")
    try:
        async with server:
            assert process_alive(sleeper)
    finally:
        os.killpg(other.pid, signal.SIGKILL)
        await other.wait()


async def test_a_reused_pid_that_leads_no_group_is_never_signalled(tmp_path: Path) -> None:
    """A process of ours, not the group leader our server was: left alone (this
    used to loop on `killpg` of a group that did not exist)."""
    ours = await asyncio.create_subprocess_exec(*LOOKALIKE)
    (tmp_path / "temporal.pid").write_text(f"{ours.pid} {await dead_pid()}")
    server = TemporalDevServer(
        log_path=tmp_path / "temporal.log", port=free_port(), port_env_var=None
    )
    try:
        async with asyncio.timeout(60), server:
            assert process_alive(ours.pid)
    finally:
        ours.kill()
        await ours.wait()


def _child_of(pid: int) -> int | None:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = children.read_text().split() if children.exists() else []
    return int(found[0]) if found else None
