"""Alert rules, their evaluation over new items and timed conditions, and the outbox of warnings."""
