"""Schemes on a real database: edits, matcher rebuild, recorded matches, backfill."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.core.counting import Count
from yuqing.mentions.models import Mention
from yuqing.mentions.store import ingest
from yuqing.schemes import backfill, service
from yuqing.schemes.matcher import MatchDoc, SchemeHit
from yuqing.schemes.models import SchemeMatch
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import Source


def add_mentions(session: Session, source: Source, *texts: str) -> list[int]:
    items: list[dict[str, Any]] = [
        {"external_id": f"e{i}-{t}", "title": "", "text": t} for i, t in enumerate(texts)
    ]
    ingest(session, source=source, items=items)
    session.commit()
    return list(session.scalars(select(Mention.id).order_by(Mention.id)))


def new_scheme(session: Session, **values: Any) -> int:
    scheme = service.create(session, scheme_in=SchemeIn(**{"name": "食堂", **values}))
    session.commit()
    return scheme.id


def test_matcher_rebuilds_when_a_scheme_changes(session: Session) -> None:
    sid = new_scheme(session, subject_words="食堂")
    doc = MatchDoc(title="", text="宿舍停电")
    first = service.current_matcher(session)
    assert service.current_matcher(session) is first  # cached while nothing changes
    assert first.match_batch([doc]) == [[]]
    scheme = service.get(session, scheme_id=sid)
    assert scheme is not None
    service.update(session, scheme=scheme, scheme_in=SchemeIn(name="食堂", subject_words="宿舍"))
    session.commit()
    assert scheme.version == 2
    # The first batch after the change compiles and uses the new matcher.
    matcher = service.current_matcher(session)
    assert matcher is not first
    assert matcher.match_batch([doc]) == [[SchemeHit(sid, ["宿舍"], 1.0)]]
    service.set_enabled(session, scheme=scheme, enabled=False)
    session.commit()
    assert service.current_matcher(session, wait=True).match_batch([doc]) == [[]]


def test_record_matches_replaces_a_mentions_matches(session: Session, push_source: Source) -> None:
    a, b = (
        new_scheme(session, subject_words="食堂"),
        new_scheme(session, name="宿舍", subject_words="宿舍"),
    )
    m1, m2 = add_mentions(session, push_source, "食堂", "宿舍")
    service.record_matches(
        session, [(m1, [SchemeHit(a, ["食堂"])]), (m2, [SchemeHit(b, ["宿舍"])])]
    )
    service.record_matches(session, [(m1, [SchemeHit(b, ["宿舍"], 2.0)])])
    session.commit()
    rows = session.execute(select(SchemeMatch.mention_id, SchemeMatch.scheme_id)).all()
    assert sorted(rows) == [(m1, b), (m2, b)]
    assert [(m.name, m.words) for m in service.matches_for_mention(session, m1)] == [
        ("宿舍", ["宿舍"])
    ]
    assert service.match_counts(session) == {a: (Count(0), Count(0)), b: (Count(2), Count(2))}


def test_backfill_reports_progress_and_replaces_old_matches(
    session: Session, push_source: Source
) -> None:
    ids = add_mentions(
        session, push_source, *[f"第{i}条 {'食堂' if i % 3 == 0 else '其他'}" for i in range(10)]
    )
    sid = new_scheme(session, subject_words="食堂")
    stale = ids[1]  # "其他": a match from an older version of the scheme
    service.record_matches(session, [(stale, [SchemeHit(sid, ["旧词"])])])
    session.commit()
    seen: list[tuple[int, int]] = []
    result = backfill.backfill(
        sid, progress=lambda done, total: seen.append((done, total)), batch=4
    )
    assert (result.scanned, result.matched) == (10, 4)
    assert seen == [(0, 10), (4, 10), (8, 10), (10, 10)]
    session.expire_all()
    matched = set(
        session.scalars(select(SchemeMatch.mention_id).where(SchemeMatch.scheme_id == sid))
    )
    assert matched == {ids[i] for i in (0, 3, 6, 9)}
    assert session.scalar(select(func.count()).select_from(SchemeMatch)) == 4


def test_remove_deletes_matches_but_not_mentions(session: Session, push_source: Source) -> None:
    sid = new_scheme(session, subject_words="食堂")
    [mid] = add_mentions(session, push_source, "食堂")
    service.record_matches(session, [(mid, [SchemeHit(sid, ["食堂"])])])
    scheme = service.get(session, scheme_id=sid)
    assert scheme is not None
    service.remove(session, scheme=scheme)
    session.commit()
    assert session.scalar(select(func.count()).select_from(SchemeMatch)) == 0
    assert session.get(Mention, mid) is not None
