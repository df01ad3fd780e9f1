"""AnalysisWorkflow and ScreenerWorkflow end to end on the dev server, with the
worker's broker being the real tastytrade adapter talking to the fake tastytrade
API (serving the simulated market). Afterwards every saved history and every
captured log line is searched for the fake's provider secret, refresh token and
access/streamer tokens.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client, WorkflowFailureError

from tests.helpers.fake_tastytrade.app import FakeTastytrade
from tests.helpers.fake_tastytrade.faults import HttpFault
from tests.helpers.fake_tastytrade.scenario import Scenario
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.broker.tastytrade.broker import TastytradeBroker
from ttai.config import Settings
from ttai.domain.analytics import csp
from ttai.domain.analytics.technicals import analyze_chart
from ttai.models.analysis import AnalysisInput, AnalysisResult
from ttai.models.screener import ScreenInput, ScreenResult
from ttai.notify.outbox import Outbox
from ttai.services import Services
from worker import build_worker

SYMBOLS = ["AAPL", "MSFT", "KO"]
CANDLE_DAYS = 300


@pytest.fixture
async def simulated() -> SimulatedBroker:
    market = SimulatedMarket(seed=7)
    account = InMemoryPaperAccount()
    await account.seed_if_empty(market, market.now())
    return SimulatedBroker(market, account)


@pytest.fixture
async def fake(simulated: SimulatedBroker) -> FakeTastytrade:
    return FakeTastytrade(await Scenario.from_broker(simulated, SYMBOLS, CANDLE_DAYS))


@pytest.fixture
async def broker(fake: FakeTastytrade) -> AsyncIterator[TastytradeBroker]:
    b = fake.broker(stream_timeout=10)
    yield b
    await b.close()


def _strings(node: Any) -> Iterator[str]:
    """Every string in a JSON document, plus the decoded form of base64 payload data."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "data" and isinstance(value, str):
                with contextlib.suppress(binascii.Error, ValueError):
                    yield base64.b64decode(value, validate=True).decode("utf-8", "replace")
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


async def _history_text(client: Client, workflow_id: str) -> str:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return "\n".join(_strings(json.loads(history.to_json())))


