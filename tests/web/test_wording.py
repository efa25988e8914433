"""Words on the desk: a case is a 处置单 (never 事件, which is a story cluster), deliveries
name the channel, and mention pages show no technical fields or codes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.cases.conftest import principal
from tests.support import desk_client
from yuqing.cases import service as cases
from yuqing.core.timeutil import utcnow
from yuqing.mentions.models import Mention
from yuqing.notify import service as notify
from yuqing.notify.models import Channel
from yuqing.notify.schemas import Message, Recipient
from yuqing.sources.models import Source

TEMPLATES = Path(__file__).parents[2] / "src" / "yuqing" / "web" / "templates"


@pytest.fixture
def office(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine, "publicity", "office") as client:
        yield client


def test_case_templates_never_call_a_case_an_event() -> None:
    # 关联事件 (the story clusters a case links to) is the one right use on case pages.
    for path in sorted((TEMPLATES / "cases").glob("*.html")):
        text = path.read_text(encoding="utf-8").replace("关联事件", "")
        assert "事件" not in re.sub(r"\{#.*?#\}", "", text, flags=re.S), path.name


def test_case_pages_say_处置单(office: TestClient, session: Session) -> None:
    boss = principal(session, "office-service", "publicity", None)
    case = cases.open_case(session, principal=boss, title="宿舍停水")
    session.commit()
    board = office.get("/cases").text
    assert "未办结处置单" in board and "未办结事件" not in board
    page = office.get(f"/cases/{case.id}").text
    assert f"处置单 #{case.id}" in page and f"事件 #{case.id}" not in page


def test_channel_problems_name_the_channel(office: TestClient, session: Session) -> None:
    channel = Channel(kind="dingtalk", name="宣传部值班群", url="https://oapi.example.cn/robot")
    session.add(channel)
    session.commit()
    rows = notify.enqueue(
        session,
        message=Message(title="测试预警"),
        recipients=[Recipient(kind="channel", id=channel.id)],
    )
    rows[0].state, rows[0].last_error = "failed", "返回 HTTP 404（地址不存在）"
    session.commit()
    page = office.get("/notify/channels").text
    assert "钉钉群机器人“宣传部值班群”：发送失败" in page
    problems = page.split("最近的失败与重试", 1)[1]
    assert f"channel:{channel.id}" not in problems and "dingtalk" not in problems


def test_a_mention_page_shows_no_language_code_or_external_id(
    office: TestClient, session: Session, push_source: Source
) -> None:
    mention = Mention(
        source_id=push_source.id,
        title="食堂涨价",
        text="正文",
        url="https://bbs.example.cn/t/1",
        external_id="t-1",
        language="zh",
        published_at=utcnow(),
        content_hash=1,
        status="new",
    )
    session.add(mention)
    session.commit()
    page = office.get(f"/mentions/{mention.id}").text
    assert "外部编号" not in page and "<dt>语言</dt>" not in page
    assert "原站帖子号" in page  # still there, folded under 原站信息


def test_desk_pages_name_no_commands_or_repository_files() -> None:
    # The people at the desk are a publicity office, not the server's operators: pages say
    # what to do on the desk, never a shell command or a file of the source repository.
    command = re.compile(r"\byuqing (?:init|serve|users|audit|import|calendar|model|report)\b")
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
        assert not command.search(text), path.relative_to(TEMPLATES)
        assert "docs/" not in text, path.relative_to(TEMPLATES)


def test_pages_use_no_emoji_the_offline_fonts_lack() -> None:
    # The desk runs offline on system fonts; an emoji such as 🔒 (beyond the BMP) has no
    # glyph there and renders as a box. Markers are drawn in CSS or written as words.
    static = TEMPLATES.parent / "static"
    files = [*TEMPLATES.rglob("*.html"), *static.glob("css/*.css"), *static.glob("js/*.js")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        found = sorted({c for c in text if ord(c) > 0xFFFF})
        assert not found, (path.name, found)
