"""Benchmark of Chinese full-text search at 1,000,000 items: the project beside tantivy.

    .venv/bin/python bench/search.py [--items 1000000] [--database-url postgresql://…]
                                     [--queries 40] [--recall 8] [--rebuild] [--reindex]
                                     [--build-only]

Built databases and indexes go under bench/out/, or ``$YUQING_BENCH_OUT`` (keep the 1M
builds outside the checkout, e.g. /tmp/bench, and reuse them across runs).

For each query length (2, 3, 4 characters) the same queries run, interleaved, through
the project's search (``search.search``: the tantivy index behind the search module, with
its change-log check), the database path alone (``search.search_database``: SQLite FTS5 or
PostgreSQL GIN plus substring check) and tantivy itself (its own API on the same index
files: a phrase of the query's bigrams, newest first, exact count). Every query runs once
to warm the caches, then five times through each, interleaved in a rotating order; a
query's figure is its median, and also its fastest run (on a shared, loaded machine the
fastest of five is the work itself, the median includes waiting for a core). Two figures
each: the hits alone (``search.search`` beside tantivy's API) and a results page, hits and
their rows (``search.search_page``, which on PostgreSQL reads the change log in the
statement of the rows, beside tantivy's hits plus the same load of their rows). Printed:
p50/p95 over the queries of each, the ratio to tantivy, recall and exact totals against a
substring scan of every listed row, first pages compared, index sizes, and the load
average before and after.

The SQLite database is built once from the dev stream (Weibo posts, replicated with
shifted times and small text edits so rows are distinct) and cached under bench/out/;
with ``--database-url`` the same rows go into that (empty) PostgreSQL database. The
tantivy index lives under bench/out/var-<name>/. Rows go in through
a bulk path that uses the same functions as ``store.ingest`` (``normalise_item`` for the
row, exact-copy linking on the content hash, ``search.index_rows`` for the index entries),
so rows and index entries are identical to what ingest stores; it only skips ingest's
per-batch lookups of rows already stored, which cannot exist in a fresh build.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import tantivy
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from yuqing.core.database import make_engine, upgrade_database
from yuqing.core.settings import reset_settings_cache
from yuqing.core.timeutil import utcnow
from yuqing.mentions import search, search_index
from yuqing.mentions.batch import INSERTED_COLUMNS
from yuqing.mentions.items import normalise_item
from yuqing.mentions.models import Mention
from yuqing.sources.schemas import ItemIn

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
STREAM = DATA / "events" / "ced_stream_dev.jsonl.gz"
# Built databases and indexes (large): YUQING_BENCH_OUT keeps them outside the checkout.
OUT = Path(os.environ.get("YUQING_BENCH_OUT") or REPO / "bench" / "out")
TARGET_RATIO = 2.0
ROUNDS = 5
SOURCES = (("微博推送", "push"), ("新闻订阅", "rss"), ("导入文件", "import"), ("网页监测", "page"))
SUFFIXES = ("", "（转）", " 来自微博", "！", "。", " 求扩散", "[心]", " 关注中")
COMMON = {
    2: ["中国", "我们", "一个", "没有", "大家", "转发", "什么", "自己", "今天", "政府"],
    3: ["为什么", "不知道", "中国人", "有没有", "是不是", "太可怕", "所有人", "怎么办"],
    4: ["中华人民", "转发微博", "是不是真", "大家小心", "请大家转", "有没有人", "人民日报"],
}
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
LISTED = "status = 'new' AND near_group_id IS NULL"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def base_posts() -> list[dict[str, Any]]:
    with gzip.open(STREAM, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def variant(post: dict[str, Any], copy: int, rng: random.Random) -> tuple[str, datetime | None]:
    """Copy ``copy`` of a post: times shifted by weeks, one character dropped, a suffix added."""
    body = post.get("text") or ""
    when = ItemIn.model_validate({"time": post.get("time")}).published_at
    if copy == 0:
        return body, when
    if len(body) > 4:
        cut = rng.randrange(len(body))
        body = body[:cut] + body[cut + 1 :]
    body += SUFFIXES[copy % len(SUFFIXES)] + (str(copy) if rng.random() < 0.5 else "")
    if when is not None:
        when += timedelta(days=23 * copy, minutes=rng.randrange(600))
    return body, when


def rows_to_store(posts: list[dict[str, Any]], items: int) -> Iterator[dict[str, Any]]:
    now = utcnow()
    rng = random.Random(7)
    n = 0
    copy = 0
    while True:
        for line, post in enumerate(posts):
            if n >= items:
                return
            body, when = variant(post, copy, rng)
            item = ItemIn(external_id=f"{copy}-{line}", text=body, published_at=when)
            source_id = 1 + (line + copy) % len(SOURCES)
            try:
                values = normalise_item(item, source_id=source_id, now=now).columns()
            except ValueError:
                continue
            n += 1
            yield values
        copy += 1


COLUMNS = ("id", *INSERTED_COLUMNS)


def build(path: Path, items: int) -> None:
    """Fill a fresh database with ``items`` mentions and their index entries."""
    path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    posts = base_posts()
    log(f"building {items:,} items from {len(posts):,} posts into {path}")
    started = time.perf_counter()
    first_of_hash: dict[str, int] = {}
    bumps: dict[int, int] = {}
    batch: list[tuple[Any, ...]] = []
    to_index: list[tuple[int, str]] = []
    with Session(engine) as session:
        for i, (name, kind) in enumerate(SOURCES, start=1):
            session.execute(
                text(
                    "INSERT INTO source(id, name, kind, enabled, interval_seconds, created_at,"
                    " consecutive_failures, count_new, count_duplicate, count_updated,"
                    " count_failed, count_filtered) VALUES (:i, :n, :k, 1, 900, :t,"
                    " 0, 0, 0, 0, 0, 0)"
                ),
                {"i": i, "n": name, "k": kind, "t": utcnow()},
            )
        placeholders = ", ".join("?" for _ in COLUMNS)
        insert = f"INSERT INTO mention({', '.join(COLUMNS)}) VALUES ({placeholders})"
        for mention_id, values in enumerate(rows_to_store(posts, items), start=1):
            values["id"] = mention_id
            first = first_of_hash.setdefault(values["content_hash"], mention_id)
            if first != mention_id:  # an exact copy, linked as ingest links it
                values["status"], values["duplicate_of_id"] = "duplicate", first
                bumps[first] = bumps.get(first, 0) + 1
            else:
                to_index.append((mention_id, values["search_text"]))
            batch.append(tuple(_sqlite_value(values[c]) for c in COLUMNS))
            if len(batch) >= 20_000:
                _flush(session, insert, batch, to_index)
                rate = mention_id / (time.perf_counter() - started)
                log(f"  {mention_id:>9,} / {items:,}  ({rate:,.0f} items/s)")
        _flush(session, insert, batch, to_index)
        _raw(session).executemany(
            "UPDATE mention SET duplicate_count = ? WHERE id = ?",
            [(n, first) for first, n in bumps.items()],
        )
        session.commit()
        log("optimising the index")
        search.optimize_index(session)
        session.execute(text("ANALYZE"))
        session.commit()
    engine.dispose()
    log(f"built in {time.perf_counter() - started:,.0f} s")


def _sqlite_value(value: Any) -> Any:
    # The same text form SQLAlchemy's SQLite DateTime type stores.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def _raw(session: Session) -> Any:
    """The driver's connection the session holds now (a commit hands it back to the pool,
    which may give the session another one next time)."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    return raw


