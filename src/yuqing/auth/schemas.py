"""Values of the auth domain that other domains hold: who is asking, and the refusal."""

from __future__ import annotations

from dataclasses import dataclass

from yuqing.core.audit import Actor


class AuthError(Exception):
    """A refused sign-in or credential, with a message for the user (Chinese)."""


@dataclass(frozen=True)
class Principal:
    """Who is asking, resolved once per request: the account, its role's permissions and the
    units it may see (``None``: all units)."""

    user_id: int
    username: str
    display_name: str
    role_key: str
    permissions: frozenset[str]
    unit_id: int | None
    visible_units: frozenset[int] | None
    ip: str | None = None
    token_scopes: frozenset[str] | None = None  # set when signed in with an API token

    @property
    def by_token(self) -> bool:
        """Signed in with an API token (a program), not a browser session (a person)."""
        return self.token_scopes is not None

    def can(self, permission: str) -> bool:
        if self.token_scopes is not None and permission not in self.token_scopes:
            return False
        return permission in self.permissions

    def sees_unit(self, unit_id: int | None) -> bool:
        return self.visible_units is None or (unit_id is not None and unit_id in self.visible_units)

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.display_name or self.username, self.ip)
