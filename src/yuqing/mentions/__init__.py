"""The collected item (Mention): normalisation, dedupe, storage and full-text search."""
