"""The newcomer's path through a fresh desk in a real Chromium (issue 12, "How it is checked"):
first sign-in with the one-time password and the forced change → a unit, a person and the
officer's account → the officer's own first sign-in → an .xlsx uploaded on the desk → a
notification channel (预警 → 通知渠道) → an alert rule → the alert toast → a case opened
from a mention → 下发 to a unit → a daily report generated and downloaded. Screenshots go
to bench/out/screens/newcomer-*.png (not committed) for people to look at.

A fresh desk is what ``yuqing init`` leaves: the default lookups and one administrator with
a one-time password; everything else is done through the pages, as a person would."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.support import LocalServer, Reply
from tests.web.test_browser import Watch, browser, server  # noqa: F401 (fixtures)
from yuqing.auth import service as auth
from yuqing.cases import service as cases
from yuqing.core.timeutil import to_local, utcnow
from yuqing.org import service as org
from yuqing.sources.models import Source
from yuqing.worker import pipeline

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
NEW_ADMIN_PASSWORD = "Qiu-feng-2026-lan"
NEW_OFFICER_PASSWORD = "Dong-xue-2026-hai"
HEADERS = ["标题", "内容", "链接", "发布时间", "来源", "作者"]
RUMOUR = {
    "id": "bbs-2002",
    "title": "网传示范大学宿舍停电系造谣",
    "text": "有人在群里造谣称示范大学宿舍楼将长期停电，学校后勤保障处已辟谣并恢复供电。",
    "url": "https://bbs.example.cn/t/2002",
}


def _fresh_desk(engine: Engine) -> str:
    """What ``yuqing init`` does to an empty database; returns the one-time password."""
    with Session(engine) as session:
        org.ensure_defaults(session)
        cases.ensure_defaults(session)
        admin = auth.bootstrap_admin(session)
        session.commit()
    assert admin is not None
    return admin[1]


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _local(hours_ago: float) -> str:
    at = to_local(utcnow() - timedelta(hours=hours_ago))
    assert at is not None
    return at.strftime("%Y-%m-%d %H:%M")


def _yesterday_noon() -> str:
    today = to_local(utcnow())
    assert today is not None
    return (today - timedelta(days=1)).strftime("%Y-%m-%d 12:%M")


class Steps:
    """The page of one person, its Watch and numbered screenshots."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.watch = Watch(page)
        self.n = 0

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        self.n += 1
        SCREENS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENS / f"newcomer-{name}.png"), full_page=True)

    def submit(self, form: str, button: str | None = None) -> None:
        """Press the submit button of the form matching ``form`` and wait for the next page."""
        target = self.page.locator(f"{form} button[type=submit]")
        if button:
            target = target.filter(has_text=button)
        with self.page.expect_navigation():
            target.first.click()

    def first_sign_in(self, username: str, one_time: str, new: str) -> None:
        """Sign in with the one-time password; the desk sends the account to change it."""
        self.go("/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", one_time)
        self.submit("form[action='/login']")
        assert "/account/password" in self.page.url, self.page.url
        self.shot(f"{username}-forced-password-change")
        self.page.fill("input[name=current]", one_time)
        self.page.fill("input[name=new]", new)
        self.page.fill("input[name=repeat]", new)
        self.submit("form[action='/account/password']")
        assert "密码已修改" in self.page.inner_text("main"), self.page.inner_text("main")[:500]

    def select(self, form: str, name: str, label: str) -> None:
        self.page.select_option(f"{form} select[name={name}]", label=label)


