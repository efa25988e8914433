"""Storing items: idempotent, exact duplicates linked, bad items reported, nothing lost."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.mentions import search, service
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source


def test_same_item_twice_is_stored_once_and_updated_when_changed(
    session: Session, push_source: Source
) -> None:
    item = {
        "id": "a1",
        "title": "学校食堂涨价引热议",
        "text": "有学生反映",
        "time": "2024-05-01 09:00",
    }
    first = service.ingest(session, source=push_source, items=[item])
    again = service.ingest(session, source=push_source, items=[item])
    changed = service.ingest(session, source=push_source, items=[{**item, "text": "学校回应"}])
    session.commit()
    assert (first.new, again.unchanged, changed.updated) == (1, 1, 1)
    stored = session.execute(select(Mention)).scalars().all()
    assert len(stored) == 1 and stored[0].text == "学校回应"
    assert search.search(session, "学校回应").ids == [stored[0].id]


def test_copy_from_another_source_links_to_first(session: Session, push_source: Source) -> None:
    other = Source(name="另一个来源", kind="push")
    session.add(other)
    session.flush()
    original = {
        "id": "1",
        "title": "某校通报",
        "text": "全文",
        "url": "https://example.cn/a?utm_source=x",
    }
    service.ingest(session, source=push_source, items=[original])
    copy = service.ingest(
        session,
        source=other,
        items=[{"id": "9", "title": "某校 通报", "text": "全文", "url": "https://example.cn/b"}],
    )
    session.commit()
    assert copy.duplicate == 1
    first = session.execute(select(Mention).where(Mention.status == "new")).scalar_one()
    assert first.duplicate_count == 1
    assert copy.outcomes[0].duplicate_of == first.id


def test_bad_item_is_reported_and_the_rest_stored(session: Session, push_source: Source) -> None:
    result = service.ingest(
        session,
        source=push_source,
        items=[
            {"id": "1", "title": "正常"},
            {"id": "2", "url": "javascript:alert(1)"},
            {"id": "3", "time": "不是时间", "title": "x"},
            {"id": "4", "text": "正常二"},
        ],
    )
    session.commit()
    assert [o.status for o in result.outcomes] == ["new", "failed", "failed", "new"]
    assert "url" in (result.outcomes[1].error or "")
    assert session.execute(select(func.count()).select_from(Mention)).scalar_one() == 2
