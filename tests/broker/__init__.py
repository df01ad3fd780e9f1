"""The brokers: simulated market, paper account, tastytrade adapter against the fake API."""
