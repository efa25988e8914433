"""Full-text search in Chinese over overlapping character bigrams, on SQLite FTS5 and PostgreSQL.

Word segmentation misses substrings that cross word boundaries (jieba tokens found 73% of
two-character hits in our measurements), and the trigram tokenizer cannot index a
two-character query. So, as Lucene's CJK analyser does, each run of Han characters is
indexed as its overlapping bigrams plus its last character; Latin words and numbers are
indexed whole. A query is tokenised the same way, the index returns the rows holding every
token, and a substring check on the stored Simplified text keeps only true hits. Every item
containing the query as a substring is found (recall 100%), and nothing else is returned.

Queries of Han terms of two or more characters are answered from a tantivy index beside
the database, where the same bigrams keep their positions (mentions/search_index.py);
everything else from the database's own index, as described here (docs/search.md).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup, escape
from sqlalchemy import DateTime, TextClause, bindparam, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from yuqing.core import counting
from yuqing.core.database import pg_array
from yuqing.mentions import search_index
from yuqing.mentions.models import Mention
from yuqing.mentions.normalise import to_simplified

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_HAN}]+|[0-9a-z\u00c0-\u024f]+")
_HAN_RUN = re.compile(rf"[{_HAN}]+")

# The FTS5 rowid is a time key, (published second << 31) | mention id, so the index hands
# back candidates newest first and a page stops after its first hits instead of sorting every
# candidate of a common bigram. detail=none keeps no positions: lookups are AND of tokens
# plus a substring check, which needs none, and the index is several times smaller.
KEY_SHIFT = 31
ID_MASK = (1 << KEY_SHIFT) - 1


def _key_sql(row: str) -> str:
    seconds = f"max(0, coalesce(CAST(strftime('%s', {row}.published_at) AS INTEGER), 0))"
    return f"(({seconds} << {KEY_SHIFT}) | {row}.id)"


def _unindex_sql(mention_id: str) -> str:
    return (
        f"DELETE FROM mention_fts WHERE rowid = "
        f"(SELECT key FROM mention_fts_key WHERE mention_id = {mention_id}); "
        f"DELETE FROM mention_fts_key WHERE mention_id = {mention_id};"
    )


_SQLITE_FTS_ONLY = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS mention_fts USING fts5("
    "body, tokenize = 'unicode61 remove_diacritics 0', detail = none)",
    "CREATE TABLE IF NOT EXISTS mention_fts_key ("
    " mention_id INTEGER PRIMARY KEY, key INTEGER NOT NULL)",
    # The index holds listed mentions only and follows their times, whoever changes them.
    "CREATE TRIGGER IF NOT EXISTS mention_fts_delete AFTER DELETE ON mention BEGIN "
    + _unindex_sql("old.id")
    + " END",
    "CREATE TRIGGER IF NOT EXISTS mention_fts_unlist AFTER UPDATE OF status ON mention "
    "WHEN new.status <> 'new' BEGIN " + _unindex_sql("old.id") + " END",
    "CREATE TRIGGER IF NOT EXISTS mention_fts_retime AFTER UPDATE OF published_at ON mention "
    "BEGIN UPDATE mention_fts SET rowid = " + _key_sql("new") + " WHERE rowid = "
    "(SELECT key FROM mention_fts_key WHERE mention_id = new.id); "
    "UPDATE mention_fts_key SET key = " + _key_sql("new") + " WHERE mention_id = new.id; END",
)
_SQLITE_FTS_ONLY_DROP = (
    "DROP TRIGGER IF EXISTS mention_fts_delete",
    "DROP TRIGGER IF EXISTS mention_fts_unlist",
    "DROP TRIGGER IF EXISTS mention_fts_retime",
    "DROP TABLE IF EXISTS mention_fts_key",
    "DROP TABLE IF EXISTS mention_fts",
)
# Built from a text array, not parsed: no positions (AND needs none, and the 16,383-position
# limit of a tsvector never applies) and no dependence on the server's locale.
_POSTGRES_FTS_ONLY = (
    "CREATE TABLE IF NOT EXISTS mention_fts ("
    " rowid BIGINT PRIMARY KEY REFERENCES mention(id) ON DELETE CASCADE,"
    " body TSVECTOR NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_mention_fts_body ON mention_fts USING GIN (body)",
)
# What the migration creates: the database's index and the change log that the tantivy
# index follows (mentions/search_index.py).
SQLITE_FTS_DDL = _SQLITE_FTS_ONLY + search_index.CHANGE_LOG_SQLITE
SQLITE_FTS_DROP = search_index.CHANGE_LOG_SQLITE_DROP + _SQLITE_FTS_ONLY_DROP
POSTGRES_FTS_DDL = _POSTGRES_FTS_ONLY + search_index.CHANGE_LOG_POSTGRES


def search_form(title: str, text: str) -> str:
    """The text that searches look in: Simplified, lower-case title and body."""
    return to_simplified(f"{title}\n{text}").lower()


_RUNS = re.compile(rf"([{_HAN}]+)|([0-9a-z\u00c0-\u024f]+)")


def index_tokens(form: str) -> list[str]:
    """Tokens to index for a search form: Han bigrams plus each run's last character."""
    tokens: list[str] = []
    for han, other in _RUNS.findall(form):
        if han:
            tokens.extend(map(str.__add__, han[:-1], han[1:]))
            tokens.append(han[-1])
        else:
            tokens.append(other)
    return tokens


