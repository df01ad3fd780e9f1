"""The price monitor's quote stream: price rules evaluated on every tick.

Temporal's way of holding a stream: one long-running activity that heartbeats.
`stream_price_alerts` holds one broker stream (`QuoteStreaming.stream_quotes`)
for the symbols of the active price rules and, on each tick:

1. evaluates that symbol's rules with the same pure code as the interval check
   (`ttai.domain.alerts`: `evaluate_price_rules`, the tick's price against the
   symbol's previous one, and `back_in_band` for rearmed moves waiting to re-arm);
2. commits what fired, and the moves back inside their band, through the same
   store path (`record_firings` -> `AlertStore.record_check`: one transaction,
   keyed by alert and sequence, the notification queued with it and announced
   with NOTIFY, which the MCP bridge turns into resource-updated messages);
3. only then counts the tick's price as seen, and makes the first delivery
   attempt in the background (`Outbox.deliver_each`).

What each rule last read is stored every READINGS_SECONDS (and with each
commit), not on every tick.

The rules follow the database: every rule write is announced on
`ttai_alert_rules` (`AlertStore.changes`), and the rules are read again at least
every RELOAD_SECONDS besides; a changed symbol set is sent to the open stream,
no reconnecting.

Heartbeat details (`StreamProgress`, about once a second and after each firing)
hold the symbols, the last prices whose firings are committed and the last tick's
time. The worker's death stops the heartbeats; after the heartbeat timeout the
retry starts on another worker from those details, so a crossing during the gap
fires once on its first tick, measured from the last price seen, and a firing
committed after the last heartbeat is not repeated (`crossing_from`: the rule's
own last firing is newer than those prices).

It ends when the monitor cancels it, at `until` (the market's close) or when its
worker shuts down, returning where it stood; a broker error fails it with that
progress in the failure's details, so the monitor can poll on from there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.alerts import record_firings, tracked
from activities.errors import classified_errors
from ttai.broker.base import Broker, QuoteStream, QuoteStreaming
from ttai.db.alerts import AlertStore
from ttai.domain.alerts import (
    Firing,
    back_in_band,
    evaluate_price_rules,
    is_expired,
    price_readings,
)
from ttai.models.alerts import AlertRule
from ttai.models.conditions import names
from ttai.models.market import Tick
from ttai.models.monitors import (
    CheckInput,
    StreamEnd,
    StreamInput,
    StreamProgress,
    StreamResult,
)
from ttai.notify.outbox import Outbox
from ttai.temporal.lanes import STREAM
from ttai.temporal.steps import STREAM as STREAM_PRESET
from ttai.temporal.steps import step

RELOAD_SECONDS = 5.0
"""The rules are read again at least this often (NOTIFY is the fast path)."""
EXPIRY_SLACK_SECONDS = 0.05
"""Read the rules this long after one expires (it must have passed on the broker's clock)."""
HEARTBEAT_SECONDS = 1.0
READINGS_SECONDS = 5.0
"""Each followed rule's last reading is stored this often (and with each commit)."""
DELIVERY_GRACE_SECONDS = 10.0
"""At its end, a stream waits this long for first delivery attempts under way."""


class PriceStream:
    """One attempt's state: the rules it follows, the prices it saw, what it committed."""

    def __init__(
        self,
        alerts: AlertStore,
        outbox: Outbox,
        key: str,
        start: StreamProgress,
    ) -> None:
        self._alerts = alerts
        self._outbox = outbox
        self._key = key
        self._commits = 0
        self._rules: dict[str, list[AlertRule]] = {}
        self._prices = dict(start.last_prices)
        # When each previous price was seen: a rule that fired later than that
        # measures its crossing from its own firing (`crossing_from`).
        self._seen_at: dict[str, datetime | None] = dict.fromkeys(self._prices, start.prices_at)
        self._prices_at = start.prices_at
        self._last_tick_at = start.last_tick_at
        self._ticks = start.ticks
        self._fired = start.fired
        self._deliveries: set[asyncio.Task[object]] = set()
        self._readings_at: datetime | None = None

    @property
    def symbols(self) -> list[str]:
        return sorted(self._rules)

    def next_expiry(self) -> datetime | None:
        """When the next rule followed expires."""
        return min(
            (
                r.spec.expires_at
                for rules in self._rules.values()
                for r in rules
                if r.spec.expires_at is not None
            ),
            default=None,
        )

    def progress(self) -> StreamProgress:
        # Built from values this class keeps valid: no need to validate them again.
        return StreamProgress.model_construct(
            symbols=self.symbols,
            last_prices=dict(self._prices),
            prices_at=self._prices_at,
            last_tick_at=self._last_tick_at,
            ticks=self._ticks,
            fired=self._fired,
        )

    def beat(self) -> None:
        activity.heartbeat(self.progress())

    def _next_key(self) -> str:
        self._commits += 1
        return f"{self._key}:{self._commits}"

    async def reload(self, now: datetime) -> list[str]:
        """Read the active price rules (expiring those past their time); the symbols."""
        rules = await self._alerts.active(names("price"))
        expired = [r.alert_id for r in rules if is_expired(r, now)]
        if expired:
            request = CheckInput(check_key=self._next_key(), as_of=now)
            await record_firings(self._alerts, request, [], [], expired, "stream")
        by_symbol: dict[str, list[AlertRule]] = {}
        for rule in tracked([r for r in rules if r.alert_id not in set(expired)]):
            by_symbol.setdefault(rule.spec.symbol, []).append(rule)
        self._rules = by_symbol
        for symbol in self._prices.keys() - by_symbol.keys():
            del self._prices[symbol]  # no rule: its price would only grow stale
            self._seen_at.pop(symbol, None)
        return self.symbols

    async def on_tick(self, tick: Tick) -> bool:
        """Evaluate and commit one tick; whether anything fired."""
        symbol = tick.symbol
        fired = False
        rules = self._rules.get(symbol)
        if rules:
            price = {symbol: tick.last}
            previous = self._prices.get(symbol)
            firings = evaluate_price_rules(
                rules,
                price,
                {} if previous is None else {symbol: previous},
                {},
                tick.time,
                self._seen_at.get(symbol),
            )
            returned = back_in_band(rules, price, {})
            if firings or returned:
                fired = await self._commit(rules, firings, returned, price, tick.time)
        # Seen only now: a successor resuming from these prices must not miss a
        # firing that was not committed.
        if symbol in self._rules:
            self._prices[symbol] = tick.last
            self._seen_at[symbol] = tick.time
        self._prices_at = self._last_tick_at = tick.time
        self._ticks += 1
        return fired

    async def _commit(
        self,
        rules: list[AlertRule],
        firings: list[Firing],
        returned: list[int],
        price: dict[str, float | None],
        now: datetime,
    ) -> bool:
        request = CheckInput(check_key=self._next_key(), as_of=now)
        readings = price_readings(rules, price, {})
        triggers = await record_firings(
            self._alerts, request, rules, firings, [], "stream", readings, returned
        )
        self._fired += len(triggers)
        await self.reload(now)  # the fired rules' new counts and states
        if triggers:
            delivery = asyncio.create_task(
                self._outbox.deliver_each([t.notification_id for t in triggers])
            )
            self._deliveries.add(delivery)
            delivery.add_done_callback(self._delivered)
        return bool(triggers)

    async def record_readings(self) -> None:
        """Store what each followed rule read last (its symbol's last price)."""
        if self._last_tick_at is None or self._last_tick_at == self._readings_at:
            return
        rules = [r for symbol, rs in self._rules.items() if symbol in self._prices for r in rs]
        if rules:
            readings = price_readings(rules, dict(self._prices), {})
            await self._alerts.record_check(self._next_key(), self._last_tick_at, [], (), readings)
        self._readings_at = self._last_tick_at

    def _delivered(self, task: asyncio.Task[object]) -> None:
        self._deliveries.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The row stays pending: the outbox monitor retries it.
            activity.logger.warning("first delivery attempt failed: %r", task.exception())

    async def finish_deliveries(self) -> None:
        if self._deliveries:
            await asyncio.wait(self._deliveries, timeout=DELIVERY_GRACE_SECONDS)


class StreamActivities:
    def __init__(self, broker: Broker, alerts: AlertStore, outbox: Outbox) -> None:
        self._broker = broker
        self._alerts = alerts
        self._outbox = outbox

    @step(STREAM_PRESET, lane=STREAM)
    async def stream_price_alerts(self, request: StreamInput) -> StreamResult:
        """Price rules on every streamed quote, until cancelled, `until` or the
        worker's shutdown (see the module docstring)."""
        info = activity.info()
        start = _resume_point(request, info.heartbeat_details)
        stream = PriceStream(
            self._alerts,
            self._outbox,
            f"{info.workflow_id}:{info.workflow_run_id}:{info.activity_id}:{info.attempt}",
            start,
        )
        if not isinstance(self._broker, QuoteStreaming):
            raise ApplicationError(
                f"the {self._broker.name} broker does not stream quotes",
                start.model_dump(mode="json"),
                type="StreamUnsupported",
                non_retryable=True,
            )
        try:
            with classified_errors():
                ended = await self._run(self._broker, stream, request.until)
        except ApplicationError as err:
            # Where it stood rides along: a caller that polls on starts from there.
            raise ApplicationError(
                err.message,
                stream.progress().model_dump(mode="json"),
                type=err.type,
                non_retryable=err.non_retryable,
                next_retry_delay=err.next_retry_delay,
            ) from err
        except Exception as err:  # the database, a bug: retried, with the progress too
            raise ApplicationError(
                str(err) or type(err).__name__,
                stream.progress().model_dump(mode="json"),
                type=type(err).__name__,
            ) from err
        finally:
            await stream.finish_deliveries()
        return StreamResult(ended=ended, progress=stream.progress())

    async def _run(
        self, broker: QuoteStreaming, stream: PriceStream, until: datetime | None
    ) -> StreamEnd:
        async with self._alerts.changes() as changed:
            changed.clear()
            symbols = await stream.reload(await self._broker.now())
            async with broker.stream_quotes(symbols) as quotes:
                stream.beat()
                parts = [
                    asyncio.create_task(self._consume(stream, quotes)),
                    asyncio.create_task(self._follow(stream, quotes, changed)),
                    asyncio.create_task(self._heartbeats(stream)),
                    asyncio.create_task(self._readings(stream)),
                ]
                ending = asyncio.create_task(self._end(until))
                try:
                    done, _ = await asyncio.wait(
                        [*parts, ending], return_when=asyncio.FIRST_COMPLETED
                    )
                    if ending in done:
                        return ending.result()
                    for task in done:
                        task.result()  # its failure
                    raise RuntimeError("a stream task ended")  # they never return
                except asyncio.CancelledError:
                    return "cancelled"
                finally:
                    for task in [*parts, ending]:
                        task.cancel()
                    await asyncio.gather(*parts, ending, return_exceptions=True)

    async def _consume(self, stream: PriceStream, quotes: QuoteStream) -> None:
        async for tick in quotes:
            if await stream.on_tick(tick):
                stream.beat()  # what a successor resumes from, at once

    async def _follow(
        self, stream: PriceStream, quotes: QuoteStream, changed: asyncio.Event
    ) -> None:
        """Follow the rules: on each announced change, when one expires, and every
        RELOAD_SECONDS besides."""
        streamed = stream.symbols
        while True:
            wait = RELOAD_SECONDS
            expiry = stream.next_expiry()
            if expiry is not None:
                to_expiry = (expiry - await self._broker.now()).total_seconds()
                wait = min(wait, max(to_expiry, 0.0) + EXPIRY_SLACK_SECONDS)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await changed.wait()
            changed.clear()
            await stream.reload(await self._broker.now())
            if stream.symbols != streamed:
                streamed = stream.symbols
                await quotes.set_symbols(streamed)

    async def _heartbeats(self, stream: PriceStream) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            stream.beat()

    async def _readings(self, stream: PriceStream) -> None:
        while True:
            await asyncio.sleep(READINGS_SECONDS)
            await stream.record_readings()

    async def _end(self, until: datetime | None) -> StreamEnd:
        """'closed' at `until` (on the broker's clock), 'worker_stopping' when this
        worker begins to shut down: whichever comes first."""
        shutdown = asyncio.create_task(activity.wait_for_worker_shutdown())
        try:
            while True:
                wait = None
                if until is not None:
                    wait = (until - await self._broker.now()).total_seconds()
                    if wait <= 0:
                        return "closed"
                done, _ = await asyncio.wait([shutdown], timeout=wait)
                if done:
                    return "worker_stopping"
        finally:
            shutdown.cancel()


def _resume_point(request: StreamInput, heartbeat: Iterable[object]) -> StreamProgress:
    """Where an attempt starts: the last heartbeat of the attempt before it or, for
    the first, the prices the monitor saw last."""
    details = list(heartbeat)
    if details:
        return StreamProgress.model_validate(details[0])
    return StreamProgress(last_prices=request.previous_prices, prices_at=request.previous_at)
