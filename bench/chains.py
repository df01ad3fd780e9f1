"""Option chain benchmark: valuing a chain with Black-Scholes, building the simulated chains.

    .venv/bin/python bench/chains.py                # 100 valuations, 500 chains
    .venv/bin/python bench/chains.py --repeat 1000 --symbols 100

No stack: pure computation in this process. Measured:

1. Black-Scholes: a chain-sized grid (71 strikes x 13 expirations, puts and
   calls) valued by `black_scholes.evaluate` in one vectorised call per side;
   the mean of `--repeat` valuations.
2. The simulated market (seed 7, clock stopped at a fixed weekday noon): the
   option chains of the first `--symbols` catalogue symbols built by
   `get_option_chain`, their daily price paths already cached (as when a
   screen has quoted them first). 500 symbols is what a 500-symbol screen
   spends building chains.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ttai.broker.simulated.market import SimulatedMarket
from ttai.domain.analytics import black_scholes as bs

NOON = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # a Tuesday, 12:00 in New York


def valuation(repeat: int) -> None:
    strikes = np.tile(np.linspace(65, 135, 71), 13)
    times = np.repeat(np.linspace(3, 180, 13) / 365, 71)
    start = time.perf_counter()
    for _ in range(repeat):
        bs.evaluate("put", 100.0, strikes, times, 0.04, 0.3)
        bs.evaluate("call", 100.0, strikes, times, 0.04, 0.3)
    mean = (time.perf_counter() - start) / repeat
    print(
        f"Black-Scholes: {strikes.size * 2} contracts valued in {mean * 1000:.3f} ms "
        f"(mean of {repeat})"
    )


def chain_building(count: int) -> None:
    market = SimulatedMarket(seed=7, clock=lambda: NOON)
    symbols = market.symbols[:count]
    market.get_quotes(symbols)  # daily paths are built once per symbol and cached
    start = time.perf_counter()
    contracts = sum(len(market.get_option_chain(s).options) for s in symbols)
    elapsed = time.perf_counter() - start
    print(
        f"simulated market: {len(symbols)} chains ({contracts} contracts) in {elapsed:.2f} s, "
        f"{elapsed / len(symbols) * 1000:.1f} ms per chain"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100, help="Black-Scholes valuations")
    parser.add_argument("--symbols", type=int, default=500, help="simulated chains to build")
    args = parser.parse_args()
    print(f"# bench/chains.py  ({time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f})")
    valuation(args.repeat)
    chain_building(args.symbols)


if __name__ == "__main__":
    main()
