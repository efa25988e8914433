"""The team permissions on an installation from before them: the first init gives them to
the roles that already did the roster work, once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth import service as auth
from yuqing.auth.models import Role

TEAM = {"team.read", "team.unit", "team.manage"}


def test_an_upgrade_gives_team_permissions_by_the_roster_permissions(session: Session) -> None:
    auth.ensure_roles(session)
    roles = {r.key: r for r in session.execute(select(Role)).scalars()}
    for role in roles.values():
        role.permissions = " ".join(p for p in role.permissions.split() if p not in TEAM)
    session.flush()
    auth.ensure_roles(session)
    held = {k: set(r.permissions.split()) & TEAM for k, r in roles.items()}
    assert held == {
        "admin": TEAM,
        "publicity": TEAM,
        "leader": {"team.read"},
        "unit_head": {"team.read", "team.unit"},
        "unit_member": {"team.read"},
    }