def _admin_sets_up(admin: Steps, one_time: str) -> str:
    """The administrator's first sign-in, two units, the officer as a person of one of them
    and the officer's account; returns the officer's one-time password."""
    admin.first_sign_in("admin", one_time, NEW_ADMIN_PASSWORD)
    for name in ("党委宣传部", "后勤保障处"):
        admin.go("/org")
        admin.page.fill("form[action='/org/units'] input[name=name]", name)
        admin.submit("form[action='/org/units']")
        assert name in admin.page.inner_text("main")
    for person, unit in (("李宣", "党委宣传部"), ("王勤", "后勤保障处")):
        admin.go("/org/people/new")
        admin.page.fill("form[action='/org/people/new'] input[name=name]", person)
        admin.select("form[action='/org/people/new']", "unit_id", unit)
        admin.submit("form[action='/org/people/new']")
        assert person in admin.page.inner_text("main")
    admin.go("/admin/users")
    admin.page.fill("form[action='/admin/users'] input[name=username]", "lixuan")
    admin.page.fill("form[action='/admin/users'] input[name=display_name]", "李宣")
    form = "form[action='/admin/users']"
    admin.page.select_option(f"{form} select[name=role]", label="宣传部（舆情办）")
    unit_choice = admin.page.locator(f"{form} select[name=unit_id] option", has_text="党委宣传部")
    admin.page.select_option(
        f"{form} select[name=unit_id]", value=unit_choice.get_attribute("value")
    )
    person = admin.page.locator(f"{form} select[name=person_id] option", has_text="李宣")
    admin.page.select_option(f"{form} select[name=person_id]", value=person.get_attribute("value"))
    admin.submit(form)
    admin.shot("admin-account-created")
    return admin.page.locator("code.secret").inner_text().strip()


def _upload(officer: Steps, source_id: str, path: Path) -> None:
    """Upload on the source's page, check the preview's mapping and wait for the result."""
    officer.go(f"/sources/{source_id}")
    officer.page.set_input_files("form.upload input[name=file]", str(path))
    officer.submit("form.upload")
    assert "/imports/" in officer.page.url
    main = officer.page.inner_text("main")
    assert "标题" in main and "发布时间" in main  # the preview and its guessed mapping
    officer.shot(f"import-preview-{path.stem}")
    officer.submit("form.mapping-form")
    # The page follows the progress and shows the result when the rows are stored.
    officer.page.wait_for_selector("#result", timeout=60_000)
    officer.shot(f"import-result-{path.stem}")


