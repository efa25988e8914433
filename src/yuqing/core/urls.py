"""The URL that identifies an article, and its key: copies of one article share both.

Collectors use them (a list page skips links already stored) as well as the mention store,
so they sit in core."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track a click; dropping them makes one article one URL.
TRACKING_PARAMS = frozenset(
    {
        "spm",
        "from",
        "scene",
        "srcid",
        "share_token",
        "share_source",
        "share_medium",
        "sharer_sharetime",
        "sharer_shareid",
        "wfr",
        "isappinstalled",
        "timestamp",
        "vd_source",
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "refer",
        "referer",
        "_hsenc",
        "_hsmi",
        "igshid",
        "si",
        "utm_id",
        "chksm",
        "mpshare",
        "clicktime",
        "enterid",
        "sessionid",
        "subscene",
        "ascene",
        "devicetype",
        "version",
        "nettype",
        "lang",
        "exportkey",
        "pass_ticket",
        "wx_header",
        "xtrack",
        "tt_from",
        "app",
        "share_from",
        "sharefrom",
        "shareid",
        "shareuid",
    }
)
TRACKING_PREFIXES = ("utm_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci")
# WeChat article identity lives in these parameters; everything else is noise.
WECHAT_KEEP = frozenset({"__biz", "mid", "idx", "sn"})


def canonical_url(url: str | None) -> str | None:
    """The URL that identifies an article: lower-case host, no fragment, no tracking parameters."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    netloc = host
    if port and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        netloc = f"{host}:{port}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    if host == "mp.weixin.qq.com":
        query = [(k, v) for k, v in query if k in WECHAT_KEEP]
    else:
        query = [
            (k, v)
            for k, v in query
            if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
        ]
    query.sort()
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    # http and https copies of one article are the same article.
    return urlunsplit(("https", netloc, path, urlencode(query), ""))


def hash64(data: str) -> int:
    """A signed 64-bit key (BLAKE2b): an integer index is a quarter of a 32-character hex one,
    and at ten million items the chance that any two share a key is about 3 in a million."""
    digest = hashlib.blake2b(data.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def url_hash(url: str | None) -> int | None:
    """The key of an item's canonical URL: copies of one article share it."""
    canon = canonical_url(url)
    if not canon:
        return None
    return hash64(canon)
