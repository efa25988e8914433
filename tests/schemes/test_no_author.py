"""No watch-lists of individual people: ``author:`` is refused everywhere a scheme is written,
and stored schemes that use it are disabled on upgrade with a note to their owners."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.support import desk_client, make_user
from yuqing.auth.models import User
from yuqing.cli import app as cli_app
from yuqing.core.audit import Actor
from yuqing.notify.models import Notification
from yuqing.org.models import Person
from yuqing.schemes import backfill, service
from yuqing.schemes.models import Scheme
from yuqing.schemes.query import SchemeSyntaxError
from yuqing.schemes.schemas import SchemeIn

WATCH_LIST = "author:张同学"


def _owner(engine: Any, session: Session) -> User:
    """An account linked to a person record (what the inbox addresses)."""
    name = make_user(engine, "fangan_owner")
    person = Person(name="方案创建人", email=None)
    session.add(person)
    session.flush()
    user = session.scalars(select(User).where(User.username == name)).one()
    user.person_id = person.id
    session.commit()
    return user


def _stored_watch_list(session: Session, user: User) -> Scheme:
    """A scheme as an older desk stored it: created through the service by ``user`` with a
    valid query, then given the author: query the old language accepted."""
    actor = Actor(user.id, user.username)
    scheme = service.create(
        session,
        scheme_in=SchemeIn(name="盯人：张同学", mode="advanced", query="张同学"),
        actor=actor,
    )
    scheme.query = WATCH_LIST
    session.commit()
    return scheme


def test_the_editor_api_and_cli_refuse_author(engine: Any) -> None:
    with desk_client(engine) as client:
        page = client.get("/schemes/new")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        answer = client.post(
            "/schemes",
            data={
                "name": "盯人",
                "mode": "advanced",
                "query": WATCH_LIST,
                "csrf_token": token.group(1),
            },
        )
        assert answer.status_code == 422
        assert "盯人名单" in answer.text and "source:" in answer.text
        assert "字段 title: text: site: source: region: sentiment:；" in page.text

        api = client.post(
            "/api/v1/schemes",
            json={"name": "盯人", "mode": "advanced", "query": WATCH_LIST},
            headers={"X-CSRF-Token": client.cookies.get("yuqing_csrf")},
        )
        assert api.status_code == 422
        assert "盯人名单" in api.json()["detail"]["message"]
        check = client.post(
            "/api/v1/schemes/validate",
            json={"query": WATCH_LIST},
            headers={"X-CSRF-Token": client.cookies.get("yuqing_csrf")},
        )
        assert check.status_code == 422
    result = CliRunner().invoke(cli_app, ["schemes", "check", WATCH_LIST])
    assert result.exit_code == 2
    assert "盯人名单" in result.output


def test_stored_watch_lists_are_disabled_with_a_note_and_their_owner_told(
    engine: Any, session: Session
) -> None:
    owner = _owner(engine, session)
    watch = _stored_watch_list(session, owner)
    kept = service.create(
        session,
        scheme_in=SchemeIn(name="官方账号", mode="advanced", query="source:学校官微 食堂"),
    )
    session.commit()

    retired = backfill.retire_person_watchlists(session)
    session.commit()
    assert [s.id for s in retired] == [watch.id]
    session.refresh(watch)
    assert watch.enabled is False
    assert "盯人名单" in watch.note and "source:" in watch.note
    assert kept.enabled is True and kept.note == ""

    inbox = session.scalars(
        select(Notification).where(
            Notification.user_id == owner.id, Notification.channel == "inbox"
        )
    ).all()
    assert [n.title for n in inbox] == ["监测方案“盯人：张同学”已停用"]

    # Again (every start runs it): nothing changes, nobody hears twice.
    assert backfill.retire_person_watchlists(session) == []
    session.commit()
    assert len(session.scalars(select(Notification)).all()) == 1

    # It cannot be switched back on until the query is edited.
    try:
        service.set_enabled(session, scheme=watch, enabled=True)
    except SchemeSyntaxError as error:
        assert "盯人名单" in error.message
    else:
        raise AssertionError("a scheme on author: was switched on")


def test_the_owner_sees_the_note_and_fixing_the_query_clears_it(
    engine: Any, session: Session
) -> None:
    owner = _owner(engine, session)
    watch = _stored_watch_list(session, owner)
    backfill.retire_person_watchlists(session)
    session.commit()
    with desk_client(engine) as client:
        listing = client.get("/schemes")
        assert "已停用" in listing.text and "盯人名单" in listing.text
        assert "盯人名单" in client.get(f"/schemes/{watch.id}").text
        assert "盯人名单" in client.get(f"/schemes/{watch.id}/edit").text
        assert "盯人名单" in client.get(f"/api/v1/schemes/{watch.id}").json()["note"]
        token = re.search(r'name="csrf_token" value="([^"]+)"', listing.text)
        assert token
        refused = client.post(
            f"/schemes/{watch.id}/enabled", data={"enabled": "1", "csrf_token": token.group(1)}
        )
        assert "需要先修改才能启用" in refused.text
        saved = client.post(
            f"/schemes/{watch.id}",
            data={
                "name": "食堂话题",
                "mode": "advanced",
                "query": "食堂 source:学校官微",
                "csrf_token": token.group(1),
            },
        )
        assert saved.status_code == 200
        enabled = client.post(
            f"/schemes/{watch.id}/enabled", data={"enabled": "1", "csrf_token": token.group(1)}
        )
        assert "已启用方案" in enabled.text
    session.refresh(watch)
    assert watch.enabled is True and watch.note == ""


def test_yuqing_init_retires_stored_watch_lists(engine: Any, session: Session) -> None:
    owner = _owner(engine, session)
    watch = _stored_watch_list(session, owner)
    result = CliRunner().invoke(cli_app, ["init"])
    assert result.exit_code == 0, result.output
    assert "已停用监测方案“盯人：张同学”" in result.output
    session.refresh(watch)
    assert watch.enabled is False and watch.note
