"""Which broker a worker uses: tastytrade when credentials are configured,
the simulated market otherwise."""

from __future__ import annotations

import logging

import asyncpg

from ttai.broker.base import Broker
from ttai.config import Settings

logger = logging.getLogger("ttai.broker")


async def open_broker(settings: Settings, pool: asyncpg.Pool) -> Broker:
    from ttai.broker.tastytrade import TastytradeBroker

    real = TastytradeBroker.from_environment()
    if real is not None:
        logger.info("broker: tastytrade")
        return real
    from ttai.broker.paper_account import PostgresPaperAccount
    from ttai.broker.simulated import SimulatedBroker, SimulatedMarket

    market = SimulatedMarket(seed=settings.market_seed)
    account = PostgresPaperAccount(pool)
    await account.seed_if_empty(market, market.now())
    logger.info("broker: simulated market (seed %s)", settings.market_seed)
    return SimulatedBroker(market, account)
