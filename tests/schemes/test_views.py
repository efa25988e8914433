"""Desk pages and API of schemes through the real app."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.auth import service as auth
from yuqing.core.audit import SYSTEM
from yuqing.mentions.models import Mention
from yuqing.mentions.store import ingest
from yuqing.schemes import service
from yuqing.schemes.matcher import SchemeHit
from yuqing.schemes.models import Scheme
from yuqing.sources.models import Source
from yuqing.web.app import create_app


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


def _token(client: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/schemes/new").text)
    assert match
    return match.group(1)


def test_editor_live_check_shows_message_and_caret(client: TestClient) -> None:
    page = client.get("/schemes/validate", params={"query": "南京 AND (大学 OR 学院"})
    assert "AND/OR/NOT 或右括号" in page.text
    assert " " * 16 + "^" in page.text
    assert "检索式正确" in client.get("/schemes/validate", params={"query": "南京 大学"}).text
    assert 'hx-get="/schemes/validate"' in client.get("/schemes/new").text


def test_create_from_the_form_then_list_counts(
    client: TestClient, session: Session, push_source: Source
) -> None:
    token = _token(client)
    refused = client.post("/schemes", data={"name": "x", "subject_words": "食堂"})
    assert refused.status_code == 403
    bad = client.post(
        "/schemes", data={"csrf_token": token, "name": "坏", "mode": "advanced", "query": "a AND"}
    )
    assert bad.status_code == 422 and "查询在结尾处不完整" in bad.text
    made = client.post(
        "/schemes",
        data={
            "csrf_token": token,
            "name": "食堂舆情",
            "group": "校园",
            "subject_words": "食堂，饭堂",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    sid = session.scalar(select(Scheme.id).where(Scheme.name == "食堂舆情"))
    assert sid is not None
    ingest(session, source=push_source, items=[{"external_id": "1", "text": "食堂"}])
    session.commit()
    mid = session.scalar(select(Mention.id))
    assert mid is not None
    service.record_matches(session, [(mid, [SchemeHit(sid, ["食堂"])])])
    session.commit()
    listing = client.get("/schemes").text
    assert "校园" in listing and "食堂舆情" in listing
    row = listing[listing.index(f'id="scheme-{sid}"') :]
    assert re.search(r'class="num today">1<.*?class="num total">1<', row, re.S)


def test_scheme_page_highlights_and_escapes(
    client: TestClient, session: Session, push_source: Source
) -> None:
    scheme = service.create(session, scheme_in=service.SchemeIn(name="s", subject_words="食堂"))
    ingest(
        session,
        source=push_source,
        items=[{"external_id": "1", "title": "<script>alert(1)</script>食堂", "text": "食堂<b>"}],
    )
    session.commit()
    mid = session.scalar(select(Mention.id))
    assert mid is not None
    service.record_matches(session, [(mid, [SchemeHit(scheme.id, ["食堂"])])])
    session.commit()
    page = client.get(f"/schemes/{scheme.id}").text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<mark>食堂</mark>" in page
    fragment = client.get(f"/schemes/mention/{mid}").text
    assert f'href="/schemes/{scheme.id}"' in fragment and "<mark>食堂</mark>" in fragment
    mention_page = client.get(f"/mentions/{mid}").text  # matches come with the page itself
    assert (
        f'href="/schemes/{scheme.id}"' in mention_page and 'hx-get="/schemes/' not in mention_page
    )


def test_backfill_from_the_desk_with_progress(
    client: TestClient, session: Session, push_source: Source
) -> None:
    scheme = service.create(session, scheme_in=service.SchemeIn(name="s", subject_words="食堂"))
    ingest(session, source=push_source, items=[{"external_id": "1", "text": "食堂"}])
    session.commit()
    started = client.post(
        f"/schemes/{scheme.id}/backfill",
        data={"csrf_token": _token(client)},
        headers={"HX-Request": "true"},
    )
    assert started.status_code == 200
    deadline = time.monotonic() + 5
    while "回溯完成" not in (text := client.get(f"/schemes/{scheme.id}/backfill").text):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "命中 1 条" in text


def _api_token(engine: Any, scopes: list[str]) -> dict[str, str]:
    with Session(engine) as session:
        user = auth.get_user_by_username(session, username="publicity_user")
        assert user is not None
        _, secret = auth.create_token(session, user=user, name="接口", scopes=scopes, actor=SYSTEM)
        session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_api_crud_and_422(client: TestClient, engine: Any) -> None:
    # The desk's own pages send the CSRF header with every HTMX request, as here.
    csrf = {"X-CSRF-Token": client.cookies.get("yuqing_csrf") or ""}
    bad = client.post("/api/v1/schemes/validate", json={"query": "南京 OR OR 北京"}, headers=csrf)
    assert bad.status_code == 422
    assert bad.json()["detail"] == {
        "position": 6,
        "expected": "词语、短语或左括号",
        "message": "第 7 个字符处（“OR”）应为词语、短语或左括号。",
    }
    good = client.post("/api/v1/schemes/validate", json={"query": "南京"}, headers=csrf)
    assert good.json()["ok"] is True
    body = {"name": "高级", "mode": "advanced", "query": "title:南京 NEAR/3 大学"}
    with TestClient(create_app()) as anonymous:
        assert anonymous.post("/api/v1/schemes", json=body).status_code == 401
    # The session cookie alone does not make a JSON write: it needs the CSRF header.
    assert client.post("/api/v1/schemes", json=body).status_code == 403
    reader = _api_token(engine, ["schemes.read"])
    assert client.post("/api/v1/schemes", json=body, headers=reader).status_code == 403
    auth_header = _api_token(engine, ["schemes.read", "schemes.manage"])
    refused = client.post("/api/v1/schemes", json={**body, "query": "foo:bar"}, headers=auth_header)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"]["position"] == 0
    made = client.post("/api/v1/schemes", json=body, headers=auth_header)
    assert made.status_code == 201
    sid = made.json()["id"]
    changed = client.put(
        f"/api/v1/schemes/{sid}",
        json={"name": "简单", "subject_words": ["食堂", "饭堂"]},
        headers=auth_header,
    )
    assert changed.json()["subject_words"] == ["食堂", "饭堂"] and changed.json()["version"] == 2
    assert [s["id"] for s in client.get("/api/v1/schemes").json()] == [sid]
    assert client.delete(f"/api/v1/schemes/{sid}", headers=auth_header).status_code == 204
    assert client.get(f"/api/v1/schemes/{sid}").status_code == 404
