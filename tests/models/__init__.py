"""The wire contract: finite numbers, bounded IDs and keys, validated carried-over state."""
