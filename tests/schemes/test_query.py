"""The query language: every operator, fields, NEAR distances, and errors with positions."""

from __future__ import annotations

import pytest

from yuqing.schemes.matcher import MatchDoc, Matcher, SchemeSpec
from yuqing.schemes.query import (
    And,
    Meta,
    Near,
    Not,
    Or,
    SchemeSyntaxError,
    Term,
    parse_query,
    refused_fields,
)


def hits(query: str, title: str = "", text: str = "", scope: str = "both", **meta: object) -> bool:
    matcher = Matcher([SchemeSpec(1, parse_query(query), scope)])
    return bool(matcher.match(MatchDoc(title=title, text=text, **meta)))  # type: ignore[arg-type]


def test_operators_and_precedence() -> None:
    tree = parse_query("南京 AND (大学 OR 学院) NOT 招聘")
    assert tree == And(
        (
            Term("南京", pos=0),
            Or((Term("大学", pos=8), Term("学院", pos=14))),
            Not(Term("招聘", pos=22)),
        )
    )
    # OR binds looser than AND, NEAR tighter than both.
    assert parse_query("a b OR c") == Or((And((Term("a"), Term("b", pos=2))), Term("c", pos=7)))
    near = parse_query("a NEAR/5 b AND c")
    assert isinstance(near, And) and near.children[0] == Near(Term("a"), Term("b", pos=9), 5)


def test_implicit_and_between_adjacent_terms() -> None:
    assert hits("南京 大学", text="南京有很多大学")
    assert not hits("南京 大学", text="南京有很多学院")


def test_quoted_phrase_with_space_wildcard_and_case() -> None:
    assert hits('"hong kong" AND 大学', text="The Hong   Kong 大学")
    assert not hits('"hong kong"', text="hongkong")
    assert hits("edu*", text="Education matters")
    assert not hits("edu", text="education matters")  # Latin words keep their boundaries
    assert hits("南京*", text="南京市")
    assert parse_query("南京*") == Term("南京", prefix=True)


def test_traditional_text_matches_simplified_keywords() -> None:
    assert hits("南京大学 AND 国家", text="南京大學是國家重點大學")
    assert hits("臺灣", text="台湾")  # and Traditional keywords match Simplified text


def test_field_filters() -> None:
    assert hits("title:火灾", title="宿舍火灾", text="无")
    assert not hits("title:火灾", title="通知", text="宿舍火灾")
    assert hits("text:火灾", title="通知", text="宿舍火灾")
    assert hits("site:edu.cn", url="https://www.nju.edu.cn/a")
    assert not hits("site:edu.cn", url="https://edu.cn.example.com/a")
    assert hits("source:微博 AND 火灾", text="火灾", source_name="微博")
    assert hits("region:江苏", text="x", regions=["江苏省", "南京市"])
    assert not hits("region:浙江", text="x", regions=["江苏省"])
    assert hits("sentiment:负面 AND 食堂", text="食堂", sentiment="negative")
    assert hits("sentiment:negative", text="食堂", sentiment="negative")
    assert not hits("sentiment:正面", text="食堂", sentiment="negative")
    assert parse_query("sentiment:负面") == Meta("sentiment", "negative", pos=10)


def test_scope_of_scheme() -> None:
    assert not hits("火灾", title="火灾", text="", scope="text")
    assert hits("火灾", title="", text="火灾", scope="text")
    assert not hits("火灾", title="", text="火灾", scope="title")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("南京12345大学", True),
        ("南京123456大学", False),
        ("大学12345南京", True),
        ("南京大学", True),
    ],
)
def test_near_distance_at_the_boundary(text: str, expected: bool) -> None:
    assert hits("南京 NEAR/5 大学", text=text) is expected


def test_onear_is_ordered() -> None:
    assert hits("南京 ONEAR/3 大学", text="南京的大学")
    assert not hits("南京 ONEAR/3 大学", text="大学在南京")
    assert hits("(南京 OR 苏州) ONEAR/0 大学", text="苏州大学")
    assert not hits("南京 NEAR/5 大学", title="南京", text="大学")  # not across title and body


@pytest.mark.parametrize(
    ("query", "position", "expected"),
    [
        ("南京 AND (大学 OR 学院", 16, "AND/OR/NOT 或右括号"),
        ("(南京 OR 北京", 9, "AND/OR/NOT 或右括号"),
        ("南京 AND", 6, "词语、短语或左括号"),
        ("AND 南京", 0, "词语、短语或左括号"),
        ("南京 OR OR 北京", 6, "词语、短语或左括号"),
        ("南京 NEAR 大学", 7, "“/距离”"),
        ("南京 NEAR/x 大学", 7, "“/距离”"),
        ("南京 foo:bar", 3, "字段 title/text/site/source/region/sentiment"),
        ("南京 author:张三", 3, "字段 title/text/site/source/region/sentiment"),
        ("", 0, "词语、短语或左括号"),
        ("南京)", 2, "AND/OR/NOT 或查询结束"),
        ("南 京*学", 3, "词尾的 *"),
        ('南京 "大学', 3, "右引号"),
        ("sentiment:很好", 10, "正面/中性/负面 或 positive/neutral/negative"),
        ("南京 NEAR/3 (a AND b)", 10, "词语、短语或用 OR 连接的词语"),
        ("a~2", 1, "词语、短语或左括号"),
    ],
)
def test_errors_name_position_and_expectation(query: str, position: int, expected: str) -> None:
    with pytest.raises(SchemeSyntaxError) as caught:
        parse_query(query)
    assert (caught.value.position, caught.value.expected) == (position, expected)
    assert caught.value.message  # Chinese words for the user


def test_full_width_brackets_parse() -> None:
    assert parse_query("（南京 OR 北京） 大学") == parse_query("(南京 OR 北京) 大学")


@pytest.mark.parametrize(
    "query", ["author:张同学", "南大 AND AUTHOR：“张同学”", "x OR (author:张* y)"]
)
def test_author_is_refused_with_the_reason(query: str) -> None:
    """A scheme on one author's name is a watch-list of one person: refused, saying why and
    what to use for organisations' accounts."""
    with pytest.raises(SchemeSyntaxError) as caught:
        parse_query(query)
    message = caught.value.message
    assert "author:" in message and "盯人" in message and "source:" in message
    assert refused_fields(query) == ["author"]


def test_refused_fields_ignores_the_word_author_in_text() -> None:
    assert refused_fields("author 作者 南京") == []
    assert refused_fields('"author:张三"') == []
    assert refused_fields("source:微博 site:edu.cn") == []
