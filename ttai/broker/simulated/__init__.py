"""The deterministic simulated market and the broker built on it (the default broker)."""

from ttai.broker.simulated.broker import SimulatedBroker, maintenance_requirement
from ttai.broker.simulated.market import IV_RANK_SESSIONS, SimulatedMarket
from ttai.broker.simulated.options import RISK_FREE_RATE
from ttai.broker.simulated.universe import (
    KNOWN_SYMBOLS,
    RESERVED_UNKNOWN_PREFIX,
    is_simulated,
    listed_symbols,
)

__all__ = [
    "IV_RANK_SESSIONS",
    "KNOWN_SYMBOLS",
    "RESERVED_UNKNOWN_PREFIX",
    "RISK_FREE_RATE",
    "SimulatedBroker",
    "SimulatedMarket",
    "is_simulated",
    "listed_symbols",
    "maintenance_requirement",
]
