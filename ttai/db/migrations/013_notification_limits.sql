-- Issue 22: rules that cannot flood, notes that are one line of plain text,
-- and what the per-channel rate limit counts.
--
-- A rearmed rule waits at least 5 minutes between firings
-- (ttai.models.alerts.MIN_COOLDOWN_SECONDS); older rules are raised to it.
UPDATE alert_rules SET cooldown_seconds = 300 WHERE cooldown_seconds < 300;
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_cooldown_seconds_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_cooldown_seconds_check
    CHECK (cooldown_seconds >= 300);

-- Notes may no longer hold control characters (C0, DEL, C1) or bidirectional
-- overrides: older ones lose them, so every stored rule still reads.
UPDATE alert_rules
SET note = translate(
    note,
    (SELECT string_agg(chr(code), '')
     FROM (SELECT generate_series(1, 31) UNION ALL SELECT generate_series(127, 159)
           UNION ALL SELECT generate_series(8234, 8238) UNION ALL SELECT generate_series(8294, 8297)
          ) AS codes (code)),
    '')
WHERE note ~ '[\x01-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]';

-- The rate limit counts each channel's deliveries in a recent window.
CREATE INDEX notification_deliveries_recent ON notification_deliveries (channel, delivered_at);
