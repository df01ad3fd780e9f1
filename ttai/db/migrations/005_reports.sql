-- Scheduled reports, and the net-liquidating-value snapshots that day and
-- week P&L changes are computed from (the broker keeps no history of NLV).

CREATE TABLE reports (
    id           BIGSERIAL PRIMARY KEY,
    -- A schedule run's workflow ID (the schedule appends the scheduled time):
    -- a retried save, a replay or a reset of that run inserts nothing.
    workflow_id  TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL
                 CHECK (kind IN ('morning_briefing', 'end_of_day', 'weekly_review')),
    as_of        TIMESTAMPTZ NOT NULL,
    day          DATE NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    content      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reports_kind_day ON reports (kind, day DESC);

-- One row per trading day (New York), summed over accounts; rewritten when a
-- day's end-of-day summary runs again.
CREATE TABLE nlv_snapshots (
    day                    DATE PRIMARY KEY,
    net_liquidating_value  DOUBLE PRECISION NOT NULL,
    unrealized_pnl         DOUBLE PRECISION NOT NULL,
    recorded_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
