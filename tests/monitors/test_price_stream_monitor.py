"""The price monitor streaming on the dev server, with PostgreSQL and a ticking broker.

It streams while it can and polls when it cannot: a rule added through the
command workflow fires on its stream within the tick; pausing hands the stream
back (its prices with it) and resuming streams again; continue-as-new carries
the stream over; a broker whose stream keeps failing is polled until it can
stream again. `monitors status` shows the mode, the symbols and the last tick,
in an 80-column terminal too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from tests.helpers.monitor_fakes import RecordingChannel, TickingBroker, monitor_worker
from tests.helpers.terminal import in_terminal, piped, starter
from tests.helpers.waiting import eventually
from ttai.broker.base import BrokerUnavailable
from ttai.config import Settings
from ttai.models.alerts import AlertRuleSpec, AlertsCommand, AlertsCommandResult
from ttai.models.monitors import MonitorInput, MonitorStatus
from ttai.ops import monitors
from ttai.ops.connection import Connection
from ttai.temporal.client import data_converter
from workflows.monitors import STREAM_BACKOFF, PriceAlertMonitorWorkflow

MONITOR_ID = "monitor-price-alerts"


class Prices:
    """Scripted prices the test moves: each symbol's current price."""

    def __init__(self, **prices: float) -> None:
        self.now = dict(prices)

    def path(self, symbol: str) -> Callable[[datetime], float]:
        return lambda _at: self.now[symbol]


class Stack:
    def __init__(self, client: Client, address: str, pool: asyncpg.Pool, task_queue: str):
        self.client = client
        self.address = address
        self.pool = pool
        self.task_queue = task_queue
        self.prices = Prices(AAPL=100.0, MSFT=400.0)
        self.broker = TickingBroker({s: self.prices.path(s) for s in self.prices.now}, every=0.1)
        self.channel = RecordingChannel()
        self.conn = Connection(Settings(temporal_address=address, task_queue=task_queue))

    @property
    def monitor(self) -> WorkflowHandle:
        return self.client.get_workflow_handle(MONITOR_ID)

    async def status(self) -> MonitorStatus:
        return await self.monitor.query(PriceAlertMonitorWorkflow.status)

    async def mode(self, mode: str, **state: object) -> MonitorStatus:
        def holds(status: MonitorStatus) -> bool:
            return status.mode == mode and all(
                getattr(status.state, k) == v for k, v in state.items()
            )

        return await eventually(self.status, what=f"{mode} {state}", until=holds)

    async def add(self, **spec: object) -> int:
        result = await self.client.execute_workflow(
            "AlertsWorkflow",
            AlertsCommand(action="add", rule=AlertRuleSpec.model_validate(spec)),
            id=f"alerts-add-{spec['symbol']}-{spec['threshold']}",
            task_queue=self.task_queue,
            result_type=AlertsCommandResult,
        )
        assert result.added is not None
        return result.added.alert_id

    async def triggers(self) -> list[tuple[int, int, float]]:
        rows = await self.pool.fetch(
            "SELECT alert_id, sequence, observed FROM alert_triggers ORDER BY id"
        )
        return [(r["alert_id"], r["sequence"], r["observed"]) for r in rows]


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    make_dev_server: Callable[..., Awaitable[object]], db_pool: asyncpg.Pool, task_queue: str
) -> AsyncIterator[Stack]:
    # Its own server: the monitor runs under its fixed ID.
    server = await make_dev_server()
    address = server.address  # type: ignore[attr-defined]
    client = await Client.connect(address, data_converter=data_converter())
    stack = Stack(client, address, db_pool, task_queue)
    async with monitor_worker(client, db_pool, stack.broker, stack.channel, task_queue):
        await client.start_workflow(
            PriceAlertMonitorWorkflow.run,
            MonitorInput(hours="always", interval_seconds=3600, max_iterations_per_run=3),
            id=MONITOR_ID,
            task_queue=task_queue,
        )
        yield stack
        await stack.monitor.cancel()
        await stack.monitor.result()


