"""The real broker: tastytrade through its SDK (13.x), read-only.

One module per concern; import from the module that owns the thing:
- `broker`: `TastytradeBroker`, the `ttai.broker.base.Broker` the workers use;
- `errors`: HTTP status capture and the translation of SDK failures into broker errors;
- `streaming`: DXLink subscriptions (latest events per symbol, daily candle snapshots);
- `candles`: the session day of a daily candle and the repair rule for bad ones;
- `contracts`: which expirations and strikes of a chain are worth streaming;
- `chains`: the option chain those contracts' streamed events make;
- `mapping`: SDK objects to the project's market models.

Nothing here imports the SDK's order API: this adapter cannot place orders.
"""
