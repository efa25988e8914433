"""Searches built to exhaust the database get a clear Chinese refusal, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.mentions import store
from yuqing.mentions.search import (
    MAX_INDEX_TOKENS,
    MAX_TERMS,
    SearchQueryError,
    plan_query,
    search,
)
from yuqing.sources.models import Source

MANY = " ".join(f"词{i}" for i in range(1000))


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


def test_a_thousand_terms_are_refused_with_the_limit() -> None:
    with pytest.raises(SearchQueryError, match=f"最多 {MAX_TERMS} 个，本次 1000 个"):
        plan_query(MANY)


def test_too_many_terms_answer_422_and_a_page_message(client: TestClient) -> None:
    answer = client.get("/api/v1/search", params={"q": MANY})
    assert answer.status_code == 422 and f"最多 {MAX_TERMS} 个" in answer.json()["detail"]
    # The page takes queries of up to 500 characters: 100 short words fit.
    page = client.get("/search", params={"q": " ".join(f"词{i}" for i in range(100))})
    assert page.status_code == 200 and f"最多 {MAX_TERMS} 个，本次 100 个" in page.text


def test_as_many_terms_as_allowed_and_a_long_phrase_still_search(
    session: Session, push_source: Source
) -> None:
    phrase = "江城大学" + "".join(chr(0x4E00 + i * 7) for i in range(300)) + "图书馆"
    words = [f"词{i}" for i in range(MAX_TERMS - 1)]
    items = [
        {"id": "long", "title": "长文", "text": f"前文{phrase}后文"},
        {"id": "many", "title": "多词", "text": " ".join([*words, "江城"])},
        {"id": "part", "title": "半句", "text": phrase[:200]},
    ]
    result = store.ingest(session, source=push_source, items=items)
    session.commit()
    ids = {o.index: o.mention_id for o in result.outcomes}
    assert len(plan_query(f'"{phrase}"').tokens) == MAX_INDEX_TOKENS
    # Only the first bigrams are looked up in the index; the whole phrase is still checked.
    assert search(session, f'"{phrase}"').ids == [ids[0]]
    assert search(session, " ".join([*words, "江城"])).ids == [ids[1]]
