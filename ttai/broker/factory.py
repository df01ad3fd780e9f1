"""Which broker a worker uses: tastytrade when credentials are configured,
the simulated market otherwise."""

from __future__ import annotations

import logging

import asyncpg

from ttai.broker.base import Broker
from ttai.broker.credentials import load_credentials
from ttai.config import Settings

logger = logging.getLogger("ttai.broker")


async def open_broker(settings: Settings, pool: asyncpg.Pool) -> Broker:
    credentials = load_credentials()
    if credentials is not None:
        # Imported only when used: the SDK and its dependencies cost a worker
        # that runs on the simulated market ~20 MiB for nothing.
        from ttai.broker.tastytrade.broker import TastytradeBroker

        logger.info("broker: tastytrade")
        return TastytradeBroker(credentials)
    from ttai.broker.simulated.broker import SimulatedBroker
    from ttai.broker.simulated.market import SimulatedMarket
    from ttai.broker.simulated.paper.postgres import PostgresPaperAccount

    market = SimulatedMarket(seed=settings.market_seed)
    account = PostgresPaperAccount(pool)
    await account.seed_if_empty(market, market.now())
    logger.info("broker: simulated market (seed %s)", settings.market_seed)
    return SimulatedBroker(
        market,
        account,
        latency=settings.simulated_latency_ms / 1000,
        tick_rate=settings.simulated_tick_rate,
    )
