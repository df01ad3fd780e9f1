-- Analyses, the notification outbox and the simulated paper account.

CREATE TABLE analyses (
    id              BIGSERIAL PRIMARY KEY,
    -- Temporal's workflow ID + run ID: a retried save or a replay hits the
    -- unique key and inserts nothing.
    workflow_id     TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    strategy        TEXT NOT NULL,
    recommendation  TEXT NOT NULL,
    chart_score     DOUBLE PRECISION,
    screen_id       TEXT,
    result          JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, run_id)
);
CREATE INDEX analyses_symbol_created ON analyses (symbol, created_at DESC);
CREATE INDEX analyses_created ON analyses (created_at DESC);

CREATE TABLE notifications (
    id               BIGSERIAL PRIMARY KEY,
    -- Chosen by the caller from durable facts (workflow ID, alert ID and
    -- trigger time ...): enqueueing the same notification twice is a no-op.
    idempotency_key  TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    payload          JSONB NOT NULL DEFAULT '{}'::jsonb,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at     TIMESTAMPTZ
);
CREATE INDEX notifications_pending ON notifications (created_at) WHERE status = 'pending';

-- The simulated broker's paper account. Marks come from the simulated market.
CREATE TABLE paper_positions (
    account             TEXT NOT NULL,
    symbol              TEXT NOT NULL,
    underlying          TEXT NOT NULL,
    instrument          TEXT NOT NULL CHECK (instrument IN ('equity', 'option')),
    quantity            NUMERIC NOT NULL,
    average_open_price  NUMERIC NOT NULL,
    option_kind         TEXT CHECK (option_kind IN ('put', 'call')),
    strike              NUMERIC,
    expiration          DATE,
    opened_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account, symbol)
);

CREATE TABLE paper_balances (
    account  TEXT PRIMARY KEY,
    cash     NUMERIC NOT NULL
);