def test_a_newcomer_runs_the_desk_alone(
    engine: Engine,
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    one_time = _fresh_desk(engine)
    robot = LocalServer().start()
    robot.routes["/robot"] = Reply(200, b'{"errcode": 0, "errmsg": "ok"}')
    try:
        admin_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        admin = Steps(admin_context.new_page(), server)
        officer_password = _admin_sets_up(admin, one_time)
        admin.watch.assert_clean()

        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
        )
        officer = Steps(context.new_page(), server)
        officer.first_sign_in("lixuan", officer_password, NEW_OFFICER_PASSWORD)
        officer.shot("officer-first-page")

        # 信息源 → 导入文件: a new source of the import kind, then the file on its page.
        officer.go("/sources")
        officer.page.fill("form.add-source input[name=name]", "舆情导出文件")
        officer.select("form.add-source", "kind", "导入文件")
        officer.submit("form.add-source")
        officer.go("/sources")
        link = officer.page.locator("a", has_text="舆情导出文件").first
        source_id = re.search(r"/sources/(\d+)", link.get_attribute("href") or "")
        assert source_id, link.get_attribute("href")
        first_file = _xlsx(
            tmp_path / "first.xlsx",
            [
                [
                    f"示范大学第{i}届校园开放日活动顺利举办",
                    f"示范大学第{i}届开放日吸引了众多考生和家长，各学院展示了办学特色。",
                    f"https://news.example.cn/a/{i}",
                    _yesterday_noon(),
                    "新闻",
                    "校报记者",
                ]
                for i in range(1, 4)
            ]
            + [
                [
                    "示范大学食堂饭菜涨价引学生不满",
                    "有同学反映示范大学二食堂多个窗口饭菜价格上涨明显，分量却变少，希望学校回应。",
                    "https://bbs.example.cn/t/2001",
                    _yesterday_noon(),
                    "论坛",
                    "匿名用户",
                ]
            ],
        )
        _upload(officer, source_id.group(1), first_file)
        assert officer.page.locator(".import-figures .new dd").inner_text() == "4"

        # 预警 → 通知渠道: a webhook to a local robot, with a test message.
        officer.go("/alerts")
        officer.page.locator("a", has_text="通知渠道").first.click()
        officer.page.wait_for_url("**/notify/channels")
        channel_form = "form[action='/notify/channels']"
        officer.page.select_option(f"{channel_form} select[name=kind]", value="webhook")
        officer.page.fill(f"{channel_form} input[name=name]", "值班群机器人")
        officer.page.fill(f"{channel_form} input[name=url]", robot.url("/robot"))
        officer.submit(channel_form)
        assert "值班群机器人" in officer.page.inner_text("main")
        officer.submit("form[action$='/test']", "发送测试消息")
        assert "测试消息已发到“值班群机器人”" in officer.page.inner_text("main")
        assert [r.path for r in robot.requests] == ["/robot"]
        officer.shot("channel-added")

        # 预警规则: sensitive words (a fresh desk has no scheme yet) to 党委宣传部 and the robot.
        officer.go("/alerts/rules")
        officer.page.locator("a", has_text="新建敏感词").first.click()
        officer.page.wait_for_url("**/alerts/rules/new**")
        officer.page.fill("form.rule-form input[name=name]", "敏感信息提醒")
        for label in ("党委宣传部", "值班群机器人"):
            officer.page.locator("form.rule-form label.choice", has_text=label).locator(
                "input"
            ).check()
        officer.shot("rule-form")
        officer.submit("form.rule-form")
        assert "敏感信息提醒" in officer.page.inner_text("main"), officer.page.url

        # The toast: switched on, then a collector brings an item with a sensitive word while
        # the officer sits on the inbox. (Not a second upload: the upload's own pages load one
        # after another, and a toast shown on one of them is gone when the next one opens.)
        officer.go("/inbox")
        switch = officer.page.locator("#alert-toast-switch")
        assert switch.inner_text() == "预警提醒：关"
        switch.click()
        officer.page.wait_for_function(
            "() => document.getElementById('alert-toast-switch').getAttribute('aria-pressed') === 'true'"
        )
        with Session(engine) as session:
            source = session.get(Source, int(source_id.group(1)))
            assert source is not None
            pipeline.process(session, source=source, items=[RUMOUR])
            session.commit()
        officer.page.reload()  # a page that opens polls at once (then every 15 s)
        toast = officer.page.wait_for_selector(".toast", timeout=30_000)
        assert "造谣" in toast.inner_text() or "敏感" in toast.inner_text(), toast.inner_text()
        officer.shot("alert-toast")

        # A case from a mention of 信息流, 下发 to 后勤保障处.
        officer.go("/")
        officer.shot("stream")
        officer.page.locator("a", has_text="示范大学食堂饭菜涨价引学生不满").first.click()
        officer.page.wait_for_url("**/mentions/**")
        officer.submit("form.open-case")
        assert "/cases/" in officer.page.url, officer.page.url
        if officer.page.locator("#act-triage").count():
            grade = officer.page.locator("#act-triage select[name=grade] option").nth(1)
            officer.page.select_option(
                "#act-triage select[name=grade]", value=grade.get_attribute("value")
            )
            officer.submit("#act-triage")
        officer.shot("case-opened")
        officer.select("#act-assign", "unit_id", "后勤保障处")
        # A unit without a named head needs a person to handle it (the page says so).
        officer.select("#act-assign", "person_id", "王勤（后勤保障处）")
        officer.submit("#act-assign")
        facts = officer.page.inner_text("main")
        assert "已下发" in facts or "处置中" in facts or "待处置" in facts, facts[:800]
        assert "王勤" in facts
        officer.shot("case-assigned")

        # 报告: yesterday's daily report, downloaded as Word.
        officer.go("/reports")
        officer.submit("form[action='/reports/generate']", "生成昨日日报")
        assert re.search(r"/reports/\d+", officer.page.url), officer.page.url
        officer.shot("daily-report")
        with officer.page.expect_download() as download:
            officer.page.locator("a", has_text="Word").first.click()
        saved = tmp_path / "daily.docx"
        download.value.save_as(saved)
        assert saved.stat().st_size > 2000 and saved.read_bytes()[:2] == b"PK"
        officer.watch.assert_clean()
    finally:
        robot.stop()
