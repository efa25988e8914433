"""Every desk route answers errors with a Chinese page; the API keeps JSON."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.support import desk_client


@pytest.fixture
def office(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine, "publicity", "office") as client:
        yield client


def _chinese_page(answer: object, status: int, *words: str) -> None:
    text = answer.text  # type: ignore[attr-defined]
    assert answer.status_code == status, text[:300]  # type: ignore[attr-defined]
    assert answer.headers["content-type"].startswith("text/html")  # type: ignore[attr-defined]
    assert "<html" in text and '{"detail"' not in text
    assert "Not Found" not in text and "Input should be" not in text
    for word in words:
        assert word in text, word


def test_unknown_desk_address_is_a_chinese_page(office: TestClient) -> None:
    _chinese_page(office.get("/no-such-page"), 404, "找不到这个页面", "不存在")
    # A route's own 404 keeps its message.
    _chinese_page(office.get("/alerts/rules/987654/edit"), 404, "没有 ID 为 987654 的预警规则")


def test_invalid_query_parameters_are_explained_in_chinese(office: TestClient) -> None:
    _chinese_page(office.get("/alerts?page=abc"), 422, "参数有误", "“页码”应为整数", "abc")
    _chinese_page(office.get("/admin/audit?page=0"), 403, "没有权限")  # office cannot audit


def test_wrong_method_is_a_chinese_page(office: TestClient) -> None:
    _chinese_page(office.put("/alerts"), 405, "不支持这种操作")


def test_signed_out_unknown_page_is_still_a_page() -> None:
    from yuqing.web.app import create_app

    with TestClient(create_app()) as client:
        _chinese_page(client.get("/nowhere/at/all"), 404, "找不到这个页面")


def test_the_api_keeps_json(office: TestClient) -> None:
    missing = office.get("/api/v1/no-such-endpoint")
    assert missing.status_code == 404 and missing.json() == {"detail": "接口不存在"}
    invalid = office.get("/api/v1/audit", params={"limit": "abc"})
    assert invalid.status_code in (403, 422)
    assert isinstance(invalid.json()["detail"], str | list)
    wrong = office.get("/api/v1/search", params={"q": "学校", "page": "abc"})
    assert wrong.status_code == 422 and isinstance(wrong.json()["detail"], list)
