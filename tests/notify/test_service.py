"""The outbox: recipients resolved to addresses, no repeats, no commit, quiet hours, inbox."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.notify.conftest import Org, add_channel
from yuqing.core.timeutil import utcnow
from yuqing.notify import service, worker
from yuqing.notify.models import Notification
from yuqing.notify.schemas import Message, MessageItem, Recipient
from yuqing.org.models import Person


def _message(level: str = "warning") -> Message:
    return Message(
        title="食堂舆情预警",
        text="近一小时出现 12 条负面信息。\n请相关单位核实。",
        items=[MessageItem(title="学校食堂饭菜涨价", url="https://example.cn/a/1", source="贴吧")],
        highlight=["食堂"],
        level=level,  # type: ignore[arg-type]
        link="https://desk.example.cn/alerts/1",
    )


def _addresses(rows: list[Notification]) -> set[tuple[str, str]]:
    return {(r.channel, r.target) for r in rows}


def _count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Notification)).scalar_one())


def test_unit_role_person_and_channel_resolve_to_one_row_per_address(
    session: Session, people: Org
) -> None:
    channel = add_channel(
        session, "wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
    )
    rows = service.enqueue(
        session,
        message=_message(),
        recipients=[
            Recipient(kind="unit", id=people.cs),
            Recipient(kind="role", id=people.role),  # 张三 again
            Recipient(kind="person", id=people.zhang),  # and again
            Recipient(kind="person", id=people.wang),  # no e-mail, no account
            Recipient(kind="channel", id=channel.id),
        ],
        dedupe_key="alert:1",
        source_type="alert",
        source_id=1,
    )
    assert _addresses(rows) == {
        ("email", "zhang@example.cn"),
        ("email", "li@example.cn"),
        ("inbox", f"user:{people.zhang_user}"),
        ("wecom", f"channel:{channel.id}"),
    }
    inbox = next(r for r in rows if r.channel == "inbox")
    assert inbox.state == "delivered" and inbox.user_id == people.zhang_user
    assert all(r.state == "pending" for r in rows if r.channel != "inbox")
    assert {r.source_type for r in rows} == {"alert"}
    assert service.message_of(rows[0]) == _message()


def test_the_same_key_never_goes_twice_to_the_same_address(session: Session, people: Org) -> None:
    first = service.enqueue(
        session,
        message=_message(),
        recipients=[Recipient(kind="person", id=people.li)],
        dedupe_key="event:7",
    )
    again = service.enqueue(
        session,
        message=_message(),
        recipients=[Recipient(kind="unit", id=people.cs)],  # 李四 again, 张三 new
        dedupe_key="event:7",
    )
    assert _addresses(first) == {("email", "li@example.cn")}
    assert _addresses(again) == {
        ("email", "zhang@example.cn"),
        ("inbox", f"user:{people.zhang_user}"),
    }
    other = service.enqueue(
        session,
        message=_message(),
        recipients=[Recipient(kind="person", id=people.li)],
        dedupe_key="event:8",
    )
    assert len(other) == 1
    assert _count(session) == 4


def test_enqueue_does_not_commit(session: Session, people: Org) -> None:
    rows = service.enqueue(
        session, message=_message(), recipients=[Recipient(kind="unit", id=people.cs)]
    )
    assert len(rows) == 3
    session.rollback()  # the alert's transaction failed: its notifications go with it
    assert _count(session) == 0


def test_not_before_holds_delivery_until_then(session: Session, people: Org) -> None:
    later = utcnow() + timedelta(hours=8)
    rows = service.enqueue(
        session,
        message=_message(),
        recipients=[Recipient(kind="person", id=people.li)],
        not_before=later.replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai")),
    )
    session.commit()
    assert abs((rows[0].next_attempt_at - later).total_seconds()) < 1
    assert worker.run_once(10).claimed == 0
    session.execute(
        Notification.__table__.update().values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    assert worker.run_once(10).claimed == 1


def test_urgent_messages_carry_mobiles_to_group_channels_only(
    session: Session, people: Org
) -> None:
    channel = add_channel(
        session, "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t"
    )
    recipients = [Recipient(kind="unit", id=people.cs), Recipient(kind="channel", id=channel.id)]
    urgent = service.enqueue(
        session, message=_message("urgent"), recipients=recipients, dedupe_key="u"
    )
    calm = service.enqueue(
        session, message=_message("warning"), recipients=recipients, dedupe_key="w"
    )
    robot = next(r for r in urgent if r.channel == "dingtalk")
    assert robot.mobiles.split() == ["13800000001", "13800000002"]
    assert all(r.mobiles == "" for r in urgent if r.channel != "dingtalk")
    assert all(r.mobiles == "" for r in calm)


def test_inactive_people_and_disabled_channels_are_skipped(session: Session, people: Org) -> None:
    channel = add_channel(session, "feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/x")
    channel.enabled = False
    li = session.get(Person, people.li)
    assert li is not None
    li.active = False
    session.commit()
    rows = service.enqueue(
        session,
        message=_message(),
        recipients=[
            Recipient(kind="person", id=people.li),
            Recipient(kind="channel", id=channel.id),
        ],
    )
    assert rows == []


def test_inbox_unread_until_opened_and_private(session: Session, people: Org) -> None:
    rows = service.enqueue(
        session, message=_message(), recipients=[Recipient(kind="person", id=people.zhang)]
    )
    service.enqueue(
        session, message=_message("urgent"), recipients=[Recipient(kind="role", id=people.role)]
    )
    session.commit()
    assert service.count_unread(session, user_id=people.zhang_user) == 2
    inbox_row = next(r for r in rows if r.channel == "inbox")
    assert (
        service.open_inbox_item(
            session, user_id=people.zhang_user + 99, notification_id=inbox_row.id
        )
        is None
    )
    opened = service.open_inbox_item(
        session, user_id=people.zhang_user, notification_id=inbox_row.id
    )
    assert opened is not None and opened.read_at is not None
    session.commit()
    assert service.count_unread(session, user_id=people.zhang_user) == 1
    assert service.mark_all_read(session, user_id=people.zhang_user) == 1
    assert service.count_unread(session, user_id=people.zhang_user) == 0
    assert [r.id for r in service.list_inbox(session, user_id=people.zhang_user)][
        -1
    ] == inbox_row.id


def test_masking() -> None:
    assert service.mask("SECabcdef1234567890") == "••••7890"
    assert service.mask("short") == "••••"
    assert service.masked_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc") == (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?••••"
    )
    assert service.masked_url("https://open.feishu.cn/open-apis/bot/v2/hook/abc-def") == (
        "https://open.feishu.cn/open-apis/bot/v2/hook/••••"
    )
