"""The local stack and the main job: private PostgreSQL, dev server, compose file."""
