"""Online clustering in the ingest path: links, near-duplicates, copies, text, precision."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.events.conftest import Store
from yuqing.events.cluster import Doc, TextIndex, key_terms, key_terms_many
from yuqing.events.index import text_index
from yuqing.events.models import Event, EventHour, EventMember, EventSource
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source

T0 = datetime(2024, 5, 1, 8, 0)

STORY_A = (
    "南江大学第三食堂今天中午发生学生集体腹泻事件，二十多名学生被送往校医院治疗，"
    "学校后勤处表示已封存食材并配合市场监管局调查原因。"
)
STORY_B = (
    "南江大学图书馆新馆今天正式开放，馆内设有自习座位三千个，学生可通过校园卡预约座位，"
    "开放时间延长到晚上十一点。"
)


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat() + "Z"


def test_reposts_join_their_root_across_batches(
    session: Session, push_source: Source, store: Store
) -> None:
    store(push_source, [{"mid": "r1", "time": _at(0), "text": STORY_A}])
    found = store(
        push_source,
        [
            {"mid": "c1", "root": "r1", "time": _at(5), "text": "转发微博"},
            {"mid": "c2", "root": "r1", "parent": "c1", "time": _at(6), "text": "太吓人了吧"},
            {"mid": "c3", "root": "r1", "time": _at(7), "text": "转发微博"},  # an exact copy
        ],
    )
    found = store(push_source, [{"mid": "c4", "parent": "c2", "time": _at(9), "text": "真的？"}])
    assert found["c1"] == found["c2"] == found["c3"] == found["c4"] == found["r1"]
    event = session.get(Event, found["r1"])
    assert event is not None
    session.refresh(event)
    assert (event.size, event.duplicate_count) == (4, 1)  # the exact copy is 重复, not counted
    assert event.first_seen_at == T0
    assert event.title.startswith("南江大学第三食堂")
    hours = session.execute(select(EventHour.count).where(EventHour.event_id == event.id))
    assert sum(hours.scalars()) == 4
    assert session.get(EventSource, (event.id, push_source.id)).count == 4  # type: ignore[union-attr]


def test_root_arriving_after_its_reposts_joins_them_and_becomes_representative(
    session: Session, push_source: Source, store: Store
) -> None:
    store(push_source, [{"mid": "c1", "root": "r9", "time": _at(5), "text": "有人知道怎么回事吗"}])
    found = store(push_source, [{"mid": "r9", "time": _at(0), "text": STORY_B}])
    assert found["r9"] == found["c1"]
    event = session.get(Event, found["r9"])
    assert event is not None
    session.refresh(event)
    assert event.title.startswith("南江大学图书馆")
    assert event.first_seen_at == T0


def test_root_ids_of_another_source_are_not_followed(
    session: Session, push_source: Source, store: Store
) -> None:
    other = Source(name="另一个论坛", kind="push")
    session.add(other)
    session.commit()
    store(push_source, [{"mid": "42", "time": _at(0), "text": STORY_A}])
    found = store(other, [{"mid": "43", "root": "42", "time": _at(3), "text": "今天天气不错"}])
    assert found["43"] != found["42"]


def test_a_near_duplicate_group_joins_whole(
    session: Session, push_source: Source, store: Store
) -> None:
    store(push_source, [{"mid": "n0", "time": _at(0), "text": STORY_A}])
    edited = [
        STORY_A.replace("二十多名", "二十余名") + " //@某网友:",
        "【关注】" + STORY_A,
        STORY_A.replace("今天中午", "今日午间"),
    ]
    found = store(
        push_source,
        [{"mid": f"n{i}", "time": _at(10 + i), "text": t} for i, t in enumerate(edited, 1)],
    )
    assert found["n1"] == found["n2"] == found["n3"] == found["n0"]
    reasons = set(
        session.execute(
            select(EventMember.reason).where(EventMember.event_id == found["n0"])
        ).scalars()
    )
    assert "near" in reasons


def test_two_stories_sharing_common_words_stay_apart(
    session: Session, push_source: Source, store: Store
) -> None:
    found = store(
        push_source,
        [
            {"mid": "a", "time": _at(0), "text": STORY_A},
            {"mid": "b", "time": _at(30), "text": STORY_B},
            {"mid": "c", "time": _at(40), "text": "南江大学今天发布通知，学生注意安全。"},
        ],
    )
    assert len({found["a"], found["b"], found["c"]}) == 3


def test_boilerplate_copies_of_different_stories_are_not_merged(
    session: Session, push_source: Source, store: Store
) -> None:
    store(push_source, [{"mid": "x1", "time": _at(0), "text": "转发微博"}])
    found = store(push_source, [{"mid": "x2", "time": _at(60), "text": "转发微博"}])
    assert found["x1"] != found["x2"]


def test_related_report_joins_by_key_terms_within_the_window(
    session: Session, push_source: Source, store: Store
) -> None:
    follow_up = (
        "南江大学第三食堂学生腹泻事件后续：校医院收治的学生已全部出院，市场监管局调查发现食材"
        "储存不当，后勤处负责人被停职。"
    )
    store(push_source, [{"mid": "s1", "time": _at(0), "text": STORY_A}])
    found = store(push_source, [{"mid": "s2", "time": _at(600), "text": follow_up}])
    assert found["s2"] == found["s1"]
    again = "市场监管局通报南江大学第三食堂腹泻调查：食材储存不当，后勤处整改，校医院学生均已出院。"
    late = store(push_source, [{"mid": "s3", "time": _at(60 * 24 * 5), "text": again}])
    assert late["s3"] != found["s1"]  # five days later: outside the 72-hour window


def test_key_terms_drop_boilerplate_and_keep_places() -> None:
    terms = key_terms("转发微博 @某人 [哈哈] 南江大学食堂腹泻 http://t.cn/abc", ["南京市"])
    assert terms[0] == "南京市"
    assert "转发" not in terms and "微博" not in terms and "哈哈" not in terms
    assert "食堂" in terms


def test_index_needs_shared_rare_bigrams() -> None:
    index = TextIndex()
    fillers = [Doc("", f"学校通知第{n}号：请同学们注意安全") for n in range(100)]
    index.batch(fillers, [T0] * len(fillers))  # counted in the document frequencies
    seed = index.batch([Doc("", STORY_A)], [T0])
    seed.join(0, 1)
    seed.commit()
    later = index.batch([Doc("", STORY_B), Doc("", STORY_A + "。")], [T0 + timedelta(hours=1)] * 2)
    assert later.best(0) is None
    match = later.best(1)
    assert match is not None and match.event_id == 1 and match.shared >= 3


def test_rolled_back_batch_leaves_no_event_in_memory(
    session: Session, push_source: Source, store: Store
) -> None:
    from yuqing.worker import pipeline

    pipeline.process(
        session,
        source=push_source,
        items=[{"mid": "z1", "time": _at(0), "text": STORY_A}],
    )
    session.rollback()
    found = store(push_source, [{"mid": "z2", "time": _at(1), "text": STORY_B}])
    assert set(found) == {"z2"}
    index = text_index(session)
    assert set(index.profiles) == {found["z2"]}


RETOLD = STORY_A.replace("今天中午", "今日午间")  # another account's near-copy of STORY_A


def _counts(session: Session, event_id: int) -> tuple[int, int, int]:
    event = session.get(Event, event_id)
    assert event is not None
    session.refresh(event)
    hours = session.execute(select(EventHour.count).where(EventHour.event_id == event_id))
    source = session.execute(select(EventSource.count).where(EventSource.event_id == event_id))
    return event.size, sum(hours.scalars()), sum(source.scalars())


def test_a_copy_with_its_own_reposts_becomes_its_own_event(
    session: Session, push_source: Source, store: Store
) -> None:
    store(push_source, [{"mid": "p1", "time": _at(0), "text": STORY_A}])
    store(push_source, [{"mid": "p1c", "root": "p1", "time": _at(2), "text": "转发微博"}])
    found = store(push_source, [{"mid": "p2", "time": _at(30), "text": RETOLD}])
    assert found["p2"] == found["p1"]  # a lone copy by another account: the same story
    assert _counts(session, found["p1"]) == (3, 3, 3)
    found = store(push_source, [{"mid": "p2c", "root": "p2", "time": _at(40), "text": "吓人"}])
    assert found["p2"] == found["p2c"] != found["p1"]  # now a cascade of its own
    assert _counts(session, found["p1"]) == (2, 2, 2)
    assert _counts(session, found["p2"]) == (2, 2, 2)
    moved = session.get(EventMember, _mention_id(session, "p2"))
    assert moved is not None and moved.reason == "seed"
    event = session.get(Event, found["p2"])
    assert event is not None and event.title.startswith("南江大学第三食堂今日午间")


def test_a_copy_and_its_reposts_in_one_batch_leave_together(
    session: Session, push_source: Source, store: Store
) -> None:
    found = store(
        push_source,
        [
            {"mid": "q1", "time": _at(0), "text": STORY_A},
            {"mid": "q2", "time": _at(5), "text": RETOLD},
            {"mid": "q1c", "root": "q1", "time": _at(6), "text": "转发微博"},
            {"mid": "q2c", "root": "q2", "time": _at(7), "text": "真的假的"},
        ],
    )
    assert found["q1"] == found["q1c"] != found["q2"] == found["q2c"]
    assert _counts(session, found["q1"]) == (2, 2, 2)
    assert _counts(session, found["q2"]) == (2, 2, 2)


def test_a_reply_is_placed_by_its_link_never_by_its_text(
    session: Session, push_source: Source, store: Store
) -> None:
    store(push_source, [{"mid": "t1", "time": _at(0), "text": STORY_A}])
    found = store(
        push_source,
        [
            {"mid": "t2", "root": "elsewhere", "time": _at(5), "text": RETOLD},
            {"mid": "t3", "root": "elsewhere", "time": _at(6), "text": "转发"},
        ],
    )
    assert found["t2"] == found["t3"] != found["t1"]


def _mention_id(session: Session, external_id: str) -> int:
    return session.execute(
        select(Mention.id).where(Mention.external_id == external_id)
    ).scalar_one()


def test_an_event_without_bigrams_does_not_take_the_next_events_columns() -> None:
    """An event whose only text has no bigram ("！！！") holds an empty profile; the batch's
    table of the recent events must still give each later event its own columns."""
    index = TextIndex()
    seed = index.batch([Doc("", "！！！"), Doc("", STORY_B)], [T0, T0])
    seed.join(0, 1)
    seed.join(1, 2)
    seed.commit()
    assert len(index.profiles[1].columns) == 0
    batch = index.batch([Doc("", STORY_B)], [T0 + timedelta(minutes=5)])
    match = batch.best(0)
    assert match is not None and match.event_id == 2 and match.score > 0.9


def test_batch_sums_of_several_events_match_one_by_one_sums() -> None:
    """Profiles of events that grew in one batch (summed at once) equal the sums of their
    members' vectors, cut to the strongest columns."""
    index = TextIndex()
    batch = index.batch([Doc("", STORY_A), Doc("", STORY_B)], [T0, T0])
    batch.join(0, 1)
    batch.join(1, 2)
    batch.commit()
    before = {
        e: dict(zip(p.columns.tolist(), p.weights.tolist(), strict=True))
        for e, p in index.profiles.items()
    }
    docs = [Doc("", STORY_A[:40]), Doc("", STORY_B[:40]), Doc("", STORY_A[20:70])]
    batch = index.batch(docs, [T0 + timedelta(minutes=1)] * 3)
    for row, event_id in enumerate((1, 2, 1)):
        batch.join(row, event_id)
    vectors = batch.matrix
    batch.commit()
    for row, event_id in enumerate((1, 2, 1)):
        start, end = vectors.indptr[row], vectors.indptr[row + 1]
        for column, weight in zip(vectors.indices[start:end], vectors.data[start:end], strict=True):
            before[event_id][int(column)] = before[event_id].get(int(column), 0.0) + float(weight)
    for event_id, expected in before.items():
        profile = index.profiles[event_id]
        assert profile.members == (3 if event_id == 1 else 2)
        assert list(profile.columns) == sorted(profile.columns.tolist())
        got = dict(zip(profile.columns.tolist(), profile.weights.tolist(), strict=True))
        assert got.keys() == expected.keys()
        assert all(abs(got[c] - expected[c]) < 1e-5 for c in got)


def test_display_terms_of_a_batch_are_those_of_each_text_alone() -> None:
    """The batch's new events are cut in one rjieba call: each gets the terms it would get
    alone (a line break inside a title, links, @names and places included)."""
    texts = [
        "南江大学第三食堂\n集体腹泻 @某人 http://t.cn/x",
        "",
        "转发微博",
        "Hello World 2024 图书馆新馆开放",
        STORY_B,
    ]
    places = [["南江区"], [], [], ["北湖镇", "南江区"], []]
    assert key_terms_many(texts, places) == [
        key_terms(t, p) for t, p in zip(texts, places, strict=True)
    ]
    assert key_terms_many([], []) == []
