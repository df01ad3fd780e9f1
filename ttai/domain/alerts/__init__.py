"""Alert conditions (`conditions`: the one table of what each is, how it
compares and how it reads) and rule evaluation (`rules`): pure functions over
rules, prices and positions."""
