"""The local stack: private PostgreSQL and the Temporal dev server, as real processes."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import socket
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from tests.helpers.waiting import eventually
from ttai.config import PROJECT_ROOT, Settings
from ttai.loopback import free_port, port_free
from ttai.servers import StackError, postgres, process_alive
from ttai.servers.local import LocalStack, local_stack
from ttai.servers.postgres import PrivatePostgres
from ttai.servers.temporal_server import TemporalDevServer
from ttai.temporal import search_attributes


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port with a live listener on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A state folder every user can traverse (pytest's tmp_path is 0700 under /tmp)."""
    with tempfile.TemporaryDirectory(prefix="ttai-stack-") as name:
        Path(name).chmod(0o755)
        yield Path(name)


async def test_postgres_restart_keeps_data_and_survives_a_crash(reachable_dir: Path) -> None:
    state = reachable_dir / "state"
    pg = PrivatePostgres(state, port=free_port())
    try:
        await pg.start()
        assert pg.folder.data_dir.is_relative_to(state)
        conn = await asyncpg.connect(pg.dsn)
        try:
            assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
            await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('x')")
        finally:
            await conn.close()
        # Crash: the postmaster dies without cleaning up, and its PID is then
        # reused by an unrelated live process (common in containers).
        pid_file = pg.folder.data_dir / "postmaster.pid"
        lines = pid_file.read_text().splitlines()
        os.kill(int(lines[0]), signal.SIGKILL)
        lines[0] = str(os.getpid())
        pid_file.write_text("\n".join(lines) + "\n")

        restarted = PrivatePostgres(state, port=free_port())
        async with restarted:
            conn = await asyncpg.connect(restarted.dsn)
            try:
                assert await conn.fetchval("SELECT v FROM kept") == "x"
            finally:
                await conn.close()
    finally:
        await pg.destroy()
    assert not state.joinpath("postgres").exists()


async def dead_pid() -> int:
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    return proc.pid


async def test_postgres_left_running_by_a_killed_parent_is_taken_over(
    reachable_dir: Path,
) -> None:
    port = free_port()
    first = PrivatePostgres(reachable_dir / "state", port=port, durable=False)
    try:
        await first.start()
        # Another live run owns it: not ours to stop, so the port is reported busy.
        sleeper = await asyncio.create_subprocess_exec("sleep", "60")
        first.folder.owner_file.write_text(str(sleeper.pid))
        with pytest.raises(StackError, match=f"port {port} \\(PostgreSQL\\) is already in use"):
            await PrivatePostgres(reachable_dir / "state", port=port).start()
        sleeper.kill()
        await sleeper.wait()
        # Its owner died without stopping it: the next start takes it over.
        first.folder.owner_file.write_text(str(await dead_pid()))
        second = PrivatePostgres(reachable_dir / "state", port=port, durable=False)
        async with second:
            conn = await asyncpg.connect(second.dsn)
            assert await conn.fetchval("SELECT 1") == 1
            await conn.close()
    finally:
        await first.destroy()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
