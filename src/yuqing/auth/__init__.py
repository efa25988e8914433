"""Accounts, sessions, roles and permissions, API tokens, and the audit log."""
