"""An option chain from the contracts chosen and the DXLink events streamed for them.

A contract with both a quote and greeks becomes an `OptionQuote` (its summary,
when one arrived, adds open interest and volume); a contract missing either is
listed in `OptionChain.missing` rather than guessed; one the models refuse is
skipped, logged and counted (`ttai.broker.records.read_each`). Contracts asked
for with no quote and no greeks at all mean the streamer is unavailable, and
the activity retries later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tastytrade.dxfeed import Event, Greeks, Summary
from tastytrade.dxfeed import Quote as DXQuote

from ttai.broker.base import BrokerUnavailable
from ttai.broker.records import read_each
from ttai.broker.tastytrade.contracts import Contract
from ttai.broker.tastytrade.mapping import to_option_quote
from ttai.models.market import OptionChain

STREAMED = (DXQuote, Greeks, Summary)
"""The event kinds a chain is read from."""


def chain_from_events(
    symbol: str,
    price: float,
    contracts: Sequence[Contract],
    events: dict[type[Event], dict[str, Event]],
    *,
    broker: str,
    stream_timeout: float,
) -> OptionChain:
    """`symbol`'s chain at `price` from the latest `events` (by kind, then streamer symbol)."""
    quotes, greeks, summaries = events[DXQuote], events[Greeks], events[Summary]
    if contracts and not quotes and not greeks:
        raise BrokerUnavailable(
            f"no option data arrived from the tastytrade streamer for {symbol} "
            f"within {stream_timeout:g}s"
        )
    streamed: list[tuple[Contract, DXQuote, Greeks]] = []
    missing: list[str] = []
    for c in contracts:
        quote, greek = quotes.get(c.streamer), greeks.get(c.streamer)
        if isinstance(quote, DXQuote) and isinstance(greek, Greeks):
            streamed.append((c, quote, greek))
        else:
            missing.append(c.occ)
    options = read_each(
        streamed,
        lambda s: to_option_quote(symbol, *s, summaries.get(s[0].streamer)),
        broker=broker,
        kind="option_quote",
        name=lambda s: s[0].occ,
    )
    return OptionChain(
        underlying=symbol,
        underlying_price=price,
        as_of=datetime.now(UTC),
        options=options,
        missing=missing,
    )
