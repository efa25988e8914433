"""Reads and writes of system settings; the desk's public address (工作台访问地址) first.

Messages that leave the desk (group robots, e-mail, webhooks, report e-mails) need links a
reader can open from a phone, so they are made absolute with the public address. It comes
from the desk's own setting when an administrator set one, else ``YUQING_PUBLIC_URL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import utcnow
from yuqing.system.models import SiteSetting

PUBLIC_URL = "public_url"


class SettingError(ValueError):
    """A setting that cannot be saved; the message says why, in Chinese."""


@dataclass(frozen=True)
class PublicUrl:
    """The public address in force and where it comes from (``desk``: set on the desk,
    ``environment``: YUQING_PUBLIC_URL, ``""``: nowhere)."""

    url: str
    origin: Literal["desk", "environment", ""]
    environment: str  # YUQING_PUBLIC_URL as configured, for the page to show


def check_public_url(value: str) -> str:
    """``value`` as a base address (``https://yq.example.edu.cn`` or with a path prefix,
    no trailing slash); empty stays empty. Raises SettingError in Chinese."""
    text = value.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError(
            "工作台访问地址应以 http:// 或 https:// 开头，写到域名（可带端口和路径），"
            "例如 https://yuqing.example.edu.cn"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SettingError("工作台访问地址不能带 ? 或 # 后面的部分，也不能带账号密码")
    if len(text) > 300:
        raise SettingError("工作台访问地址太长（最多 300 个字符）")
    return parts._replace(path=parts.path.rstrip("/")).geturl()


def get_public_url(session: Session) -> PublicUrl:
    """The public address in force: the desk's setting, else YUQING_PUBLIC_URL."""
    try:
        environment = check_public_url(get_settings().public_url)
    except SettingError:
        environment = ""  # a malformed variable is reported on the settings page
    row = session.get(SiteSetting, PUBLIC_URL)
    if row is not None and row.value:
        return PublicUrl(row.value, "desk", environment)
    return PublicUrl(environment, "environment" if environment else "", environment)


def update_public_url(session: Session, *, url: str, actor: Actor) -> PublicUrl:
    """Set (or, with an empty ``url``, clear) the desk's public address; audited."""
    value = check_public_url(url)
    row = session.get(SiteSetting, PUBLIC_URL)
    before = row.value if row is not None else ""
    if before != value:
        if row is None:
            row = SiteSetting(key=PUBLIC_URL)
            session.add(row)
        row.value, row.updated_at, row.updated_by = value, utcnow(), actor.name
        audit.record(
            session,
            actor=actor,
            action="update",
            object_type="site_setting",
            object_id=PUBLIC_URL,
            summary=f"工作台访问地址改为 {value}" if value else "清除工作台访问地址",
            changes={PUBLIC_URL: [before or None, value or None]},
        )
        session.flush()
    return get_public_url(session)


def absolute(link: str, base: str) -> str:
    """``link`` as an address a reader can open outside the desk: a desk path (``/…``)
    joined to ``base``; absolute links and, without a base, paths stay as they are."""
    if not base or not link.startswith("/") or link.startswith("//"):
        return link
    return base.rstrip("/") + link
