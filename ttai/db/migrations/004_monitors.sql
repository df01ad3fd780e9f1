-- Alert rules and their triggers, and the broker positions the sync mirrors.

CREATE TABLE alert_rules (
    id                 BIGSERIAL PRIMARY KEY,
    -- The add_alert update's workflow ID + update ID: a retried insert is a no-op.
    request_id         TEXT NOT NULL UNIQUE,
    symbol             TEXT NOT NULL,
    condition          TEXT NOT NULL CHECK (condition IN (
                           'price_above', 'price_below', 'crosses_up', 'crosses_down',
                           'pct_move', 'iv_rank_above', 'iv_rank_below',
                           'delta_at_least', 'dte_at_most')),
    threshold          DOUBLE PRECISION NOT NULL CHECK (threshold >= 0),
    reference_price    DOUBLE PRECISION CHECK (reference_price > 0),
    mode               TEXT NOT NULL DEFAULT 'once' CHECK (mode IN ('once', 'rearm')),
    cooldown_seconds   INTEGER NOT NULL DEFAULT 3600 CHECK (cooldown_seconds >= 0),
    expires_at         TIMESTAMPTZ,
    note               TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL DEFAULT 'active'
                       CHECK (status IN ('active', 'triggered', 'expired', 'removed')),
    trigger_count      INTEGER NOT NULL DEFAULT 0,
    last_triggered_at  TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    removed_at         TIMESTAMPTZ
);
CREATE INDEX alert_rules_active ON alert_rules (condition) WHERE status = 'active';

CREATE TABLE alert_triggers (
    id               BIGSERIAL PRIMARY KEY,
    alert_id         BIGINT NOT NULL REFERENCES alert_rules (id),
    -- 1, 2, 3 ... per rule; the notification's idempotency key is built from it.
    sequence         INTEGER NOT NULL,
    -- The monitor check (workflow ID:run ID:iteration) that fired it: a retried
    -- check activity finds its trigger and records nothing new.
    check_key        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    observed         DOUBLE PRECISION NOT NULL,
    triggered_at     TIMESTAMPTZ NOT NULL,
    notification_id  BIGINT NOT NULL REFERENCES notifications (id),
    UNIQUE (alert_id, sequence),
    UNIQUE (alert_id, check_key)
);
CREATE INDEX alert_triggers_check ON alert_triggers (check_key);

-- One row per position lifetime: a closed position keeps its row (closed_at
-- set); reopening the same symbol starts a new row.
CREATE TABLE positions (
    id                  BIGSERIAL PRIMARY KEY,
    account             TEXT NOT NULL,
    symbol              TEXT NOT NULL,
    underlying          TEXT NOT NULL,
    instrument          TEXT NOT NULL CHECK (instrument IN ('equity', 'option')),
    quantity            DOUBLE PRECISION NOT NULL,
    average_open_price  DOUBLE PRECISION NOT NULL,
    option_kind         TEXT CHECK (option_kind IN ('put', 'call')),
    strike              DOUBLE PRECISION,
    expiration          DATE,
    mark                DOUBLE PRECISION NOT NULL DEFAULT 0,
    opened_at           TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    closed_at           TIMESTAMPTZ
);
CREATE UNIQUE INDEX positions_open ON positions (account, symbol) WHERE closed_at IS NULL;
