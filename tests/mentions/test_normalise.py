"""Cleaning one item: canonical URLs, text from HTML, one-line fast path, language, hashes."""

from __future__ import annotations

import pytest

from yuqing.core.urls import canonical_url, url_hash
from yuqing.mentions.normalise import (
    clean_text,
    content_hash,
    detect_language,
    html_to_text,
    to_simplified,
)
from yuqing.mentions.search import search_form


def test_canonical_url_drops_tracking_and_keeps_identity() -> None:
    assert (
        canonical_url("http://WWW.Example.cn:80/news/1/?utm_source=wx&b=2&a=1&spm=x#top")
        == "https://example.cn/news/1?a=1&b=2"
    )
    wechat = "https://mp.weixin.qq.com/s?__biz=MzA&mid=22&idx=1&sn=ab&chksm=zz&scene=21"
    assert canonical_url(wechat) == "https://mp.weixin.qq.com/s?__biz=MzA&idx=1&mid=22&sn=ab"
    assert url_hash("https://example.cn/a?from=timeline") == url_hash("http://example.cn/a")
    assert canonical_url(None) is None and url_hash("") is None


def test_html_to_text_drops_scripts_and_keeps_paragraphs() -> None:
    html = "<div><p>第一段</p><script>alert('x')</script><p>第二段<br>换行</p><!-- c --></div>"
    assert html_to_text(html) == "第一段\n\n第二段\n换行"


def test_text_without_tags_is_not_parsed_as_html() -> None:
    assert html_to_text("分数 3<5 且 x > y，   见　附件") == "分数 3<5 且 x > y， 见 附件"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", ""),
        ("  学校\u3000回应  ", "学校 回应"),
        ("第一段\r\n\r\n\r\n  第二段  \n第三行", "第一段\n\n第二段\n第三行"),
        ("全角标点，保留！", "全角标点，保留！"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("大學圖書館延長開放時間", "zh-Hant"),
        ("大学图书馆延长开放时间", "zh"),
        ("The library opens later", "en"),
        ("図書館の開館時間が延長されました", "ja"),
        ("도서관 개방 시간 연장", "ko"),
        ("12345", "und"),
    ],
)
def test_language_with_and_without_the_search_form(text: str, language: str) -> None:
    assert detect_language(text) == language
    form = search_form("", text)[1:]  # the form of "\n" + text, without the newline
    assert detect_language(text, simplified=form) == language


def test_content_hash_ignores_spacing_and_case() -> None:
    assert content_hash("某校 通报", "全文 ABC") == content_hash("某校通报", "全文abc")
    assert content_hash("某校通报", "全文") != content_hash("某校通报", "全文二")


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("校方已回覆", "校方已回复"),
        ("沈默的大多数", "沉默的大多数"),
        ("學校", "学校"),
        ("学校", "学校"),
    ],
)
def test_search_form_applies_phrase_rules_of_simplified_looking_text(text: str, form: str) -> None:
    assert to_simplified(text) == form
    assert search_form("", text) == "\n" + form
