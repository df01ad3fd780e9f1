"""Pure trading logic, no I/O: analytics, alert rules, report content and the
NYSE calendar. Activities fetch the inputs; these modules compute."""
