-- Issue 20: what alert rules last read (unknown included) and the hysteresis of rearmed
-- moves; option settlements in the paper account; the events the position sync stores.

-- What the last check read for each rule: last_reading NULL with last_read_at
-- set means the broker sent no usable number (unknown); the rule fired nothing.
ALTER TABLE alert_rules ADD COLUMN last_read_at TIMESTAMPTZ;
ALTER TABLE alert_rules ADD COLUMN last_reading DOUBLE PRECISION;
-- A rearmed move (the rules with a reference price) that fired waits for a
-- check to see the price back inside its band before it may fire again
-- (hysteresis). Rules that fired before this migration were measured from
-- their last firing; they wait too, so none fires again at once on a move it
-- already reported.
ALTER TABLE alert_rules ADD COLUMN awaiting_return BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE alert_rules SET awaiting_return = TRUE
WHERE reference_price IS NOT NULL AND mode = 'rearm' AND trigger_count > 0
    AND status = 'active';

-- Options settle (issue 20): the paper account's expirations, assignments and
-- exercises, one per contract an account held. Not fills: the option leaves,
-- shares move at the strike (assigned/exercised), cash moves by their value.
CREATE TABLE paper_option_events (
    id                BIGSERIAL PRIMARY KEY,
    account           TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('expired', 'assigned', 'exercised')),
    symbol            TEXT NOT NULL,
    underlying        TEXT NOT NULL,
    option_kind       TEXT NOT NULL CHECK (option_kind IN ('put', 'call')),
    strike            NUMERIC NOT NULL,
    expiration        DATE NOT NULL,
    quantity          NUMERIC NOT NULL CHECK (quantity <> 0),
    multiplier        INTEGER NOT NULL,
    shares            NUMERIC NOT NULL,      -- + received, - delivered
    price             NUMERIC NOT NULL,      -- per share: the strike, 0 when expired
    settlement_price  NUMERIC,
    day               DATE NOT NULL,
    occurred_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (account, symbol)
);
CREATE INDEX paper_option_events_by_time ON paper_option_events (account, occurred_at);

-- The position sync stores the option events it read with today's fills (the
-- portfolio view's day P&L counts those of the session day_trades_day), and
-- notifies each settled position once ("position-settled:<row ID>").
ALTER TABLE position_sync_state ADD COLUMN day_trades_day DATE;
ALTER TABLE position_sync_state ADD COLUMN day_events JSONB NOT NULL DEFAULT '[]'::jsonb;
