"""Which platform an item was published on (微博, 微信, 新闻 …), worked out once at ingest.

The source's configured platform wins (a 微博 push source is 微博 whatever its links say);
otherwise the platform an import names in its 来源/平台 column; otherwise the item's URL host,
looked up in a data table of known hosts (mentions/data/platform_hosts.tsv), with two rules
for hosts not in it: government sites (``.gov.cn``) are 政务, ``bbs.``/``forum.`` hosts 论坛.
An item with none of these is 其他. The key is stored on the mention, so the stream filters
and indexes it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

PLATFORMS: dict[str, str] = {
    "weibo": "微博",
    "wechat": "微信",
    "douyin": "抖音",
    "kuaishou": "快手",
    "bilibili": "B站",
    "xiaohongshu": "小红书",
    "zhihu": "知乎",
    "tieba": "贴吧",
    "news": "新闻",
    "forum": "论坛",
    "gov": "政务",
    "video": "视频",
    "other": "其他",
}
"""Platform keys in the order the desk lists them, with their names."""
OTHER = "other"
HOSTS_FILE = Path(__file__).parent / "data" / "platform_hosts.tsv"
_FORUM_PREFIXES = ("bbs.", "forum.", "club.", "luntan.")
_GOV_SUFFIXES = (".gov.cn", ".gov")


@cache
def known_hosts() -> dict[str, str]:
    """The host table: host → platform key."""
    table: dict[str, str] = {}
    for line in HOSTS_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        host, platform = line.split("\t")
        if platform not in PLATFORMS:
            raise ValueError(f"{HOSTS_FILE.name}: 未知平台 {platform}（{host}）")
        table[host.strip().lower()] = platform
    return table


@cache
def _names() -> dict[str, str]:
    """Names an import's 来源/平台 column may hold → key ("微博", "新浪微博", "B站" …)."""
    names = {name: key for key, name in PLATFORMS.items()}
    names.update(
        {
            "新浪微博": "weibo",
            "微信公众号": "wechat",
            "公众号": "wechat",
            "哔哩哔哩": "bilibili",
            "百度贴吧": "tieba",
            "新闻网站": "news",
            "网媒": "news",
            "论坛社区": "forum",
            "政务网站": "gov",
            "视频网站": "video",
            "今日头条": "news",
        }
    )
    return names


def from_host(url: str | None) -> str | None:
    """The platform of a URL's host, or None when the host tells nothing."""
    if not url:
        return None
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if not host:
        return None
    table = known_hosts()
    parts = host.split(".")
    for i in range(len(parts) - 1):  # longest suffix first
        found = table.get(".".join(parts[i:]))
        if found:
            return found
    if host.endswith(_GOV_SUFFIXES):
        return "gov"
    if host.startswith(_FORUM_PREFIXES):
        return "forum"
    return None


def from_name(name: object) -> str | None:
    """The platform an import's 来源/平台 cell names (a key or a Chinese name), if any."""
    if not isinstance(name, str):
        return None
    cleaned = name.strip()
    return cleaned if cleaned in PLATFORMS else _names().get(cleaned)


def platform_of(*, configured: str | None, site: object, url: str | None) -> str:
    """An item's platform: the source's configured one, the named site, the URL host, else
    其他."""
    if configured in PLATFORMS:
        return str(configured)
    return from_name(site) or from_host(url) or OTHER


def label(key: str | None) -> str:
    """The Chinese name of a platform key (其他 for none)."""
    return PLATFORMS.get(key or OTHER, PLATFORMS[OTHER])