def index_body(form: str) -> str:
    """The indexed text: each distinct token once (the index keeps no positions or counts)."""
    return " ".join(dict.fromkeys(index_tokens(form)))


def _time_key(mention_id: int, published_at: datetime) -> int:
    """The FTS rowid of a mention, as ``_key_sql`` computes it in SQL."""
    seconds = calendar.timegm(published_at.timetuple()) if published_at else 0
    return (max(0, seconds) << KEY_SHIFT) | mention_id


@dataclass(frozen=True)
class QueryPlan:
    """What a user's query becomes: substrings to check and index tokens to look up."""

    terms: tuple[str, ...]
    tokens: tuple[str, ...]
    prefix_tokens: tuple[str, ...]


class SearchQueryError(ValueError):
    """A search query that cannot be run, with a message for the user."""


MAX_TERMS = 32
"""Words a search may combine: each is one more condition in the SQL (SQLite refuses an
expression tree about a thousand deep), and no reader types more."""
MAX_INDEX_TOKENS = 32
"""Index tokens looked up for one search. A long phrase has one bigram per character; the
first few narrow the candidates as well as all of them, and every term is still checked in
full on each candidate, so the hits are the same."""


def plan_query(query: str) -> QueryPlan:
    """Split a query into terms (AND); quoted text is one term."""
    query = to_simplified(query.strip()).lower()
    raw_terms = re.findall(r'"([^"]+)"|(\S+)', query)
    terms = tuple(dict.fromkeys(t[0] or t[1] for t in raw_terms if (t[0] or t[1]).strip()))
    tokens: list[str] = []
    prefixes: list[str] = []
    for term in terms:
        pieces = _TOKEN.findall(term)
        for piece in pieces:
            if _HAN_RUN.fullmatch(piece):
                if len(piece) == 1:
                    prefixes.append(piece)
                else:
                    tokens.extend(piece[i : i + 2] for i in range(len(piece) - 1))
            else:
                # A Latin or digit piece may sit inside a longer word: look it up as a prefix.
                prefixes.append(piece)
    if not terms:
        raise SearchQueryError("请输入要搜索的内容")
    if len(terms) > MAX_TERMS:
        raise SearchQueryError(
            f"查询词过多：最多 {MAX_TERMS} 个，本次 {len(terms)} 个；请只保留最能区分的词"
        )
    if not tokens and not prefixes:
        raise SearchQueryError("查询中没有可检索的汉字、字母或数字")
    looked_up = tuple(dict.fromkeys(tokens))[:MAX_INDEX_TOKENS]
    prefixed = tuple(dict.fromkeys(prefixes))[: max(0, MAX_INDEX_TOKENS - len(looked_up))]
    return QueryPlan(terms, looked_up, prefixed)


def _fts5_match(plan: QueryPlan) -> str:
    parts = [f'"{t}"' for t in plan.tokens] + [f'"{p}" *' for p in plan.prefix_tokens]
    return " AND ".join(parts)


def _tsquery(plan: QueryPlan) -> str:
    def quote(token: str) -> str:
        return "'" + token.replace("'", "''").replace("\\", "\\\\") + "'"

    parts = [quote(t) for t in plan.tokens] + [quote(p) + ":*" for p in plan.prefix_tokens]
    return " & ".join(parts)


