"""The push API, one mention and search, through the real FastAPI app on a real database."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.auth import service as auth
from yuqing.core.audit import SYSTEM
from yuqing.core.settings import reset_settings_cache
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source
from yuqing.web.app import create_app

AUTH = {"Authorization": "Bearer test-push-token"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


def _stored(engine: Engine) -> list[Mention]:
    with Session(engine) as session:
        return list(session.execute(select(Mention).order_by(Mention.id)).scalars())


def test_missing_or_wrong_token_is_refused(client: TestClient, engine: Engine) -> None:
    body = {"source": "采集器", "items": [{"id": "1", "title": "x"}]}
    assert client.post("/api/v1/mentions", json=body).status_code == 401
    wrong = client.post("/api/v1/mentions", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "令牌" in wrong.json()["detail"]
    assert _stored(engine) == []


def test_push_takes_an_account_token_with_the_push_scope(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUQING_PUSH_TOKEN", "")  # no desk-wide token: accounts' tokens only
    reset_settings_cache()
    body = {"source": "s", "items": [{"id": "1", "title": "令牌推送"}]}
    assert client.post("/api/v1/mentions", json=body, headers=AUTH).status_code == 401
    with Session(engine) as session:
        user = auth.get_user_by_username(session, username="publicity_user")
        assert user is not None
        _, pusher = auth.create_token(
            session, user=user, name="采集", scopes=["push"], actor=SYSTEM
        )
        _, reader = auth.create_token(
            session, user=user, name="只读", scopes=["mentions.read"], actor=SYSTEM
        )
        session.commit()
    refused = client.post(
        "/api/v1/mentions", json=body, headers={"Authorization": f"Bearer {reader}"}
    )
    assert refused.status_code == 403 and "推送权限" in refused.json()["detail"]
    stored = client.post(
        "/api/v1/mentions", json=body, headers={"Authorization": f"Bearer {pusher}"}
    )
    assert stored.status_code == 200 and stored.json()["new"] == 1


def test_reading_needs_an_account(engine: Engine) -> None:
    with TestClient(create_app()) as anonymous:
        answer = anonymous.get("/api/v1/search", params={"q": "学校"})
    assert answer.status_code == 401 and "需要登录" in answer.json()["detail"]


def test_too_many_items_or_too_large_body(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [{"id": str(i), "title": f"标题{i}"} for i in range(1001)]
    reply = client.post("/api/v1/mentions", json={"source": "s", "items": items}, headers=AUTH)
    assert reply.status_code == 413 and "1000" in reply.json()["detail"]
    monkeypatch.setenv("YUQING_PUSH_MAX_BODY_BYTES", "2000")
    reset_settings_cache()
    reply = client.post(
        "/api/v1/mentions", json={"source": "s", "items": items[:100]}, headers=AUTH
    )
    assert reply.status_code == 413
    # A body sent in chunks, without Content-Length, is counted while it streams in.
    chunks = iter([b'{"source": "s", "items": [', b'{"id": "1", "title": "x"},' * 200, b"]}"])
    reply = client.post("/api/v1/mentions", content=chunks, headers=AUTH)
    assert reply.status_code == 413
    assert _stored(engine) == []


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"items": []}', b'{"source": "s", "items": {}}']
)
def test_wrong_shape_is_422(client: TestClient, body: bytes) -> None:
    reply = client.post("/api/v1/mentions", content=body, headers=AUTH)
    assert reply.status_code == 422


def test_one_invalid_item_fails_alone(client: TestClient, engine: Engine) -> None:
    items = [
        {"id": "a", "title": "食堂涨价", "text": "学生反映"},
        {"id": "b", "title": "坏的", "url": "ftp://example.cn/x"},
        {"id": "c", "title": "宿舍停电", "html": "<p>三号楼</p><script>alert(1)</script>"},
    ]
    reply = client.post("/api/v1/mentions", json={"source": "采集器", "items": items}, headers=AUTH)
    assert reply.status_code == 200
    data = reply.json()
    assert (data["new"], data["failed"], data["received"]) == (2, 1, 3)
    bad = data["outcomes"][1]
    assert bad["status"] == "failed" and "items[1]" in bad["error"] and "url" in bad["error"]
    stored = _stored(engine)
    assert [m.external_id for m in stored] == ["a", "c"]
    assert "<" not in stored[1].text and "alert" not in stored[1].text
    assert stored[1].text == "三号楼"

    got = client.get(f"/api/v1/mentions/{stored[1].id}")
    assert got.status_code == 200 and got.json()["title"] == "宿舍停电"
    assert client.get("/api/v1/mentions/999999").status_code == 404

    found = client.get("/api/v1/search", params={"q": "食堂"})
    assert [i["external_id"] for i in found.json()["items"]] == ["a"]
    bad_query = client.get("/api/v1/search", params={"q": "   ！！"})
    assert bad_query.status_code == 422 and bad_query.json()["detail"]


def test_push_again_is_idempotent_and_source_is_push_kind(
    client: TestClient, engine: Engine
) -> None:
    body = {"source": "新采集器", "items": [{"mid": "m1", "text": "一条", "time": 1714525200}]}
    first = client.post("/api/v1/mentions", json=body, headers=AUTH).json()
    again = client.post("/api/v1/mentions", json=body, headers=AUTH).json()
    assert (first["new"], again["unchanged"]) == (1, 1)
    assert again["outcomes"][0]["mention_id"] == first["outcomes"][0]["mention_id"]
    assert len(_stored(engine)) == 1


def test_openapi_documents_the_push_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    push = spec["paths"]["/api/v1/mentions"]["post"]
    assert push["summary"].startswith("推送")
    assert "items" in push["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "/api/v1/search" in spec["paths"]


def test_concurrent_first_pushes_make_one_source_and_store_once(
    client: TestClient, engine: Engine
) -> None:
    items = [{"id": str(i), "title": f"并发{i}", "text": f"内容{i}"} for i in range(50)]
    body = {"source": "并发采集器", "items": items}
    with ThreadPoolExecutor(4) as pool:
        replies = list(
            pool.map(lambda _: client.post("/api/v1/mentions", json=body, headers=AUTH), range(4))
        )
    assert [r.status_code for r in replies] == [200] * 4
    assert len({r.json()["source_id"] for r in replies}) == 1
    assert sum(r.json()["new"] for r in replies) == 50
    assert sorted(int(m.external_id or -1) for m in _stored(engine)) == list(range(50))


def test_a_push_source_deleted_between_pushes_is_made_again(
    client: TestClient, engine: Engine
) -> None:
    """The id of a push source is reused for a second without a lookup; a source deleted
    within that second is found missing and made again, and the push is stored."""
    body = {"source": "将被删除的采集器", "items": [{"id": "a", "text": "第一条"}]}
    first = client.post("/api/v1/mentions", json=body, headers=AUTH).json()
    with Session(engine) as session:
        source = session.get(Source, first["source_id"])
        assert source is not None
        session.delete(source)
        session.commit()
    body["items"] = [{"id": "b", "text": "第二条"}]
    second = client.post("/api/v1/mentions", json=body, headers=AUTH)
    assert second.status_code == 200, second.text
    assert second.json()["new"] == 1
    stored = _stored(engine)
    assert [m.external_id for m in stored] == ["b"]
    with Session(engine) as session:
        remade = session.get(Source, stored[0].source_id)
        assert remade is not None and remade.name == "将被删除的采集器"
