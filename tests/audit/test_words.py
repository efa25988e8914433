"""The audit page reads in the desk's words: Chinese names of actions, objects and fields,
names instead of ids, local time to the minute, and the IP inside the actor's cell."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.org.models import Person, Unit


@pytest.fixture
def admin(engine: Any) -> Iterator[TestClient]:
    with desk_client(engine, "admin", "boss") as client:
        yield client


def test_changes_show_chinese_fields_names_and_local_minutes(
    admin: TestClient, session: Session
) -> None:
    unit = Unit(name="计算机学院")
    session.add(unit)
    session.flush()
    person = Person(name="张老师", unit_id=unit.id)
    session.add(person)
    session.flush()
    audit.record(
        session,
        actor=Actor(7, "张三", "2001:db8:85a3:0000:0000:8a2e:0370:7334"),
        action="update",
        object_type="case",
        object_id=42,
        summary="舆情处置单 #42：下发",
        changes={
            "status": ["triaged", "assigned"],
            "unit_id": [None, unit.id],
            "assignee_person_id": [None, person.id],
            "assigned_at": [None, "2024-03-05 02:07:09.123456"],  # UTC, as stored
        },
    )
    audit.record(
        session,
        actor=Actor(7, "张三"),
        action="update",
        object_type="notify_channel",
        object_id=3,
        summary="停用通知渠道",
        changes={"enabled": [True, False]},
    )
    session.commit()
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    text = page.text
    row = text.split('id="audit-', 1)[1]
    assert "状态</span>：研判 → 下发" in text
    assert "单位</span>：— → 计算机学院" in text
    assert "责任人</span>：— → 张老师" in text
    assert "下发时间</span>：— → 2024-03-05 10:07" in text  # Beijing time, to the minute
    assert "123456" not in text and "assigned_at" not in text and "unit_id" not in text
    assert "启用</span>：是 → 否" in text and "通知渠道 #3" in row
    assert "舆情处置单 #42" in text
    # The IP sits under the actor's name; there is no IP column to break the table.
    assert ">IP</th>" not in text and re.search(r'张三<div class="sub ip"', text)
    # The filter offers the object types by their Chinese names.
    assert '<option value="notify_channel" >通知渠道</option>' in text
    assert '<option value="case" >舆情处置单</option>' in text
    # Times in the list are to the minute too.
    assert not re.search(r">\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}</time>", text)