@dataclass
class SearchFilters:
    """What a search (or the stream) is narrowed to; ``None`` means no limit."""

    start: datetime | None = None
    end: datetime | None = None
    source_id: int | None = None
    source_kind: str | None = None
    sentiment: str | None = None  # positive | neutral | negative
    province: str | None = None  # a province's 6-digit code: any place in it counts
    min_risk: int | None = None
    scheme_id: int | None = None


@dataclass
class SearchPage:
    ids: list[int]
    total: int
    total_capped: bool


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def create_index(session: Session) -> None:
    """Create the full-text tables for the session's database (the migration runs the same)."""
    ddl = _SQLITE_FTS_ONLY if _dialect(session) == "sqlite" else _POSTGRES_FTS_ONLY
    for statement in ddl:
        session.execute(sql(statement))


def index_rows(session: Session, rows: list[tuple[int, str]]) -> None:
    """Add or replace index entries: ``(mention_id, search_form)`` pairs of listed mentions,
    already stored with their publication time."""
    if not rows:
        return
    if _dialect(session) != "sqlite":
        # One statement: the ids and the tokens (joined by a control character, which
        # search forms never hold) as two arrays, written as literals (``pg_array``); one
        # row per statement took twice as long.
        mention_ids = list(dict.fromkeys(mid for mid, _ in rows))
        forms = dict(rows)
        joined = ["\x1f".join(dict.fromkeys(index_tokens(forms[mid]))) for mid in mention_ids]
        session.connection().exec_driver_sql(
            "INSERT INTO mention_fts(rowid, body) "
            "SELECT i, array_to_tsvector(string_to_array(t, chr(31))) "
            "FROM unnest(%s::bigint[], %s::text[]) AS u(i, t) "
            "ON CONFLICT (rowid) DO UPDATE SET body = EXCLUDED.body",
            (pg_array(mention_ids), pg_array(joined)),
        )
        return
    if max(mid for mid, _ in rows) > ID_MASK:
        raise OverflowError(f"信息编号 {max(mid for mid, _ in rows)} 超出全文索引的范围")
    ids = [{"id": mid} for mid, _ in rows]
    unindex(session, [mid for mid, _ in rows])
    session.execute(
        sql(
            "INSERT INTO mention_fts_key(mention_id, key) "
            f"SELECT m.id, {_key_sql('m')} FROM mention m WHERE m.id = :id"
        ),
        ids,
    )
    session.execute(
        sql(
            "INSERT INTO mention_fts(rowid, body) "
            "SELECT key, :body FROM mention_fts_key WHERE mention_id = :id"
        ),
        [{"id": mid, "body": index_body(form)} for mid, form in rows],
    )


def index_new(session: Session, rows: list[tuple[int, str, datetime]]) -> None:
    """Index mentions inserted in this transaction: ``(id, search_form, published_at)``.

    They have no entry yet, so on SQLite nothing is deleted first and the time key is
    computed here; the rows go to the driver's executemany directly, since per-row
    parameter processing was a tenth of ingest time.
    """
    if not rows:
        return
    if _dialect(session) != "sqlite":
        index_rows(session, [(mid, form) for mid, form, _ in rows])
        return
    if max(mid for mid, _, _ in rows) > ID_MASK:
        raise OverflowError(f"信息编号 {max(mid for mid, _, _ in rows)} 超出全文索引的范围")
    keys = [(mid, _time_key(mid, published)) for mid, _, published in rows]
    connection = session.connection()
    connection.exec_driver_sql("INSERT INTO mention_fts_key(mention_id, key) VALUES (?, ?)", keys)
    connection.exec_driver_sql(
        "INSERT INTO mention_fts(rowid, body) VALUES (?, ?)",
        [(key, index_body(form)) for (_, key), (_, form, _) in zip(keys, rows, strict=True)],
    )


def unindex(session: Session, mention_ids: list[int]) -> None:
    """Remove index entries (SQLite's triggers already do it for deleted or unlisted rows)."""
    if not mention_ids:
        return
    ids = [{"id": i} for i in mention_ids]
    if _dialect(session) != "sqlite":
        session.execute(sql("DELETE FROM mention_fts WHERE rowid = :id"), ids)
        return
    for statement in _unindex_sql(":id").split(";")[:2]:
        session.execute(sql(statement), ids)


