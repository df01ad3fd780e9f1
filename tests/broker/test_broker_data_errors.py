"""One odd record from a broker is skipped, logged and counted; it never fails
the check as non-retryable InvalidInput (issue 14, Low)."""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from tastytrade.account import CurrentPosition
from temporalio.common import (
    MetricCounter,
    MetricGauge,
    MetricGaugeFloat,
    MetricHistogram,
    MetricHistogramFloat,
    MetricHistogramTimedelta,
    MetricMeter,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.alerts import AlertActivities
from activities.analysis import AnalysisActivities
from activities.errors import classified_errors
from activities.portfolio import PortfolioActivities
from tests.helpers.fake_tastytrade import rest
from tests.helpers.fake_tastytrade.app import FakeTastytrade
from ttai.broker.base import BrokerSchemaError, UnknownSymbol
from ttai.broker.boundary import guarded
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.broker.tastytrade.broker import TastytradeBroker
from ttai.broker.tastytrade.mapping import to_position
from ttai.config import Settings
from ttai.db.alerts import AlertStore
from ttai.db.analyses import AnalysisStore
from ttai.db.positions import PositionStore
from ttai.domain.market_calendar import new_york_date
from ttai.models.analysis import ResearchRequest
from ttai.models.market import MarketMetrics, Position
from ttai.models.monitors import CheckInput
from ttai.notify.outbox import Outbox
from ttai.services import Services

SKIPPED = "ttai_broker_records_skipped_total"


class RecordingMeter(MetricMeter):
    """A metric meter that keeps counter totals by (name, broker, kind)."""

    def __init__(
        self, totals: Counter[tuple[str, str, str]] | None = None, attributes: Any = None
    ) -> None:
        self.totals: Counter[tuple[str, str, str]] = Counter() if totals is None else totals
        self.attributes: dict[str, Any] = dict(attributes or {})

    def create_counter(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricCounter:
        return _RecordingCounter(self, name, self.attributes)

    def create_histogram(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricHistogram:
        return MetricMeter.noop.create_histogram(name, description, unit)

    def create_histogram_float(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricHistogramFloat:
        return MetricMeter.noop.create_histogram_float(name, description, unit)

    def create_histogram_timedelta(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricHistogramTimedelta:
        return MetricMeter.noop.create_histogram_timedelta(name, description, unit)

    def create_gauge(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricGauge:
        return MetricMeter.noop.create_gauge(name, description, unit)

    def create_gauge_float(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricGaugeFloat:
        return MetricMeter.noop.create_gauge_float(name, description, unit)

    def with_additional_attributes(self, additional_attributes: Mapping[str, Any]) -> MetricMeter:
        return RecordingMeter(self.totals, {**self.attributes, **additional_attributes})


class _RecordingCounter(MetricCounter):
    def __init__(self, meter: RecordingMeter, name: str, attributes: Mapping[str, Any]) -> None:
        self._meter, self._name, self._attributes = meter, name, dict(attributes)

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str | None:
        return None

    @property
    def unit(self) -> str | None:
        return None

    def add(self, value: int, additional_attributes: Mapping[str, Any] | None = None) -> None:
        labels = {**self._attributes, **(additional_attributes or {})}
        self._meter.totals[self._name, labels.get("broker", ""), labels.get("kind", "")] += value

    def with_additional_attributes(self, additional_attributes: Mapping[str, Any]) -> MetricCounter:
        return _RecordingCounter(
            self._meter, self._name, {**self._attributes, **additional_attributes}
        )


def malformed(fake: FakeTastytrade, change: dict[str, Any]) -> dict[str, Any]:
    """A copy of the scenario's short put as the API sends it, with `change` applied."""
    put = next(p for p in fake.scenario.positions if p.instrument == "option")
    return rest.position(put, fake.scenario.now) | change


@pytest.mark.parametrize(
    "change",
    [
        # Our mapping cannot read the OCC tail (today: ValueError -> InvalidInput).
        {"symbol": "AAPL  26XX18P00200000"},
        # The project's models refuse the underlying (a ValidationError, a ValueError).
        {"instrument-type": "Equity", "symbol": "AAPL1", "underlying-symbol": "AAPL1"},
        # The SDK's own model refuses it (today: the whole batch is a BrokerSchemaError).
        {"quantity": "lots"},
    ],
    ids=["odd-occ-symbol", "odd-underlying", "unreadable-quantity"],
)
async def test_portfolio_check_skips_a_malformed_position(
    db_pool: asyncpg.Pool,
    fake: FakeTastytrade,
    broker: TastytradeBroker,
    change: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = fake.scenario.accounts[0].account_number
    fake.faults.extra_items[f"/accounts/{account}/positions"] = [malformed(fake, change)]
    activities = AlertActivities(broker, AlertStore(db_pool), Outbox(db_pool, []))
    env = ActivityEnvironment()
    env.metric_meter = meter = RecordingMeter()
    request = CheckInput(check_key=f"test:{change}", as_of=datetime.now(UTC))

    result = await env.run(activities.check_portfolio, request)

    assert result.positions == len(fake.scenario.positions)  # every good one
    assert meter.totals[SKIPPED, "tastytrade", "position"] == 1
    assert "position records: repaired 0, skipped 1" in caplog.text
    assert account not in caplog.text  # account numbers stay out of the logs
    # Position sync reads the same: the good positions, the odd one skipped.
    sync = PortfolioActivities(broker, PositionStore(db_pool), Outbox(db_pool, []))
    synced = await env.run(sync.sync_positions, request)
    assert synced.open_positions == len(fake.scenario.positions)
    assert meter.totals[SKIPPED, "tastytrade", "position"] == 2


async def test_no_readable_position_is_a_schema_error_not_an_empty_portfolio(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    """Not one readable record is an unknown format: reporting an empty portfolio
    would close every synced position."""
    account = fake.scenario.accounts[0].account_number
    bad = [malformed(fake, {"quantity": "lots"}), malformed(fake, {"symbol": "AAPL  26XX"})]
    fake.scenario.positions = []
    fake.faults.extra_items[f"/accounts/{account}/positions"] = bad
    with pytest.raises(BrokerSchemaError, match="2 position record"):
        await broker.get_positions()


async def test_simulated_broker_skips_an_odd_position(caplog: pytest.LogCaptureFixture) -> None:
    market = SimulatedMarket(seed=7)
    account = InMemoryPaperAccount()
    await account.seed_if_empty(market, market.now())
    good = await account.get_positions()
    odd = Position(
        account=account.account_number,
        symbol="AAPL  261218P00200000",
        underlying="AAPL",
        instrument="option",
        quantity=-1,
        average_open_price=2.0,
        multiplier=100,
    )  # an option position without its contract details
    account._positions[odd.symbol] = odd
    env = ActivityEnvironment()
    env.metric_meter = meter = RecordingMeter()
    broker = SimulatedBroker(market, account)

    positions = await env.run(broker.get_positions)

    assert [p.symbol for p in positions] == [p.symbol for p in good]
    assert meter.totals[SKIPPED, "simulated", "position"] == 1
    assert "AAPL  261218P00200000" in caplog.text


class MappingBroker(SimulatedBroker):
    """The simulated market, with positions read by the tastytrade mapping."""

    def __init__(self, record: CurrentPosition) -> None:
        super().__init__(SimulatedMarket(seed=7), InMemoryPaperAccount())
        self.record = record

    async def get_positions(self) -> list[Position]:
        return [to_position(self.record)]  # no per-record skipping: the error escapes


async def test_a_value_error_from_broker_data_is_not_invalid_input(fake: FakeTastytrade) -> None:
    """The safety net: should an adapter still raise a ValueError while reading
    broker data, the broker boundary makes it a broker schema error."""
    odd = CurrentPosition(**malformed(fake, {"symbol": "AAPL  26XX18P00200000"}))
    broker = guarded(MappingBroker(odd))
    with pytest.raises(ApplicationError) as err, classified_errors():
        await broker.get_positions()
    assert err.value.type == "BrokerSchemaError" and err.value.non_retryable
    assert "simulated sent data that could not be read in get_positions" in str(err.value)
    assert err.value.__cause__ is not None and err.value.__cause__.__cause__ is None
    # A ValueError of the step's own input is still InvalidInput ...
    with pytest.raises(ApplicationError) as err, classified_errors():
        raise ValueError("watchlist 'x' is empty")
    assert err.value.type == "InvalidInput"
    # ... and so is one the step's own code raises calling a ttai.broker helper
    # outside a broker call: what decides is the boundary, not the module.
    with pytest.raises(ApplicationError) as err, classified_errors():
        to_position(odd)
    assert err.value.type == "InvalidInput"


class PluginBroker(SimulatedBroker):
    """An adapter that does not live in `ttai.broker` (as a plug-in's would not),
    reading the broker's records with a helper of `ttai.domain`."""

    async def get_market_metrics(self, symbols: Sequence[str]) -> dict[str, MarketMetrics]:
        # The broker stamped its metrics without a time zone; the calendar helper
        # refuses a naive time with a ValueError raised in ttai.domain.market_calendar.
        new_york_date(datetime(2026, 11, 27, 15))
        return await super().get_market_metrics(symbols)


async def test_a_value_error_from_a_helper_outside_ttai_broker_is_a_schema_error(
    db_pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    plugin = PluginBroker(SimulatedMarket(seed=7), InMemoryPaperAccount())
    with pytest.raises(ValueError) as raw:
        await plugin.get_market_metrics(["AAPL"])
    modules = [f.f_globals["__name__"] for f, _ in traceback.walk_tb(raw.tb)]
    # Not one ttai.broker frame: looking for one would have called this InvalidInput.
    assert "ttai.domain.market_calendar" in modules
    assert not any(m.startswith("ttai.broker.") for m in modules)

    # Services puts the broker behind the boundary, however it is built.
    services = Services(Settings(), db_pool, plugin, Outbox(db_pool, []))
    analysis = AnalysisActivities(services.broker, AnalysisStore(db_pool), services.outbox)
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(analysis.research_analysis, ResearchRequest(symbol="AAPL"))
    assert err.value.type == "BrokerSchemaError" and err.value.non_retryable
    assert err.value.message == (
        "simulated sent data that could not be read in get_market_metrics "
        "(ValueError in ttai.domain.market_calendar.new_york_date)"
    )
    assert err.value.message in caplog.text  # one warning line


async def test_the_boundary_passes_results_broker_errors_and_bugs_through() -> None:
    at = datetime(2026, 11, 27, 15, tzinfo=UTC)
    market = SimulatedMarket(seed=7, clock=lambda: at)
    broker = guarded(SimulatedBroker(market, InMemoryPaperAccount()))
    assert guarded(broker) is broker and broker.name == "simulated"
    assert await broker.get_quotes(["AAPL"]) == market.get_quotes(["AAPL"])
    with pytest.raises(UnknownSymbol):  # a broker error stays what it is
        await broker.get_quotes(["ZZZZ"])
    with pytest.raises(TypeError):  # a bug stays a bug, not the broker's data
        await broker.get_daily_candles("AAPL")  # type: ignore[call-arg]
