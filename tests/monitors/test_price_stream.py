"""The quote stream activity on PostgreSQL (activities/streams.py), run in an
activity environment against a stream whose ticks the test pushes.

On each tick the price rules are evaluated as the interval check does; a firing is
committed with its notification and delivered; rules added, removed or expired
reach the open stream without restarting it; a retry resumes from the last
heartbeat without repeating a firing and without missing a crossing of the gap;
the stream ends where the monitor, the market's close or the worker says.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
import pytest_asyncio
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.streams import StreamActivities
from tests.helpers.monitor_fakes import (
    PushedBroker,
    PushedStream,
    RecordingChannel,
    ScriptedBroker,
)
from tests.helpers.times import utc
from tests.helpers.waiting import eventually
from ttai.broker.base import BrokerUnavailable
from ttai.db.alerts import AlertStore
from ttai.domain.alerts import Firing
from ttai.models.alerts import AlertRule, AlertRuleSpec
from ttai.models.monitors import StreamInput, StreamProgress, StreamResult
from ttai.notify.messages import alert_notification
from ttai.notify.outbox import Outbox

T0 = utc(2026, 12, 4, 15)


def at(seconds: float) -> object:
    return T0 + timedelta(seconds=seconds)


class Running:
    """One stream activity, started in the background, and what it did."""

    def __init__(self, pool: asyncpg.Pool, broker: ScriptedBroker, env: ActivityEnvironment):
        self.pool = pool
        self.broker = broker
        self.env = env
        self.channel = RecordingChannel()
        self.store = AlertStore(pool)
        self.beats: list[StreamProgress] = []
        env.on_heartbeat = lambda *details: self.beats.append(details[0])
        activities = StreamActivities(broker, self.store, Outbox(pool, [self.channel]))
        self.task: asyncio.Task[StreamResult] | None = None
        self._activities = activities

    def start(self, request: StreamInput | None = None) -> None:
        self.task = asyncio.ensure_future(
            self.env.run(self._activities.stream_price_alerts, request or StreamInput())
        )

    @property
    def stream(self) -> PushedStream:
        assert isinstance(self.broker, PushedBroker)
        return self.broker.streams[-1]

    async def opened(self) -> PushedStream:
        assert isinstance(self.broker, PushedBroker)
        await eventually(lambda: self.broker.streams, what="the stream to open")
        return self.stream

    async def streaming(self, symbols: list[str]) -> PushedStream:
        stream = await self.opened()
        await eventually(lambda: stream.symbols, what=f"{symbols} streamed", until=symbols.__eq__)
        return stream

    async def ticked(self, count: int) -> StreamProgress:
        """Until a heartbeat says `count` ticks were evaluated."""
        self.stream  # noqa: B018 (opened)

        def last() -> int:
            return self.beats[-1].ticks if self.beats else -1

        await eventually(last, what=f"{count} ticks", until=lambda n: n >= count, every=0.05)
        return self.beats[-1]

    async def stop(self) -> StreamResult:
        assert self.task is not None
        self.env.cancel()
        return await asyncio.wait_for(self.task, 30)

    async def triggers(self) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT alert_id, sequence, observed, triggered_at FROM alert_triggers "
            "ORDER BY alert_id, sequence"
        )


@pytest_asyncio.fixture(loop_scope="session")
async def running(db_pool: asyncpg.Pool) -> AsyncIterator[Running]:
    env = ActivityEnvironment()
    run = Running(db_pool, PushedBroker(), env)
    yield run
    if run.task is not None and not run.task.done():
        env.cancel()
        await asyncio.wait_for(run.task, 30)


def rule(symbol: str, condition: str, threshold: float, **more: object) -> AlertRuleSpec:
    return AlertRuleSpec.model_validate(
        {"symbol": symbol, "condition": condition, "threshold": threshold, **more}
    )


async def test_a_crossing_fires_on_its_first_tick_once(running: Running) -> None:
    up = await running.store.create("r1", rule("AAPL", "crosses_up", 110))
    running.start(StreamInput(previous_prices={"AAPL": 105.0}, previous_at=T0))
    stream = await running.streaming(["AAPL"])
    for n, price in enumerate([108.0, 109.99, 110.0, 111.0, 108.0, 112.0], start=1):
        stream.push("AAPL", price, at(n))
    await running.ticked(6)
    [fired] = await running.triggers()
    assert (fired["alert_id"], fired["sequence"], fired["observed"]) == (up.alert_id, 1, 110.0)
    assert fired["triggered_at"] == at(3)  # the tick's own time
    await eventually(lambda: running.channel.sent, what="the first delivery")
    assert [n.idempotency_key for n in running.channel.sent] == [f"alert:{up.alert_id}:1"]
    # A once rule is done: its symbol leaves the stream.
    await eventually(lambda: stream.symbols, what="AAPL unsubscribed", until=[].__eq__)
    result = await running.stop()
    assert result.ended == "cancelled"
    assert (result.progress.ticks, result.progress.fired) == (6, 1)


async def test_a_move_rearms_inside_its_band_and_readings_are_stored(running: Running) -> None:
    """A rearmed pct_move fires once on the way out, waits while the price stays out,
    re-arms on the first tick back inside its band, and fires on the next move (its
    cooldown of 300 s, the least there is, passed)."""
    move = await running.store.create(
        "m1", rule("AAPL", "pct_move", 5, reference_price=100, mode="rearm", cooldown_seconds=300)
    )
    running.start()
    stream = await running.streaming(["AAPL"])
    for seconds, price in [(1, 101.0), (2, 106.0), (3, 107.0), (4, 100.5), (400, 94.0)]:
        stream.push("AAPL", price, at(seconds))
    await running.ticked(5)
    rows = await running.triggers()
    assert [(r["alert_id"], r["sequence"], r["observed"]) for r in rows] == [
        (move.alert_id, 1, 106.0),
        (move.alert_id, 2, 94.0),
    ]
    [stored] = await running.store.rules()
    assert (stored.last_reading, stored.last_read_at) == (94.0, at(400))
    stream.push("AAPL", 95.0, at(401))  # no firing: stored with the next readings
    await eventually(
        running.store.rules,
        what="the reading stored without a firing",
        until=lambda rules: rules[0].last_reading == 95.0,
    )


async def test_rules_reach_the_open_stream(running: Running) -> None:
    running.start()
    stream = await running.streaming([])
    # Added: subscribed on the same stream, and its next tick is evaluated.
    added = await running.store.create("r1", rule("MSFT", "price_above", 400))
    await running.streaming(["MSFT"])
    stream.push("MSFT", 401.0, at(1))
    await eventually(running.triggers, what="MSFT's rule to fire")
    # Removed: unsubscribed.
    kept = await running.store.create("r2", rule("KO", "price_below", 50))
    gone = await running.store.create("r3", rule("JPM", "price_above", 500))
    await running.streaming(["JPM", "KO"])
    await running.store.remove(gone.alert_id)
    await running.streaming(["KO"])
    # Expired: unsubscribed and expired in the store (on the broker's clock).
    soon = running.broker.clock() + timedelta(seconds=1)
    await running.store.create("r4", rule("PFE", "price_above", 1, expires_at=soon))
    await running.streaming(["KO", "PFE"])
    await running.streaming(["KO"])
    statuses = {r.alert_id: r.status for r in await running.store.rules(include_inactive=True)}
    assert statuses[added.alert_id] == "triggered" and statuses[kept.alert_id] == "active"
    assert sorted(statuses.values()) == ["active", "expired", "removed", "triggered"]
    assert len(running.broker.streams) == 1  # never reconnected
    assert stream.changes[0] == []


async def test_a_retry_resumes_from_the_last_heartbeat(db_pool: asyncpg.Pool) -> None:
    """The first attempt saw AAPL at 108 and MSFT at 395, and fired MSFT's rearmed
    rule at 401 after its last heartbeat; the worker died. Meanwhile AAPL crossed
    110. The retry, after MSFT's cooldown, fires AAPL's crossing once and does not
    repeat MSFT's, until MSFT crosses again."""
    store = AlertStore(db_pool)
    aapl = await store.create("r1", rule("AAPL", "crosses_up", 110))
    msft = await store.create(
        "r2", rule("MSFT", "crosses_up", 400, mode="rearm", cooldown_seconds=300)
    )
    firing = Firing(msft.alert_id, 1, "MSFT", 401.0)
    await store.record_check("first-attempt:1", at(6), [(firing, alert_notification(msft, firing))])
    last_heartbeat = StreamProgress(
        symbols=["AAPL", "MSFT"],
        last_prices={"AAPL": 108.0, "MSFT": 395.0},
        prices_at=at(5),
        last_tick_at=at(5),
        ticks=40,
        fired=0,
    )
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, attempt=2, heartbeat_details=[last_heartbeat.model_dump(mode="json")]
    )
    running = Running(db_pool, PushedBroker(), env)
    running.start(StreamInput(previous_prices={"AAPL": 90.0}, previous_at=T0))
    stream = await running.streaming(["AAPL", "MSFT"])
    stream.push("MSFT", 402.0, at(320))  # still above: the crossing it fired at 401
    stream.push("AAPL", 111.0, at(321))  # crossed during the gap
    stream.push("AAPL", 112.0, at(322))
    progress = await running.ticked(43)
    rows = await running.triggers()
    assert [(r["alert_id"], r["sequence"], r["observed"]) for r in rows] == [
        (aapl.alert_id, 1, 111.0),
        (msft.alert_id, 1, 401.0),
    ]
    # AAPL's rule fired once and is done: no rule, no price kept.
    assert progress.last_prices == {"MSFT": 402.0}
    # Below and above again: a new crossing of the rearmed rule.
    stream.push("MSFT", 399.0, at(323))
    stream.push("MSFT", 400.5, at(324))
    await eventually(
        running.triggers, what="MSFT's second crossing", until=lambda rows: len(rows) == 3
    )
    result = await running.stop()
    assert (result.progress.ticks, result.progress.fired) == (45, 2)