def rebuild_index(session: Session, *, batch: int = 20_000) -> int:
    """Index every listed mention again from its stored search text; returns the count."""
    ddl = _SQLITE_FTS_ONLY_DROP if _dialect(session) == "sqlite" else ("DROP TABLE mention_fts",)
    for statement in ddl:
        session.execute(sql(statement))
    create_index(session)
    done, last = 0, 0
    while True:
        rows = session.execute(
            sql(
                "SELECT id, search_text FROM mention WHERE status = 'new' AND id > :last "
                "ORDER BY id LIMIT :batch"
            ),
            {"last": last, "batch": batch},
        ).all()
        if not rows:
            return done
        index_rows(session, [(r[0], r[1]) for r in rows])
        done, last = done + len(rows), rows[-1][0]


def optimize_index(session: Session) -> None:
    """Merge the index segments (after a bulk load); PostgreSQL needs nothing."""
    if _dialect(session) == "sqlite":
        session.execute(sql("INSERT INTO mention_fts(mention_fts) VALUES ('optimize')"))


def _filter_sql(filters: SearchFilters, params: dict[str, object]) -> list[str]:
    # What the stream lists: not an exact copy, not a member of a near-duplicate group (its
    # representative stands for it and shows "另有 N 条相似").
    where = ["m.status = 'new'", "m.near_group_id IS NULL"]
    if filters.start:
        where.append("m.published_at >= :start")
        params["start"] = _naive_utc(filters.start)
    if filters.end:
        where.append("m.published_at < :end")
        params["end"] = _naive_utc(filters.end)
    if filters.source_id:
        where.append("m.source_id = :source_id")
        params["source_id"] = filters.source_id
    if filters.source_kind:
        where.append("m.source_id IN (SELECT s.id FROM source s WHERE s.kind = :source_kind)")
        params["source_kind"] = filters.source_kind
    return where + _analysis_sql(filters, params, "m")


def _analysis_sql(filters: SearchFilters, params: dict[str, object], row: str) -> list[str]:
    """Conditions on the analysis of the mention row ``row``; the EXISTS lookups go by
    mention id, so a candidate costs one index probe whatever the plan's outer loop."""
    where: list[str] = []
    if filters.sentiment:
        where.append(f"{row}.sentiment = :sentiment")
        params["sentiment"] = filters.sentiment
    if filters.min_risk:
        where.append(f"{row}.risk_score >= :min_risk")
        params["min_risk"] = filters.min_risk
    if filters.province:
        # Administrative codes start with their province's two digits.
        where.append(
            "EXISTS (SELECT 1 FROM mention_place mp "
            f"WHERE mp.mention_id = {row}.id AND mp.code LIKE :province_prefix)"
        )
        params["province_prefix"] = filters.province[:2] + "%"
    if filters.scheme_id:
        where.append(
            "EXISTS (SELECT 1 FROM scheme_match sm "
            f"WHERE sm.mention_id = {row}.id AND sm.scheme_id = :scheme_id)"
        )
        params["scheme_id"] = filters.scheme_id
    return where


def analysis_where(filters: SearchFilters) -> list[TextClause]:
    """The analysis conditions of ``filters`` for a query on the ``mention`` table (the
    stream's list), the same SQL the search uses."""
    params: dict[str, object] = {}
    conditions = _analysis_sql(filters, params, "mention")
    return [sql(" AND ".join(conditions)).bindparams(**params)] if conditions else []


def _key_bound(moment: datetime, *, upper: bool) -> int:
    seconds = max(0, int(moment.replace(tzinfo=UTC).timestamp()))
    return ((seconds + 1) << KEY_SHIFT) if upper else (seconds << KEY_SHIFT)


