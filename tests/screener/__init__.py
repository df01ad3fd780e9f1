"""ScreenerWorkflow and watchlists, from ranking to a two-worker scale-out."""
