"""A day in the hall: a discrete-event simulator running the engine's own balancing rules."""
