"""Near-duplicate groups on a real database: reposts join, different texts stay apart."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.mentions import neardup
from yuqing.mentions.models import Mention, MentionBand
from yuqing.mentions.stage import NearDuplicates
from yuqing.sources.models import Source
from yuqing.worker import pipeline

FIRE = (
    "今天下午三点左右，学校第二图书馆三楼发生火灾，消防车已经赶到现场，"
    "目前没有人员伤亡，请同学们不要惊慌，听从老师安排有序撤离。"
)
# A reposter's copy: a comment and a name in front, two characters changed, an emoji.
FIRE_REPOST = (
    "转发微博 //@城南小李: 大家注意安全！今天下午三点左右，学校第二图书馆三楼发生火灾，"
    "消防车已赶到现场，目前没有人员伤亡，请同学们不要惊慌，听老师安排有序撤离。🔥"
)
CANTEEN = "食堂二楼的饭菜从下周一起每份上涨一元，学生会表示将与后勤处沟通价格调整的原因。"


def _store(session: Session, source: Source, texts: list[tuple[str, str]]) -> list[int]:
    items: list[dict[str, Any]] = [{"external_id": e, "text": t} for e, t in texts]
    result = pipeline.process(session, source=source, items=items, stages=(NearDuplicates(),))
    session.commit()
    return [o.mention_id for o in result.outcomes]  # type: ignore[misc]


def _row(session: Session, mention_id: int) -> tuple[int | None, int]:
    mention = session.get(Mention, mention_id)
    assert mention is not None
    session.refresh(mention)
    return mention.near_group_id, mention.near_count


def test_edited_repost_joins_the_original_in_a_later_batch(
    session: Session, push_source: Source
) -> None:
    [first] = _store(session, push_source, [("a", FIRE)])
    [copy, other] = _store(session, push_source, [("b", FIRE_REPOST), ("c", CANTEEN)])
    assert _row(session, copy) == (first, 0)
    assert _row(session, first) == (None, 1)
    assert _row(session, other) == (None, 0)


def test_copies_in_one_batch_join_the_earliest(session: Session, push_source: Source) -> None:
    again = FIRE_REPOST.replace("城南小李", "阿花").replace("🔥", "[怒]")
    ids = _store(session, push_source, [("a", FIRE), ("b", FIRE_REPOST), ("c", again)])
    assert [_row(session, i)[0] for i in ids] == [None, ids[0], ids[0]]
    assert _row(session, ids[0])[1] == 2


def test_a_text_repeated_many_times_keeps_few_band_rows(
    session: Session, push_source: Source
) -> None:
    # Copies of one text over many batches: each key of the group keeps a bounded number
    # of holders, so a later copy's lookup reads a few rows, and it still joins the group.
    first = _store(session, push_source, [("c0", FIRE)])[0]
    for n in range(1, 6):
        copies = [(f"c{n}-{i}", f"{FIRE_REPOST}（第{n}批第{i}条）") for i in range(10)]
        _store(session, push_source, copies)
    holders = session.execute(
        select(MentionBand.band_key, func.count()).group_by(MentionBand.band_key)
    ).all()
    assert holders and max(n for _, n in holders) <= neardup.HOLDERS_PER_GROUP
    [late] = _store(session, push_source, [("late", FIRE_REPOST + "（最新）")])
    assert _row(session, late) == (first, 0)
    assert _row(session, first) == (None, 51)


def test_questions_that_share_words_stay_apart(session: Session, push_source: Source) -> None:
    # Different questions with most words in common (as in LCQMC, written for this test).
    pairs = [
        ("学院今年的推免名额有多少个", "学院去年的推免名额有多少个"),
        ("奥妙洗衣粉是哪个公司生产的？", "碧浪洗衣粉是哪个公司生产的"),
        ("我对这些并不感冒是什么意思", "我对你并不感冒是什么意思？"),
        ("学校图书馆周末几点开门几点关门", "学校食堂周末几点开门几点关门"),
    ]
    texts = [
        (f"q{n}{side}", text)
        for n, pair in enumerate(pairs)
        for side, text in zip("ab", pair, strict=True)
    ]
    ids = _store(session, push_source, texts)
    assert all(_row(session, i) == (None, 0) for i in ids)
    # The known limit: a long question differing in one place name reads as a copy.
    ids = _store(
        session,
        push_source,
        [("x", "南昌水果批发市场橙子多少钱一斤"), ("y", "厦门中浦水果批发市场橙子多少钱一斤")],
    )
    assert _row(session, ids[1]) == (ids[0], 0)


def test_short_texts_are_not_grouped(session: Session, push_source: Source) -> None:
    ids = _store(session, push_source, [("a", "太可怕了，大家注意！"), ("b", "太可怕了大家注意啊")])
    assert all(_row(session, i) == (None, 0) for i in ids)
    assert session.execute(select(func.count()).select_from(MentionBand)).scalar_one() == 0


def test_groups_survive_a_new_session(session: Session, push_source: Source) -> None:
    [first] = _store(session, push_source, [("a", FIRE)])
    session.close()
    with Session(session.get_bind()) as later:
        source = later.get(Source, push_source.id)
        assert source is not None
        [copy] = _store(later, source, [("b", FIRE_REPOST)])
        assert _row(later, copy) == (first, 0)
        assert _row(later, first) == (None, 1)


def test_an_edited_member_leaves_its_group(session: Session, push_source: Source) -> None:
    first, copy = _store(session, push_source, [("a", FIRE), ("b", FIRE_REPOST)])
    before = set(
        session.scalars(select(MentionBand.band_key).where(MentionBand.mention_id == copy))
    )
    assert _store(session, push_source, [("b", CANTEEN)]) == [copy]
    assert _row(session, copy) == (None, 0)
    assert _row(session, first) == (None, 0)
    after = set(session.scalars(select(MentionBand.band_key).where(MentionBand.mention_id == copy)))
    assert after and not after & before
    # And back: it joins again, counted once.
    _store(session, push_source, [("b", FIRE_REPOST)])
    assert _row(session, copy) == (first, 0)
    assert _row(session, first) == (None, 1)


def test_an_edited_representative_keeps_its_members(session: Session, push_source: Source) -> None:
    first, copy = _store(session, push_source, [("a", FIRE), ("b", FIRE_REPOST)])
    _store(session, push_source, [("a", FIRE + "（更新：火已扑灭）")])
    assert _row(session, first) == (None, 1)
    assert _row(session, copy) == (first, 0)


def test_empty_emoji_only_and_huge_texts(session: Session, push_source: Source) -> None:
    huge = (FIRE + CANTEEN) * 8000  # about 1 MB
    ids = _store(
        session,
        push_source,
        [("a", "😂😂😂🔥🔥👍" * 5), ("b", "[哈哈][哈哈] http://t.cn/abc @某某"), ("c", huge)],
    )
    assert all(_row(session, i) == (None, 0) for i in ids)
    [copy] = _store(session, push_source, [("d", "转发微博 " + huge[:-1])])
    assert _row(session, copy) == (ids[2], 0)


def test_clean_drops_what_reposts_change() -> None:
    form = "\n转发微博 //@城南小李: 图书馆着火了[怒] http://t.cn/a1b2 🔥！"
    assert neardup.clean(form) == "图书馆着火了"
    assert neardup.clean("标题\n正文内容") == "标题正文内容"
    assert neardup.clean("正文内容\n正文内容更多") == "正文内容更多"


def test_desk_shows_the_count_and_the_members(
    engine: Any, session: Session, push_source: Source
) -> None:
    first, copy, other = _store(
        session, push_source, [("a", FIRE), ("b", FIRE_REPOST), ("c", CANTEEN)]
    )
    with desk_client(engine) as client:
        stream = client.get("/").text
        assert f'href="/mentions/{first}/similar">相似 1 条' in stream
        assert f'href="/mentions/{copy}"' not in stream  # the member is folded into its group
        assert f'href="/mentions/{other}"' in stream
        similar = client.get(f"/mentions/{first}/similar")
        assert similar.status_code == 200
        assert f'href="/mentions/{copy}"' in similar.text
        assert client.get(f"/mentions/{copy}").text.count(f"/mentions/{first}/similar") == 1
        assert client.get("/mentions/999999/similar").status_code == 404


def test_candidates_are_read_in_rounds_and_checked_in_order(
    session: Session, push_source: Source, monkeypatch: Any
) -> None:
    # Six stored copies kept apart (nothing similar while they are stored), then a seventh
    # copy whose only similar candidate is the last one it checks: it still joins that
    # candidate's group, and the candidates' rows were read in rounds of 1, 2 and 3.
    monkeypatch.setattr(neardup, "similar", lambda a, b: False)
    texts = {f"s{i}": f"{FIRE}（第{i}条）" for i in range(6)}
    ids = dict(zip(texts, _store(session, push_source, list(texts.items())), strict=True))
    assert all(_row(session, i) == (None, 0) for i in ids.values())
    checked: list[set[str]] = []

    def similar_at_sixth(_item: set[str], candidate: set[str]) -> bool:
        checked.append(candidate)
        return len(checked) == 6

    read: list[int] = []
    load = neardup._load_candidates

    def counting_load(session: Session, wanted: set[int]) -> dict[int, Any]:
        read.append(len(wanted))
        return load(session, wanted)

    monkeypatch.setattr(neardup, "similar", similar_at_sixth)
    monkeypatch.setattr(neardup, "_load_candidates", counting_load)
    [late] = _store(session, push_source, [("late", f"{FIRE}（第9条）")])
    assert read == [1, 2, 3]
    sets = {frozenset(neardup.shingles(neardup.clean(t))): ids[k] for k, t in texts.items()}
    assert len(checked) == 6 and len({frozenset(c) for c in checked}) == 6
    assert _row(session, late) == (sets[frozenset(checked[-1])], 0)