async def test_it_ends_at_the_close(running: Running) -> None:
    await running.store.create("r1", rule("AAPL", "price_above", 1000))
    running.start(StreamInput(until=running.broker.clock() + timedelta(seconds=2)))
    await running.streaming(["AAPL"])
    assert running.task is not None
    result = await asyncio.wait_for(running.task, 30)
    assert result.ended == "closed"


async def test_it_ends_with_its_worker(running: Running) -> None:
    await running.store.create("r1", rule("AAPL", "price_above", 1000))
    running.start()
    stream = await running.streaming(["AAPL"])
    stream.push("AAPL", 100.0, at(1))
    await running.ticked(1)
    running.env.worker_shutdown()
    assert running.task is not None
    result = await asyncio.wait_for(running.task, 30)
    assert result.ended == "worker_stopping"
    assert result.progress.last_prices == {"AAPL": 100.0}


async def test_a_broker_failure_fails_it_with_where_it_stood(running: Running) -> None:
    await running.store.create("r1", rule("AAPL", "price_above", 1000))
    running.start()
    stream = await running.streaming(["AAPL"])
    stream.push("AAPL", 100.0, at(1))
    await running.ticked(1)
    stream.fail(BrokerUnavailable("feed lost"))
    assert running.task is not None
    with pytest.raises(ApplicationError) as failed:
        await asyncio.wait_for(running.task, 30)
    assert (failed.value.type, failed.value.non_retryable) == ("BrokerUnavailable", False)
    progress = StreamProgress.model_validate(failed.value.details[0])
    assert progress.last_prices == {"AAPL": 100.0} and progress.ticks == 1


