"""Odd items go through the whole pipeline: a clear error or a correct result, never a crash."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.mentions.models import Mention
from yuqing.schemes import service as schemes
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import Source
from yuqing.worker import pipeline


def test_odd_texts_are_stored_and_analysed(session: Session, push_source: Source) -> None:
    schemes.create(session, scheme_in=SchemeIn(name="学校", subject_words=["江城大学"]))
    huge = ("江城大学南京校区今天举行运动会。" * 70_000)[:1_000_000]
    items = [
        {"id": "empty", "title": "", "text": ""},
        {"id": "huge", "text": huge},
        {"id": "emoji", "text": "😀😀😀🎉🎉"},
        {"id": "mixed", "text": "Jiangcheng University 江城大學 대학교 大学です 🎓 <b>bold</b>"},
        {"id": "spaces", "text": " \u3000\n\t "},
    ]
    result = pipeline.process(session, source=push_source, items=items)
    session.commit()
    by_status = {o.index: o for o in result.outcomes}
    assert by_status[0].status == "failed" and "为空" in (by_status[0].error or "")
    assert by_status[4].status == "failed"
    assert [by_status[i].status for i in (1, 2, 3)] == ["new", "new", "new"]
    stored = {m.external_id: m for m in session.execute(select(Mention)).scalars()}
    for key in ("huge", "emoji", "mixed"):
        mention = stored[key]
        assert mention.sentiment in {"positive", "neutral", "negative"}
        assert mention.risk_score is not None and 0 <= mention.risk_score <= 100
    assert stored["huge"].regions and "南京" in stored["huge"].regions
    assert "<b>" not in stored["mixed"].text  # markup reduced to text
    matched = schemes.matches_for_mention(session, stored["mixed"].id)
    assert [m.words for m in matched] == [["江城大学"]]  # Traditional matched in Simplified


def test_a_scheme_matching_everything_does_not_stop_ingestion(
    session: Session, push_source: Source
) -> None:
    schemes.create(
        session, scheme_in=SchemeIn(name="全部", mode="advanced", query="的 OR 了 OR a*")
    )
    items = [{"id": str(i), "text": f"第{i}条的消息了"} for i in range(300)]
    result = pipeline.process(session, source=push_source, items=items)
    session.commit()
    assert result.new == 300
