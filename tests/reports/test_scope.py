"""A report is built for its reader: the institution-wide one needs ``reports.all``; a unit
account reads a version of its own units (its cases, its rows), and no 专报."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.auth import config
from yuqing.auth import service as auth
from yuqing.auth.models import Role, User
from yuqing.auth.schemas import Principal
from yuqing.cases import service as cases
from yuqing.core.audit import SYSTEM
from yuqing.core.timeutil import to_local, utcnow
from yuqing.org import service as org
from yuqing.reports import service
from yuqing.reports.models import Report
from yuqing.reports.schemas import ReportContent

OWN_UNIT, OTHER_UNIT = "甲学院", "乙学院"
OWN_TITLE = "甲学院食堂排队过长"
OTHER_TITLE = "乙学院宿舍停水"
SHARED_TITLE = "东门外交通拥堵"  # reported by the own college, handled by the other
OTHER_PERSON = "乙同学"
ADVICE = "建议乙学院尽快恢复供水并发布说明。"  # what the office writes in a 专报


@dataclass
class Colleges:
    own: int
    other: int
    own_head: Principal
    office: Principal
    event: int


def _principal(session: Session, username: str, role: str, unit_id: int | None) -> Principal:
    user = User(
        username=username,
        display_name=username,
        password_hash="!",
        role_id=auth.get_role(session, key=role).id,
        unit_id=unit_id,
    )
    session.add(user)
    session.flush()
    return auth.principal_for(session, user=user)


def _reporter(unit_id: int) -> Principal:
    return Principal(
        user_id=0,
        username="reporter",
        display_name="报送员",
        role_key="unit_member",
        permissions=frozenset({cases.READ, cases.REPORT}),
        unit_id=unit_id,
        visible_units=frozenset({unit_id}),
    )


def _case(
    session: Session, office: Principal, title: str, reporter: int, unit: int, person: int
) -> int:
    case = cases.open_case(session, principal=_reporter(reporter), title=title)
    cases.triage(session, principal=office, case=case, grade_key="general")
    cases.assign(session, principal=office, case=case, unit_id=unit, person_id=person)
    return case.id


@pytest.fixture
def colleges(session: Session, push_source: Any) -> Colleges:
    """Two colleges with a case each, one the own college reported that the other handles,
    all made today; an event linked to the other college's case."""
    from yuqing.worker.pipeline import process

    auth.ensure_roles(session)
    org.ensure_defaults(session)
    cases.ensure_defaults(session)
    root = org.create_unit(session, name="示范大学", actor=SYSTEM)
    own = org.create_unit(session, name=OWN_UNIT, actor=SYSTEM, parent_id=root.id)
    other = org.create_unit(session, name=OTHER_UNIT, actor=SYSTEM, parent_id=root.id)
    mine = org.create_person(session, actor=SYSTEM, name="甲同学", unit_id=own.id)
    theirs = org.create_person(session, actor=SYSTEM, name=OTHER_PERSON, unit_id=other.id)
    office = _principal(session, "office_scope", "publicity", None)
    _case(session, office, OWN_TITLE, own.id, own.id, mine.id)
    other_case = _case(session, office, OTHER_TITLE, other.id, other.id, theirs.id)
    _case(session, office, SHARED_TITLE, own.id, other.id, theirs.id)
    item = {"external_id": "water", "title": "宿舍停水", "text": "宿舍楼停水一整天，同学们很着急。"}
    process(session, source=push_source, items=[item])
    session.flush()
    event = _event_of(session, "water")
    cases.attach_mentions(
        session,
        principal=office,
        case=cases.get_case(session, principal=office, case_id=other_case),
        mention_ids=[_mention_id(session, "water")],
    )
    head = _principal(session, "own_head", "unit_head", own.id)
    session.commit()
    return Colleges(own=own.id, other=other.id, own_head=head, office=office, event=event)


def _mention_id(session: Session, external_id: str) -> int:
    from yuqing.mentions.models import Mention

    return session.execute(
        select(Mention.id).where(Mention.external_id == external_id)
    ).scalar_one()


def _event_of(session: Session, external_id: str) -> int:
    from yuqing.events.models import EventMember

    mention = _mention_id(session, external_id)
    return session.execute(
        select(EventMember.event_id).where(EventMember.mention_id == mention)
    ).scalar_one()


def _today() -> date:
    return (to_local(utcnow()) or utcnow()).date()


def _words(content: ReportContent) -> str:
    """Everything a reader reads in the report: title, paragraphs, quotes and table cells."""
    cells = [
        str(value)
        for section in content.sections
        for table in section.tables
        for row in table.rows
        for value in row
    ]
    return content.plain_text() + "\n" + "\n".join(cells)


def _table(content: ReportContent, title: str) -> list[list[Any]]:
    return next(t.rows for s in content.sections for t in s.tables if t.title == title)


