"""Reference data shipped with the code (each file names its source and as-of date)."""
