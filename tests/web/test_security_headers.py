"""Security headers on every answer, no inline script in any template, Secure cookies behind
a TLS proxy."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import TEST_PASSWORD, desk_client, make_user
from yuqing.core.settings import reset_settings_cache
from yuqing.pagekit.templating import TEMPLATE_DIR
from yuqing.web.app import create_app

REQUIRED = {
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}


def _assert_headers(answer: Any) -> None:
    for name, value in REQUIRED.items():
        assert answer.headers.get(name) == value, (answer.url, name)
    policy = answer.headers.get("content-security-policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in policy.split(";") if d.strip()}
    assert directives["script-src"] == "script-src 'self'", policy
    assert directives["frame-ancestors"] == "frame-ancestors 'none'", policy
    assert "unsafe-inline" not in directives.get("style-src", ""), policy
    assert "unsafe-eval" not in policy


def test_pages_api_static_and_errors_carry_the_headers(engine: Any) -> None:
    with desk_client(engine) as client:
        for path in (
            "/",
            "/search?q=食堂",
            "/events",
            "/cases",
            "/reports",
            "/dashboard",
            "/schemes",
            "/docs",
            "/static/css/desk.css",
            "/static/js/desk.js",
            "/mentions/999999",
            "/api/v1/dashboard",
            "/api/v1/search?q=食堂",
            "/openapi.json",
        ):
            _assert_headers(client.get(path))
    with TestClient(create_app()) as anonymous:
        _assert_headers(anonymous.get("/login"))
        _assert_headers(anonymous.get("/", follow_redirects=False))  # 303 to sign in
        _assert_headers(anonymous.get("/api/v1/search?q=x"))  # 401 JSON


_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")", re.I)
_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
_STYLE_ELEMENT = re.compile(r"<style\b", re.I)


def test_no_template_holds_inline_script_handlers_or_style_elements() -> None:
    problems = []
    for path in sorted(TEMPLATE_DIR.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in (
            (_INLINE_SCRIPT, "inline <script>"),
            (_HANDLER, "on… handler"),
            (_STYLE_ELEMENT, "<style> element"),
            (re.compile(r"javascript:", re.I), "javascript: URL"),
        ):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{path.relative_to(TEMPLATE_DIR)}:{line}: {what}")
    assert problems == []


def test_the_scan_catches_what_it_looks_for() -> None:
    assert _INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not _INLINE_SCRIPT.search('<script src="/static/js/desk.js" defer></script>')
    assert not _INLINE_SCRIPT.search('<script type="application/json" id="d">{}</script>')
    assert _HANDLER.search('<form onsubmit="return confirm(1)">')
    assert not _HANDLER.search('<form data-confirm="删除？">')


def _cookie_lines(answer: Any) -> list[str]:
    return [v for k, v in answer.headers.multi_items() if k.lower() == "set-cookie"]


def _sign_in_cookies(engine: Any) -> list[str]:
    name = make_user(engine, "cookie_user")
    with TestClient(create_app()) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        lines = _cookie_lines(page)
        # A Secure cookie is not sent back over plain http by the client's jar; hand it over
        # as a browser behind the TLS proxy would.
        client.cookies.clear()
        client.cookies.set("yuqing_csrf", token.group(1))
        answer = client.post(
            "/login",
            data={"username": name, "password": TEST_PASSWORD, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        return lines + _cookie_lines(answer)


def test_cookies_are_secure_when_the_setting_says_so(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUQING_SECURE_COOKIES", "true")
    reset_settings_cache()
    lines = _sign_in_cookies(engine)
    names = {line.split("=", 1)[0] for line in lines}
    assert {"yuqing_csrf", "yuqing_session"} <= names, lines
    assert all("secure" in line.lower() for line in lines), lines


def test_cookies_over_plain_http_are_not_secure_by_default(engine: Any) -> None:
    lines = _sign_in_cookies(engine)
    assert lines and not any("; secure" in line.lower() for line in lines), lines
