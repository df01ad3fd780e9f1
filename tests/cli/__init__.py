"""What starter.py prints: untrusted text shown literally, settings without secrets."""
