-- Watchlists and saved screens (ScreenerWorkflow).

CREATE TABLE watchlists (
    name        TEXT PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE watchlist_symbols (
    watchlist  TEXT NOT NULL REFERENCES watchlists (name) ON DELETE CASCADE,
    symbol     TEXT NOT NULL,
    -- Screens analyse symbols in the order they were added.
    position   BIGSERIAL,
    PRIMARY KEY (watchlist, symbol)
);

-- Well-known tickers every broker lists. The `sp500` watchlist is seeded from
-- the simulated universe by code (it depends on TTAI_MARKET_SEED); see
-- ttai/db/watchlists.py.
INSERT INTO watchlists (name) VALUES ('default');
INSERT INTO watchlist_symbols (watchlist, symbol)
SELECT 'default', symbol
FROM unnest(ARRAY['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'AMD',
                  'JPM', 'KO', 'SPY', 'QQQ']) WITH ORDINALITY AS t (symbol, n)
ORDER BY n;

CREATE TABLE screens (
    id           BIGSERIAL PRIMARY KEY,
    -- The screen's workflow ID and its first run ID (stable across
    -- continue-as-new): a retried save updates the same row.
    workflow_id  TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    strategy     TEXT NOT NULL,
    watchlist    TEXT,
    status       TEXT NOT NULL CHECK (status IN ('completed', 'cancelled')),
    total        INTEGER NOT NULL,
    analysed     INTEGER NOT NULL,
    rejected     INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    result       JSONB NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL,
    saved_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, run_id)
);
CREATE INDEX screens_finished ON screens (finished_at DESC);
CREATE INDEX analyses_screen ON analyses (screen_id) WHERE screen_id IS NOT NULL;