async def test_rules_fire_on_the_stream_and_the_monitor_steers_it(stack: Stack) -> None:
    # The first check says the broker streams: with no rule yet it streams nothing.
    await stack.mode("streaming", streams=1)
    alert_id = await stack.add(symbol="AAPL", condition="crosses_up", threshold=110)
    assert await stack.triggers() == []

    async def streamed() -> list[str]:
        stream = (await monitors.monitors_status(stack.conn, "price-alerts")).monitors[0].stream
        return [] if stream is None else stream.symbols

    await eventually(streamed, what="AAPL streamed", until=["AAPL"].__eq__)
    stack.prices.now["AAPL"] = 111.0
    await eventually(stack.triggers, what="the crossing to fire")
    assert await stack.triggers() == [(alert_id, 1, 111.0)]
    await eventually(lambda: stack.channel.sent, what="its notification")
    assert [n.idempotency_key for n in stack.channel.sent] == [f"alert:{alert_id}:1"]

    # What status shows: the mode, the stream's symbols and how old its last tick is.
    report = await monitors.monitors_status(stack.conn, "price-alerts")
    [info] = report.monitors
    assert info.status is not None and info.status.mode == "streaming"
    assert info.stream is not None and info.stream.attempt == 1
    assert info.stream.last_tick_at is not None and info.stream.tick_age_seconds is not None
    env = {"TEMPORAL_ADDRESS": stack.address, "TTAI_TASK_QUEUE": stack.task_queue}
    shown = await in_terminal(starter("monitors", "status", "price-alerts"), env, width=80)
    assert "…" not in shown and max(len(line) for line in shown.splitlines()) <= 80, shown
    assert "streaming" in shown and "symbol" in shown and "last tick" in shown, shown
    code, out, err = await piped(starter("monitors", "status", "price-alerts", "--json"), env)
    assert code == 0, err
    [listed] = json.loads(out)
    assert listed["mode"] == "streaming" and "last_tick_at" in listed["stream"]

    # Paused, it hands the stream back (with its prices); resumed, it streams again.
    second = await stack.add(symbol="MSFT", condition="crosses_down", threshold=390)
    await stack.add(symbol="MSFT", condition="price_above", threshold=1e6)  # MSFT stays streamed
    await eventually(streamed, what="MSFT streamed", until=["MSFT"].__eq__)
    await stack.monitor.signal(PriceAlertMonitorWorkflow.pause)
    paused = await stack.mode("polling", paused=True)
    assert paused.state.last_prices == {"MSFT": 400.0}
    await stack.monitor.signal(PriceAlertMonitorWorkflow.resume)
    await stack.mode("streaming", streams=2)
    stack.prices.now["MSFT"] = 389.0
    await eventually(stack.triggers, what="MSFT's crossing", until=lambda t: len(t) == 2)

    # Continue-as-new (every 3 checks) carries the stream over to the next run.
    while (await stack.status()).state.runs == 1:
        before = (await stack.status()).state.iterations
        await stack.monitor.signal(PriceAlertMonitorWorkflow.check_now)
        await eventually(
            stack.status,
            what="a check",
            until=lambda s, n=before: s.state.iterations > n,
            retrying=RPCError,  # no run to answer while it continues as new
        )
    carried = await stack.mode("streaming", runs=2)
    assert carried.state.last_prices == {"MSFT": 389.0}
    assert await stack.triggers() == [(alert_id, 1, 111.0), (second, 1, 389.0)]

    # A stream that keeps failing: polled from then on, streamed again after the backoff.
    polled = len(stack.broker.quote_calls)
    stack.broker.fail_stream_with = BrokerUnavailable("the feed is down")
    failed = await stack.mode("polling", stream_failures=1)  # after its retries
    assert failed.state.last_error is not None and "the feed is down" in failed.state.last_error
    assert failed.state.stream_retry_at is not None and failed.state.last_error_at is not None
    assert failed.state.stream_retry_at - failed.state.last_error_at == STREAM_BACKOFF
    await eventually(
        lambda: len(stack.broker.quote_calls), what="a poll", until=lambda n: n > polled
    )
    assert stack.broker.quote_calls[-1] == ["MSFT"]  # the price rules are polled at once
    stack.broker.fail_stream_with = None
    await eventually(
        stack.status,
        what="streaming after the backoff",
        until=lambda s: s.mode == "streaming",
        within=STREAM_BACKOFF.total_seconds() + 120,
    )
    assert datetime.now(UTC) >= failed.state.stream_retry_at