def _flush(
    session: Session, insert: str, batch: list[Any], to_index: list[tuple[int, str]]
) -> None:
    _raw(session).executemany(insert, batch)
    search.index_rows(session, to_index)
    session.commit()
    batch.clear()
    to_index.clear()


def reindex(engine: Engine) -> None:
    started = time.perf_counter()
    with Session(engine) as session:
        count = search.rebuild_index(session)
        session.commit()
        search.optimize_index(session)
        session.commit()
    log(f"reindexed {count:,} mentions in {time.perf_counter() - started:,.0f} s")


def build_postgres(engine: Engine, items: int) -> None:
    """Fill an empty PostgreSQL database with the same rows as ``build`` (COPY), then the
    database's own index (``search.index_rows``)."""
    upgrade_database(engine)
    posts = base_posts()
    log(f"building {items:,} items from {len(posts):,} posts into PostgreSQL")
    started = time.perf_counter()
    first_of_hash: dict[str, int] = {}
    bumps: dict[int, int] = {}
    to_index: list[tuple[int, str]] = []
    with Session(engine) as session:
        for i, (name, kind) in enumerate(SOURCES, start=1):
            session.execute(
                text(
                    "INSERT INTO source(id, name, kind, enabled, interval_seconds, created_at,"
                    " consecutive_failures, count_new, count_duplicate, count_updated,"
                    " count_failed, count_filtered) VALUES (:i, :n, :k, true, 900, :t,"
                    " 0, 0, 0, 0, 0, 0)"
                ),
                {"i": i, "n": name, "k": kind, "t": utcnow()},
            )
        raw: Any = session.connection().connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY mention ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for mention_id, values in enumerate(rows_to_store(posts, items), start=1):
                    values["id"] = mention_id
                    first = first_of_hash.setdefault(values["content_hash"], mention_id)
                    if first != mention_id:
                        values["status"], values["duplicate_of_id"] = "duplicate", first
                        bumps[first] = bumps.get(first, 0) + 1
                    else:
                        to_index.append((mention_id, values["search_text"]))
                    copy.write_row([values[c] for c in COLUMNS])
                    if mention_id % 100_000 == 0:
                        log(f"  {mention_id:>9,} / {items:,} copied")
            cursor.executemany(
                "UPDATE mention SET duplicate_count = %s WHERE id = %s",
                [(n, first) for first, n in bumps.items()],
            )
            cursor.execute("SELECT setval('mention_id_seq', (SELECT max(id) FROM mention))")
        session.commit()
        log("indexing in the database (GIN)")
        for start in range(0, len(to_index), 20_000):
            search.index_rows(session, to_index[start : start + 20_000])
            session.commit()
        session.execute(text("ANALYZE"))
        session.commit()
    log(f"built in {time.perf_counter() - started:,.0f} s")


