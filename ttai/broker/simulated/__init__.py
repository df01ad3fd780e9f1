"""The deterministic simulated market and the broker built on it (the default broker)."""

from ttai.broker.simulated.broker import SimulatedBroker, maintenance_requirement
from ttai.broker.simulated.market import IV_RANK_SESSIONS, SimulatedMarket
from ttai.broker.simulated.options import RISK_FREE_RATE
from ttai.broker.simulated.universe import KNOWN_SYMBOLS, UNIVERSE_SIZE

__all__ = [
    "IV_RANK_SESSIONS",
    "KNOWN_SYMBOLS",
    "RISK_FREE_RATE",
    "UNIVERSE_SIZE",
    "SimulatedBroker",
    "SimulatedMarket",
    "maintenance_requirement",
]
