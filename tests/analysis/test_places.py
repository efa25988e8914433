"""Places named in text: known texts, ambiguous county names, words that hide place names."""

from __future__ import annotations

import dataclasses

import opencc
import pytest

from yuqing.analysis.places import Place, display, find_places, province_of


def names(text: str) -> list[str]:
    return [p.name for p in find_places([text])[0]]


def test_full_names_most_specific_first_with_codes() -> None:
    (found,) = find_places(["江苏省南京市玄武区发生一起交通事故"])
    assert [(p.code, p.level, p.name) for p in found] == [
        ("320102", "county", "玄武区"),
        ("320100", "city", "南京市"),
        ("320000", "province", "江苏省"),
    ]
    assert found[0].province == "江苏省" and found[0].city == "南京市"


def test_short_forms_of_provinces_and_cities() -> None:
    assert names("南京和杭州都下雪了，浙江也冷") == ["南京市", "杭州市", "浙江省"]
    assert names("新疆、广西、内蒙古") == ["新疆维吾尔自治区", "广西壮族自治区", "内蒙古自治区"]
    assert names("恩施的山") == ["恩施土家族苗族自治州"]


def test_each_place_once_per_text() -> None:
    assert names("南京南京南京市，江苏江苏省") == ["南京市", "江苏省"]


def test_texts_are_independent() -> None:
    found = find_places(["北京", "", "上海", "今天天气不错"])
    assert [[p.name for p in ps] for ps in found] == [["北京市"], [], ["上海市"], []]


def test_repeated_county_name_is_resolved_by_the_place_named_nearby() -> None:
    # 鼓楼区 exists in 南京, 徐州, 福州 and 开封.
    assert names("南京鼓楼区一小区停电")[0:1] == ["鼓楼区"]
    assert find_places(["南京鼓楼区"])[0][0].code == "320106"
    assert find_places(["福州市鼓楼区"])[0][0].code == "350102"
    assert find_places(["开封鼓楼区"])[0][0].code == "410204"
    assert find_places(["河南省鼓楼区"])[0][0].code == "410204"
    assert names("鼓楼区一小区停电") == []  # which one? not counted


def test_same_named_district_in_two_municipalities() -> None:
    assert find_places(["北京朝阳区"])[0][0].code == "110105"
    assert find_places(["吉林长春朝阳区"])[0][0].code == "220104"
    assert names("天津和平区") == ["和平区", "天津市"]
    assert "和平区" not in names("和平区")  # 天津, 沈阳: ambiguous without context


def test_county_unique_in_the_country_counts_alone() -> None:
    assert names("在海淀上学") == ["海淀区"]
    assert names("临朐县的樱桃") == ["临朐县"]
    assert find_places(["临朐县"])[0][0].province == "山东省"


def test_places_inside_common_words_are_not_counted() -> None:
    for text in (
        "长春藤盟校的录取",
        "世界和平",
        "东方明珠",
        "白云飘飘",
        "尼玛，又涨价",
        "奥巴马总统",
        "希望孩子长大",
        "突破2000元大关",
        "难道真要这样",
        "中山大学开学",
        "浮云浮云",
        "法兰西国庆日",
    ):
        assert names(text) == [], text


def test_a_word_crossing_a_boundary_does_not_hide_the_place_after_it() -> None:
    # "从江" (a county in 贵州) is not matched, so 江苏 after it is found.
    assert names("记者从江苏买回螃蟹") == ["江苏省"]
    assert names("连南京大屠杀的日子都写错") == ["南京市"]
    assert names("贵州从江县") == ["从江县", "贵州省"]


def test_university_names_count_as_their_place() -> None:
    assert names("吉林大学的学生") == ["吉林省"]


def test_two_character_county_name_needs_its_province() -> None:
    assert names("新县城建设") == []
    assert names("河南新县") == ["新县", "河南省"]


def test_traditional_text_after_conversion() -> None:
    converter = opencc.OpenCC("t2s")
    text = converter.convert("臺灣與廣東省廣州市白雲區")
    assert names(text) == ["白云区", "广州市", "台湾省", "广东省"]


def test_empty_emoji_and_very_long_text() -> None:
    assert find_places([]) == []
    assert find_places(["", "😀🎉🔥", "hello world"]) == [[], [], []]
    long_text = "没有地名的句子。" * 130_000 + "最后在成都"
    assert len(long_text) > 1_000_000
    assert names(long_text) == ["成都市"]


def test_place_is_frozen() -> None:
    place = find_places(["上海"])[0][0]
    assert place == Place("310000", "province", "上海市", "上海市", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        place.name = "x"  # type: ignore[misc]


def test_display_groups_by_province() -> None:
    (found,) = find_places(["南京玄武区和浙江的消息"])
    assert display(found) == "江苏省 南京市 玄武区; 浙江省"
    assert display([]) == ""


def test_display_stays_within_the_limit() -> None:
    (found,) = find_places(["北京 上海 天津 重庆 江苏 浙江 广东 四川 湖北 湖南"])
    text = display(found, limit=20)
    assert len(text) <= 20 and text.startswith("北京市; 上海市")


def test_province_of_names_and_short_forms() -> None:
    assert province_of("江苏") == "江苏省"
    assert province_of("江苏省") == "江苏省"
    assert province_of("南京") == "江苏省"
    assert province_of("玄武区") == "江苏省"
    assert province_of(" 吉林 ") == "吉林省"  # the province wins over 吉林市
    assert province_of("鼓楼区") is None  # four provinces
    assert province_of("火星") is None
