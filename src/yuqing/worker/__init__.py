"""Pipeline runner and scheduler."""
