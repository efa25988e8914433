"""Feed parsing and article extraction over real downloads, against a naive parse in the same run.

    .venv/bin/python bench/fixtures.py [--data PATH]

Reads ``fixtures/rssant_feeds/testdata`` (RSS/Atom/JSON feeds that parse, parse with
warnings or must fail, charset cases, HTML at feed URLs) and ``fixtures/gne_news_html``
(62 real Chinese news pages) under the shared data folder (``$YUQING_SHARED_DATA``,
default ``../shared/data`` next to the repository). Nothing is copied into the repository.

Baselines, run on the same files: feedparser alone on the raw bytes; for articles the
<title> plus the text of every <p>.
"""

from __future__ import annotations

import argparse
import html
import io
import os
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import feedparser
import lxml.html

from yuqing.sources.encoding import decode_body
from yuqing.sources.parsers import ParseError, extract_article, parse_feed

FEED_FOLDERS = ("parser/well", "parser/warn", "parser/failed", "encoding", "feed_type")
FEED_URL = "https://feeds.example.org/feed"
_HEADER = re.compile(rb"Header:\s*Content-type:\s*([^\r\n]+)", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>|\"title\":\s*\"(.*?)\"", re.DOTALL)


def default_data() -> Path:
    here = Path(__file__).resolve().parents[1]
    return Path(os.environ.get("YUQING_SHARED_DATA", here.parent / "shared" / "data"))


@dataclass
class FeedTally:
    parsed: int = 0
    warned: int = 0
    failed: int = 0
    crashed: int = 0
    titles_right: int = 0
    titles_checked: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    ms: list[float] = field(default_factory=list)


def reason_group(reason: str) -> str:
    reason = re.sub(r"（网页标题：.*?）", "", reason)
    reason = re.sub(r"第 \d+ 行：.*", "第 N 行 …", reason)
    return re.sub(r"\d+", "N", reason)


def expected_title(path: Path, body: bytes) -> str | None:
    """The first title as the charset named by the file (``gb2312:gb18030.xml``) reads it."""
    if path.parent.name not in ("chardet", "mixed"):
        return None
    name = path.name.split(".")[0]
    codec = "utf-8" if path.parent.name == "mixed" else name.split(":")[-1]
    try:
        text = body.decode(codec)
    except (LookupError, UnicodeDecodeError):
        return None
    match = _TITLE.search(text)
    return html.unescape(match.group(1) or match.group(2)).strip() if match else None


def first_title(feed_title: str | None, entry_titles: list[str]) -> str:
    return (feed_title or (entry_titles[0] if entry_titles else "") or "").strip()


def run_ours(path: Path, body: bytes, tally: FeedTally) -> None:
    header = _HEADER.search(body[:600])
    content_type = header.group(1).decode("ascii", "replace").strip() if header else None
    started = time.perf_counter()
    try:
        feed = parse_feed(body, url=FEED_URL, content_type=content_type)
    except ParseError as exc:
        tally.failed += 1
        tally.reasons[reason_group(exc.reason)] += 1
        return
    except Exception as exc:  # the figure that must stay 0
        tally.crashed += 1
        tally.reasons[f"崩溃：{type(exc).__name__}"] += 1
        return
    finally:
        tally.ms.append((time.perf_counter() - started) * 1000)
    if feed.warnings:
        tally.warned += 1
    else:
        tally.parsed += 1
    check_title(path, body, first_title(feed.title, [i.title for i in feed.items]), tally)


def run_baseline(path: Path, body: bytes, tally: FeedTally) -> None:
    started = time.perf_counter()
    try:
        parsed = feedparser.parse(io.BytesIO(body))
    except Exception:
        tally.crashed += 1
        return
    finally:
        tally.ms.append((time.perf_counter() - started) * 1000)
    entries = parsed.get("entries") or []
    if not parsed.get("version") and not entries:
        tally.failed += 1
        tally.reasons["feedparser: no version, no entries"] += 1
        return
    if parsed.get("bozo"):
        tally.warned += 1
    else:
        tally.parsed += 1
    titles = [e.get("title", "") for e in entries]
    check_title(path, body, first_title(parsed.feed.get("title"), titles), tally)


def check_title(path: Path, body: bytes, got: str, tally: FeedTally) -> None:
    expected = expected_title(path, body)
    if expected is not None:
        tally.titles_checked += 1
        tally.titles_right += got == expected


def feed_files(root: Path, folder: str) -> list[Path]:
    return sorted(p for p in (root / folder).rglob("*") if p.is_file())