def pick_queries(session: Session, length: int, count: int, seed: int) -> list[str]:
    """Han substrings sampled from stored texts (frequent ones come up often), plus common
    words; fixed seed."""
    rng = random.Random(seed * 100 + length)
    top = session.execute(text("SELECT max(id) FROM mention")).scalar_one()
    picked: list[str] = list(COMMON[length])
    while len(picked) < count:
        form = session.execute(
            text(f"SELECT search_text FROM mention WHERE id = :id AND {LISTED}"),
            {"id": rng.randint(1, top)},
        ).scalar()
        runs = [r for r in _HAN_RUN.findall(form or "") if len(r) >= length]
        if runs:
            run = rng.choice(runs)
            start = rng.randrange(len(run) - length + 1)
            picked.append(run[start : start + length])
    return list(dict.fromkeys(picked))[:count]


def substring_ids(session: Session, query: str) -> set[int]:
    find = "instr" if session.get_bind().dialect.name == "sqlite" else "strpos"
    sql = f"SELECT id FROM mention WHERE {LISTED} AND {find}(search_text, :q) > 0"
    return {row[0] for row in session.execute(text(sql), {"q": query})}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Peer:
    """tantivy through its own API on the project's index files: the engine's floor."""

    def __init__(self, path: Path) -> None:
        self.index = tantivy.Index.open(str(path))
        self.schema = self.index.schema
        self.searcher = self.index.searcher()

    def search(self, query: str, limit: int = 20) -> tuple[list[int], int]:
        bigrams: list[str | tuple[int, str]] = [query[i : i + 2] for i in range(len(query) - 1)]
        if len(bigrams) == 1:
            wanted = tantivy.Query.term_query(self.schema, "body", bigrams[0])
        else:
            wanted = tantivy.Query.phrase_query(self.schema, "body", bigrams)
        found = self.searcher.search(wanted, limit=limit, count=True, order_by_field="key")
        total = cast(Any, found).count  # missing from the type stubs
        return [int(key) & ((1 << 31) - 1) for key, _ in found.hits], int(total)


