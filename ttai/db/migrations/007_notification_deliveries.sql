-- Delivery per channel, per-row backoff and dead letters for the outbox.
--
-- A channel that accepted a notification has a row here and is never sent it
-- again, however often the notification is retried for another channel.
-- `channel` is a stable hash of the channel's URL and `label` its scheme and
-- host: never the URL, which may hold a token.

CREATE TABLE notification_deliveries (
    notification_id  BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    channel          TEXT NOT NULL,
    label            TEXT NOT NULL,
    delivered_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (notification_id, channel)
);

-- 'failed' was never written; 'dead' is a row that ran out of attempts.
UPDATE notifications SET status = 'dead' WHERE status = 'failed';
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'delivered', 'dead'));

-- When a pending row is tried next (backoff after each failed attempt).
ALTER TABLE notifications ADD COLUMN next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE notifications ADD COLUMN dead_at TIMESTAMPTZ;

DROP INDEX notifications_pending;
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notifications_dead ON notifications (dead_at DESC) WHERE status = 'dead';
