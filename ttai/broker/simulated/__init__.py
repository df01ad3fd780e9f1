"""The deterministic simulated market and the broker built on it (the default broker).

Import from the module that owns the thing:
- `universe`: which symbols exist and the parameters that drive each;
- `prices`, `earnings`, `options`, `chain`: price paths, earnings dates,
  the volatility surface and option chains;
- `market`: `SimulatedMarket`, quotes, candles, chains and metrics from them;
- `paper` (a package): the broker's paper account, seeded at the market's prices;
- `broker`: `SimulatedBroker`, the `Broker` interface over the market and a
  paper account.
"""
