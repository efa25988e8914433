"""The maintenance page in a real browser: an administrator backs up, sees the last
success and its size, and a retention rule of 0 days comes back with the Chinese error;
no CSP violation, no request off the machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.maintenance.conftest import fill_desk
from tests.support import make_user
from tests.web.test_browser import ARTIFACTS, Watch, _sign_in
from yuqing.maintenance import retention

pytestmark = pytest.mark.browser


def test_an_administrator_backs_up_and_sets_retention_in_a_browser(
    server: str, browser: Any, engine: Engine, tmp_path: Path
) -> None:
    fill_desk(engine, tmp_path / "var")
    admin = make_user(engine, "maint_admin", "admin")
    page = browser.new_page()
    watch = Watch(page)
    _sign_in(page, server, admin)
    page.goto(server + "/admin/maintenance")
    assert page.locator("#no-backup").is_visible()
    page.click("#backups button[type=submit]")
    page.wait_for_selector("#last-backup")
    assert "字节" in page.inner_text("#last-backup")
    page.fill("input[name=days_mentions]", "0")
    page.click("#retention button[type=submit]")
    error = page.locator("p.alert.error").first
    assert "不能小于 1" in error.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "maintenance.png"), full_page=True)
    # The refused form answers 422 on purpose (the page shows why).
    watch.errors = [e for e in watch.errors if "422" not in e]
    watch.assert_clean()
    with Session(engine) as session:
        assert retention.get_days(session, kind="mentions") == 730