def _sqlite_from(plan: QueryPlan, filters: SearchFilters, params: dict[str, object]) -> str:
    """Candidates come from the index newest first (CROSS JOIN keeps it the outer loop); each
    is checked against the mention row, which keeps the index small."""
    params["match"] = _fts5_match(plan)
    where = ["mention_fts MATCH :match", *_filter_sql(filters, params)]
    for i, term in enumerate(plan.terms):
        params[f"t{i}"] = term
        where.append(f"instr(m.search_text, :t{i}) > 0")
    # Time filters also bound the rowid range, which the index seeks to directly.
    if filters.start:
        params["kstart"] = _key_bound(_naive_utc(filters.start), upper=False)
        where.append("f.rowid >= :kstart")
    if filters.end:
        params["kend"] = _key_bound(_naive_utc(filters.end), upper=True)
        where.append("f.rowid < :kend")
    return (
        f"FROM mention_fts f CROSS JOIN mention m ON m.id = (f.rowid & {ID_MASK}) "
        f"WHERE {' AND '.join(where)}"
    )


def _postgres_from(plan: QueryPlan, filters: SearchFilters, params: dict[str, object]) -> str:
    params["match"] = _tsquery(plan)
    where = ["f.body @@ CAST(:match AS tsquery)", *_filter_sql(filters, params)]
    for i, term in enumerate(plan.terms):
        params[f"t{i}"] = term
        where.append(f"strpos(m.search_text, :t{i}) > 0")
    return f"FROM mention_fts f JOIN mention m ON m.id = f.rowid WHERE {' AND '.join(where)}"


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _typed(statement: TextClause, params: dict[str, object]) -> TextClause:
    """Times bound as the DateTime type stores them, so text comparison in SQLite holds."""
    times = [bindparam(name, type_=DateTime()) for name in ("start", "end") if name in params]
    return statement.bindparams(*times) if times else statement


def search(
    session: Session,
    query: str,
    *,
    filters: SearchFilters | None = None,
    limit: int = 20,
    offset: int = 0,
    count: bool = True,
) -> SearchPage:
    """Ids of listed mentions (not duplicates) containing every term, newest first (by the
    second, then by id). From the tantivy index when it can answer (Han terms of two or
    more characters, filtered at most by time and source): ``total`` is then exact;
    otherwise from the database's index, counting up to ``counting.COUNT_CAP``."""
    plan = plan_query(query)
    filters = filters or SearchFilters()
    fast = _from_index(session, plan, filters, limit=limit, offset=offset)
    if fast is not None:
        return fast
    return search_database(session, plan, filters=filters, limit=limit, offset=offset, count=count)


