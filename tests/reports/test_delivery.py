"""A report is sent when a delivery of it went through: its page says to whom and when, and
with nobody to send to, it says so instead of 已发送."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.notify.conftest import Mailbox, smtp_server  # noqa: F401 (a fixture)
from tests.support import desk_client
from yuqing.notify import worker
from yuqing.org import service as org
from yuqing.org.models import DutyRole, Person, PersonRole
from yuqing.reports import jobs
from yuqing.reports.models import ReportVersion

from .conftest import Known


@pytest.fixture
def office(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine, "publicity", "office") as client:
        yield client


def test_a_daily_report_with_nobody_to_send_to_is_not_sent(
    session: Session, known: Known, office: TestClient
) -> None:
    org.ensure_defaults(session)
    report = jobs.run_schedule(session, datetime(2024, 3, 6, 1, 30))
    session.commit()
    assert report is not None and report.sent_version_id is None
    page = office.get(f"/reports/{report.id}")
    assert page.status_code == 200
    lead = page.text.split('class="lead">', 1)[1].split("</p>", 1)[0]
    assert "未发送" in lead and "已发送" not in lead
    assert "没有发给任何人" in page.text and "宣传部管理员" in page.text
    listed = office.get("/reports").text
    row = listed.split(f'id="report-{report.id}"', 1)[1].split("</tr>", 1)[0]
    assert "未发送" in row


def test_a_report_is_sent_once_a_delivery_went_through(
    session: Session,
    known: Known,
    office: TestClient,
    smtp_server: Mailbox,  # noqa: F811
) -> None:
    org.ensure_defaults(session)
    role = session.query(DutyRole).filter_by(key="publicity_admin").one()
    person = Person(name="赵干事", email="zhao@example.cn")
    session.add(person)
    session.flush()
    session.add(PersonRole(person_id=person.id, duty_role_id=role.id))
    session.commit()

    report = jobs.run_schedule(session, datetime(2024, 3, 6, 1, 30))
    session.commit()
    assert report is not None and report.sent_version_id is None  # queued, not yet sent
    waiting = office.get(f"/reports/{report.id}").text
    assert "未发送" in waiting and "待发送" in waiting and "邮件“zhao@example.cn”" in waiting

    assert worker.run_once().delivered == 1
    ((recipients, mail),) = smtp_server.messages
    assert recipients == ["zhao@example.cn"]
    assert f"/reports/{report.id}/download?format=docx" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    jobs.run_schedule(session, datetime(2024, 3, 6, 1, 31))  # the next minute records it
    session.commit()
    session.refresh(report)
    sent = session.get(ReportVersion, report.sent_version_id)
    assert sent is not None and sent.number == 1 and sent.sent_at is not None
    page = office.get(f"/reports/{report.id}").text
    assert "已送达" in page and "邮件“zhao@example.cn”" in page and "已发送（" in page