def measure(engine: Engine, peer: Peer, args: argparse.Namespace) -> list[tuple[str, ...]]:
    table: list[tuple[str, ...]] = []
    with Session(engine) as session:
        listed = session.execute(text(f"SELECT count(*) FROM mention WHERE {LISTED}")).scalar()
        log(f"{listed:,} listed mentions")
        for length in (2, 3, 4):
            queries = pick_queries(session, length, args.queries, args.seed)
            ways: dict[str, Callable[[str], tuple[list[int], int]]] = {
                "project": lambda q: _page(search.search(session, q, limit=20)),
                "database": lambda q: _page(
                    search.search_database(
                        session, search.plan_query(q), filters=search.SearchFilters(), limit=20
                    )
                ),
                "tantivy": peer.search,
                # A results page: the hits and their rows. The project reads the change log
                # in the statement that loads the rows (PostgreSQL); tantivy alone needs the
                # same load of the rows from the database to show its hits.
                "project page": lambda q: _page(search.search_page(session, q, limit=20)[0]),
                "tantivy page": lambda q: _with_rows(session, peer.search(q)),
                # One round trip to the database: the floor of the project's check of the
                # change log before each search (what it adds to tantivy on PostgreSQL).
                "round trip": lambda _q: _round_trip(session),
            }
            for q in queries:  # warm: the index files are mapped, the first touch reads disk
                for way in ways.values():
                    way(q)
            times: dict[str, list[float]] = {name: [] for name in ways}
            best: dict[str, list[float]] = {name: [] for name in ways}
            pages: dict[str, dict[str, tuple[list[int], int]]] = {name: {} for name in ways}
            names = list(ways)
            for i, q in enumerate(queries):
                # Interleaved, in a rotating order, ROUNDS times: each figure is a query's
                # median, so a stall of the shared machine hits every way alike.
                runs: dict[str, list[float]] = {name: [] for name in ways}
                for r in range(ROUNDS):
                    for name in names[(i + r) % len(names) :] + names[: (i + r) % len(names)]:
                        started = time.perf_counter()
                        pages[name][q] = ways[name](q)
                        runs[name].append((time.perf_counter() - started) * 1000)
                for name, values in runs.items():
                    times[name].append(statistics.median(values))
                    best[name].append(min(values))
            same_pages = sum(
                pages["project"][q] == pages["tantivy"][q] == pages["project page"][q]
                for q in queries
            )
            db_same = sum(pages["project"][q][0] == pages["database"][q][0] for q in queries)
            recall_queries = random.Random(args.seed + length).sample(queries, args.recall)
            found = expected = false_hits = exact_totals = 0
            for q in recall_queries:
                truth = substring_ids(session, q)
                page = search.search(session, q, limit=10_000_000)
                got = set(page.ids)
                expected += len(truth)
                found += len(truth & got)
                false_hits += len(got - truth)
                exact_totals += page.total == len(truth) and not page.total_capped
            p95 = {name: percentile(values, 95) for name, values in times.items()}
            p50 = {name: percentile(values, 50) for name, values in times.items()}
            ratio = p95["project"] / p95["tantivy"]
            b95 = {name: percentile(values, 95) for name, values in best.items()}
            b50 = {name: percentile(values, 50) for name, values in best.items()}
            best_ratio = b95["project"] / b95["tantivy"]
            recall = found / expected if expected else 1.0
            slowest = max(zip(times["project"], queries, strict=True))
            log(
                f"{length} chars: project p50 {p50['project']:.2f} p95 {p95['project']:.2f} ms"
                f" (slowest {slowest[1]} {slowest[0]:.1f}); tantivy p50 {p50['tantivy']:.2f}"
                f" p95 {p95['tantivy']:.2f}; database p50 {p50['database']:.1f}"
                f" p95 {p95['database']:.1f}; median total"
                f" {statistics.median(pages['project'][q][1] for q in queries):,.0f}"
            )
            table.append(
                (
                    f"{length}-char hits (search.search), median of {ROUNDS}: p50 / p95",
                    f"{p50['project']:.2f} / {p95['project']:.2f}",
                    f"{p50['tantivy']:.2f} / {p95['tantivy']:.2f}",
                    f"{ratio:.2f}× {'ok' if ratio <= TARGET_RATIO else 'MISSED'}",
                    f"{p50['database']:.1f} / {p95['database']:.1f}",
                )
            )
            table.append(
                (
                    f"{length}-char hits (search.search), best of {ROUNDS}: p50 / p95",
                    f"{b50['project']:.2f} / {b95['project']:.2f}",
                    f"{b50['tantivy']:.2f} / {b95['tantivy']:.2f}",
                    f"{best_ratio:.2f}× {'ok' if best_ratio <= TARGET_RATIO else 'MISSED'}",
                    f"{b50['database']:.1f} / {b95['database']:.1f}",
                )
            )
            page_ratio = p95["project page"] / p95["tantivy page"]
            best_page_ratio = b95["project page"] / b95["tantivy page"]
            table.append(
                (
                    f"{length}-char page (hits + rows), median: p50 / p95",
                    f"{p50['project page']:.2f} / {p95['project page']:.2f}",
                    f"{p50['tantivy page']:.2f} / {p95['tantivy page']:.2f}",
                    f"{page_ratio:.2f}× {'ok' if page_ratio <= TARGET_RATIO else 'MISSED'}",
                    "",
                )
            )
            table.append(
                (
                    f"{length}-char page (hits + rows), best: p50 / p95",
                    f"{b50['project page']:.2f} / {b95['project page']:.2f}",
                    f"{b50['tantivy page']:.2f} / {b95['tantivy page']:.2f}",
                    f"{best_page_ratio:.2f}× {'ok' if best_page_ratio <= TARGET_RATIO else 'MISSED'}",
                    "",
                )
            )
            table.append(
                (
                    f"{length}-char database round trip p50 / p95 (ms)",
                    f"{p50['round trip']:.2f} / {p95['round trip']:.2f}",
                    "",
                    "",
                    "",
                )
            )
            table.append(
                (
                    f"{length}-char pages and totals ({len(queries)} q)",
                    f"{same_pages}/{len(queries)} equal tantivy's",
                    "",
                    "",
                    f"{db_same}/{len(queries)} first pages equal",
                )
            )
            table.append(
                (
                    f"{length}-char recall ({len(recall_queries)} q, all hits)",
                    f"{recall:.2%} ({found:,}/{expected:,}), {false_hits} false",
                    "",
                    f"{exact_totals}/{len(recall_queries)} totals exact",
                    "",
                )
            )
    return table


