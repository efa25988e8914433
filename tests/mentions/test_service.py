"""Storing items: idempotent, exact duplicates linked, bad items reported, nothing lost."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.mentions import search, store
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
    first = store.ingest(session, source=push_source, items=[item])
    again = store.ingest(session, source=push_source, items=[item])
    changed = store.ingest(session, source=push_source, items=[{**item, "text": "学校回应"}])
    session.commit()
    assert (first.new, again.unchanged, changed.updated) == (1, 1, 1)
    stored = session.execute(select(Mention)).scalars().all()
    assert len(stored) == 1 and stored[0].text == "学校回应"
    assert search.search(session, "学校回应").ids == [stored[0].id]


def test_each_batch_is_counted_on_its_source_and_only_new_items_date_it(
    session: Session, push_source: Source
) -> None:
    item = {"id": "c1", "title": "图书馆空调故障", "text": "空调坏了三天"}
    first = store.ingest(session, source=push_source, items=[item, {"id": "c2", "title": "停电"}])
    session.commit()
    session.refresh(push_source)
    dated = push_source.last_new_item_at
    assert first.new == 2 and dated is not None
    assert (push_source.count_new, push_source.count_duplicate) == (2, 0)

    store.ingest(session, source=push_source, items=[item, {**item, "id": "c3"}, {"title": ""}])
    store.ingest(session, source=push_source, items=[{**item, "text": "已修好"}])
    session.commit()
    session.refresh(push_source)
    counts = (
        push_source.count_new,
        push_source.count_duplicate,
        push_source.count_updated,
        push_source.count_failed,
    )
    assert counts == (2, 1, 1, 1)  # c1 unchanged is no count; c3 repeats c1's text
    assert push_source.last_new_item_at == dated


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
    store.ingest(session, source=push_source, items=[original])
    copy = store.ingest(
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
    result = store.ingest(
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


def test_outcome_ids_point_at_the_stored_rows(session: Session, push_source: Source) -> None:
    """Ids of a bulk insert are read back, not returned: check each one names its own row."""
    store.ingest(session, source=push_source, items=[{"id": "old", "title": "已有"}])
    items = [
        {"id": f"n{i}", "title": f"标题{i}", "text": f"正文{i}"}
        if i % 3
        else {"id": f"n{i}", "text": "转发微博"}
        for i in range(30)
    ]
    result = store.ingest(session, source=push_source, items=items)
    session.commit()
    by_id = {m.id: m for m in session.execute(select(Mention)).scalars()}
    for item, outcome in zip(items, result.outcomes, strict=True):
        assert outcome.mention_id is not None
        assert by_id[outcome.mention_id].external_id == item["id"]
        if outcome.status == "duplicate":
            first = by_id[outcome.duplicate_of or 0]
            assert first.status == "new" and first.title == by_id[outcome.mention_id].title
    assert (result.new, result.duplicate) == (21, 9)
    assert search.search(session, "标题7").ids == [result.outcomes[7].mention_id]


def test_times_are_stored_in_utc_and_filter_like_orm_rows(
    session: Session, push_source: Source
) -> None:
    aware = datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    result = store.ingest(
        session,
        source=push_source,
        items=[
            {"id": "a", "title": "一", "time": "2024-05-01T09:00:00+08:00"},
            {"id": "b", "title": "二", "time": aware},
            {"id": "c", "title": "三", "time": "2024年5月1日 09:00"},
        ],
    )
    session.commit()
    assert result.new == 3
    expected = datetime(2024, 5, 1, 1, 0)
    assert set(session.execute(select(Mention.published_at)).scalars()) == {expected}
    matched = session.execute(
        select(func.count()).select_from(Mention).where(Mention.published_at >= expected)
    ).scalar_one()
    assert matched == 3


def test_failed_item_messages_are_chinese_and_name_the_field(
    session: Session, push_source: Source
) -> None:
    result = store.ingest(
        session,
        source=push_source,
        items=[{"title": 5}, {"author": "作" * 400, "title": "x"}, ["not", "an", "item"], {}],
    )
    errors = [o.error or "" for o in result.outcomes]
    assert errors[0].startswith("字段 title") and "文本" in errors[0]
    assert errors[1].startswith("字段 author") and "300" in errors[1]
    assert "JSON 对象" in errors[2]
    assert "为空" in errors[3]


def test_iso_times_read_fast_agree_with_the_general_parser() -> None:
    from yuqing.core.timeutil import parse_time
    from yuqing.sources.schemas import ItemIn

    times = [
        "2024-05-01 09:00",
        "2024-05-01T09:00:00.123456",
        "2024-05-01T09:00:00+08:00",
        "2024-05-01T01:00:00Z",
        "2024-12-31T23:30:00-05:30",
        "1988-07-01 12:00",  # Beijing summer time, UTC+9: the zone database decides
        "1991-09-15 00:30",  # the last night of it
        "1992-07-01 12:00",
    ]
    for value in times:
        assert ItemIn.model_validate({"time": value}).published_at == parse_time(value), value
    assert ItemIn.model_validate({"time": "1988-07-01 12:00"}).published_at == datetime(
        1988, 7, 1, 3, 0
    )
