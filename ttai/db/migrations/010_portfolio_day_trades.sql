-- Day P&L in the portfolio view (source=sync) needs today's trades: the
-- position sync stores the broker's fills since the previous session's close
-- and the previous closes of instruments no longer held, replaced at every
-- sync in the same transaction as the positions. day_trades_since NULL: the
-- last sync could not read them (or predates this migration), and the view's
-- day P&L is unknown rather than measured without them.

ALTER TABLE position_sync_state ADD COLUMN day_trades_since TIMESTAMPTZ;
ALTER TABLE position_sync_state
    ADD COLUMN day_previous_closes JSONB NOT NULL DEFAULT '{}'::jsonb;

CREATE TABLE position_sync_fills (
    ordinal      INTEGER PRIMARY KEY,
    account      TEXT NOT NULL,
    symbol       TEXT NOT NULL,
    underlying   TEXT NOT NULL,
    instrument   TEXT NOT NULL,
    quantity     DOUBLE PRECISION NOT NULL,
    price        DOUBLE PRECISION NOT NULL,
    multiplier   INTEGER NOT NULL,
    executed_at  TIMESTAMPTZ NOT NULL
);
