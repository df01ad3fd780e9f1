"""A simulated option chain: every listed expiration x strike, valued, quoted, validated once.

The grid is the listed expirations (weeklies and monthlies,
`options.expiration_sessions`) times the strikes around the last close. Each
contract is valued on the symbol's volatility surface with the earnings
reports before its expiry, quoted at a spread set by the symbol's liquidity,
and given an open interest and volume that change once a day, not with every
quote. Greeks and IV stay unrounded, so consumers can recompute them exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from ttai.broker.simulated import options as opt
from ttai.broker.simulated.earnings import earnings_before
from ttai.broker.simulated.prices import DailyPath, SessionTable
from ttai.broker.simulated.universe import SymbolParams, stable_rng
from ttai.domain.market_calendar import new_york_date
from ttai.models.market import OptionChain


def list_chain(
    seed: int,
    symbol: str,
    params: SymbolParams,
    table: SessionTable,
    path: DailyPath,
    underlying: opt.UnderlyingState,
    session: int,
) -> OptionChain:
    """The chain of `symbol` at `underlying.ts`, in the current `session` of `table`."""
    ts, spot = underlying.ts, underlying.spot
    exp_idx, monthly = opt.expiration_sessions(table, ts)
    strikes = opt.strikes_around(float(path.close[table.last_completed(ts)]))
    n_exp, n_k = len(exp_idx), len(strikes)
    exp_days = [table.day(i) for i in exp_idx]
    today = new_york_date(datetime.fromtimestamp(ts, UTC))

    grid_k = np.tile(strikes, n_exp)
    expiry_ts = np.repeat(table.closes[exp_idx], n_k)
    values = opt.value_contracts(
        params,
        underlying,
        grid_k,
        expiry_ts,
        np.repeat(earnings_before(params, today, exp_days), n_k),
    )
    t_years = (expiry_ts - ts) / opt.SECONDS_PER_YEAR
    step = opt.strike_step(float(path.close[table.last_completed(ts)]))
    round_strike = np.isclose(np.mod(grid_k + 1e-9, 5 * step), 0.0, atol=1e-6)
    is_monthly = np.repeat([i in monthly for i in exp_idx], n_k)
    # Open interest and volume change once a day, not with every quote.
    noise = np.concatenate(
        [
            stable_rng(
                seed, symbol, "oi", d.isoformat(), table.day(session).isoformat()
            ).standard_normal((4, n_k))
            for d in exp_days
        ],
        axis=1,
    )

    # Greeks and IV unrounded: consumers can recompute them exactly from the inputs.
    columns: dict[str, list] = {"iv": values.iv.tolist()}
    for kind, valuation, row in (("put", values.put, 0), ("call", values.call, 1)):
        floor = opt.intrinsic(kind, spot, grid_k)  # American: the mid is never below it
        bid, ask = opt.bid_ask(valuation.price, params.liquidity, floor)
        oi = opt.open_interest(
            params, values.moneyness, t_years, is_monthly, round_strike, noise[row]
        )
        volume = (oi * 0.1 * np.exp(0.6 * noise[row + 2])).astype(np.int64)
        columns[kind] = list(
            zip(
                bid.tolist(),
                ask.tolist(),
                oi.tolist(),
                volume.tolist(),
                valuation.delta.tolist(),
                valuation.gamma.tolist(),
                valuation.theta.tolist(),
                valuation.vega.tolist(),
                strict=True,
            )
        )

    contracts: list[dict[str, object]] = []
    strike_list = strikes.tolist()
    strike_codes = [f"{round(k * 1000):08d}" for k in strike_list]
    for e, expiration in enumerate(exp_days):
        root = opt.occ_symbol(symbol, expiration, "put", 0.0)[:12]
        for s, strike in enumerate(strike_list):
            j = e * n_k + s
            for kind, letter in (("put", "P"), ("call", "C")):
                bid, ask, oi, volume, delta, gamma, theta, vega = columns[kind][j]
                contracts.append(
                    {
                        "occ_symbol": root + letter + strike_codes[s],
                        "underlying": symbol,
                        "expiration": expiration,
                        "strike": strike,
                        "kind": kind,
                        "bid": bid,
                        "ask": ask,
                        "open_interest": oi,
                        "volume": volume,
                        "implied_volatility": columns["iv"][j],
                        "delta": delta,
                        "gamma": gamma,
                        "theta": theta,
                        "vega": vega,
                    }
                )
    # One nested validation is about twice as fast as a model per contract.
    return OptionChain.model_validate(
        {
            "underlying": symbol,
            "underlying_price": spot,
            "as_of": datetime.fromtimestamp(ts, UTC),
            "options": contracts,
        }
    )
