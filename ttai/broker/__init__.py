"""Broker adapters: the simulated market (default) and tastytrade.

Import from the module that owns the thing:
- `base`: the `Broker` interface every adapter implements, and its errors;
- `boundary`: what may leave a `Broker` call;
- `records`: broker records an adapter cannot use as sent;
- `credentials`, `factory`: which broker a worker uses, with which credentials;
- `simulated` (the market, its paper account and the broker over both),
  `tastytrade`: the adapters.
"""