# --- the service: one report per reader -----------------------------------------------


def test_the_institution_report_names_every_unit(session: Session, colleges: Colleges) -> None:
    daily = service.daily(session, day=_today())
    monthly = service.monthly(session, day=_today())
    assert OTHER_TITLE in _words(daily) and OWN_TITLE in _words(daily)
    assert {row[0] for row in _table(monthly, "各单位处置时效")} == {OWN_UNIT, OTHER_UNIT}
    assert "本单位版" not in daily.title


def test_new_cases_name_their_responsible_unit(session: Session, colleges: Colleges) -> None:
    opened = [r for r in _table(service.daily(session, day=_today()), "舆情处置") if r[3] == "新增"]
    assert {row[1]: row[4] for row in opened} == {
        OWN_TITLE: OWN_UNIT,
        OTHER_TITLE: OTHER_UNIT,
        SHARED_TITLE: OTHER_UNIT,
    }
    mine = service.daily(session, day=_today(), reader=colleges.own_head)
    opened = [r for r in _table(mine, "舆情处置") if r[3] == "新增"]
    assert {row[1]: row[4] for row in opened} == {OWN_TITLE: OWN_UNIT, SHARED_TITLE: "其他单位"}


def test_a_unit_version_holds_its_own_cases_and_rows_only(
    session: Session, colleges: Colleges
) -> None:
    reader = colleges.own_head
    later = utcnow() + timedelta(days=60)  # every clock is late by then
    daily = service.daily(session, day=_today(), now=later, reader=reader)
    monthly = service.monthly(session, day=_today(), now=later, reader=reader)
    weekly = service.weekly(session, day=_today(), now=later, reader=reader)
    for content in (daily, weekly, monthly):
        words = _words(content)
        assert "本单位版" in content.title
        assert OWN_TITLE in words and SHARED_TITLE in words
        assert OTHER_TITLE not in words and OTHER_UNIT not in words and OTHER_PERSON not in words
    late = [row for row in _table(daily, "舆情处置") if row[3] == "超时"]
    assert {row[1] for row in late} == {OWN_TITLE, SHARED_TITLE}
    # The shared case is the own college's report, but who handles it is not its to know.
    assert {row[1]: row[4] for row in late}[SHARED_TITLE] == "其他单位"
    assert [row[0] for row in _table(monthly, "各单位处置时效")] == [OWN_UNIT]
    assert "新增舆情处置单 2 件" in daily.plain_text()


def test_a_reader_without_case_access_gets_no_case_part(
    session: Session, colleges: Colleges
) -> None:
    reader = Principal(
        user_id=0,
        username="reader",
        display_name="只看信息",
        role_key="custom",
        permissions=frozenset({"mentions.read"}),
        unit_id=colleges.own,
        visible_units=frozenset({colleges.own}),
    )
    content = service.monthly(session, day=_today(), reader=reader)
    words = _words(content)
    assert OWN_TITLE not in words and OTHER_TITLE not in words and OTHER_UNIT not in words
    assert "不含舆情处置" in words


# --- the desk: pages and downloads ----------------------------------------------------


def _stored(session: Session, colleges: Colleges) -> dict[str, int]:
    """The institution-wide reports of today, as the office makes them, and a 专报 whose
    advice the office wrote naming the other college."""
    made = {
        kind: service.create_report(session, content=build(session, day=_today())).id
        for kind, build in (("daily", service.daily), ("monthly", service.monthly))
    }
    event = service.create_report(
        session,
        content=service.event_report(session, event_id=colleges.event),
        subject_id=colleges.event,
    )
    service.update_paragraph(
        session, report=event, section=3, paragraph=0, text=ADVICE, editor="宣传部"
    )
    session.commit()
    return {**made, "event": event.id}


def _read(answer: Any) -> str:
    """What a person reads in an answer: the page, the Word text or the Excel cells."""
    data = answer.content
    if data[:2] != b"PK":
        return str(answer.text)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True)
    except Exception:  # not a workbook: a Word file
        doc = Document(io.BytesIO(data))
        cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
        return "\n".join([*(p.text for p in doc.paragraphs), *cells])
    return " ".join(str(v) for s in book for row in s.iter_rows(values_only=True) for v in row)


@contextmanager
def _client(engine: Engine, role: str, unit_id: int | None) -> Iterator[Any]:
    with desk_client(engine, role=role, username=f"{role}_scope", unit_id=unit_id) as client:
        yield client


