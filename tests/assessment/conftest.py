"""Team test helpers: the org fixtures (app, tree, signed-in clients) reused."""

from tests.org.conftest import app, csrf_of, login, tree

__all__ = ["app", "csrf_of", "login", "tree"]