async def test_a_broker_without_a_stream_is_refused(db_pool: asyncpg.Pool) -> None:
    env = ActivityEnvironment()
    running = Running(db_pool, ScriptedBroker({}), env)
    running.start()
    assert running.task is not None
    with pytest.raises(ApplicationError) as refused:
        await running.task
    assert (refused.value.type, refused.value.non_retryable) == ("StreamUnsupported", True)


def test_a_stale_price_does_not_repeat_a_newer_firing() -> None:
    """`crossing_from`, the rule the stream resumes by (and the check after a stream)."""
    from ttai.domain.alerts import crossing_from, evaluate_price_rules

    spec = rule("MSFT", "crosses_up", 400, mode="rearm", cooldown_seconds=300)
    fired_at_401 = AlertRule(
        alert_id=1,
        spec=spec,
        status="active",
        trigger_count=1,
        last_triggered_at=at(6),
        last_observed=401.0,
        created_at=T0,
    )
    assert crossing_from(fired_at_401, 395.0, at(5)) == 401.0  # fired after 395 was seen
    assert crossing_from(fired_at_401, 395.0, at(7)) == 395.0  # 395 is the newer price
    assert crossing_from(fired_at_401, 395.0, None) == 395.0  # unknown: as before
    prices, previous = {"MSFT": 402.0}, {"MSFT": 395.0}
    assert evaluate_price_rules([fired_at_401], prices, previous, {}, at(320), at(5)) == []
    assert evaluate_price_rules([fired_at_401], prices, previous, {}, at(320), at(7)) == [
        Firing(1, 2, "MSFT", 402.0)
    ]
