-- Issue 20: unknown readings on alert rules and the hysteresis of rearmed moves.

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
