"""Years of operation: backups and restores, retention of old rows, pseudonymised export and
erasure on request, and the database's own housekeeping (WAL checkpoints)."""
