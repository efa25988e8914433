"""The institution's own column (新闻栏目): published items rendered as static HTML files
and an Atom feed under ``<data_dir>/editorial/site``, which any web server can serve and the
desk serves read-only at ``/news``; and the share kit for staff (the official link and a
short attributed summary to forward through official channels). Nothing is posted anywhere.

The whole site is written again on every publish, unpublish and correction (into a fresh
folder, then swapped in), so a reader never sees half of it.
"""

from __future__ import annotations

import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.core.settings import get_settings
from yuqing.core.timeutil import format_local, utcnow
from yuqing.editorial import config, richtext
from yuqing.editorial.models import Submission, SubmissionKind
from yuqing.org import service as org
from yuqing.system import service as system

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "site"),
    autoescape=select_autoescape(["html", "xml"]),
)
_env.filters["local"] = format_local
SUMMARY_CHARS = 120


@dataclass(frozen=True)
class Article:
    """One item of the column, as the site shows it."""

    slug: str
    title: str
    kind: str
    unit: str
    body: str  # sanitised HTML, images pointing into the site
    summary: str
    published_at: datetime
    updated_at: datetime
    withdrawn: bool
    correction_note: str
    corrected_at: datetime | None


def site_dir() -> Path:
    return Path(get_settings().data_dir) / "editorial" / "site"


def new_slug(session: Session) -> str:
    while True:
        slug = secrets.token_hex(6)
        if session.execute(select(Submission.id).where(Submission.slug == slug)).first() is None:
            return slug


def public_link(submission: Submission, base: str = "") -> str:
    return f"{base}{config.PUBLIC_PATH}/a/{submission.slug}.html"


def summary_of(body: str, chars: int = SUMMARY_CHARS) -> str:
    text = re.sub(r"\s+", " ", richtext.text_of(body))
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _articles(session: Session) -> list[Article]:
    kinds = {k.id: k.name for k in session.execute(select(SubmissionKind)).scalars()}
    units = org.list_unit_names(session)
    rows = session.execute(
        select(Submission)
        .where(Submission.state.in_(("published", "unpublished")), Submission.slug.is_not(None))
        .order_by(Submission.published_at.desc())
    ).scalars()
    return [
        Article(
            slug=s.slug or "",
            title=s.title,
            kind=kinds.get(s.kind_id, ""),
            unit=units.get(s.unit_id or 0, ""),
            body=s.body.replace(richtext.IMAGE_PREFIX, "../images/"),
            summary=summary_of(s.body),
            published_at=s.published_at or s.updated_at,
            updated_at=s.corrected_at or s.unpublished_at or s.published_at or s.updated_at,
            withdrawn=s.state == "unpublished",
            correction_note=s.correction_note,
            corrected_at=s.corrected_at or s.unpublished_at,
        )
        for s in rows
    ]


def write_site(session: Session) -> Path:
    """Render the column again: index.html, a/<slug>.html, feed.xml, images/."""
    from yuqing.editorial.editing import images_dir  # images live beside the site

    articles = _articles(session)
    base = system.get_public_url(session).url
    target = site_dir()
    fresh = target.with_name(f".site-{secrets.token_hex(4)}")
    (fresh / "a").mkdir(parents=True)
    (fresh / "images").mkdir()
    shutil.copyfile(Path(__file__).parent / "site" / "site.css", fresh / "site.css")
    shown = [a for a in articles if not a.withdrawn]
    context = {"now": utcnow(), "base": base, "path": config.PUBLIC_PATH}
    (fresh / "index.html").write_text(
        _env.get_template("index.html").render(articles=shown, **context), encoding="utf-8"
    )
    (fresh / "feed.xml").write_text(
        _env.get_template("feed.xml").render(articles=shown, **context), encoding="utf-8"
    )
    images = images_dir()
    for article in articles:
        page = _env.get_template("article.html").render(article=article, **context)
        (fresh / "a" / f"{article.slug}.html").write_text(page, encoding="utf-8")
        if article.withdrawn:
            continue
        for name in richtext.image_names(article.body.replace("../images/", richtext.IMAGE_PREFIX)):
            if (images / name).is_file():
                shutil.copyfile(images / name, fresh / "images" / name)
    old = target.with_name(f".old-{secrets.token_hex(4)}")
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


@dataclass(frozen=True)
class ShareKit:
    """What staff forward through official channels: the link and an attributed summary."""

    link: str
    text: str


def share_kit(session: Session, *, submission: Submission) -> ShareKit:
    base = system.get_public_url(session).url
    unit = org.list_unit_names(session).get(submission.unit_id or 0, "")
    link = public_link(submission, base)
    text = f"【{unit}】{submission.title}\n{summary_of(submission.body)}\n全文：{link}"
    return ShareKit(link=link, text=text)
