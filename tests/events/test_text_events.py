"""Events from text alone (news sites, forums, imports: no repost links), exact copies that
never inflate counts, the periodic pass that merges one story's events (audited) and the
相关事件 link between one story's cascades."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.events.conftest import Store, events_client
from yuqing.core.audit import AuditEntry
from yuqing.core.counting import Count
from yuqing.events import index, service
from yuqing.events import jobs as event_jobs
from yuqing.events.models import Event
from yuqing.sources.models import Source

T0 = datetime(2024, 5, 1, 8, 0)

# One incident reported by three outlets, each in its own words (written for these tests).
OUTLETS = [
    (
        "江城大学化学实验楼突发火情 两名研究生轻微烧伤",
        "本报讯 昨天下午四时许，江城大学化学实验楼三楼一间实验室突发火情，两名研究生在处置"
        "过程中轻微烧伤，已送往市第一人民医院治疗。消防部门接警后十分钟到场，火势很快被扑灭。"
        "学校保卫处表示，起火原因初步判断为有机溶剂操作不当，实验楼已暂停使用。",
    ),
    (
        "江城大学实验楼起火：有机溶剂操作不当，两名研究生受轻伤",
        "记者从江城大学获悉，该校化学实验楼一间实验室昨日下午发生火情。据保卫处通报，事故造成"
        "两名研究生轻微烧伤，目前在市第一人民医院接受治疗，无生命危险。消防部门很快扑灭火势，"
        "起火原因初步认定为有机溶剂操作不当。化学实验楼已暂停使用并开展安全检查。",
    ),
    (
        "高校实验室安全再敲警钟：江城大学化学实验楼火情通报",
        "江城大学保卫处今天通报，化学实验楼三楼实验室火情系研究生使用有机溶剂操作不当引起，"
        "两名受轻伤的研究生仍在市第一人民医院治疗。学校决定暂停化学实验楼使用，对全校实验室"
        "开展安全检查，消防部门已介入调查。",
    ),
]
# Another incident at the same campus the same day: a different story.
OTHER_INCIDENT = (
    "江城大学第二食堂多名学生呕吐腹泻 市场监管部门抽检食材",
    "江城大学第二食堂昨日午餐后，二十余名学生出现呕吐、腹泻症状，已在校医院就诊，多数已"
    "好转。市场监管部门对食堂留样食材进行抽检，后勤处表示将暂停供应凉菜并配合调查。",
)
FOLLOW_UP = (
    "江城大学化学实验楼火情后续：受伤研究生出院，全校实验室安全检查启动",
    "江城大学化学实验楼火情中轻微烧伤的两名研究生已从市第一人民医院出院。保卫处称，有机"
    "溶剂操作不当引发火情，化学实验楼仍暂停使用，全校实验室安全检查本周启动。",
)


def _article(mid: str, minutes: int, title: str, body: str) -> dict[str, str]:
    return {
        "mid": mid,
        "time": (T0 + timedelta(minutes=minutes)).isoformat() + "Z",
        "title": title,
        "text": body,
    }


def test_one_story_from_several_outlets_is_one_event(
    session: Session, push_source: Source, store: Store
) -> None:
    found = store(push_source, [_article(f"n{i}", 30 * i, *a) for i, a in enumerate(OUTLETS)])
    assert found["n0"] == found["n1"] == found["n2"]
    later = store(push_source, [_article("n3", 600, *FOLLOW_UP)])  # a later batch
    assert later["n3"] == found["n0"]
    event = session.get(Event, found["n0"])
    assert event is not None
    session.refresh(event)
    assert event.size == 4 and event.vector


def test_two_incidents_at_one_campus_stay_two_events(
    session: Session, push_source: Source, store: Store
) -> None:
    found = store(
        push_source,
        [
            _article("fire", 0, *OUTLETS[0]),
            _article("food", 20, *OTHER_INCIDENT),
            _article("fire2", 40, *OUTLETS[1]),
        ],
    )
    assert found["fire"] == found["fire2"] != found["food"]


def test_exact_copies_are_shown_as_duplicates_never_counted(
    engine: Engine, session: Session, push_source: Source, store: Store
) -> None:
    article = _article("a", 0, *OUTLETS[0])
    store(push_source, [article])
    found = store(push_source, [{**article, "mid": "a-copy"}, {**article, "mid": "a-copy2"}])
    assert found["a-copy"] == found["a-copy2"] == found["a"]
    event = session.get(Event, found["a"])
    assert event is not None
    session.refresh(event)
    assert (event.size, event.duplicate_count, event.count_neutral + event.count_negative) == (
        1,
        2,
        event.size - event.count_positive,
    )
    assert service.members(session, event=event)[1] == Count(1)
    with events_client(engine) as client:
        page = client.get(f"/events/{event.id}").text
    assert "重复 2" in page


def test_the_periodic_pass_merges_one_story_and_is_audited(
    session: Session, push_source: Source, store: Store
) -> None:
    first = store(push_source, [_article("w1", 0, *OUTLETS[0])])
    # Two workers placed the story's first reports at the same moment, neither seeing the
    # other's event yet: the story is two events until the periodic pass.
    index.forget(session, [first["w1"]])
    second = store(push_source, [_article("w2", 5, *OUTLETS[1])])
    assert second["w2"] != first["w1"]
    merged, related = event_jobs.merge_stories(session, now=T0 + timedelta(hours=1))
    session.commit()
    assert (merged, related) == (1, 0)
    kept, gone = session.get(Event, first["w1"]), session.get(Event, second["w2"])
    assert kept is not None and gone is not None
    session.refresh(kept)
    session.refresh(gone)
    assert gone.merged_into_id == kept.id and kept.size == 2
    entry = session.execute(
        select(AuditEntry).where(AuditEntry.action == "event.merge")
    ).scalar_one()
    assert entry.object_id == str(kept.id) and "定期合并" in entry.summary
    assert entry.actor_id is None and entry.actor_name == "系统"  # the system acted
    # Done once: a second pass finds nothing left to merge.
    assert event_jobs.merge_stories(session, now=T0 + timedelta(hours=1)) == (0, 0)


def test_two_cascades_of_one_story_become_related_events(
    engine: Engine, session: Session, push_source: Source, store: Store
) -> None:
    title, body = OUTLETS[0]
    found = store(
        push_source,
        [
            {"mid": "p1", "time": T0.isoformat() + "Z", "text": title + "。" + body},
            {
                "mid": "p1c",
                "root": "p1",
                "time": (T0 + timedelta(minutes=1)).isoformat() + "Z",
                "text": "太危险了",
            },
        ],
    )
    retold = OUTLETS[1][0] + "。" + OUTLETS[1][1]
    found = store(
        push_source,
        [{"mid": "p2", "time": (T0 + timedelta(minutes=9)).isoformat() + "Z", "text": retold}],
    )
    assert found["p2"] == found["p1"]  # a retelling nobody reposts: the story's event
    found = store(
        push_source,
        [
            {
                "mid": "p2c",
                "root": "p2",
                "time": (T0 + timedelta(minutes=12)).isoformat() + "Z",
                "text": "转发一下",
            }
        ],
    )
    assert found["p2"] == found["p2c"] != found["p1"]  # its own cascade: its own event
    cascade = session.get(Event, found["p2"])
    story = session.get(Event, found["p1"])
    assert cascade is not None and story is not None
    session.refresh(cascade)
    assert cascade.related_to_id == story.id
    assert [e.id for e in service.related(session, event=story)] == [cascade.id]
    with events_client(engine) as client:
        listing = client.get("/events").text
        page = client.get(f"/events/{story.id}").text
    assert "相关事件" in listing and f"/events/{cascade.id}" in page and "相关事件" in page
