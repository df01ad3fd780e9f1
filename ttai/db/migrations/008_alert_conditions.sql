-- The application owns the alert conditions (ttai/domain/alerts/conditions.py):
-- the store stores their names and no longer lists them, so adding a condition
-- needs no migration. Rules are validated before they are written (AlertRuleSpec).

ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_condition_check;
