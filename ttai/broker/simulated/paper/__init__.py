"""The simulated broker's paper account: positions, cash and fills, in memory or in PostgreSQL.

Positions are stored unmarked (`mark` 0); `SimulatedBroker` marks them to the
simulated market when asked. Opening or closing a position moves cash by the
trade's value (a short option credits its premium); there are no fees. Options
settle at their expiration close (expired, assigned or exercised by exception:
`account.settlement`), each leaving an `OptionEvent`.
Seeding deposits STARTING_CASH and pays for the default portfolio out of it,
so the opening NLV is the deposit less the half-spreads crossed.

One module per concern; import from the module that owns the thing:
- `account`: the `PaperAccount` protocol and the trade rules both stores share;
- `seed`: the default portfolio a new account buys, and the cash it leaves;
- `memory`: `InMemoryPaperAccount` (tests, runs without a database);
- `postgres`: `PostgresPaperAccount` (the workers' account).
"""
