"""Sign-in, sessions, tokens and account administration through the real app and database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.support import sign_in
from yuqing.auth import config, service
from yuqing.auth.deps import SESSION_COOKIE
from yuqing.auth.models import ApiToken, Role, User, UserSession
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.core.timeutil import utcnow
from yuqing.web.app import create_app

PASSWORD = "correct-horse-42"


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def _account(session: Session, name: str, role: str = "admin", **extra: Any) -> User:
    user = service.create_user(
        session,
        username=name,
        password=PASSWORD,
        role_key=role,
        actor=SYSTEM,
        must_change_password=False,
        **extra,
    )
    session.commit()
    return user


def _csrf(client: TestClient) -> str:
    token = client.cookies.get("yuqing_csrf")
    assert token
    return token


def _login_form(client: TestClient, username: str, password: str) -> Any:
    client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": _csrf(client)},
        follow_redirects=False,
    )


def _actions(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
    return list(session.execute(query).scalars())


def _goes_to_login(answer: Any) -> str:
    assert answer.status_code == 303, answer.text[:300]
    location = unquote(answer.headers["location"])
    assert location.startswith("/login?")
    return location


# ---- signing in and out ----------------------------------------------------------------


def test_sign_in_with_the_right_password_and_a_plain_message_for_a_wrong_one(
    client: TestClient, session: Session
) -> None:
    _account(session, "wang", role="leader")
    wrong = _login_form(client, "wang", "not-the-password-1")
    assert wrong.status_code == 401
    assert "用户名或密码不正确" in wrong.text
    assert SESSION_COOKIE not in client.cookies
    unknown = _login_form(client, "nobody", PASSWORD)
    assert unknown.status_code == 401 and "用户名或密码不正确" in unknown.text

    right = _login_form(client, "WANG", PASSWORD)
    assert right.status_code == 303 and right.headers["location"] == "/"
    assert client.cookies.get(SESSION_COOKIE)
    page = client.get("/account/tokens")
    assert page.status_code == 200 and "接口令牌" in page.text
    assert [e.summary for e in _actions(session, "login")] == ["登录成功"]


def test_five_wrong_passwords_pause_the_name_from_this_address(
    client: TestClient, session: Session
) -> None:
    _account(session, "wang", role="leader")
    for _ in range(5):
        assert "用户名或密码不正确" in _login_form(client, "wang", "wrong-pass-1").text
    even_right = _login_form(client, "wang", PASSWORD)
    assert even_right.status_code == 429 and "登录失败次数过多" in even_right.text
    assert 0 < int(even_right.headers["retry-after"]) <= 60
    assert SESSION_COOKIE not in client.cookies


def test_a_one_time_password_must_be_changed_before_anything_else(
    client: TestClient, session: Session
) -> None:
    _account(session, "boss")
    user, one_time = service.create_account(
        session, username="newbie", role_key="admin", actor=SYSTEM
    )
    session.commit()
    first = _login_form(client, "newbie", one_time)
    assert first.status_code == 303 and first.headers["location"] == "/account/password"
    blocked = client.get("/admin/users", follow_redirects=False)
    assert blocked.status_code == 303 and blocked.headers["location"] == "/account/password"
    assert "请先设置您自己的密码" in client.get("/account/password").text
    changed = client.post(
        "/account/password",
        data={
            "csrf_token": _csrf(client),
            "current": one_time,
            "new": "my-own-pass-99",
            "repeat": "my-own-pass-99",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert client.get("/admin/users").status_code == 200
    session.refresh(user)
    assert not user.must_change_password


def test_sign_out_ends_the_session_for_good(client: TestClient, session: Session) -> None:
    _account(session, "boss")
    sign_in(client, "boss", PASSWORD)
    old = client.cookies.get(SESSION_COOKIE)
    assert old and client.get("/admin/users").status_code == 200
    out = client.post("/logout", data={"csrf_token": _csrf(client)}, follow_redirects=False)
    assert out.status_code == 303 and "已退出登录" in unquote(out.headers["location"])
    client.cookies.set(SESSION_COOKIE, old)  # the old cookie, replayed
    _goes_to_login(client.get("/admin/users", follow_redirects=False))
    assert [e.summary for e in _actions(session, "logout")] == ["退出登录"]


def test_forged_csrf_tokens_are_refused_and_change_nothing(
    client: TestClient, session: Session
) -> None:
    _account(session, "boss")
    client.get("/login")
    forged = client.post(
        "/login",
        data={"username": "boss", "password": PASSWORD, "csrf_token": "abc.def"},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and SESSION_COOKIE not in client.cookies
    assert _actions(session, "login") == []

    sign_in(client, "boss", PASSWORD)
    token = _csrf(client)
    for path, data in [
        ("/logout", {}),
        ("/admin/users", {"username": "mole", "role": "admin"}),
        ("/admin/users/1/active", {"active": "0"}),
    ]:
        no_token = client.post(path, data=data, follow_redirects=False)
        wrong = client.post(path, data={**data, "csrf_token": token + "x"}, follow_redirects=False)
        foreign = client.post(
            path,
            data={**data, "csrf_token": token},
            headers={"Origin": "https://evil.example"},
            follow_redirects=False,
        )
        assert [no_token.status_code, wrong.status_code, foreign.status_code] == [403] * 3, path
    assert client.get("/admin/users").status_code == 200  # still signed in
    assert service.get_user_by_username(session, username="mole") is None
    assert _actions(session, "create")[-1].summary.startswith("新建账号 boss")


def test_a_tampered_session_cookie_counts_as_signed_out(
    client: TestClient, session: Session
) -> None:
    _account(session, "boss")
    sign_in(client, "boss", PASSWORD)
    client.cookies.set(SESSION_COOKIE, client.cookies.get(SESSION_COOKIE)[:-2] + "zz")
    location = _goes_to_login(client.get("/admin/users", follow_redirects=False))
    assert "next=/admin/users" in location


def test_an_expired_session_goes_to_sign_in_saying_so(client: TestClient, session: Session) -> None:
    _account(session, "boss")
    sign_in(client, "boss", PASSWORD)
    session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    location = _goes_to_login(client.get("/admin/audit", follow_redirects=False))
    assert "登录已过期" in location
    assert "登录已过期" in client.get(location).text


def test_the_api_wants_a_token_and_honours_its_scope(client: TestClient, session: Session) -> None:
    boss = _account(session, "boss")
    anonymous = client.get("/api/v1/audit")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "需要登录或有效的接口令牌"}
    _, reader = service.create_token(
        session, user=boss, name="读审计", scopes=["audit.read"], actor=SYSTEM
    )
    _, pusher = service.create_token(session, user=boss, name="推送", scopes=["push"], actor=SYSTEM)
    session.commit()
    answer = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {reader}"})
    assert answer.status_code == 200 and answer.json()["total"] >= 3
    narrow = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {pusher}"})
    assert narrow.status_code == 403 and "查看审计日志" in narrow.json()["detail"]
    bad = client.get("/api/v1/audit", headers={"Authorization": "Bearer yq_forged"})
    assert bad.status_code == 401


def test_a_token_is_shown_once_and_can_be_revoked(client: TestClient, session: Session) -> None:
    boss = _account(session, "boss")
    sign_in(client, "boss", PASSWORD)
    made = client.post(
        "/account/tokens",
        data={"csrf_token": _csrf(client), "name": "审计同步", "scopes": ["audit.read"]},
    )
    assert made.status_code == 200 and "只显示这一次" in made.text
    secret = made.text.split('<code class="secret">')[1].split("</code>")[0]
    assert secret.startswith("yq_")
    listing = client.get("/account/tokens").text
    assert "审计同步" in listing and secret not in listing
    api = TestClient(client.app)
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/audit", headers=headers).status_code == 200
    beyond = client.post(
        "/account/tokens",
        data={"csrf_token": _csrf(client), "name": "x", "scopes": ["no.such"]},
    )
    assert beyond.status_code == 422
    token_row = service.list_tokens(session, user=boss)[0]
    revoked = client.post(
        f"/account/tokens/{token_row.id}/revoke",
        data={"csrf_token": _csrf(client)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert "已吊销" in client.get("/account/tokens").text
    assert api.get("/api/v1/audit", headers=headers).status_code == 401


# ---- tokens are for programs, account pages for people -----------------------------------


def _bearer(session: Session, user: User, scopes: list[str]) -> dict[str, str]:
    _, secret = service.create_token(session, user=user, name="程序", scopes=scopes, actor=SYSTEM)
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def _token_count(session: Session) -> int:
    session.expire_all()
    return len(session.execute(select(ApiToken)).scalars().all())


def test_a_push_token_cannot_mint_a_token_nor_make_an_administrator(
    client: TestClient, session: Session
) -> None:
    """The escalation of issue 10: a push-only token of an administrator asked the token
    form for a users.manage token, then made itself an administrator account."""
    boss = _account(session, "boss")
    push = _bearer(session, boss, ["push"])
    client.get("/login")  # an attacker can get a CSRF cookie like anyone
    csrf = {"csrf_token": _csrf(client)}
    before = _token_count(session)
    minted = client.post(
        "/account/tokens",
        data={**csrf, "name": "升级", "scopes": ["users.manage"]},
        headers=push,
    )
    assert minted.status_code == 403 and "不接受接口令牌" in minted.text
    assert "yq_" not in minted.text and _token_count(session) == before
    for method, path, data in [
        ("GET", "/account/tokens", None),
        ("GET", "/account/password", None),
        ("POST", "/account/password", {"current": PASSWORD, "new": "x-Qw7-9z-kk", "repeat": "x-Qw7-9z-kk"}),
        ("GET", "/inbox", None),
        ("GET", "/inbox/badge", None),
        ("POST", "/inbox/read-all", {}),
    ]:  # fmt: skip
        answer = client.request(
            method, path, data=None if data is None else {**csrf, **data}, headers=push
        )
        assert answer.status_code == 403 and "不接受接口令牌" in answer.text, path
    made = client.post(
        "/admin/users", data={**csrf, "username": "mole", "role": "admin"}, headers=push
    )
    assert made.status_code == 403
    assert service.get_user_by_username(session, username="mole") is None
    json = client.get("/account/tokens", headers={**push, "Accept": "application/json"})
    assert json.status_code == 403 and "不接受接口令牌" in json.json()["detail"]


def test_a_token_opens_no_desk_page_even_with_every_scope(
    client: TestClient, session: Session
) -> None:
    boss = _account(session, "boss")
    every = _bearer(session, boss, list(config.PERMISSIONS))
    client.get("/login")
    for path in ("/", "/admin/users", "/admin/audit", "/org"):
        page = client.get(path, headers=every, follow_redirects=False)
        assert page.status_code == 403 and "接口令牌只能用于 /api/ 接口" in page.text, path
    made = client.post(
        "/admin/users",
        data={"csrf_token": _csrf(client), "username": "mole", "role": "admin"},
        headers=every,
    )
    assert made.status_code == 403
    assert service.get_user_by_username(session, username="mole") is None
    assert client.get("/api/v1/audit", headers=every).status_code == 200  # the API it may


def test_a_one_time_password_stops_the_accounts_tokens_and_token_page(
    client: TestClient, session: Session
) -> None:
    """Until the one-time password is changed, nothing but the change page works: a token
    cannot be minted first to skip it, and tokens made before are refused."""
    user, one_time = service.create_account(
        session, username="newbie", role_key="admin", actor=SYSTEM
    )
    session.commit()
    old = _bearer(session, user, ["audit.read", "push"])
    assert _login_form(client, "newbie", one_time).headers["location"] == "/account/password"
    for path in ("/account/tokens", "/inbox", "/inbox/badge"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/account/password"
    # The badge the change page polls is refused, not redirected (HTMX would swap the page in).
    badge = client.get("/inbox/badge", headers={"HX-Request": "true"}, follow_redirects=False)
    assert badge.status_code == 403 and not badge.text
    minted = client.post(
        "/account/tokens",
        data={"csrf_token": _csrf(client), "name": "绕过", "scopes": ["audit.read"]},
        follow_redirects=False,
    )
    assert minted.status_code == 303 and minted.headers["location"] == "/account/password"
    assert len(service.list_tokens(session, user=user)) == 1
    api = TestClient(client.app)
    refused = api.get("/api/v1/audit", headers=old)
    assert refused.status_code == 403 and "修改初始密码" in refused.json()["detail"]
    push = api.post("/api/v1/mentions", json={"source": "绕过", "items": []}, headers=old)
    assert push.status_code == 401


def test_changing_the_password_revokes_the_tokens_and_says_so(
    client: TestClient, session: Session
) -> None:
    boss = _account(session, "boss")
    headers = _bearer(session, boss, ["audit.read"])
    api = TestClient(client.app)
    assert api.get("/api/v1/audit", headers=headers).status_code == 200
    sign_in(client, "boss", PASSWORD)
    assert "全部接口令牌将被吊销" in client.get("/account/password").text
    same = client.post(
        "/account/password",
        data={
            "csrf_token": _csrf(client),
            "current": PASSWORD,
            "new": PASSWORD,
            "repeat": PASSWORD,
        },
    )
    assert same.status_code == 422 and "新密码不能与当前密码相同" in same.text
    weak = client.post(
        "/account/password",
        data={"csrf_token": _csrf(client), "current": PASSWORD, "new": "password2024", "repeat": "password2024"},
    )  # fmt: skip
    assert weak.status_code == 422 and "常见密码" in weak.text and "密码已修改" not in weak.text
    changed = client.post(
        "/account/password",
        data={"csrf_token": _csrf(client), "current": PASSWORD, "new": "my-own-pass-99", "repeat": "my-own-pass-99"},
        follow_redirects=False,
    )  # fmt: skip
    assert changed.status_code == 303
    assert "原有的 1 个接口令牌已吊销" in client.get(changed.headers["location"]).text
    assert api.get("/api/v1/audit", headers=headers).status_code == 401


def test_an_administrators_reset_revokes_the_accounts_tokens(
    client: TestClient, session: Session
) -> None:
    _account(session, "boss")
    li = _account(session, "li", role="publicity")
    headers = _bearer(session, li, ["push"])
    push = {"source": "重置前", "items": []}
    api = TestClient(client.app)
    assert api.post("/api/v1/mentions", json=push, headers=headers).status_code == 200
    sign_in(client, "boss", PASSWORD)
    assert "重置密码会吊销该账号的全部接口令牌" in client.get(f"/admin/users/{li.id}").text
    reset = client.post(f"/admin/users/{li.id}/password", data={"csrf_token": _csrf(client)})
    assert "该账号的全部接口令牌已吊销" in reset.text
    assert api.post("/api/v1/mentions", json=push, headers=headers).status_code == 401
    assert "吊销其接口令牌 1 个" in _actions(session, "password")[-1].summary


# ---- administration ----------------------------------------------------------------------


def test_admin_pages_refuse_other_roles(client: TestClient, session: Session) -> None:
    _account(session, "office", role="publicity")
    sign_in(client, "office", PASSWORD)
    for path in ("/admin/users", "/admin/roles", "/admin/audit", "/admin/users/1"):
        page = client.get(path)
        assert page.status_code == 403, path
        assert "没有权限" in page.text
    made = client.post(
        "/admin/users", data={"csrf_token": _csrf(client), "username": "mole", "role": "admin"}
    )
    assert made.status_code == 403
    assert service.get_user_by_username(session, username="mole") is None
    home = client.get("/account/password").text
    assert "账号管理" not in home and "审计日志" not in home and "修改密码" in home


def test_an_admin_creates_edits_resets_and_deactivates_an_account(
    client: TestClient, session: Session
) -> None:
    _account(session, "boss", display_name="管理员甲")
    sign_in(client, "boss", PASSWORD)
    top = client.get("/admin/users").text
    assert "管理员甲" in top and "账号管理" in top and "审计日志" in top and "退出" in top
    made = client.post(
        "/admin/users",
        data={
            "csrf_token": _csrf(client),
            "username": "li",
            "display_name": "李四",
            "role": "leader",
        },
    )
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    one_time = made.text.split('<code class="secret">')[1].split("</code>")[0]
    assert one_time not in client.get("/admin/users").text
    li = service.get_user_by_username(session, username="li")
    assert li is not None and li.must_change_password

    other = TestClient(client.app)
    assert _login_form(other, "li", one_time).headers["location"] == "/account/password"

    moved = client.post(
        f"/admin/users/{li.id}/role",
        data={"csrf_token": _csrf(client), "role": "publicity", "unit_id": ""},
    )
    assert moved.status_code == 200 and "角色和单位已保存" in moved.text
    change = _actions(session, "permission")[-1]
    assert change.object_id == str(li.id) and '"role":["leader","publicity"]' in change.changes

    off = client.post(
        f"/admin/users/{li.id}/active", data={"csrf_token": _csrf(client), "active": "0"}
    )
    assert "账号已停用" in off.text
    _goes_to_login(other.get("/account/password", follow_redirects=False))  # session ended
    assert _login_form(other, "li", one_time).status_code == 401
    on = client.post(
        f"/admin/users/{li.id}/active", data={"csrf_token": _csrf(client), "active": "1"}
    )
    assert "账号已启用" in on.text

    reset = client.post(f"/admin/users/{li.id}/password", data={"csrf_token": _csrf(client)})
    fresh = reset.text.split('<code class="secret">')[1].split("</code>")[0]
    assert fresh != one_time and reset.headers["cache-control"] == "no-store"
    assert _login_form(other, "li", one_time).status_code == 401
    assert _login_form(other, "li", fresh).headers["location"] == "/account/password"
    assert "重置账号 li 的密码" in _actions(session, "password")[-1].summary


def test_an_admin_unlocks_a_locked_account(client: TestClient, session: Session) -> None:
    _account(session, "boss")
    wang = _account(session, "wang", role="leader")
    stranger = TestClient(client.app)
    for _ in range(5):
        _login_form(stranger, "wang", "wrong-pass-1")
    sign_in(client, "boss", PASSWORD)
    assert "已锁定" in client.get("/admin/users").text
    done = client.post(f"/admin/users/{wang.id}/unlock", data={"csrf_token": _csrf(client)})
    assert "已解除锁定" in done.text
    assert _login_form(stranger, "wang", PASSWORD).status_code == 303
    assert '"paused":[1,0]' in _actions(session, "update")[-1].changes


def test_an_admin_cannot_remove_their_own_rights(client: TestClient, session: Session) -> None:
    boss = _account(session, "boss")
    sign_in(client, "boss", PASSWORD)
    for path, data in [
        (f"/admin/users/{boss.id}/active", {"active": "0"}),
        (f"/admin/users/{boss.id}/role", {"role": "leader"}),
    ]:
        refused = client.post(path, data={**data, "csrf_token": _csrf(client)})
        assert refused.status_code == 422 and "不能停用自己的账号" in refused.text, path
    admin_role = service.get_role(session, key="admin")
    kept = [p for p in admin_role.permissions.split() if p != "users.manage"]
    refused = client.post(
        f"/admin/roles/{admin_role.id}", data={"csrf_token": _csrf(client), "permissions": kept}
    )
    assert refused.status_code == 422 and "不能停用自己的账号" in refused.text
    session.expire_all()
    assert boss.active and "users.manage" in service.get_role(session, key="admin").permissions
    assert client.get(f"/admin/users/{boss.id}").status_code == 200
    assert _actions(session, "permission") == []


def test_the_last_active_administrator_stays(session: Session) -> None:
    boss = _account(session, "boss")
    office = _account(session, "office", role="publicity")
    someone = service.principal_for(session, user=office)  # not an administrator itself
    with pytest.raises(service.AuthError, match="最后一个启用的管理员"):
        service.update_account_active(session, user=boss, active=False, by=someone)
    with pytest.raises(service.AuthError, match="最后一个启用的管理员"):
        service.update_account(session, user=boss, role_key="leader", unit_id=None, by=someone)
    second = _account(session, "boss2")
    service.update_account_active(session, user=boss, active=False, by=someone)  # another remains
    assert not boss.active and second.active


def test_role_permissions_are_edited_with_checkboxes_and_audited(
    client: TestClient, session: Session
) -> None:
    _account(session, "boss")
    _account(session, "lead", role="leader")
    viewer = sign_in(TestClient(client.app), "lead", PASSWORD)
    assert viewer.get("/admin/audit").status_code == 403
    sign_in(client, "boss", PASSWORD)
    page = client.get("/admin/roles").text
    assert "查看审计日志" in page and "领导（只读）" in page
    leader = service.get_role(session, key="leader")
    wanted = [*leader.permissions.split(), "audit.read"]
    saved = client.post(
        f"/admin/roles/{leader.id}", data={"csrf_token": _csrf(client), "permissions": wanted}
    )
    assert saved.status_code == 200 and "角色权限已保存" in saved.text
    assert viewer.get("/admin/audit").status_code == 200
    row = _actions(session, "permission")[-1]
    assert row.object_type == "role" and "增加 查看审计日志" in row.summary
    unknown = client.post(
        f"/admin/roles/{leader.id}", data={"csrf_token": _csrf(client), "permissions": ["x.y"]}
    )
    assert unknown.status_code == 422 and "未知的权限" in unknown.text
    assert session.get(Role, leader.id) is not None


def test_names_with_html_are_shown_escaped(client: TestClient, session: Session) -> None:
    _account(session, "boss", display_name="<i>管理员</i>")
    sign_in(client, "boss", PASSWORD)
    made = client.post(
        "/admin/users",
        data={
            "csrf_token": _csrf(client),
            "username": "evil",
            "display_name": '<script>alert("x")</script>',
            "role": "leader",
        },
    )
    assert made.status_code == 200
    for page in (client.get("/admin/users").text, client.get("/admin/audit").text):
        assert "<script>alert" not in page and "<i>管理员</i>" not in page
    listing = client.get("/admin/users").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in listing
    assert "&lt;i&gt;管理员&lt;/i&gt;" in listing
    refused = client.post(
        "/admin/users",
        data={"csrf_token": _csrf(client), "username": "<b>x</b>", "role": "leader"},
    )
    assert refused.status_code == 422 and "<b>x</b>" not in refused.text


def test_admin_links_an_account_to_a_person_and_that_persons_messages_reach_its_inbox(
    client: TestClient, session: Session
) -> None:
    from yuqing.notify import service as notify
    from yuqing.notify.schemas import Message, Recipient
    from yuqing.org import service as org

    admin = _account(session, "boss")
    office = org.create_unit(session, name="宣传部", actor=SYSTEM)
    session.commit()
    sign_in(client, "boss", PASSWORD)
    page = client.get(f"/admin/users/{admin.id}").text
    assert "对应人员" in page and "名册里还没有人员" in page and 'href="/org"' in page

    zhou = org.create_person(session, name="周老师", unit_id=office.id, actor=SYSTEM)
    session.commit()
    assert (
        f'<option value="{zhou.id}" >周老师（宣传部）'
        in client.get(f"/admin/users/{admin.id}").text
    )
    linked = client.post(
        f"/admin/users/{admin.id}/person",
        data={"csrf_token": _csrf(client), "person_id": str(zhou.id)},
    )
    assert linked.status_code == 200 and "对应人员已保存" in linked.text
    assert f'<option value="{zhou.id}" selected>' in linked.text
    change = _actions(session, "permission")[-1]
    assert change.object_id == str(admin.id) and change.actor_name == "boss"
    assert f'"person_id":[null,{zhou.id}]' in change.changes

    notify.enqueue(
        session,
        message=Message(title="食堂舆情预警", text="请处置"),
        recipients=[Recipient(kind="person", id=zhou.id)],
    )
    session.commit()
    assert "食堂舆情预警" in client.get("/inbox").text

    unknown = client.post(
        f"/admin/users/{admin.id}/person", data={"csrf_token": _csrf(client), "person_id": "999999"}
    )
    assert unknown.status_code == 422 and "人员 999999 不存在" in unknown.text


def test_an_account_of_a_unit_without_people_is_sent_to_that_units_page(
    client: TestClient, session: Session
) -> None:
    from yuqing.org import service as org

    _account(session, "boss")
    office = org.create_unit(session, name="学工部", actor=SYSTEM)
    org.create_person(session, name="别处的人", unit_id=None, actor=SYSTEM)
    session.commit()
    member = _account(session, "xue", role="unit_member", unit_id=office.id)
    sign_in(client, "boss", PASSWORD)
    page = client.get(f"/admin/users/{member.id}").text
    assert "学工部还没有人员" in page and f'href="/org/units/{office.id}"' in page
    assert "别处的人" not in page  # only the account's unit is offered
