"""The REST payloads, rendered from the project's models in the API's shapes.

Kebab-case keys, decimals as strings (`str(float)`, lossless for the models'
floats), `{"data": {...}}` and `{"data": {"items": [...]}}` envelopes (added by
the app), errors as `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import JSONResponse
from tastytrade.account import AccountBalance

from tests.helpers.fake_tastytrade.scenario import occ_symbol, streamer_symbol, tt_symbol
from ttai.models.market import (
    Account,
    Balances,
    Fill,
    MarketMetrics,
    OptionChain,
    OptionEvent,
    Position,
    Quote,
)


def decimal(value: float | int) -> str:
    return str(float(value))


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def account(a: Account, now: datetime) -> dict[str, Any]:
    created = iso(now - timedelta(days=900))
    return {
        "account": {
            "account-number": a.account_number,
            "opened-at": created,
            "nickname": a.nickname,
            "account-type-name": "Individual",
            "is-closed": False,
            "day-trader-status": False,
            "is-firm-error": False,
            "is-firm-proprietary": False,
            "is-futures-approved": False,
            "is-test-drive": a.is_paper,
            "margin-or-cash": "Margin",
            "is-foreign": False,
            "created-at": created,
            "investment-objective": "SPECULATION",
            "suitable-options-level": "No Restrictions",
        },
        "authority-level": "owner",
    }


def position(p: Position, now: datetime) -> dict[str, Any]:
    symbol = p.symbol
    if p.instrument == "option" and p.expiration and p.option_kind and p.strike:
        symbol = occ_symbol(p.underlying, p.expiration, p.option_kind, p.strike)
    return {
        "account-number": p.account,
        "symbol": symbol,
        "instrument-type": "Equity Option" if p.instrument == "option" else "Equity",
        "underlying-symbol": tt_symbol(p.underlying),
        "quantity": decimal(abs(p.quantity)),
        "quantity-direction": "Short" if p.quantity < 0 else "Long",
        "close-price": decimal(p.prev_close),
        "average-open-price": decimal(p.average_open_price),
        "average-yearly-market-close-price": decimal(p.average_open_price),
        "average-daily-market-close-price": decimal(p.prev_close),
        "mark": decimal(p.mark),
        "mark-price": decimal(p.mark),
        "multiplier": p.multiplier,
        "cost-effect": "Credit" if p.quantity < 0 else "Debit",
        "is-suppressed": False,
        "is-frozen": False,
        "restricted-quantity": "0.0",
        "realized-day-gain": "0.0",
        "realized-day-gain-effect": "None",
        "realized-day-gain-date": now.date().isoformat(),
        "realized-today": "0.0",
        "realized-today-effect": "None",
        "realized-today-date": now.date().isoformat(),
        "created-at": iso(now - timedelta(days=10)),
        "updated-at": iso(now),
    }


def balances(b: Balances, currency: str, today: date, now: datetime) -> dict[str, Any]:
    # Every numeric field the API sends; the ones this project reads are set below.
    data: dict[str, Any] = {
        f.alias: "0.0"
        for name, f in AccountBalance.model_fields.items()
        if f.is_required() and f.alias and name not in ("snapshot_date", "updated_at")
    }
    data.update(
        {
            "account-number": b.account,
            "cash-balance": decimal(b.cash),
            "net-liquidating-value": decimal(b.net_liquidating_value),
            "derivative-buying-power": decimal(b.buying_power),
            "equity-buying-power": decimal(b.buying_power * 2),
            "maintenance-requirement": decimal(b.maintenance_requirement),
            "pending-cash-effect": "None",
            "snapshot-date": today.isoformat(),
            "updated-at": iso(now),
            "currency": currency,
        }
    )
    return data


def market_data(symbol: str, quote: Quote, today: date) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "instrument-type": "Equity",
        "updated-at": iso(quote.time),
        "bid": decimal(quote.bid),
        "bid-size": "300.0",
        "ask": decimal(quote.ask),
        "ask-size": "200.0",
        "mid": decimal(quote.mark),
        "mark": decimal(quote.mark),
        "last": decimal(quote.last),
        "last-mkt": decimal(quote.last),
        "prev-close": decimal(quote.prev_close),
        "prev-close-date": (today - timedelta(days=1)).isoformat(),
        "prev-close-price-type": "Regular",
        "close-price-type": "Unknown",
        "summary-date": today.isoformat(),
        "halt-start-time": -1,
        "halt-end-time": -1,
        "trading-halted": False,
        "volume": "1234567.0",
    }


def market_metrics(symbol: str, m: MarketMetrics, now: datetime) -> dict[str, Any]:
    rank = decimal(m.iv_rank / 100)
    return {
        "symbol": symbol,
        "implied-volatility-index": decimal(m.implied_volatility),
        "implied-volatility-index-5-day-change": "-0.0123",
        # Ranks and the percentile are 0-1 fractions, the rank as a string.
        "implied-volatility-index-rank": rank,
        "tos-implied-volatility-index-rank": rank,
        "tw-implied-volatility-index-rank": decimal(min(m.iv_rank / 100 + 0.05, 1)),
        "implied-volatility-index-rank-source": "tos",
        "implied-volatility-percentile": decimal(m.iv_percentile / 100),
        # ... while the 30-day figures are percentages.
        "implied-volatility-30-day": decimal(m.implied_volatility * 100),
        "historical-volatility-30-day": decimal(m.implied_volatility * 90),
        "liquidity-rating": m.liquidity_rating,
        "liquidity-rank": "0.5",
        "liquidity-value": "100000.0",
        "beta": decimal(m.beta),
        # The annual dividend yield is a 0-1 fraction like the IV index (AAPL's
        # "0.006396146" in a captured response), "0.0" for no dividend.
        "dividend-yield": decimal(m.dividend_yield),
        "market-cap": "1500000000000.0",
        "updated-at": iso(now),
        "earnings": (
            {
                "visible": True,
                "estimated": True,
                "late-flag": 0,
                "expected-report-date": m.next_earnings.isoformat(),
                "time-of-day": "AMC",
            }
            if m.next_earnings
            else None
        ),
        "sector": "Technology",
    }


def nested_chains(symbol: str, chain: OptionChain, today: date) -> list[dict[str, Any]]:
    """The standard chain, after a non-standard one (an adjusted deliverable)."""
    strikes: dict[date, set[float]] = defaultdict(set)
    for o in chain.options:
        strikes[o.expiration].add(o.strike)
    und = chain.underlying
    expirations = [
        {
            "expiration-type": (
                "Regular" if exp.weekday() == 4 and 15 <= exp.day <= 21 else "Weekly"
            ),
            "expiration-date": exp.isoformat(),
            "days-to-expiration": (exp - today).days,
            "settlement-type": "PM",
            "strikes": [
                {
                    "strike-price": decimal(k),
                    "call": occ_symbol(und, exp, "call", k),
                    "call-streamer-symbol": streamer_symbol(und, exp, "call", k),
                    "put": occ_symbol(und, exp, "put", k),
                    "put-streamer-symbol": streamer_symbol(und, exp, "put", k),
                }
                for k in sorted(strikes[exp])
            ],
        }
        for exp in sorted(strikes)
    ]
    common = {
        "underlying-symbol": symbol,
        "root-symbol": symbol,
        "shares-per-contract": 100,
        "tick-sizes": [{"value": "0.01", "threshold": "3.0"}, {"value": "0.05"}],
    }
    adjusted = {**common, "root-symbol": symbol + "1", "option-chain-type": "Non-standard"}
    return [
        {**adjusted, "expirations": expirations[:1]},
        {**common, "option-chain-type": "Standard", "expirations": expirations},
    ]


NEW_YORK = ZoneInfo("America/New_York")


def trade(transaction_id: int, f: Fill, opening: bool) -> dict[str, Any]:
    """A fill as the transaction history lists it: a "Trade" whose quantity is
    unsigned (the action says buy or sell) and whose price is per share; the
    value is price x quantity x multiplier, its effect Debit for a purchase."""
    bought = f.quantity > 0
    action = ("Buy" if bought else "Sell") + (" to Open" if opening else " to Close")
    value = abs(f.quantity) * f.price * f.multiplier
    fees = 1.0 if f.instrument == "option" else 0.0
    effect = "Debit" if bought else "Credit"
    return {
        "id": transaction_id,
        "account-number": f.account,
        "symbol": f.symbol,
        "instrument-type": "Equity Option" if f.instrument == "option" else "Equity",
        "underlying-symbol": tt_symbol(f.underlying),
        "transaction-type": "Trade",
        "transaction-sub-type": action,
        "description": f"{'Bought' if bought else 'Sold'} {abs(f.quantity):g} {f.symbol} "
        f"@ {f.price:g}",
        "action": action,
        "quantity": decimal(abs(f.quantity)),
        "price": decimal(f.price),
        "executed-at": iso(f.executed_at),
        "transaction-date": f.executed_at.astimezone(NEW_YORK).date().isoformat(),
        "value": decimal(value),
        "value-effect": effect,
        "net-value": decimal(value + fees if bought else value - fees),
        "net-value-effect": effect,
        "commission": decimal(fees),
        "commission-effect": "Debit" if fees else "None",
        "clearing-fees": "0.0",
        "clearing-fees-effect": "None",
        "regulatory-fees": "0.0",
        "regulatory-fees-effect": "None",
        "is-estimated-fee": True,
        "ext-exchange-order-number": str(900000 + transaction_id),
        "order-id": 700000 + transaction_id,
        "leg-count": 1,
    }


_REMOVALS = {"expired": "Expiration", "assigned": "Assignment", "exercised": "Exercise"}


def receive_deliver(transaction_id: int, e: OptionEvent) -> list[dict[str, Any]]:
    """An option settlement as the history lists it: the option's removal
    ("Receive Deliver", sub-type Expiration/Assignment/Exercise, value 0; its
    action closes the position) and, when shares moved, the stock entry beside
    it at the strike (its own "Receive Deliver", a buy or a sell)."""
    day = e.day.isoformat()
    common = {
        "account-number": e.account,
        "transaction-type": "Receive Deliver",
        "executed-at": iso(e.occurred_at),
        "transaction-date": day,
        "is-estimated-fee": False,
    }
    closing = "Buy to Close" if e.quantity < 0 else "Sell to Close"
    word = {"expired": "expiration", "assigned": "assignment", "exercised": "exercise"}[e.kind]
    removal = common | {
        "id": transaction_id,
        "symbol": e.symbol,
        "instrument-type": "Equity Option",
        "underlying-symbol": tt_symbol(e.underlying),
        "transaction-sub-type": _REMOVALS[e.kind],
        "description": f"Removal of option due to {word}",
        "action": closing,
        "quantity": decimal(abs(e.quantity)),
        "price": "0.0",
        "value": "0.0",
        "value-effect": "None",
        "net-value": "0.0",
        "net-value-effect": "None",
    }
    if not e.shares:
        return [removal]
    bought = e.shares > 0
    value = abs(e.shares) * e.price
    stock = common | {
        "id": transaction_id + 1,
        "symbol": tt_symbol(e.underlying),
        "instrument-type": "Equity",
        "underlying-symbol": tt_symbol(e.underlying),
        "transaction-sub-type": "Buy to Open" if bought else "Sell to Close",
        "description": f"{'Bought' if bought else 'Sold'} {abs(e.shares):g} "
        f"{e.underlying} @ {e.price:g}",
        "action": "Buy to Open" if bought else "Sell to Close",
        "quantity": decimal(abs(e.shares)),
        "price": decimal(e.price),
        "value": decimal(value),
        "value-effect": "Debit" if bought else "Credit",
        "net-value": decimal(value),
        "net-value-effect": "Debit" if bought else "Credit",
    }
    return [removal, stock]


def money_movement(
    transaction_id: int, account: str, sub_type: str, amount: float, at: datetime
) -> dict[str, Any]:
    """A non-trade history entry (a deposit, a dividend): no symbol, price or action."""
    return {
        "id": transaction_id,
        "account-number": account,
        "transaction-type": "Money Movement",
        "transaction-sub-type": sub_type,
        "description": sub_type,
        "executed-at": iso(at),
        "transaction-date": at.astimezone(NEW_YORK).date().isoformat(),
        "value": decimal(amount),
        "value-effect": "Credit",
        "net-value": decimal(amount),
        "net-value-effect": "Credit",
        "is-estimated-fee": False,
    }


def quote_token(token: str, dxlink_url: str, now: datetime) -> dict[str, Any]:
    return {
        "token": token,
        "dxlink-url": dxlink_url,
        "level": "api",
        "issued-at": iso(now),
        "expires-at": iso(now + timedelta(hours=24)),
    }
