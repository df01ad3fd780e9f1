"""Steering the price monitor on the time-skipping server (PostgreSQL behind it).

Pause/resume, interval changes, rejected updates that leave no history,
a failing check that is counted while the loop goes on, and continue-as-new
after every single check without losing steering, alert state or crossings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.testing import WorkflowEnvironment

from tests.helpers.monitor_fakes import (
    RecordingChannel,
    ScriptedBroker,
    monitor_worker,
)
from tests.helpers.waiting import eventually
from ttai.broker.base import BrokerUnavailable
from ttai.models.alerts import AddAlertInput, AlertList, AlertRuleSpec, ListAlertsInput
from ttai.models.monitors import MonitorInput, MonitorStatus, SetIntervalInput
from workflows.monitors import PriceAlertMonitorWorkflow

UPDATE_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED,
}


@dataclass
class Monitor:
    env: WorkflowEnvironment | None
    handle: WorkflowHandle
    broker: ScriptedBroker
    channel: RecordingChannel
    price: dict[str, float]

    async def status(self) -> MonitorStatus:
        return await self.handle.query(PriceAlertMonitorWorkflow.status)

    async def sleep(self, seconds: float) -> None:
        assert self.env is not None, "only the time-skipping server skips time"
        await self.env.sleep(timedelta(seconds=seconds))

    async def settle(self, iterations: int) -> MonitorStatus:
        """Wait (real time, bounded) until that many checks completed: history is still then."""
        return await eventually(
            self.status,
            what=f"{iterations} checks",
            until=lambda status: status.state.iterations >= iterations,
            within=10,
            every=0.05,
        )

    async def add(self, **spec: Any) -> int:
        rule = AlertRuleSpec.model_validate({"symbol": "AAPL", **spec})
        created = await self.handle.execute_update(
            PriceAlertMonitorWorkflow.add_alert, AddAlertInput(rule=rule)
        )
        return created.alert_id


async def _monitors(
    client: Client, env: WorkflowEnvironment | None, pool: asyncpg.Pool, task_queue: str
) -> AsyncIterator[Any]:
    price = {"AAPL": 100.0}
    broker = ScriptedBroker({"AAPL": lambda _: price["AAPL"]})
    channel = RecordingChannel()
    handles: list[WorkflowHandle] = []
    async with monitor_worker(client, pool, broker, channel, task_queue):

        async def make(**request: Any) -> Monitor:
            handle = await client.start_workflow(
                PriceAlertMonitorWorkflow.run,
                MonitorInput(hours="always", **request),
                id=f"price-{task_queue}",
                task_queue=task_queue,
            )
            handles.append(handle)
            return Monitor(env, handle, broker, channel, price)

        yield make
        for handle in handles:
            await handle.cancel()
            await handle.result()


@pytest_asyncio.fixture(loop_scope="session")
async def make_monitor(
    time_skipping_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    task_queue: str,
) -> AsyncIterator[Any]:
    """Price monitors on the time-skipping server."""
    env = time_skipping_env
    async for make in _monitors(env.client, env, db_pool, task_queue):
        yield make


@pytest_asyncio.fixture(loop_scope="session")
async def make_dev_monitor(
    client: Client, db_pool: asyncpg.Pool, task_queue: str
) -> AsyncIterator[Any]:
    """Price monitors on the dev server: it, unlike the time-skipping server, runs
    update validation in a speculative workflow task that leaves no history."""
    async for make in _monitors(client, None, db_pool, task_queue):
        yield make


async def test_pause_resume_and_interval_change(make_monitor: Any) -> None:
    m: Monitor = await make_monitor(interval_seconds=60)
    await m.sleep(150)  # checks at 0, 60, 120
    assert (await m.status()).state.iterations == 3

    await m.handle.signal(PriceAlertMonitorWorkflow.pause)
    await m.sleep(600)
    paused = await m.status()
    assert paused.state.paused and paused.next_run_at is None
    assert paused.state.iterations == 3

    await m.handle.signal(PriceAlertMonitorWorkflow.resume)
    await m.sleep(1)  # overdue since 180 s: it checks at once
    assert (await m.status()).state.iterations == 4
    changed: MonitorStatus = await m.handle.execute_update(
        PriceAlertMonitorWorkflow.set_interval, SetIntervalInput(interval_seconds=600)
    )
    assert changed.state.interval_seconds == 600 and not changed.state.paused
    await m.sleep(400)  # the old interval would have checked 6 more times by now
    assert (await m.status()).state.iterations == 4
    await m.sleep(300)  # 600 s after the resumed check
    assert (await m.status()).state.iterations == 5

    await m.handle.signal(PriceAlertMonitorWorkflow.check_now)
    await m.sleep(1)
    assert (await m.status()).state.iterations == 6


def innermost(err: BaseException) -> str:
    """The message a CLI shows: the root cause (a pydantic or validator message)."""
    while getattr(err, "cause", None) is not None:
        err = err.cause  # type: ignore[attr-defined]
    return str(err)


def raw_json(text: bytes) -> RawValue:
    return RawValue(Payload(metadata={"encoding": b"json/plain"}, data=text))


@pytest.mark.parametrize(
    ("update", "argument", "message"),
    [
        (
            "add_alert",
            {"rule": {"symbol": "AAPL", "condition": "sideways", "threshold": 1}},
            "condition",
        ),
        (
            "add_alert",
            {"rule": {"symbol": "AAPL", "condition": "price_above", "threshold": -5}},
            "greater than or equal to 0",
        ),
        (
            "add_alert",
            {"rule": {"symbol": "aapl; drop", "condition": "price_above", "threshold": 1}},
            "symbol",
        ),
        (
            "add_alert",
            {"rule": {"symbol": "AAPL", "condition": "pct_move", "threshold": 1}},
            "reference_price",
        ),
        (
            "add_alert",
            {
                "rule": {
                    "symbol": "AAPL",
                    "condition": "price_above",
                    "threshold": 1,
                    "expires_at": "2001-01-01T00:00:00Z",
                }
            },
            "in the past",
        ),
        ("add_alert", raw_json(b'{"rule": {"symbol": "AAPL", '), "Invalid JSON"),
        ("set_interval", {"interval_seconds": 2}, "at least 5"),
        ("set_interval", {"interval_seconds": -1}, "greater than or equal to 1"),
        ("remove_alert", {"alert_id": 0}, "greater than 0"),
    ],
)
async def test_bad_updates_are_rejected_before_history(
    make_dev_monitor: Any, update: str, argument: Any, message: str
) -> None:
    m: Monitor = await make_dev_monitor(interval_seconds=60)
    await m.settle(1)
    before = await m.handle.fetch_history()
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await m.handle.execute_update(update, argument)
    assert message in innermost(failed.value)
    after = await m.handle.fetch_history()
    # Rejected by the validator or while decoding: not one event was written.
    assert len(after.events) == len(before.events)
    assert not [e for e in after.events if e.event_type in UPDATE_EVENTS]
    assert (await m.status()).state.errors == 0


async def test_unknown_symbol_fails_the_update_not_the_monitor(
    make_monitor: Any, db_pool: asyncpg.Pool
) -> None:
    m: Monitor = await make_monitor(interval_seconds=60)
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await m.add(symbol="ZZZZ", condition="price_above", threshold=1)
    assert "unknown symbol: ZZZZ" in innermost(failed.value)
    assert await db_pool.fetchval("SELECT count(*) FROM alert_rules") == 0
    # The monitor runs on and takes the next, valid rule.
    alert_id = await m.add(condition="price_above", threshold=1)
    listed: AlertList = await m.handle.execute_update(
        PriceAlertMonitorWorkflow.list_alerts, ListAlertsInput()
    )
    assert [a.alert_id for a in listed.alerts] == [alert_id]


async def test_remove_and_list_alerts(make_monitor: Any) -> None:
    m: Monitor = await make_monitor(interval_seconds=60)
    keep = await m.add(condition="price_above", threshold=500)
    drop = await m.add(condition="price_below", threshold=1)
    removed = await m.handle.execute_update("remove_alert", {"alert_id": drop})
    assert removed["removed"] is True
    again = await m.handle.execute_update("remove_alert", {"alert_id": drop})
    assert again["removed"] is False
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await m.handle.execute_update("remove_alert", {"alert_id": 999999})
    assert "no alert with id 999999" in innermost(failed.value)
    active = await m.handle.execute_update("list_alerts", {})
    assert [a["alert_id"] for a in active["alerts"]] == [keep]
    everything = await m.handle.execute_update("list_alerts", {"include_inactive": True})
    assert {a["alert_id"]: a["status"] for a in everything["alerts"]} == {
        keep: "active",
        drop: "removed",
    }


async def test_failed_check_is_counted_and_the_loop_goes_on(make_monitor: Any) -> None:
    m: Monitor = await make_monitor(interval_seconds=60)
    await m.add(condition="price_above", threshold=500)
    await m.sleep(30)
    m.broker.fail_with = BrokerUnavailable("broker down for maintenance")
    calls = len(m.broker.quote_calls)
    await m.sleep(60)  # the check at 60 s fails after its bounded retries
    failed = await m.status()
    assert failed.state.errors == 1
    assert "broker down for maintenance" in (failed.state.last_error or "")
    assert len(m.broker.quote_calls) - calls == 3  # maximum_attempts, then it gives up
    m.broker.fail_with = None
    await m.sleep(60)
    recovered = await m.status()
    assert recovered.state.errors == 1
    assert recovered.state.iterations == failed.state.iterations + 1
    assert recovered.state.last_summary.startswith("1 rules")


async def test_continue_as_new_loses_no_steering_or_alert_state(
    make_monitor: Any, db_pool: asyncpg.Pool
) -> None:
    # One check per run: every piece of state must survive a continue-as-new.
    m: Monitor = await make_monitor(interval_seconds=60, max_iterations_per_run=1)
    first_run = (await m.handle.describe()).run_id
    alert_id = await m.add(condition="crosses_up", threshold=110)
    await m.add(condition="price_above", threshold=500)  # keeps AAPL's price tracked
    await m.sleep(150)
    status = await m.status()
    assert status.state.runs >= 3 and status.state.iterations == 3

    await m.handle.signal(PriceAlertMonitorWorkflow.pause)
    await m.sleep(300)
    paused = await m.status()
    assert paused.state.paused and paused.state.iterations == 3
    await m.handle.execute_update(
        PriceAlertMonitorWorkflow.set_interval, SetIntervalInput(interval_seconds=120)
    )
    await m.handle.signal(PriceAlertMonitorWorkflow.check_now)  # runs even while paused
    await m.sleep(1)
    assert (await m.status()).state.iterations == 4
    await m.handle.signal(PriceAlertMonitorWorkflow.resume)
    await m.sleep(250)  # resumed: due 120 s after the check_now check, then every 120 s
    m.price["AAPL"] = 111.0  # crosses 110 between two checks, in two different runs
    await m.sleep(240)
    final = await m.status()
    assert not final.state.paused and final.state.interval_seconds == 120
    assert final.state.iterations == 8
    assert final.state.triggers == 1 and final.state.last_prices == {"AAPL": 111.0}
    assert final.run_iterations <= 1 and final.history_length < 40
    assert (await m.handle.describe()).run_id != first_run

    triggers = await db_pool.fetch("SELECT alert_id, sequence FROM alert_triggers")
    assert [(t["alert_id"], t["sequence"]) for t in triggers] == [(alert_id, 1)]
    assert [n.idempotency_key for n in m.channel.sent] == [f"alert:{alert_id}:1"]
