"""Broker adapters: the simulated market (default) and tastytrade."""

from ttai.broker.base import (
    Broker,
    BrokerAuthError,
    BrokerError,
    BrokerSchemaError,
    BrokerUnavailable,
    UnknownSymbol,
)

__all__ = [
    "Broker",
    "BrokerAuthError",
    "BrokerError",
    "BrokerSchemaError",
    "BrokerUnavailable",
    "UnknownSymbol",
]
