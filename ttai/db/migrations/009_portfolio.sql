-- The portfolio view (issue 11) reads what the position sync stores: each
-- open position's per-contract delta, multiplier and previous close next to
-- its mark, and one balances row per account, each with the time the broker
-- was read. Rows synced before this migration get their values on the next sync.

ALTER TABLE positions ADD COLUMN multiplier INTEGER NOT NULL DEFAULT 1;
ALTER TABLE positions ADD COLUMN prev_close DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE positions ADD COLUMN delta DOUBLE PRECISION;

CREATE TABLE account_balances (
    account                  TEXT PRIMARY KEY,
    cash                     DOUBLE PRECISION NOT NULL,
    net_liquidating_value    DOUBLE PRECISION NOT NULL,
    buying_power             DOUBLE PRECISION NOT NULL,
    maintenance_requirement  DOUBLE PRECISION NOT NULL,
    as_of                    TIMESTAMPTZ NOT NULL
);

-- One row: when the sync last read the broker (positions and balances alike).
CREATE TABLE position_sync_state (
    id         BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    synced_at  TIMESTAMPTZ NOT NULL
);
