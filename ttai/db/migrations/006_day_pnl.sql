-- Day P&L with trades (issue 13 #3): the paper account's executions, and each
-- position's mark in the end-of-day snapshot, which is tomorrow's previous
-- close of a position closed then.

CREATE TABLE paper_fills (
    id           BIGSERIAL PRIMARY KEY,
    account      TEXT NOT NULL,
    symbol       TEXT NOT NULL,
    underlying   TEXT NOT NULL,
    instrument   TEXT NOT NULL CHECK (instrument IN ('equity', 'option')),
    quantity     NUMERIC NOT NULL CHECK (quantity <> 0),  -- + bought, - sold
    price        NUMERIC NOT NULL CHECK (price >= 0),     -- per share
    executed_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX paper_fills_by_time ON paper_fills (account, executed_at);

-- {broker symbol: mark} of the positions held when the snapshot was recorded.
ALTER TABLE nlv_snapshots ADD COLUMN marks JSONB NOT NULL DEFAULT '{}'::jsonb;
