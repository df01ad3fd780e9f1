"""Alert rule evaluation (`rules`) and how alerts read (`messages`): pure functions
over rules, prices and positions."""
