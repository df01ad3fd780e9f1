"""AnalysisWorkflow, its activities, and the analytics behind them."""