def _round_trip(session: Session) -> tuple[list[int], int]:
    session.connection().exec_driver_sql("SELECT 1").all()
    return [], 0


def _page(page: search.SearchPage) -> tuple[list[int], int]:
    return page.ids, page.total


def _with_rows(session: Session, found: tuple[list[int], int]) -> tuple[list[int], int]:
    """tantivy's hits with their rows loaded from the database, as a page needs them."""
    if found[0]:
        session.execute(select(Mention).where(Mention.id.in_(found[0]))).scalars().all()
    return found


def database_index_mib(engine: Engine) -> float:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            size = connection.execute(
                text(
                    "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'mention_fts%'"
                    " OR name LIKE 'sqlite_autoindex_mention_fts%'"
                )
            ).scalar_one()
        else:
            size = connection.execute(
                text("SELECT pg_total_relation_size('mention_fts')")
            ).scalar_one()
    return float(size) / 2**20


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="", help="PostgreSQL instead of SQLite")
    parser.add_argument("--queries", type=int, default=40, help="queries per length")
    parser.add_argument("--recall", type=int, default=8, help="queries per length for recall")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    parser.add_argument(
        "--reindex", action="store_true", help="rebuild the search indexes (after a change)"
    )
    parser.add_argument(
        "--build-only", action="store_true", help="build the database and index, measure nothing"
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.database_url:
        name = f"pg_{args.database_url.rsplit('/', 1)[-1]}"
        engine = make_engine(args.database_url)
        with engine.connect() as connection:
            upgrade_database(engine)
            stored = connection.execute(text("SELECT count(*) FROM mention")).scalar_one()
        if stored == 0:
            build_postgres(engine, args.items)
        elif stored != args.items:
            sys.exit(f"{args.database_url} holds {stored:,} mentions, not {args.items:,}")
    else:
        path = OUT / f"search_{args.items}.db"
        name = path.stem
        if args.rebuild or not path.exists():
            build(path, args.items)
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM mention")).scalar_one()
        if stored != args.items:  # a build that stopped half way
            sys.exit(f"{path} holds {stored:,} mentions, not {args.items:,}: run with --rebuild")
    # The project's tantivy index of this database, under bench/out/.
    os.environ["YUQING_DATA_DIR"] = str(OUT / f"var-{name}")
    os.environ.pop("YUQING_SEARCH_INDEX", None)
    reset_settings_cache()
    if args.reindex:
        reindex(engine)
    built_seconds = None
    root = search_index.index_root()
    assert root is not None
    if args.reindex or search_index.catch_up(engine, build=False) is None:
        started = time.perf_counter()
        count = search_index.rebuild(engine)
        built_seconds = time.perf_counter() - started
        log(f"tantivy index: {count:,} mentions in {built_seconds:,.0f} s")
    if args.build_only:
        return
    index_path = next(p for p in root.iterdir() if p.is_dir())
    before = loadavg()
    table = measure(engine, Peer(index_path), args)
    after = loadavg()
    tantivy_mib = (search_index.index_size(engine) or 0) / 2**20
    database_mib = database_index_mib(engine)
    print(
        f"\nChinese full-text search, {args.items:,} items, {engine.dialect.name}; "
        f"load average before {before}, after {after}"
    )
    print(
        f"index size: tantivy (project) {tantivy_mib:,.1f} MiB; the database's own "
        f"({'FTS5' if engine.dialect.name == 'sqlite' else 'GIN + tsvector'}) "
        f"{database_mib:,.1f} MiB"
        + (f"; tantivy built in {built_seconds:,.0f} s" if built_seconds else "")
    )
    header = ("figure", "project", "tantivy (same run)", "ratio ≤ 2×", "database path")
    widths = [max(len(str(r[i])) for r in [header, *table]) + 2 for i in range(5)]
    for row in [header, *table]:
        print("".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