def bench_feeds(root: Path) -> None:
    print("\n== Feeds: parse_feed vs feedparser alone (parsed / warned / failed / crashed)")
    header = f"{'folder':<15}{'files':>6}  {'ours':<22}{'baseline':<22}{'ms ours':>8}{'ms base':>8}"
    print(header)
    print("-" * len(header))
    all_reasons: dict[str, Counter[str]] = {}
    titles = [0, 0, 0]
    for folder in FEED_FOLDERS:
        ours, base = FeedTally(), FeedTally()
        files = feed_files(root, folder)
        for path in files:
            body = path.read_bytes()
            run_ours(path, body, ours)
            run_baseline(path, body, base)
        all_reasons[folder] = ours.reasons
        titles[0] += ours.titles_right
        titles[1] += base.titles_right
        titles[2] += ours.titles_checked
        print(
            f"{folder:<15}{len(files):>6}  {fmt(ours):<22}{fmt(base):<22}"
            f"{statistics.fmean(ours.ms):>8.1f}{statistics.fmean(base.ms):>8.1f}"
        )
    print(
        f"\ncharset cases (encoding/chardet, encoding/mixed) with the right title: "
        f"ours {titles[0]}/{titles[2]}, feedparser alone {titles[1]}/{titles[2]}"
    )
    print("target: parser/well all parse, parser/failed and feed_type all fail, 0 crashed")
    print("(encoding/xml holds empty feeds that test charset labels only: ours rejects a feed")
    print(" with neither title nor entries, feedparser accepts it)")
    print("\nfailure reasons (ours), grouped:")
    for folder, reasons in all_reasons.items():
        for reason, count in reasons.most_common():
            print(f"  {folder:<15}{count:>4}  {reason}")


def fmt(tally: FeedTally) -> str:
    return f"{tally.parsed}/{tally.warned}/{tally.failed}/{tally.crashed}"


@dataclass
class ArticleTally:
    title: int = 0
    time: int = 0
    time_on_page: int = 0
    author: int = 0
    body: int = 0
    failed: int = 0
    crashed: int = 0
    ms: list[float] = field(default_factory=list)


def article_ours(body: bytes, tally: ArticleTally) -> None:
    started = time.perf_counter()
    try:
        item = extract_article(body, url="https://news.example.cn/a/1.html")
    except ParseError:
        tally.failed += 1
        return
    except Exception:
        tally.crashed += 1
        return
    finally:
        tally.ms.append((time.perf_counter() - started) * 1000)
    tally.title += bool(item.title)
    tally.time += item.published_at is not None
    tally.time_on_page += item.published_at is not None and time_on_page(item.published_at, body)
    tally.author += bool(item.author)
    tally.body += len(item.text) >= 200


def time_on_page(value: datetime, body: bytes) -> bool:
    """Whether the Beijing date of ``value`` is written on the page in a common form."""
    local = value + timedelta(hours=8)
    text = decode_body(body, None).text
    forms = ("%Y-%m-%d", "%Y年%m月%d日", "%Y/%m/%d", f"{local.year}年{local.month}月{local.day}日")
    return any(local.strftime(form) in text for form in forms)


def article_baseline(body: bytes, tally: ArticleTally) -> None:
    started = time.perf_counter()
    try:
        tree = lxml.html.document_fromstring(body)
        title = tree.findtext(".//title") or ""
        text = "\n\n".join(p.text_content().strip() for p in tree.iter("p"))
    except Exception:
        tally.failed += 1
        return
    finally:
        tally.ms.append((time.perf_counter() - started) * 1000)
    tally.title += bool(title.strip())
    tally.body += len(text.strip()) >= 200


def bench_articles(root: Path) -> None:
    files = sorted(root.rglob("*.html"))
    ours, base = ArticleTally(), ArticleTally()
    for path in files:
        body = path.read_bytes()
        article_ours(body, ours)
        article_baseline(body, base)
    n = len(files)
    print(f"\n== Articles: extract_article vs <title> + all <p> ({n} pages)")
    print(f"{'figure':<22}{'ours':>8}{'baseline':>10}{'target':>10}")
    rows = [
        ("title", ours.title, base.title, n),
        ("time", ours.time, base.time, n * 9 // 10),
        ("time's date on page", ours.time_on_page, base.time_on_page, n * 9 // 10),
        ("author", ours.author, base.author, None),
        ("body >= 200 chars", ours.body, base.body, n * 9 // 10),
        ("failed (no body)", ours.failed, base.failed, None),
        ("crashed", ours.crashed, base.crashed, 0),
    ]
    for name, mine, theirs, target in rows:
        shown = "-" if target is None else (f"{target}" if name == "crashed" else f">={target}")
        print(f"{name:<22}{mine:>8}{theirs:>10}{shown:>10}")
    ms_ours, ms_base = statistics.fmean(ours.ms), statistics.fmean(base.ms)
    print(
        f"{'mean ms per page':<22}{ms_ours:>8.1f}{ms_base:>10.1f}{'<200':>10}"
        f"   (ours/baseline = {ms_ours / ms_base:.0f}x)"
    )
    print("baseline has no time or author extraction; its body is every <p>, menus included")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="shared data folder")
    args = parser.parse_args()
    fixtures = args.data / "fixtures"
    bench_feeds(fixtures / "rssant_feeds" / "testdata")
    bench_articles(fixtures / "gne_news_html")


if __name__ == "__main__":
    main()