def search_page(
    session: Session,
    query: str,
    *,
    filters: SearchFilters | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[SearchPage, list[Mention]]:
    """``search`` and the page's mentions, in page order: what a results page shows.

    On PostgreSQL with the tantivy index, the change log is read in the same statement as
    the page's rows (``search_index.find_page``), so the page costs one round trip to the
    database, as any index beside the database needs to show its hits; otherwise the rows
    are read after the search."""
    plan = plan_query(query)
    filters = filters or SearchFilters()
    wanted = _index_query(session, plan, filters)
    if wanted is not None:
        found = search_index.find_page(session, wanted, limit=limit, offset=offset)
        if found is not None:
            page = SearchPage(ids=found.ids, total=found.total, total_capped=False)
            return page, [found.rows[i] for i in found.ids if i in found.rows]
    page = search(session, query, filters=filters, limit=limit, offset=offset)
    if not page.ids:
        return page, []
    loaded = session.execute(select(Mention).where(Mention.id.in_(page.ids))).scalars()
    by_id = {m.id: m for m in loaded}
    return page, [by_id[i] for i in page.ids if i in by_id]


def search_database(
    session: Session,
    plan: QueryPlan,
    *,
    filters: SearchFilters,
    limit: int = 20,
    offset: int = 0,
    count: bool = True,
) -> SearchPage:
    """The search on the database's own index (FTS5 or GIN), with a substring check on
    each candidate; ``total`` counts hits up to ``counting.COUNT_CAP``. Any query and filter."""
    params: dict[str, object] = {"limit": limit, "offset": offset}
    if _dialect(session) == "sqlite":
        source = _sqlite_from(plan, filters, params)
        order = "f.rowid DESC"
        hit = f"f.rowid & {ID_MASK}"
    else:
        source = _postgres_from(plan, filters, params)
        # Whole seconds, as SQLite's time key orders, so both databases list the same page.
        order = "date_trunc('second', m.published_at) DESC, m.id DESC"
        hit = "m.id"
    page = session.execute(
        _typed(sql(f"SELECT {hit} {source} ORDER BY {order} LIMIT :limit OFFSET :offset"), params),
        params,
    )
    ids = [row[0] for row in page]
    total, capped = len(ids) + offset, False
    if count and (len(ids) == limit or offset):
        cap = counting.COUNT_CAP
        params["cap"] = cap + 1
        counted = sql(f"SELECT count(*) FROM (SELECT 1 {source} LIMIT :cap) c")
        total = session.execute(_typed(counted, params), params).scalar_one()
        capped = total > cap
        total = min(total, cap)
    return SearchPage(ids=ids, total=total, total_capped=capped)


def _from_index(
    session: Session, plan: QueryPlan, filters: SearchFilters, *, limit: int, offset: int
) -> SearchPage | None:
    """The page from the tantivy index, or None when the database must answer."""
    wanted = _index_query(session, plan, filters)
    if wanted is None:
        return None
    found = search_index.find(session, wanted, limit=limit, offset=offset)
    if found is None:
        return None
    return SearchPage(ids=found[0], total=found[1], total_capped=False)


def _index_query(
    session: Session, plan: QueryPlan, filters: SearchFilters
) -> search_index.IndexQuery | None:
    """What the tantivy index is asked, or None when the database must answer: analysis
    filters change after ingest and live in the database only."""
    if any((filters.sentiment, filters.province, filters.min_risk, filters.scheme_id)):
        return None
    if not search_index.answerable(plan.terms):
        return None
    sources: set[int] | None = None
    if filters.source_kind:
        sources = set(
            session.execute(
                sql("SELECT id FROM source WHERE kind = :kind"), {"kind": filters.source_kind}
            ).scalars()
        )
    if filters.source_id:
        sources = {filters.source_id} & sources if sources is not None else {filters.source_id}
    return search_index.IndexQuery(
        terms=plan.terms,
        start=_naive_utc(filters.start) if filters.start else None,
        end=_naive_utc(filters.end) if filters.end else None,
        source_ids=tuple(sorted(sources)) if sources is not None else None,
    )


def _folded(text: str) -> tuple[str, str]:
    """The text to show and its Simplified lower-case form, of the same length, to find
    terms in (when conversion changes the length, the Simplified form is shown)."""
    folded = to_simplified(text).lower()
    if len(folded) != len(text):
        text = to_simplified(text)
        folded = text.lower()
    return text, folded


def _spans(folded: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Where each term occurs, by start; at one start the longer term comes first."""
    spans: list[tuple[int, int]] = []
    for term in terms:
        if not term:
            continue
        start = folded.find(term)
        while start >= 0:
            spans.append((start, start + len(term)))
            start = folded.find(term, start + len(term))
    spans.sort(key=lambda span: (span[0], -span[1]))
    return spans


def _marked(text: str, spans: list[tuple[int, int]], lo: int, hi: int) -> list[str]:
    out: list[str] = []
    cursor = lo
    for start, end in spans:
        if start < cursor or start >= hi:
            continue
        out.append(str(escape(text[cursor:start])))
        out.append(f"<mark>{escape(text[start : min(end, hi)])}</mark>")
        cursor = min(end, hi)
    out.append(str(escape(text[cursor:hi])))
    return out


def highlight(text: str, query: str, *, width: int | None = None) -> Markup:
    """Escape ``text`` and wrap each query term in ``<mark>``; optionally a snippet around
    the first hit of about ``width`` characters."""
    try:
        terms: tuple[str, ...] = plan_query(query).terms
    except SearchQueryError:
        terms = ()
    text, folded = _folded(text)
    spans = _spans(folded, terms)
    lo, hi = 0, len(text)
    if width and len(text) > width:
        first = spans[0][0] if spans else 0
        lo = max(0, first - width // 3)
        hi = min(len(text), lo + width)
    out = ["…" if lo > 0 else "", *_marked(text, spans, lo, hi)]
    if hi < len(text):
        out.append("…")
    return Markup("".join(out))


def mark_words(text: str, words: Iterable[str]) -> Markup:
    """Escape ``text`` and wrap each of ``words`` (a scheme's matched words, in the
    Simplified lower-case form the matcher sees) in ``<mark>``; the longer word wins."""
    text, folded = _folded(text)
    terms = {to_simplified(w).lower() for w in words}
    return Markup("".join(_marked(text, _spans(folded, terms), 0, len(text))))
