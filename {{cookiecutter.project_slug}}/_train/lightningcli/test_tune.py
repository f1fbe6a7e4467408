"""tune.py end to end."""
