"""The loop core: the loop, its session and configuration, validation, stop rules, run records and state."""