@pytest.mark.parametrize("role", ["unit_head", "unit_member"])
def test_a_unit_account_reads_its_version_on_the_page_and_in_every_download(
    engine: Engine, session: Session, colleges: Colleges, role: str
) -> None:
    reports = _stored(session, colleges)
    with _client(engine, role, colleges.own) as client:
        listing = client.get("/reports")
        assert listing.status_code == 200
        assert f'href="/reports/{reports["daily"]}"' in listing.text
        assert f'href="/reports/{reports["event"]}"' not in listing.text  # no 专报
        answers = [client.get(f"/reports/{reports[k]}") for k in ("daily", "monthly")]
        for kind in ("daily", "monthly"):
            for fmt in ("html", "docx", "xlsx"):
                answers.append(client.get(f"/reports/{reports[kind]}/download?format={fmt}"))
        for answer in answers:
            text = _read(answer)
            where = f"{answer.url}"
            assert answer.status_code == 200, where
            assert OWN_TITLE in text and "本单位版" in text, where
            assert OTHER_TITLE not in text and OTHER_UNIT not in text, where
            assert OTHER_PERSON not in text and ADVICE not in text, where
        event = reports["event"]
        for path in (f"/reports/{event}", f"/reports/{event}/download?format=docx"):
            refused = client.get(path)
            assert refused.status_code == 403 and "查看全校报告" in refused.text, path
            assert ADVICE not in refused.text


@pytest.mark.parametrize("role", ["publicity", "leader", "admin"])
def test_the_office_and_leaders_read_the_institution_report(
    engine: Engine, session: Session, colleges: Colleges, role: str
) -> None:
    reports = _stored(session, colleges)
    with _client(engine, role, None) as client:
        page = client.get(f"/reports/{reports['daily']}")
        sheet = client.get(f"/reports/{reports['monthly']}/download?format=xlsx")
        special = client.get(f"/reports/{reports['event']}/download?format=docx")
    assert OTHER_TITLE in _read(page) and "本单位版" not in page.text
    assert OTHER_UNIT in _read(sheet)
    assert ADVICE in _read(special)


def test_making_a_report_needs_the_institution_wide_permission(
    engine: Engine, session: Session, colleges: Colleges
) -> None:
    """A role that may manage reports but not read the institution's gets 403: what it
    makes and edits is the institution-wide report."""
    session.add(
        Role(
            key="unit_editor",
            name="单位报告编辑",
            order=50,
            all_units=False,
            permissions="mentions.read reports.manage",
        )
    )
    session.commit()
    reports = _stored(session, colleges)
    with _client(engine, "unit_editor", colleges.own) as client:
        token = str(client.cookies.get("yuqing_csrf"))
        posts: list[tuple[str, dict[str, Any]]] = [
            ("/reports/generate", {"kind": "daily", "date": _today().isoformat()}),
            (f"/events/{colleges.event}/report", {}),
            (f"/reports/{reports['event']}/edit", {"section": 3, "paragraph": 0, "text": "x"}),
            (f"/reports/{reports['daily']}/sent", {}),
        ]
        for path, data in posts:
            answer = client.post(path, data={**data, "csrf_token": token})
            assert answer.status_code == 403 and "查看全校报告" in answer.text, path
        assert "生成昨日日报" not in client.get("/reports").text
    session.expire_all()
    assert len(session.execute(select(Report)).scalars().all()) == 3


# --- upgrading an installation --------------------------------------------------------


def test_an_upgrade_gives_reports_all_to_the_roles_that_read_every_unit_once(
    session: Session,
) -> None:
    auth.ensure_roles(session)
    roles = {r.key: r for r in session.execute(select(Role)).scalars()}
    assert "reports.all" in roles["publicity"].permissions.split()
    assert "reports.all" in roles["leader"].permissions.split()
    assert "reports.all" not in roles["unit_head"].permissions.split()
    # An installation from before the permission: nobody holds it.
    for role in roles.values():
        role.permissions = " ".join(p for p in role.permissions.split() if p != "reports.all")
    session.flush()
    auth.ensure_roles(session)
    held = {k: set(r.permissions.split()) for k, r in roles.items()}
    assert {k for k, perms in held.items() if "reports.all" in perms} == {
        "admin",
        "publicity",
        "leader",
    }
    # What the institution changes afterwards stays: the upgrade gives it once.
    roles["leader"].permissions = " ".join(held["leader"] - {"reports.all"})
    session.flush()
    auth.ensure_roles(session)
    assert "reports.all" not in roles["leader"].permissions.split()
    assert config.PERMISSIONS["reports.all"] == "查看全校报告"


def test_yuqing_init_on_an_older_installation_gives_reports_all(engine: Engine) -> None:
    from typer.testing import CliRunner

    from yuqing.cli import app

    with Session(engine) as session:  # the roles as an installation from before made them
        auth.ensure_roles(session)
        for role in session.execute(select(Role)).scalars():
            role.permissions = " ".join(p for p in role.permissions.split() if p != "reports.all")
        session.commit()
    result = CliRunner().invoke(app, ["init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        held = {r.key: r.permissions.split() for r in session.execute(select(Role)).scalars()}
    assert {k for k, perms in held.items() if "reports.all" in perms} == {
        "admin",
        "publicity",
        "leader",
    }