async def test_mapping_over_the_simulated_market(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    """Realistic volumes: a year of candles, chains of a thousand contracts."""
    served = fake.scenario
    assert await broker.get_daily_candles("AAPL", 260) == served.candles["AAPL"][-260:]
    metrics = await broker.get_market_metrics(SYMBOLS)
    assert metrics == served.metrics
    # The simulated market gives these three a dividend: the comparison covers it.
    assert all(metrics[s].dividend_yield > 0 for s in SYMBOLS)
    assert await broker.get_quotes(SYMBOLS) == served.quotes
    chain = await broker.get_option_chain("MSFT")
    by_occ = {o.occ_symbol: o for o in served.chains["MSFT"].options}
    assert chain.options and chain.missing == []
    assert all(by_occ[o.occ_symbol] == o for o in chain.options)
    # Every contract a 30-45 DTE put screen can pick is there: |delta| 0.20-0.30
    # (the strike band follows the symbol's IV).
    wanted = {
        o.occ_symbol
        for o in served.chains["MSFT"].options
        if o.kind == "put"
        and 30 <= (o.expiration - served.today).days <= 45
        and csp.MIN_ABS_DELTA <= abs(o.delta or 0) <= csp.MAX_ABS_DELTA
    }
    assert wanted and wanted <= {o.occ_symbol for o in chain.options}


async def test_analysis_workflow_over_fake_tastytrade_leaks_no_secret(
    client: Client,
    task_queue: str,
    db_pool: asyncpg.Pool,
    fake: FakeTastytrade,
    broker: TastytradeBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # Transient faults on the way: each is retried by Temporal and leaves a
    # failure (with its message) in the history that is scanned below.
    # Temporal keeps only the last failure of each step in the history, so the
    # two faults go to different steps: the chain's 500 to AAPL's options step,
    # the metrics' 429 (added once AAPL is done) to MSFT's, which reads the
    # metrics (dividend yield) first.
    fake.faults.http.append(HttpFault("/option-chains", status=500))
    services = _services(db_pool, broker)
    workflow_ids: list[str] = []
    results: dict[str, AnalysisResult] = {}
    async with build_worker(client, services, task_queue):
        for symbol in SYMBOLS:
            workflow_ids.append(f"tt-e2e-{symbol}-{uuid.uuid4()}")
            results[symbol] = await client.execute_workflow(
                "AnalysisWorkflow",
                AnalysisInput(symbol=symbol, notify=False),
                id=workflow_ids[-1],
                task_queue=task_queue,
                result_type=AnalysisResult,
                execution_timeout=timedelta(minutes=3),
            )
            if symbol == SYMBOLS[0]:
                fake.faults.http.append(HttpFault("/market-metrics", status=429, retry_after=1))
        workflow_ids.append(f"tt-e2e-unknown-{uuid.uuid4()}")
        with pytest.raises(WorkflowFailureError):
            await client.execute_workflow(
                "AnalysisWorkflow",
                AnalysisInput(symbol="ZZZZ", notify=False),
                id=workflow_ids[-1],
                task_queue=task_queue,
                execution_timeout=timedelta(minutes=3),
            )

    # The analysis saw exactly the simulated market's candles through tastytrade.
    for symbol, result in results.items():
        assert result.chart == analyze_chart(symbol, fake.scenario.candles[symbol][-260:])
        assert result.analysis_id is not None
    assert any(r.options is not None and r.research is not None for r in results.values())
    assert {f.path for f in fake.faults.http if f.times} == set()  # both faults were hit

    texts = [await _history_text(client, wid) for wid in workflow_ids]
    # The scan reads decoded payloads: symbols and failure messages are visible to it.
    assert "AAPL" in texts[0] and "unknown symbol: ZZZZ" in texts[-1]
    assert "rate limit" in "\n".join(texts) and "server error" in "\n".join(texts)
    assert len(fake.access_tokens) == 1
    assert_no_secret(fake, [*texts, caplog.text])


async def test_screen_over_fake_tastytrade_leaks_no_secret(
    client: Client,
    task_queue: str,
    db_pool: asyncpg.Pool,
    fake: FakeTastytrade,
    broker: TastytradeBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Concurrent analyses share the broker's one session; each opens its own
    streamer connections; the unknown symbol fails alone. tastytrade's bulk lane
    has a rate budget, so each symbol is an activity of its own."""
    caplog.set_level(logging.DEBUG)
    screen_id = f"tt-e2e-screen-{uuid.uuid4()}"
    symbols = [*SYMBOLS, "ZZZZ"]
    async with build_worker(client, _services(db_pool, broker), task_queue):
        result = await client.execute_workflow(
            "ScreenerWorkflow",
            ScreenInput(symbols=symbols, max_concurrent=4, top_n=3),
            id=screen_id,
            task_queue=task_queue,
            result_type=ScreenResult,
            execution_timeout=timedelta(minutes=5),
        )
    assert (result.total, result.analyzed, result.failed) == (4, 3, 1)
    assert [(f.symbol, f.error_type) for f in result.failures] == [("ZZZZ", "UnknownSymbol")]
    assert 1 <= len(result.top) <= 3
    assert len(fake.access_tokens) == 1
    history = await client.get_workflow_handle(screen_id).fetch_history()
    kinds = {
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    assert kinds == {"screen_symbol", "save_screen"}
    texts = [await _history_text(client, screen_id)]
    assert "unknown symbol: ZZZZ" in texts[0]
    assert_no_secret(fake, [*texts, caplog.text])


def _services(db_pool: asyncpg.Pool, broker: TastytradeBroker) -> Services:
    return Services(settings=Settings(), pool=db_pool, broker=broker, outbox=Outbox(db_pool, []))


def assert_no_secret(fake: FakeTastytrade, texts: list[str]) -> None:
    for text in texts:
        for secret in fake.secret_values():
            assert secret not in text
