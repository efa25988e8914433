"""The stage's small helpers against their plain definitions: whether a title counts as a
headline, and which place names are local."""

from __future__ import annotations

import random
import re

from yuqing.analysis.places import grouped
from yuqing.events.placer import _headline
from yuqing.events.stage import _LOCAL, _local_places
from yuqing.mentions.batch import Place

_NON_WORD = re.compile(r"\W+")


def _plain_headline(title: str, text: str) -> str:
    if not title:
        return ""
    head = _NON_WORD.sub("", title)
    start = _NON_WORD.sub("", text[: len(title) + 20])
    return "" if start.startswith(head[:-1]) else title


def test_headline_is_the_title_unless_the_text_starts_with_it() -> None:
    assert _headline("南江大学停电", "南江大学停电，宿舍一片漆黑") == ""
    assert _headline("【南江大学】停电", "南江大学停电了") == ""
    assert _headline("南江大学停电", "昨晚，南江大学停电") == "南江大学停电"
    assert _headline("停", "停电") == ""  # one word character: never a headline
    assert _headline("！！", "停电") == ""
    rng = random.Random(5)
    alphabet = "南江大学停电，。 !?a【】#x1"
    for _ in range(20_000):
        title = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        if rng.random() < 0.5:
            text = title[: rng.randint(0, len(title))] + text
        assert _headline(title, text) == _plain_headline(title, text), (title, text)


def _place(name: str, province: str, city: str | None) -> Place:
    return Place("0", "county", name, province, city)


def test_local_places_are_groupeds_local_names_in_order() -> None:
    places = [
        _place("玄武区", "江苏省", "南京市"),
        _place("西湖区", "浙江省", "杭州市"),
        _place("江宁区", "江苏省", "南京市"),
        _place("南宁市", "广西壮族自治区", "南宁市"),
        _place("玄武区", "江苏省", "南京市"),
    ]
    expected = [n for names in grouped(places) for n in names if n.endswith(_LOCAL)]
    assert _local_places(places) == expected
    assert _local_places(places) == ["玄武区", "江宁区", "西湖区", "广西壮族自治区"]
    many = [_place(f"第{i}镇", f"省{i % 3}", None) for i in range(12)]  # grouped() itself
    assert _local_places(many) == [
        n for names in grouped(many) for n in names if n.endswith(_LOCAL)
    ]
    assert _local_places([]) == []
