"""Temporal or PostgreSQL going away: a clear "unavailable" line, and the same
connection works again once they are back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.helpers.ops_stack import running_ops_stack
from tests.helpers.waiting import eventually
from ttai.config import Settings
from ttai.loopback import free_port
from ttai.ops import commands, tasks
from ttai.ops.connection import Connection
from ttai.ops.errors import Unavailable
from ttai.servers.postgres import PrivatePostgres
from ttai.servers.temporal_server import TemporalDevServer


def one_line(err: pytest.ExceptionInfo[Unavailable]) -> str:
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text, text
    return text


async def test_temporal_down_then_back(tmp_path: Path) -> None:
    port = free_port()

    def server(n: int) -> TemporalDevServer:
        return TemporalDevServer(log_path=tmp_path / f"t{n}.log", port=port, port_env_var=None)

    never = Connection(Settings(temporal_address=f"127.0.0.1:{free_port()}"))
    with pytest.raises(Unavailable) as unreachable:
        await tasks.list_tasks(never)
    assert one_line(unreachable).startswith("cannot reach Temporal at 127.0.0.1:")

    first = server(1)
    await first.start()
    conn = Connection(Settings(temporal_address=first.address, task_queue="tq-down"))
    try:
        assert (await tasks.list_tasks(conn)).tasks == []
    finally:
        await first.stop()
    with pytest.raises(Unavailable) as down:  # after the SDK's own retries (about 10 s)
        await tasks.list_tasks(conn)
    assert one_line(down).startswith("Temporal did not answer")

    second = server(2)
    await second.start()
    try:
        assert (await tasks.list_tasks(conn)).tasks == []  # the same connection, reconnected
    finally:
        await second.stop()


async def test_postgres_down_then_back(
    make_dev_server: Callable[..., Awaitable[object]], tmp_path: Path, task_queue: str
) -> None:
    server = await make_dev_server()
    pg = PrivatePostgres(tmp_path / "state", port=free_port(), port_env_var=None, durable=False)
    await pg.start()
    try:
        async with running_ops_stack(
            server.address,  # type: ignore[attr-defined]
            pg.dsn,
            task_queue,
            command_timeout=timedelta(seconds=15),
        ) as stack:
            assert (await commands.portfolio(stack.conn)).source == "sync"
            await pg.stop()

            # A read gives up after a few quick attempts, with the database's own error.
            with pytest.raises(Unavailable) as down:
                await commands.portfolio(stack.conn)
            # Through the private socket, gone with the server (over TCP: refused).
            reason = one_line(down)
            assert any(s in reason for s in ("No such file", "Connect call failed", "refused"))
            # A command whose step retries for long is cut at the command timeout.
            with pytest.raises(Unavailable) as slow:
                await commands.list_watchlists(stack.conn)
            assert one_line(slow).startswith(
                "WatchlistWorkflow did not finish within 15 s: its step keeps failing:"
            )

            await pg.start()

            await eventually(
                lambda: commands.portfolio(stack.conn),
                what="the portfolio once PostgreSQL is back",
                within=60,
                retrying=Unavailable,  # a pooled connection from before the restart, retried
            )
            assert (await commands.list_watchlists(stack.conn)).watchlists is not None
    finally:
        await pg.destroy()


async def test_no_worker_is_named_not_waited_for_forever(client: Client, task_queue: str) -> None:
    conn = Connection(
        Settings(temporal_address=client.service_client.config.target_host, task_queue=task_queue),
        client=client,
        command_timeout=timedelta(seconds=2),
    )
    with pytest.raises(Unavailable) as idle:
        await commands.list_watchlists(conn)
    assert one_line(idle) == (
        "WatchlistWorkflow did not finish within 2 s: no worker took it from task queue "
        f"{task_queue!r} (is a worker running?)"
    )
    # It was ended, not left to run when a worker comes back.
    [left] = [t for t in (await tasks.list_tasks(conn)).tasks if t.workflow_type.startswith("W")]
    assert left.status == "terminated"
