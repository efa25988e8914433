"""List pages count up to a bound and say so ("3+", title 超过 3 条): core.counting, with the
bound lowered to 3 so a handful of rows crosses it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.alerts.models import Alert
from yuqing.auth import service as auth
from yuqing.cases import service as cases
from yuqing.core import counting
from yuqing.core.counting import Count, capped_count
from yuqing.core.timeutil import utcnow
from yuqing.events.models import Event
from yuqing.mentions.models import Mention
from yuqing.mentions.store import ingest
from yuqing.schemes import service as schemes_service
from yuqing.schemes.matcher import SchemeHit
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import Source

CAPPED = 'title="超过 3 条（列表只数到这里）">3+</span>'


@pytest.fixture
def capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counting, "COUNT_CAP", 3)


@pytest.fixture
def desk(engine: Any) -> Iterator[Any]:
    with desk_client(engine) as client:
        yield client


def _mentions(session: Session, source: Source, count: int) -> list[int]:
    now = utcnow()
    items = [
        {
            "external_id": f"c{n}",
            "title": f"学校食堂第{n}次通知",
            "text": f"食堂通知 {n}",
            # With its zone: a time without one is read as Beijing time, and between 00:00
            # and 08:00 there the UTC clock's "now" would fall on yesterday.
            "published_at": (now - timedelta(minutes=n)).replace(tzinfo=UTC).isoformat(),
        }
        for n in range(count)
    ]
    ingest(session, source=source, items=items)
    session.commit()
    return list(session.execute(select(Mention.id).order_by(Mention.id)).scalars())


def test_capped_count_stops_at_the_bound_and_says_so(session: Session, push_source: Source) -> None:
    _mentions(session, push_source, 5)
    everything = select(Mention).where(Mention.status == "new")
    assert capped_count(session, everything, cap=3) == Count(3, capped=True)
    assert capped_count(session, everything, cap=5) == Count(5, capped=False)
    assert capped_count(session, everything.order_by(Mention.id), cap=10) == Count(5)
    assert str(Count(10_000, capped=True)) == "10,000+" and str(Count(12)) == "12"
    assert Count(3, capped=True).pages(2) == 2 and Count(0).pages(20) == 1
    assert "超过 10,000 条" in Count(10_000, capped=True).__html__()


def test_a_list_past_the_cap_is_not_counted_again_for_seconds(
    engine: Any, session: Session, push_source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers opening a long list counted the same rows on every page; a list found past
    the cap is shown past it for ``PAST_CAP_SECONDS``, one under it is always counted."""
    _mentions(session, push_source, 5)
    counts: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "count(" in statement.lower():
            counts.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        week = utcnow() - timedelta(days=7)
        recent = select(Mention).where(Mention.published_at >= week)
        assert capped_count(session, recent, cap=3) == Count(3, capped=True)
        # The stream's "last 7 days" starts a moment later on the next page: the same list.
        later = select(Mention).where(Mention.published_at >= week + timedelta(microseconds=9))
        assert capped_count(session, later, cap=3) == Count(3, capped=True)
        assert len(counts) == 1
        # Under the cap a list is counted each time, exactly.
        assert capped_count(session, recent, cap=10) == Count(5)
        added = ingest(session, source=push_source, items=[{"text": "食堂又一条通知"}])
        session.commit()
        assert added.new == 1
        assert capped_count(session, recent, cap=10) == Count(6)
        assert len(counts) == 3
        # Past its seconds a long list is counted again.
        monkeypatch.setattr(counting, "PAST_CAP_SECONDS", 0.0)
        assert capped_count(session, later, cap=3) == Count(3, capped=True)
        assert len(counts) == 4
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_every_list_page_shows_a_capped_count(
    engine: Any, session: Session, push_source: Source, desk: Any, capped: None
) -> None:
    ids = _mentions(session, push_source, 21)  # the search counts once its first page is full
    now = utcnow()
    for n in range(5):
        session.add(
            Event(title=f"事件{n}", first_seen_at=now, last_seen_at=now, size=2, heat=float(n))
        )
        session.add(Alert(kind="keyword", title=f"预警{n}", dedupe_key=f"k{n}"))
    session.commit()
    for url in ("/", "/events", "/alerts"):
        page = desk.get(url)
        assert page.status_code == 200, url
        assert CAPPED in page.text, url
    with desk_client(engine, role="admin") as admin:  # the audit log: administrators only
        assert CAPPED in admin.get("/admin/audit").text
    # The search's database path (one character) counts up to the same bound.
    found = desk.get("/search?q=食")
    assert CAPPED in found.text and len(ids) == 21


def test_a_scheme_page_and_the_scheme_list_cap_their_counts(
    engine: Any, session: Session, push_source: Source, desk: Any, capped: None
) -> None:
    ids = _mentions(session, push_source, 5)
    answer = desk.get("/schemes")
    assert answer.status_code == 200
    scheme_id = _new_scheme(session)
    schemes_service.record_matches(session, [(i, [SchemeHit(scheme_id, ["食堂"])]) for i in ids])
    session.commit()
    assert CAPPED in desk.get(f"/schemes/{scheme_id}").text
    listing = desk.get("/schemes").text
    assert listing.count(CAPPED) == 2  # today's and all


def _new_scheme(session: Session) -> int:
    scheme = schemes_service.create(session, scheme_in=SchemeIn(name="食堂", subject_words="食堂"))
    session.commit()
    return int(scheme.id)


def test_the_case_list_caps_its_total(session: Session, desk: Any, capped: None) -> None:
    user = auth.get_user_by_username(session, username="publicity_user")
    assert user is not None
    office = auth.principal_for(session, user=user)
    for n in range(5):
        cases.open_case(
            session, principal=office, title=f"处置{n}", link="https://bbs.example.cn/1"
        )
    session.commit()
    found, total = cases.list_cases(session, principal=office, limit=2)
    assert len(found) == 2 and total == Count(3, capped=True)
