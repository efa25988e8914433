"""The team in a real browser (Chromium): one registration round (a unit submits, the
department returns it, the unit fixes and resubmits, it is accepted), one change request,
one training with sign-in, and the monthly bulletin; no CSP violation, no outside request."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.support import make_user
from tests.web.test_browser import Watch, _sign_in, browser, server
from yuqing.auth import service as auth
from yuqing.core.audit import SYSTEM
from yuqing.core.timeutil import format_local, utcnow
from yuqing.org import service as org

pytestmark = pytest.mark.browser
__all__ = ["browser", "server"]


def _roster(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["单位", "姓名", "手机", "职责角色"])
    sheet.append(["文学院", "补充通讯员", "13900000009", "新闻通讯员"])
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def _world(engine: Engine) -> int:
    with Session(engine) as session:
        org.ensure_defaults(session)
        root = org.create_unit(session, name="示范大学", actor=SYSTEM, kind_key="institution")
        college = org.create_unit(
            session, name="文学院", actor=SYSTEM, parent_id=root.id, kind_key="college"
        )
        head = org.create_person(session, actor=SYSTEM, name="文学院负责人", unit_id=college.id)
        session.commit()
        college_id, head_id = college.id, head.id
    make_user(engine, "office", "publicity")
    make_user(engine, "head", "unit_head", college_id)
    with Session(engine) as session:
        user = auth.get_user_by_username(session, username="head")
        assert user is not None
        user.person_id = head_id
        session.commit()
    return college_id


def test_round_change_training_and_bulletin(
    engine: Engine, server: str, browser: Any, tmp_path: Path
) -> None:
    college = _world(engine)
    office = browser.new_context().new_page()
    head = browser.new_context().new_page()
    watches = [Watch(office), Watch(head)]
    _sign_in(office, server, "office")
    _sign_in(head, server, "head")
    scan = tmp_path / "盖章登记表.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + b"0" * 64)
    # the department opens a round
    office.goto(server + "/team/rounds")
    office.fill("input[name=title]", "2027 年度登记")
    office.fill("input[name=deadline]", format_local(utcnow() + timedelta(days=7), "%Y-%m-%d"))
    office.click("#round-form button")
    assert "未提交的单位（1）" in office.content()
    form_path = f"/team/rounds/1/units/{college}"
    # the unit submits with the stamped scan
    head.goto(server + form_path)
    head.set_input_files("#submit-form input[type=file]", str(scan))
    head.click("#submit-form button")
    assert "已提交待受理" in head.inner_text(".form-status")
    # the department returns it
    office.goto(server + form_path)
    office.fill("#return-form input[name=reason]", "缺少新闻通讯员")
    office.click("#return-form button")
    assert "已退回待修改" in office.inner_text(".form-status")
    # the unit fixes it (uploads its 登记表) and resubmits
    head.goto(server + form_path)
    assert "缺少新闻通讯员" in head.content()
    head.set_input_files("#upload-form input[type=file]", str(_roster(tmp_path / "登记表.xlsx")))
    head.click("#upload-form button")
    assert "新增 1" in head.content() and "补充通讯员" in head.content()
    head.set_input_files("#submit-form input[type=file]", str(scan))
    head.click("#submit-form button")
    office.goto(server + form_path)
    office.click("#accept-form button")
    assert "已受理" in office.inner_text(".form-status")
    office.goto(server + "/team/rounds")
    assert "未提交的单位（0）" in office.content()
    # a change request: the unit asks, the department approves and files it
    head.goto(server + "/team/changes")
    head.select_option("#change-form select[name=kind]", "add")
    head.select_option("#change-form select[name=duty_role_id]", label="网络信息员")
    head.fill("#change-form input[name=new_person_name]", "新信息员")
    head.fill("#change-form textarea[name=reason]", "原信息员调岗")
    head.click("#change-form button")
    office.goto(server + "/team/changes")
    office.click("text=批准备案")
    assert "已批准备案" in office.content() and "新信息员" in office.content()
    # a training: invited by role, the unit head signs in twice by the link, ticks by list
    office.goto(server + "/team/training")
    office.fill("#training-form input[name=topic]", "网络安全法解读")
    office.select_option("#training-form select[name=kind]", "law")
    office.fill("#training-form input[name=starts_at]", format_local(utcnow(), "%Y-%m-%dT%H:%M"))
    office.click("#training-form button")
    office.check("#invite-form input[name=unit_id]")
    office.click("#invite-form button")
    sign = office.get_attribute("#sign-link", "href")
    assert sign and office.locator("img[alt=签到二维码]").is_visible()
    for _ in range(2):
        head.goto(server + sign)
        if head.locator("button:has-text('签到')").count():
            head.click("button:has-text('签到')")
        assert "已签到" in head.content()
    office.reload()
    office.check("#attendance-form input[name=person_id] >> nth=0")
    office.click("#attendance-form button")
    assert office.locator(".signed").count() == 2
    # the month and the bulletin
    head.goto(server + "/team/month")
    assert "文学院负责人" in head.content()
    office.goto(server + "/team/bulletin")
    office.click("#bulletin-form button")
    assert "单位排名" in office.content() and "文学院" in office.content()
    for watch in watches:
        watch.assert_clean()
