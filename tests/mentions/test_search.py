"""Chinese full-text search: every substring found, nothing else, filters, pages, highlights."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from tests.support import postgres_schema
from yuqing.core.database import make_engine, upgrade_database
from yuqing.mentions import store
from yuqing.mentions.models import Mention
from yuqing.mentions.search import (
    SearchFilters,
    SearchQueryError,
    _sqlite_from,
    highlight,
    mark_words,
    plan_query,
    search,
    search_form,
)
from yuqing.schemes import service as schemes
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import Source
from yuqing.worker import pipeline

CST = "+08:00"
# (title, text, source kind, day of May 2024); written for these tests.
CORPUS = [
    ("学校食堂涨价引热议", "有学生反映食堂饭菜价格上涨，学校回应称将调查。", "push", 1),
    ("", "大學圖書館延長開放時間，學生表示歡迎", "rss", 2),
    ("教务处通知", "期末考试安排调整，请各学院通知到每位同学", "rss", 3),
    ("网友爆料", "某高校宿舍停电，学生不满；校方称线路检修", "push", 4),
    ("Python 课程", "计算机学院开设 Python 和 Rust 课程，选课人数创新高", "import", 5),
    ("食堂", "二食堂窗口", "page", 6),
    ("校园马拉松", "校园马拉松比赛周六举行，交通管制", "page", 7),
    ("学生会选举", "学生会选举结果公布，新一届学生会主席当选", "push", 8),
    ("停水通知", "明日上午宿舍区停水，请同学们提前储水", "rss", 9),
    ("學校回應食堂價格", "校方表示價格調整屬實", "page", 10),
]
HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def load(session: Session) -> dict[int, int]:
    """Store the corpus, one source per kind; returns corpus index -> mention id."""
    sources: dict[str, Source] = {}
    ids: dict[int, int] = {}
    for index, (title, body, kind, day) in enumerate(CORPUS):
        if kind not in sources:
            sources[kind] = Source(name=f"测试来源 {kind}", kind=kind)
            session.add(sources[kind])
            session.flush()
        item = {"id": str(index), "title": title, "text": body, "time": when(day)}
        result = store.ingest(session, source=sources[kind], items=[item])
        ids[index] = result.outcomes[0].mention_id or 0
    session.commit()
    return ids


def when(day: int, hour: int = 9) -> str:
    return f"2024-05-{day:02d}T{hour:02d}:00:00{CST}"


def everything(session: Session, query: str, **kwargs: object) -> list[int]:
    return search(session, query, limit=1000, **kwargs).ids  # type: ignore[arg-type]


@pytest.fixture
def corpus(session: Session) -> dict[int, int]:
    return load(session)


def test_every_substring_is_found_and_nothing_else(
    session: Session, corpus: dict[int, int]
) -> None:
    forms = {corpus[i]: search_form(t, b) for i, (t, b, _, _) in enumerate(CORPUS)}
    queries = {
        run[i : i + n]
        for form in forms.values()
        for run in HAN_RUN.findall(form)
        for n in (2, 3, 4)
        for i in range(len(run) - n + 1)
    }
    assert len(queries) > 300
    for query in sorted(queries):
        expected = {mid for mid, form in forms.items() if query in form}
        assert set(everything(session, query)) == expected, query


def test_query_across_punctuation_is_not_a_hit(session: Session, corpus: dict[int, int]) -> None:
    # "上涨" ends one clause and "学校" starts the next: the bigram "涨学" is in no text.
    assert everything(session, "涨学校") == []
    assert everything(session, "食堂 学校") == [corpus[9], corpus[0]]


def test_traditional_and_simplified_find_each_other(
    session: Session, corpus: dict[int, int]
) -> None:
    assert everything(session, "图书馆") == [corpus[1]]
    assert everything(session, "圖書館") == [corpus[1]]
    assert everything(session, "学校回应") == [corpus[9], corpus[0]]
    assert everything(session, "價格") == [corpus[9], corpus[0]]


def test_latin_prefix_and_single_han_character(session: Session, corpus: dict[int, int]) -> None:
    assert everything(session, "pyth") == [corpus[4]]
    assert everything(session, "RUST") == [corpus[4]]
    assert everything(session, "储") == [corpus[8]]
    assert everything(session, "食") == [corpus[9], corpus[5], corpus[0]]


def test_filters_by_time_source_and_kind(session: Session, corpus: dict[int, int]) -> None:
    may = [datetime(2024, 5, d, 9, tzinfo=UTC) - timedelta(hours=8) for d in range(1, 12)]
    in_range = SearchFilters(start=may[2], end=may[8])  # days 3..8, the 9th excluded
    assert everything(session, "学", filters=in_range) == [
        corpus[7],
        corpus[4],
        corpus[3],
        corpus[2],
    ]
    naive = SearchFilters(start=may[2].replace(tzinfo=None), end=may[8].replace(tzinfo=None))
    assert everything(session, "学", filters=naive) == everything(session, "学", filters=in_range)
    push = session.execute(select(Source.id).where(Source.kind == "push")).scalar_one()
    by_source = SearchFilters(source_id=push)
    assert everything(session, "学生", filters=by_source) == [corpus[7], corpus[3], corpus[0]]
    by_kind = SearchFilters(source_kind="rss")
    assert everything(session, "同学", filters=by_kind) == [corpus[8], corpus[2]]
    both = SearchFilters(source_kind="rss", start=may[3])
    assert everything(session, "同学", filters=both) == [corpus[8]]


def test_pages_are_newest_first_with_a_total(session: Session, corpus: dict[int, int]) -> None:
    hits = [corpus[i] for i in (9, 8, 7, 4, 3, 2, 1, 0)]  # every text with 学 or 學, newest first
    first = search(session, "学", limit=3)
    second = search(session, "学", limit=3, offset=3)
    last = search(session, "学", limit=3, offset=6)
    assert (first.ids, second.ids, last.ids) == (hits[:3], hits[3:6], hits[6:])
    assert {first.total, second.total, last.total} == {8}
    assert not first.total_capped
    assert search(session, "学", limit=20).total == 8


def test_time_change_moves_a_hit_in_the_order(session: Session, corpus: dict[int, int]) -> None:
    source = session.get(Source, session.get(Mention, corpus[0]).source_id)  # type: ignore[union-attr]
    assert source is not None
    title, body, _, _ = CORPUS[0]
    item = {"id": "0", "title": title, "text": body, "time": when(20)}
    assert store.ingest(session, source=source, items=[item]).updated == 1
    session.commit()
    assert everything(session, "食堂")[0] == corpus[0]


def test_unlisted_and_deleted_mentions_leave_the_results(
    session: Session, corpus: dict[int, int]
) -> None:
    session.execute(update(Mention).where(Mention.id == corpus[5]).values(status="filtered"))
    session.execute(text("DELETE FROM mention WHERE id = :id"), {"id": corpus[9]})
    session.commit()
    page = search(session, "食堂")
    assert (page.ids, page.total) == ([corpus[0]], 1)


def test_exact_copies_are_not_listed_twice(session: Session, corpus: dict[int, int]) -> None:
    other = Source(name="转载来源", kind="push")
    session.add(other)
    session.flush()
    title, body, _, _ = CORPUS[6]
    copy = store.ingest(session, source=other, items=[{"title": title, "text": body}])
    session.commit()
    assert copy.duplicate == 1
    assert everything(session, "马拉松") == [corpus[6]]


def test_highlight_escapes_html_and_marks_hits() -> None:
    marked = highlight("<script>alert(1)</script>學校回應：食堂不漲價", "学校回应")
    assert "&lt;script&gt;" in marked and "<script>" not in marked
    assert "<mark>學校回應</mark>" in marked  # the hit in its original (Traditional) form
    snippet = highlight("前文" * 50 + "关键词" + "后文" * 50, "关键词", width=30)
    assert snippet.startswith("…") and snippet.endswith("…") and "<mark>关键词</mark>" in snippet


def test_mark_words_marks_scheme_words_escaped_longest_first() -> None:
    marked = mark_words("<b>學校</b>食堂饭菜，食堂卫生", ["食堂", "食堂饭菜", "学校"])
    assert marked == (
        "&lt;b&gt;<mark>學校</mark>&lt;/b&gt;<mark>食堂饭菜</mark>，<mark>食堂</mark>卫生"
    )


# (title, text, day of May 2024), analysed by the real pipeline: places, sentiment, schemes.
ANALYSED = [
    ("南京某高校食堂饭菜发霉", "学生集体腹泻，校方至今没有回应，家长十分愤怒", 1),
    ("杭州一所大学举办校园开放日", "师生热情接待来访家长，现场气氛热烈，大家纷纷点赞", 2),
    ("学校发布停水通知", "明日上午宿舍区停水，请同学们提前储水", 3),
    ("网友爆料广州某高校宿舍楼失修", "墙皮脱落，安全隐患严重，学生投诉无门", 4),
    ("成都某学院学生获全国大赛一等奖", "为学校争光，值得祝贺", 5),
]


@pytest.fixture
def analysed(session: Session, push_source: Source) -> tuple[list[int], int]:
    """The analysed corpus (ids in corpus order) and the id of a scheme on 食堂/宿舍."""
    scheme = schemes.create(
        session, scheme_in=SchemeIn(name="后勤", subject_words="食堂 宿舍", weight=3)
    )
    session.commit()
    items = [
        {"id": f"a{i}", "title": title, "text": body, "time": when(day)}
        for i, (title, body, day) in enumerate(ANALYSED)
    ]
    result = pipeline.process(session, source=push_source, items=items)
    session.commit()
    return [o.mention_id or 0 for o in result.outcomes], scheme.id


def _newest_first(ids: list[int], keep: set[int]) -> list[int]:
    return [i for i in reversed(ids) if i in keep]


def _ids(session: Session, query: str, **values: object) -> set[int]:
    return set(session.scalars(text(query), values))


def test_filters_by_sentiment_risk_province_and_scheme(
    session: Session, analysed: tuple[list[int], int]
) -> None:
    ids, scheme_id = analysed
    everyone = set(ids)
    assert everything(session, "学") == _newest_first(ids, everyone)
    negative = _ids(session, "SELECT id FROM mention WHERE sentiment = 'negative'")
    risky = _ids(session, "SELECT id FROM mention WHERE risk_score >= 60")
    matched = _ids(session, "SELECT mention_id FROM scheme_match WHERE scheme_id = :s", s=scheme_id)
    expected = [
        (SearchFilters(sentiment="negative"), negative),
        (SearchFilters(min_risk=60), risky),
        (SearchFilters(province="320000"), {ids[0]}),  # 南京 lies in 江苏 (32)
        (SearchFilters(province="440000"), {ids[3]}),  # 广州 lies in 广东 (44)
        (SearchFilters(province="110000"), set()),
        (SearchFilters(scheme_id=scheme_id), {ids[0], ids[2], ids[3]}),
        (SearchFilters(sentiment="negative", scheme_id=scheme_id, province="440000"), {ids[3]}),
    ]
    for filters, keep in expected:
        assert everything(session, "学", filters=filters) == _newest_first(ids, keep), filters
    # Each filter narrows: a strict, non-empty part of the hits.
    for keep in (negative, risky, matched):
        assert keep and keep < everyone
    assert search(session, "学", filters=SearchFilters(min_risk=60), limit=1).total == len(risky)


def test_analysis_filters_keep_the_index_as_the_outer_loop(
    session: Session, analysed: tuple[list[int], int]
) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the query plan checked is SQLite's")
    filters = SearchFilters(sentiment="negative", province="320000", min_risk=40, scheme_id=1)
    params: dict[str, object] = {}
    source = _sqlite_from(plan_query("学生"), filters, params)
    plan = session.execute(text(f"EXPLAIN QUERY PLAN SELECT f.rowid {source}"), params).all()
    steps = [row[-1] for row in plan]
    assert steps[0].startswith("SCAN f VIRTUAL TABLE"), steps
    assert any("SEARCH m USING INTEGER PRIMARY KEY" in step for step in steps), steps


@pytest.mark.parametrize("query", ["，。！", "  ", "？？ ——"])
def test_query_without_searchable_text_is_refused_in_chinese(session: Session, query: str) -> None:
    with pytest.raises(SearchQueryError) as error:
        search(session, query)
    assert re.search(r"[\u4e00-\u9fff]", str(error.value))


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """A schema of its own on the test PostgreSQL, dropped afterwards."""
    with postgres_schema(postgres_url, "search_parity") as engine:
        upgrade_database(engine)
        yield engine


def test_sqlite_and_postgresql_return_the_same_ids(
    tmp_path: object, postgres_engine: Engine
) -> None:
    lite = make_engine(f"sqlite:///{tmp_path}/parity.db")
    upgrade_database(lite)
    queries = ["学生", "食堂", "學校", "通知", "python", "宿", "同学 通知", "学生会主席", "停水"]
    filters = SearchFilters(source_kind="rss")
    with Session(lite) as a, Session(postgres_engine) as b:
        assert load(a) == load(b)
        for query in queries:
            assert search(a, query, limit=3) == search(b, query, limit=3), query
            assert everything(a, query, filters=filters) == everything(b, query, filters=filters)
    lite.dispose()
