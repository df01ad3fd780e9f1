"""Saved histories (JSON) and the scripts that re-record them."""
