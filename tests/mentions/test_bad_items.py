"""One bad item never takes a batch down: it fails alone, with its reason, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.mentions import items as mention_items
from yuqing.mentions.models import Mention
from yuqing.sources import storing
from yuqing.sources.schemas import IngestResult, ItemOutcome
from yuqing.worker import collect

AUTH = {"Authorization": "Bearer test-push-token"}
GOOD = {"id": "good", "title": "江城大学食堂今天调整了价格"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


def _push(client: TestClient, items: list[Any]) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/mentions", json={"source": "采集器", "items": items}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _stored(engine: Engine) -> dict[str | None, Mention]:
    with Session(engine) as session:
        return {m.external_id: m for m in session.execute(select(Mention)).scalars()}


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"id": "a", "title": "标题", "author": "张\u0000三"}, "author"),
        ({"id": "b\u0000", "title": "标题"}, "external_id"),
        ({"id": "c", "title": "标题", "url": "https://example.cn/\u0000x"}, "url"),
        ({"id": "d", "title": "标题", "parent": "p\u0000"}, "parent_external_id"),
        ({"id": "e", "title": "标题", "language": "z\u0000"}, "language"),
    ],
)
def test_a_nul_in_a_stored_field_fails_that_item_alone(
    client: TestClient, engine: Engine, item: dict[str, Any], field: str
) -> None:
    result = _push(client, [item, GOOD])
    failed, stored = result["outcomes"]
    assert failed["status"] == "failed" and field in failed["error"]
    assert "空字符" in failed["error"] and failed["error"].startswith("items[0] ")
    assert stored["status"] == "new" and result["new"] == 1 and result["failed"] == 1
    assert list(_stored(engine)) == ["good"]


def test_nul_in_title_text_and_raw_never_fails_the_batch(
    client: TestClient, engine: Engine
) -> None:
    items = [
        {"id": "t", "title": "标\u0000题", "text": "正\u0000文"},
        {"id": "r", "title": "载荷", "raw": {"k\u0000ey": "va\u0000lue", "list": ["\u0000"]}},
        GOOD,
    ]
    result = _push(client, items)
    assert result["outcomes"][2]["status"] == "new"
    stored = _stored(engine)
    for outcome in result["outcomes"][:2]:
        # Cleaned and stored, or refused alone with a reason: never a 500 for the batch.
        assert outcome["status"] == "new" or outcome["error"]
    for mention in stored.values():
        assert "\x00" not in mention.title + mention.text + (mention.raw or "")
    assert "good" in stored


@pytest.mark.parametrize("depth", [100, 900, 10_000])
def test_a_deeply_nested_raw_payload_fails_alone(
    client: TestClient, engine: Engine, depth: int
) -> None:
    raw = '{"a":' * depth + "1" + "}" * depth
    deep = '{"id":"deep","title":"深","raw":' + raw + "}"
    body = '{"source":"采集器","items":[' + deep + ',{"id":"good","title":"好消息"}]}'
    answer = client.post(
        "/api/v1/mentions",
        content=body.encode(),
        headers={**AUTH, "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    deep, good = answer.json()["outcomes"]
    assert (
        deep["status"] == "failed" and f"嵌套超过 {mention_items.MAX_RAW_DEPTH} 层" in deep["error"]
    )
    assert good["status"] == "new"
    assert list(_stored(engine)) == ["good"]


def test_a_body_broken_elsewhere_is_still_refused_whole(client: TestClient) -> None:
    raw = '{"a":' * 2000 + "1" + "}" * 2000
    body = '{"source":"采集器","items":[{"raw":' + raw + '}, {"id": ]}'
    answer = client.post(
        "/api/v1/mentions", content=body.encode(), headers={**AUTH, "content-type": "x"}
    )
    assert answer.status_code == 422 and "JSON" in answer.json()["detail"]


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-08:00"]
)
def test_a_time_at_the_ends_of_the_calendar_fails_alone(
    client: TestClient, engine: Engine, when: str
) -> None:
    result = _push(client, [{"id": "old", "title": "远古", "time": when}, GOOD])
    bad, good = result["outcomes"]
    assert bad["status"] == "failed" and "超出范围" in bad["error"]
    assert good["status"] == "new"


def test_a_nul_in_an_imported_file_fails_that_row_alone(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"id": "1", "title": "第一行"}\n'
        '{"id": "2", "title": "第二行", "author": "张\\u0000三"}\n'
        '{"id": "3", "title": "第三行"}\n',
        encoding="utf-8",
    )
    report = collect.import_file(session, path, source_name="导入")
    assert (report.new, report.failed) == (2, 1)
    assert [(e.row, "author" in e.reason) for e in report.errors] == [(2, True)]
    assert sorted(k or "" for k in _stored(engine)) == ["1", "3"]


def test_store_isolating_splits_until_the_item_at_fault_stands_alone() -> None:
    """The splitting itself, over a store that refuses the items marked bad (as a database
    refuses a value) and keeps the rest; each part is all or nothing, like a transaction."""
    kept: list[str] = []
    tries: list[int] = []

    def store_part(items: list[Any]) -> IngestResult:
        tries.append(len(items))
        if any(item == "bad" for item in items):
            raise OverflowError("date value out of range")
        kept.extend(items)
        return IngestResult(
            new=len(items),
            outcomes=[ItemOutcome(index=i, status="new") for i in range(len(items))],
        )

    items: list[Any] = [f"ok{i}" for i in range(10)]
    items[3] = "bad"
    items[8] = storing.Unreadable("嵌套超过 64 层，无法读取")
    result = storing.store_isolating(store_part, items)
    assert [o.index for o in result.outcomes] == list(range(10))
    assert [o.index for o in result.outcomes if o.status == "failed"] == [3, 8]
    assert result.outcomes[3].error == "数值或时间超出范围，无法保存"
    assert (result.new, result.failed) == (8, 2)
    assert sorted(kept) == sorted(i for i in items if isinstance(i, str) and i != "bad")
    assert len(tries) <= 10


def test_a_failure_of_the_database_itself_is_not_blamed_on_an_item() -> None:
    from sqlalchemy.exc import OperationalError

    def store_part(items: list[Any]) -> IngestResult:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    with pytest.raises(OperationalError):
        storing.store_isolating(store_part, ["a", "b"])


def _failing_store(is_bad: Any) -> Any:
    def store_part(items: list[Any]) -> IngestResult:
        if any(is_bad(item) for item in items):
            raise ValueError("stage failed")
        return IngestResult(
            new=len(items),
            outcomes=[ItemOutcome(index=i, status="new") for i in range(len(items))],
        )

    return store_part


def test_an_error_that_strikes_every_item_is_raised_not_reported_as_failed_items() -> None:
    """A bug in a stage fails every item: the collector must get a 500 and retry later, not
    a 200 that calls its good items failed."""
    with pytest.raises(ValueError, match="stage failed"):
        storing.store_isolating(_failing_store(lambda item: True), [f"ok{i}" for i in range(6)])
    many = [f"bad{i}" if i % 2 else f"ok{i}" for i in range(40)]
    with pytest.raises(ValueError):
        storing.store_isolating(_failing_store(lambda item: item.startswith("bad")), many)
    few = [f"bad{i}" if i in (3, 17) else f"ok{i}" for i in range(40)]
    result = storing.store_isolating(_failing_store(lambda item: item.startswith("bad")), few)
    assert (result.new, result.failed) == (38, 2)


def test_a_programming_error_is_not_blamed_on_an_item() -> None:
    def store_part(items: list[Any]) -> IngestResult:
        raise IndexError("index 0 is out of bounds")

    with pytest.raises(IndexError):
        storing.store_isolating(store_part, ["a", "b"])