async def test_postgres_under_untraversable_folder_lives_beside_it(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    # A cluster folder whose state folder was deleted (a killed test run),
    # made as the project makes them: private and owned by the postgres user.
    postgres_user = pwd.getpwnam(postgres.SERVICE_USER)
    abandoned = (
        postgres.FALLBACK_PARENT
        / Path(tempfile.mkdtemp(prefix="ttai-pg-test-", dir=postgres.FALLBACK_PARENT)).name
    )
    (abandoned / "data").mkdir()
    (abandoned / "pointer").write_text(str(tmp_path / "deleted" / "postgres"))
    os.chown(abandoned, postgres_user.pw_uid, postgres_user.pw_gid)
    # Lookalikes the project did not make (wrong owner, open mode) are not its to delete.
    foreign = (
        postgres.FALLBACK_PARENT
        / Path(tempfile.mkdtemp(prefix="ttai-pg-test-", dir=postgres.FALLBACK_PARENT)).name
    )
    os.chmod(foreign, 0o755)
    (foreign / "pointer").write_text(str(tmp_path / "deleted" / "postgres"))
    pg = PrivatePostgres(private / "state", port=free_port())
    try:
        async with pg:
            assert not abandoned.exists()
            assert foreign.exists()
            pointer = private / "state" / "postgres"
            assert pointer.is_symlink()
            target = pointer.readlink()
            assert target.parent == postgres.FALLBACK_PARENT
            assert target.stat().st_mode & 0o777 == 0o700
            conn = await asyncpg.connect(pg.dsn)
            assert await conn.fetchval("SELECT current_database()") == "ttai"
            await conn.close()
    finally:
        await pg.destroy()
        shutil.rmtree(foreign)
    assert not target.exists()


async def test_postgres_port_in_use_names_the_port(tmp_path: Path, busy_port: int) -> None:
    pg = PrivatePostgres(tmp_path / "state", port=busy_port)
    try:
        with pytest.raises(StackError) as caught:
            await pg.start()
    finally:
        await pg.destroy()
    assert str(caught.value) == (
        f"port {busy_port} (PostgreSQL) is already in use; set TTAI_POSTGRES_PORT to another port"
    )


async def test_no_binaries_and_no_database_url_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres, "DEBIAN_INSTALL_ROOT", tmp_path / "nothing")
    monkeypatch.delenv("TTAI_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("TTAI_ENCRYPTION_KEYS_FILE", raising=False)
    settings = Settings(state_dir=tmp_path / "state", database_url=None)
    with pytest.raises(StackError, match=r"apt-get install postgresql.*DATABASE_URL"):
        async with local_stack(settings):
            pass
    # With DATABASE_URL set and a remote cluster, the local stack starts nothing.
    url = "postgresql://someone@db.example:5432/ttai"
    remote = settings.model_copy(update={"database_url": url, "use_remote_temporal": True})
    async with local_stack(remote) as stack:
        assert stack == LocalStack(database_url=url, ui_url=None)


async def test_dev_server_registers_search_attributes(client: Client) -> None:
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    registered = dict(response.custom_attributes)
    for key in search_attributes.ALL:
        assert registered.get(key.name) == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD


async def test_dev_server_history_survives_restart(tmp_path: Path) -> None:
    def server() -> TemporalDevServer:
        return TemporalDevServer(
            log_path=tmp_path / "temporal.log",
            port=free_port(),
            db_file=tmp_path / "temporal.db",
            port_env_var=None,
        )

    workflow_id = f"kept-{uuid.uuid4()}"
    async with server() as first:
        client = await Client.connect(first.address)
        # No worker: the workflow just stays open, recorded in the SQLite file.
        await client.start_workflow("NoSuchWorkflow", id=workflow_id, task_queue="nobody")
    async with server() as second:
        client = await Client.connect(second.address)
        description = await client.get_workflow_handle(workflow_id).describe()
        assert description.workflow_type == "NoSuchWorkflow"


async def test_dev_server_left_running_by_a_killed_parent_is_replaced(tmp_path: Path) -> None:
    port = free_port()
    first = TemporalDevServer(log_path=tmp_path / "temporal.log", port=port, port_env_var=None)
    second = TemporalDevServer(log_path=tmp_path / "temporal.log", port=port, port_env_var=None)
    try:
        await first.start()
        server_pid = first.pid_file.read_text().split()[0]
        # Its owner is alive (us): a second start must not kill it.
        with pytest.raises(StackError, match=f"port {port} "):
            await second.start()
        # Its owner died without stopping it: the next start replaces it.
        first.pid_file.write_text(f"{server_pid} {await dead_pid()}")
        await second.start()
        assert not process_alive(int(server_pid))
        await Client.connect(second.address)
    finally:
        await second.stop()
        await first.stop()


async def test_dev_server_ports_in_use_name_the_port(tmp_path: Path, busy_port: int) -> None:
    frontend_busy = TemporalDevServer(log_path=tmp_path / "t.log", port=busy_port)
    with pytest.raises(StackError) as caught:
        await frontend_busy.start()
    assert str(caught.value) == (
        f"port {busy_port} (Temporal frontend) is already in use; "
        "set TTAI_TEMPORAL_PORT to another port"
    )
    ui_busy = TemporalDevServer(log_path=tmp_path / "t.log", port=free_port(), ui_port=busy_port)
    with pytest.raises(StackError, match=rf"port {busy_port} \(Temporal Web UI\).*TTAI_UI_PORT"):
        await ui_busy.start()


@workflow.defn
class SleepUntilSuggested:
    """Counts short timers until the server suggests continue-as-new."""

    @workflow.run
    async def run(self, limit: int) -> int | None:
        for iteration in range(limit):
            if workflow.info().is_continue_as_new_suggested():
                return iteration
            await workflow.sleep(timedelta(milliseconds=1))
        return None


async def test_extra_dev_server_applies_dynamic_config(
    make_dev_server: Callable[..., Awaitable[TemporalDevServer]], task_queue: str
) -> None:
    # The default threshold is 4,096 events; 30 timers write about 150.
    server = await make_dev_server(dynamic_config={"limit.historyCount.suggestContinueAsNew": 20})
    client = await Client.connect(server.address)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[SleepUntilSuggested],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        suggested_at = await client.execute_workflow(
            SleepUntilSuggested.run, 30, id=f"suggest-{uuid.uuid4()}", task_queue=task_queue
        )
    assert suggested_at is not None


@workflow.defn
class Nap:
    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(hours=1))


