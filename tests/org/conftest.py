"""Org test helpers: the desk app with the org pages, units, people and signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from yuqing.auth import service as auth
from yuqing.core.audit import SYSTEM
from yuqing.org import service as org
from yuqing.org import views
from yuqing.web.app import create_app

PASSWORD = "correct-horse-42"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    application = create_app()
    if not any(getattr(r, "path", "") == "/org" for r in application.routes):
        application.include_router(views.router)  # until web/app.py includes it
    return application


@dataclass
class Tree:
    """学校 → 计算机学院 → 软件工程系; 学校 → 外国语学院."""

    school: int
    cs: int
    se: int
    lang: int


@pytest.fixture
def tree(session: Session) -> Tree:
    org.ensure_defaults(session)
    school = org.create_unit(session, name="示范大学", actor=SYSTEM, kind_key="institution")
    cs = org.create_unit(
        session, name="计算机学院", actor=SYSTEM, parent_id=school.id, kind_key="college"
    )
    se = org.create_unit(
        session, name="软件工程系", actor=SYSTEM, parent_id=cs.id, kind_key="section"
    )
    lang = org.create_unit(session, name="外国语学院", actor=SYSTEM, parent_id=school.id)
    session.commit()
    return Tree(school.id, cs.id, se.id, lang.id)


Login = Callable[[str, str, "int | None"], TestClient]


@pytest.fixture
def login(app: FastAPI, session: Session) -> Iterator[Login]:
    """``login(username, role_key, unit_id)``: a new account signed in through POST /login."""
    clients: list[TestClient] = []

    def make(username: str, role: str, unit_id: int | None = None) -> TestClient:
        auth.create_user(
            session,
            username=username,
            password=PASSWORD,
            role_key=role,
            actor=SYSTEM,
            unit_id=unit_id,
            must_change_password=False,
        )
        session.commit()
        client = TestClient(app)
        clients.append(client)
        token = csrf_of(client.get("/login").text)
        reply = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/org"},
            follow_redirects=False,
        )
        assert reply.status_code == 303, reply.text
        return client

    yield make
    for client in clients:
        client.close()
