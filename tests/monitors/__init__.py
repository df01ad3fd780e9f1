"""The monitors and alert rules, from pure rules to killed workers."""