async def test_time_skipping_env_skips_an_hour(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    before = await time_skipping_env.get_current_time()
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[Nap],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        await time_skipping_env.client.execute_workflow(
            Nap.run, id=f"nap-{uuid.uuid4()}", task_queue=task_queue
        )
    assert await time_skipping_env.get_current_time() - before >= timedelta(hours=1)


ABANDONING_SCRIPT = """
import asyncio, os, signal, sys
from pathlib import Path
from ttai.loopback import free_port
from ttai.servers.postgres import PrivatePostgres
from ttai.servers.temporal_server import TemporalDevServer

async def main() -> None:
    state = Path(sys.argv[1])
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    await pg.start()
    server = TemporalDevServer(log_path=state / "temporal.log", port=free_port())
    await server.start()
    postmaster = (pg.folder.data_dir / "postmaster.pid").read_text().split()[0]
    print(postmaster, server.pid_file.read_text().split()[0], server.port, flush=True)
    if sys.argv[2] == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    # Otherwise exits without stopping either server.

asyncio.run(main())
"""


async def test_servers_never_outlive_a_process_that_forgot_to_stop_them(
    reachable_dir: Path,
) -> None:
    try:
        left = await run_abandoning_script(reachable_dir / "state", "exit")
        assert not process_alive(left.postmaster)
        assert not process_alive(left.server)
    finally:
        await PrivatePostgres(reachable_dir / "state", port=free_port()).destroy()


async def test_dev_server_dies_with_a_killed_parent(reachable_dir: Path) -> None:
    try:
        left = await run_abandoning_script(reachable_dir / "state", "sigkill")
        assert left.returncode == -signal.SIGKILL  # no stop of its own ran, not even atexit
        # The kernel sends the parent-death signal; the server then shuts down
        # and its port is free for the next start.
        await eventually(
            lambda: not process_alive(left.server),
            what="the dev server to exit after its parent",
            within=30,
            every=0.1,
        )
        assert port_free(left.server_port)
    finally:
        # PostgreSQL daemonizes, so it survives; a later start takes it over
        # (tested above), and destroy() stops it.
        await PrivatePostgres(reachable_dir / "state", port=free_port()).destroy()


@dataclass(frozen=True)
class Abandoned:
    """How the abandoning script ended, and the servers it left."""

    returncode: int
    postmaster: int
    server: int
    server_port: int


async def run_abandoning_script(state: Path, how: str) -> Abandoned:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ABANDONING_SCRIPT,
        str(state),
        how,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    postmaster, server, port = (int(number) for number in out.split())
    return Abandoned(proc.returncode, postmaster, server, port)


async def test_dev_server_tries_again_when_a_random_port_is_taken_in_between(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI picks the HTTP API port at random and binds it later: another process
    may take it in between. That start is tried again; our own port taken is not."""
    server = TemporalDevServer(log_path=tmp_path / "t.log", port=free_port(), port_env_var=None)
    launches: list[int] = []

    def taken(port: int) -> StackError:
        return StackError(
            "Temporal dev server exited with code 1 on start: ... failed listening for HTTP API "
            f"on 127.0.0.1:{port}: listen tcp 127.0.0.1:{port}: bind: address already in use"
        )

    async def launch_once_taken() -> None:
        launches.append(1)
        if len(launches) == 1:
            raise taken(free_port())

    monkeypatch.setattr(server, "_launch", launch_once_taken)
    await server.start()
    assert len(launches) == 2

    async def our_port_taken() -> None:
        launches.append(1)
        raise taken(server.port)

    launches.clear()
    monkeypatch.setattr(server, "_launch", our_port_taken)
    with pytest.raises(StackError, match="address already in use"):
        await server.start()
    assert len(launches) == 1
