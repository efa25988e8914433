"""Queries built to exhaust the parser get a clear Chinese refusal, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import desk_client
from yuqing.schemes.query import MAX_DEPTH, SchemeSyntaxError, parse_query


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "query",
    [
        "(" * 500 + "南京" + ")" * 500,
        "NOT " * 1000 + "南京",
        "-" * 3000 + "南京",
        " NEAR/3 ".join(["南京"] * 600),
        "title:" + "(" * 500 + "南京" + ")" * 500,
    ],
)
def test_nesting_beyond_the_limit_is_a_syntax_error(query: str) -> None:
    with pytest.raises(SchemeSyntaxError) as caught:
        parse_query(query)
    assert f"嵌套超过 {MAX_DEPTH} 层" in caught.value.message
    assert 0 <= caught.value.position < len(query)


def test_nesting_up_to_the_limit_still_parses() -> None:
    deep = "(" * (MAX_DEPTH - 1) + "南京 OR 大学" + ")" * (MAX_DEPTH - 1)
    assert parse_query(f"NOT {deep}") is not None
    assert parse_query(" NEAR/3 ".join(["南京"] * MAX_DEPTH)) is not None
    # Flat queries are not nested, however long.
    assert parse_query(" OR ".join(f"词{i}" for i in range(2000))) is not None


def test_the_desk_answers_a_deep_query_with_its_message(client: TestClient) -> None:
    query = "(" * 500 + "南京" + ")" * 500
    page = client.get("/schemes/validate", params={"query": query})
    assert page.status_code < 500 and f"嵌套超过 {MAX_DEPTH} 层" in page.text
    csrf = {"X-CSRF-Token": client.cookies.get("yuqing_csrf") or ""}
    answer = client.post("/api/v1/schemes/validate", json={"query": query}, headers=csrf)
    assert answer.status_code == 422
    assert f"嵌套超过 {MAX_DEPTH} 层" in answer.json()["detail"]["message"]
