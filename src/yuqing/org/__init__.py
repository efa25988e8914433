"""The organisation: units, people, duty roles, quotas, roster changes, training."""
