"""System settings tests reuse the notify helpers: the small organisation, the SMTP server."""

from tests.notify.conftest import people, smtp_server

__all__ = ["people", "smtp_server"]
