"""Text vectors of items: TF-IDF character bigrams of the title and the lead, hashed.

What an item is compared by (see events/cluster.py for how): the character bigrams of its
title (counted ``TITLE_WEIGHT`` times) and of the lead of its body (the first
``LEAD_CHARS`` characters: a news article states its facts first), plus the place names the
places stage found. Weights are TF-IDF (sublinear term frequency, inverse document frequency
over the items seen, bigrams hashed into ``BUCKETS`` columns), each vector cut to its
``ITEM_FEATURES`` strongest bigrams and scaled to length 1.

A whole batch is cut in one numpy pass over its code points, and **one sort** of its keys
(column first, then row) gives everything the clustering needs: the distinct bigrams of each
item and their counts, the document frequencies (runs of one column), the batch's own
columns numbered in order (for products over those columns only). A stable radix sort
of the row numbers puts the vectors row by row. (Before, the keys were sorted by row, the
columns sorted again for the frequencies and a third time, with their positions, to number
them.) The vectors are the same to the bit. The keys of a batch of up to 512 texts fit in 32
bits, which numpy sorts with SIMD instructions (faster than the two 16-bit radix passes
this took before, on numpy 2).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from scipy import sparse

TITLE_WEIGHT = 3.0
PLACE_WEIGHT = 1.0
LEAD_CHARS = 120
ITEM_FEATURES = 64
BUCKET_BITS = 20
BUCKETS = 1 << BUCKET_BITS
_PRIME = 1_048_573  # the largest prime below BUCKETS: a bigram's column is its code mod this

_FLAG_WEIGHTS = np.array([1.0, TITLE_WEIGHT, PLACE_WEIGHT, 0.0])  # lead, title, place
NOISE = re.compile(
    r"https?://\S+|www\.\S+"  # links
    r"|@[\w\-·]{1,30}"  # mentioned and reposting accounts
    r"|\[[^\[\]\s]{1,8}\]"  # [表情]
    r"|//|转发微博|转发|回复"
)
MARK = re.compile(r"http|www\.|@|\[|//|转发|回复")  # can NOISE match? (one scan)
STOP_WORDS = (
    "转发 微博 转发微博 回复 评论 分享 视频 图片 网页 链接 全文 原文 详情 来自 客户端 哈哈 "
    "哈哈哈 我们 你们 他们 她们 它们 自己 大家 这个 那个 这些 那些 这样 那样 这么 那么 这里 "
    "那里 什么 怎么 怎样 为什么 为何 如何 是不是 有没有 一个 一些 一下 一点 一样 一直 一定 "
    "一起 已经 还是 就是 不是 没有 可以 可能 应该 需要 知道 觉得 认为 表示 看到 看看 出来 "
    "起来 时候 现在 今天 昨天 明天 今年 去年 因为 所以 如果 但是 而且 虽然 然后 还有 只是 "
    "只有 或者 以及 对于 关于 真的 真是 其实 确实 非常 特别 还要 不要 不会 不能 不知 不过 "
    "终于 居然 竟然 简直 太多 很多 好像 希望 相信 感觉 支持 谢谢 呵呵 嘻嘻 啊啊 天哪 我的 "
    "你的 他的 她的 的话 之后 之前 以后 以前 一次 一天 今晚 晚上 早上 上午 下午 问题 事情 "
    "消息 情况 发生 发现 记者 据悉 据了解 了解到 近日 日前"
)
# Bigrams no story is told by: the stop words above and stock phrases of reports and posts
# (discourse, time, platform words). Dropped from the vectors (kept out of the similarity).
_STOCK_PHRASES = (
    "据了解 记者了解到 记者获悉 据悉 据报道 有网友称 网友爆料 多位同学反映 多位网友反映 "
    "论坛热帖显示 网帖显示 本报讯 今日 昨日 中午 昨晚 今晚 本周 上周 本月 日电 新闻 快讯 "
    "发布 通报 关注 讨论 点赞"
)


@dataclass(slots=True)
class Doc:
    """What is compared of one item: its title, the lead of its body, its place names."""

    title: str
    text: str
    places: Sequence[str] = ()


# A bigram's column is (first << 21 | second) % _PRIME; both code points are below 2**16
# and 2**20 ≡ 3 (mod _PRIME), so it is 6 × first + second, below 2**19. A character that is
# no word character counts as _NOT_WORD: any bigram with one lands at 2**19 or above.
_NOT_WORD = 1 << 19


def _letters() -> np.ndarray:
    """Code point of the basic plane → its lower-case form if that is a word character (Han,
    digits, a–z), else ``_NOT_WORD``: one look-up lower-cases and classifies a text."""
    table = np.full(0x10000, _NOT_WORD, dtype=np.int32)
    for low, high in ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x30, 0x39), (0x61, 0x7A)):
        table[low : high + 1] = np.arange(low, high + 1)
    table[0x41:0x5B] = np.arange(0x61, 0x7B)  # A–Z
    table[0x212A] = ord("k")  # KELVIN SIGN, which str.lower() makes a "k"
    return table


_LETTERS = _letters()


_TOP_LETTER = 0x9FFF  # the highest code point a word character keeps (the Han block's end)


def _story_columns() -> np.ndarray:
    """Which sums 6 × first + second are bigrams of a story: of two word characters, and
    not of a stop word or stock phrase. Two word characters sum to at most 7 × 0x9FFF; the
    entry after that is False and is where every larger sum (one with a non-word
    character) lands, looked up with ``take(mode="clip")``: a table of 280 KB, which stays
    in the processor's cache, where one over every possible sum took 3.7 MB."""
    table = np.zeros(7 * _TOP_LETTER + 2, dtype=bool)
    table[: 7 * _TOP_LETTER + 1] = True
    for phrase in (STOP_WORDS + " " + _STOCK_PHRASES).split():
        for first, second in pairwise(phrase):
            table[((ord(first) << 21) | ord(second)) % _PRIME] = False
    return table


_STORY = _story_columns()


def clean(text: str) -> str:
    """The text without links, @names, [表情] and repost boilerplate (the regular
    expression only runs when one of them can be there: most articles have none); lower
    case if it had any (the vectors lower-case the others' code points themselves)."""
    lower = text.lower()
    if MARK.search(lower):
        return NOISE.sub(" ", lower)
    return text


def _marked(text: str) -> bool:
    return MARK.search(text.lower()) is not None


def place_bucket(name: str) -> int:
    """The column of a place name (a stable hash: vectors are stored)."""
    return zlib.crc32(name.encode()) & (BUCKETS - 1)


def _mark_table() -> np.ndarray:
    """Per code point, bit 0: a mark of ``MARK`` alone (@, [); bit 1: can start one of its
    other marks' first two characters, bit 2: can follow in them (either case). A batch's
    texts are searched for marks only where a code point has bit 0, or bit 1 and its next
    bit 2: one look-up of one table (three tables took three)."""
    table = np.zeros(0x10000, dtype=np.uint8)
    for chars, bit in (("@[", 1), ("/转回hHwW", 2), ("/发复tTwW", 4)):
        table[[ord(c) for c in chars]] |= bit
    return table


_MARK_BITS = _mark_table()


def _keys(
    titles: list[str], leads: list[str], rows: np.ndarray, shift: int, *, marks: bool
) -> tuple[np.ndarray, list[int]]:
    """Keys ``column << shift | row << 2 | kind`` of every story bigram of the titles (kind
    1) and of the first ``LEAD_CHARS`` characters of the leads (kind 0), doc i being row
    ``rows[i]``; and, if ``marks``, the docs whose title or lead holds a mark of ``MARK``
    (to be cleaned). The parts are joined with a separator, which is no word character, so
    no bigram spans two; the leads' next 40 characters follow, searched for marks only."""
    parts = [""] * (2 * len(titles))
    parts[0::2] = titles
    parts[1::2] = [lead[:LEAD_CHARS] for lead in leads]
    lengths = np.fromiter(map(len, parts), np.int64, len(parts)) + 1
    text = "\0".join(parts) + "\0"
    if marks:  # a mark may straddle the cut: the tails start three characters before it
        text += "\0".join([lead[LEAD_CHARS - 3 :] for lead in leads]) + "\0"
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    size = int(lengths.sum())
    letters = _LETTERS.take(codes[:size], mode="clip")
    sums = letters[:-1] * 6 + letters[1:]
    at = np.flatnonzero(_STORY.take(sums, mode="clip"))
    wide = np.int64 if BUCKET_BITS + shift >= 32 else np.int32  # see _sorted_keys
    kinds = np.empty(len(parts), dtype=wide)
    kinds[0::2] = (rows << 2) | 1
    kinds[1::2] = rows << 2
    keys = (sums[at].astype(wide) << shift) | np.repeat(kinds, lengths)[at]
    marked: list[int] = []
    if marks:
        bits = _MARK_BITS.take(codes, mode="clip")
        # bit 0 of a character (alone), or its bit 1 with bit 2 of the next (shifted to 1)
        spots = np.flatnonzero(bits[:-1] & ((bits[1:] >> 1) | 1))
        if len(spots):
            ends = np.cumsum(lengths[0::2] + lengths[1::2])
            tail = np.fromiter(map(len, leads), np.int64, len(leads)) - (LEAD_CHARS - 3)
            tails = size + np.cumsum(np.maximum(tail, 0) + 1)
            within = spots < size
            docs = np.concatenate(
                [
                    np.searchsorted(ends, spots[within], side="right"),
                    np.searchsorted(tails, spots[~within], side="right"),
                ]
            )
            found = np.unique(docs).tolist()
            marked = [d for d in found if _marked(titles[d]) or _marked(leads[d])]
    return keys, marked


_FEW = 64  # a batch of up to this many texts looks for marks text by text (fewer calls)


def _sorted_keys(docs: Sequence[Doc], row_bits: int) -> np.ndarray:
    """Sorted keys (column, row, kind) of every bigram and place of the batch, kind 0 for
    the lead, 1 for the title, 2 for a place. The few docs with links, @names, [表情] or
    repost words are cut again once cleaned (the lead before it is cut to ``LEAD_CHARS``,
    so what the noise leaves of its next 40 characters moves up)."""
    shift = row_bits + 2
    titles = [doc.title for doc in docs]
    leads = [doc.text[: LEAD_CHARS + 40] for doc in docs]
    if len(docs) <= _FEW:  # few texts: cleaned one by one, cut once
        titles = [clean(title) for title in titles]
        leads = [clean(lead)[:LEAD_CHARS] for lead in leads]
    rows = np.arange(len(docs), dtype=np.int64)
    keys, marked = _keys(titles, leads, rows, shift, marks=len(docs) > _FEW)
    if marked:
        dirty = np.zeros(len(docs), dtype=bool)
        dirty[marked] = True
        again, _ = _keys(
            [clean(titles[d]) for d in marked],
            [clean(leads[d])[:LEAD_CHARS] for d in marked],
            rows[marked],
            shift,
            marks=False,
        )
        keys = np.concatenate([keys[~dirty[(keys >> 2) & ((1 << row_bits) - 1)]], again])
    extra = [(i, place_bucket(p)) for i, doc in enumerate(docs) for p in doc.places if p]
    if extra:
        more = np.array([(c << shift) | (i << 2) | 2 for i, c in extra], keys.dtype)
        keys = np.concatenate([keys, more])
    # A batch of up to 512 rows has keys below 2**31, made 32-bit from the start: numpy
    # sorts them with SIMD, 4 to 5 times faster than the two 16-bit radix passes this took
    # before and 2 times faster than 64-bit keys (equal keys are equal: an unstable sort
    # gives the same array).
    keys.sort()
    return keys


def stable_order(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` for non-negative keys: each key with its position
    in its low bits, sorted by numpy's SIMD sort (distinct keys: stability is moot), when
    both fit in 63 bits (40 % faster than two 16-bit radix passes on 20,000 keys, ten times
    faster than a stable argsort); other keys the plain way."""
    if not len(keys):
        return np.argsort(keys, kind="stable")
    bits = max(1, (len(keys) - 1).bit_length())
    if int(keys.min()) < 0 or int(keys.max()) >= 1 << (63 - bits):
        return np.argsort(keys, kind="stable")
    packed = (keys.astype(np.int64) << bits) | np.arange(len(keys), dtype=np.int64)
    packed.sort()
    return packed & ((1 << bits) - 1)


@dataclass
class Frequencies:
    """Document frequencies of the hashed bigrams (halved when they grow large, so the
    weights follow what the stream talks about lately)."""

    df: np.ndarray = field(default_factory=lambda: np.zeros(BUCKETS, dtype=np.float32))
    docs: float = 0.0
    halve_at: float = 2_000_000.0

    def observe(self, columns: np.ndarray, docs: int) -> None:
        """Count documents: ``columns`` holds each document's distinct columns."""
        if not len(columns):
            self.docs += docs
            return
        ordered = np.sort(columns.astype(np.int32))  # columns < 2**20: int32 sorts faster
        starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
        self.add(ordered[starts], np.diff(np.append(starts, len(ordered))), docs)

    def add(self, columns: np.ndarray, counts: np.ndarray, docs: int) -> None:
        """Count ``docs`` documents, ``counts`` of which hold each of ``columns`` (distinct)."""
        self.docs += docs
        if not len(columns):
            return
        self.df[columns] += counts
        if self.docs > self.halve_at:
            self.df *= 0.5
            self.docs *= 0.5

    def idf(self, columns: np.ndarray) -> np.ndarray:
        return np.log((self.docs + 1.0) / (self.df[columns] + 1.0)) + 1.0


_WIDEST = 1024  # bigrams of a row the table of ``_strongest`` holds (longer rows: a loop)


def _strongest(rows: np.ndarray, weights: np.ndarray, count: int) -> np.ndarray | None:
    """Which entries are among their row's ``ITEM_FEATURES`` strongest: those at or above
    the row's K-th weight (ties kept); None when no row has more. The K-th weights of all
    rows come from one sort of a table of rows × bigrams (no numpy call per row), filled
    through flat positions (a row's start repeated, not a gather per entry); numpy's SIMD
    sort of the rows is faster than a partition of them."""
    bounds = np.searchsorted(rows, np.arange(count + 1))
    lengths = np.diff(bounds)
    width = int(lengths.max(initial=0))
    if width <= ITEM_FEATURES:
        return None
    fits = min(width, _WIDEST)
    table = np.full(count * fits, -np.inf)
    spots = np.arange(len(rows)) + np.repeat(np.arange(count) * fits - bounds[:-1], lengths)
    long = lengths > fits
    if long.any():  # rare: a very long title
        within = ~np.repeat(long, lengths)
        table[spots[within]] = weights[within]
    else:
        table[spots] = weights
    kth = np.sort(table.reshape(count, fits), axis=1)[:, fits - ITEM_FEATURES]
    for row in np.flatnonzero(long).tolist():
        span = weights[bounds[row] : bounds[row + 1]]
        kth[row] = np.partition(span, len(span) - ITEM_FEATURES)[len(span) - ITEM_FEATURES]
    return weights >= np.repeat(kth, lengths)  # rows are in order: a repeat, not a gather


@dataclass(frozen=True, slots=True)
class Rows:
    """Vectors row by row, as a CSR matrix holds them (``indices``: columns ascending)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray


@dataclass(frozen=True)
class BatchVectors:
    """A batch's vectors: row by row over all ``BUCKETS`` columns (stored, summed into
    profiles), and over the batch's own columns (``used``, ascending; ``compact`` numbers
    each entry's column among them)."""

    matrix: Rows
    used: np.ndarray
    compact: np.ndarray

    @property
    def count(self) -> int:
        return len(self.matrix.indptr) - 1


def _empty(count: int) -> BatchVectors:
    ints, floats = np.zeros(0, np.int32), np.zeros(0, np.float32)
    rows = Rows(np.zeros(count + 1, np.int32), ints, floats)
    return BatchVectors(rows, ints, ints)


def batch_vectors(docs: Sequence[Doc], frequencies: Frequencies) -> BatchVectors:
    """TF-IDF vectors of a batch, each cut to its strongest ``ITEM_FEATURES`` and scaled to
    length 1; the batch is counted in the frequencies first."""
    count = len(docs)
    row_bits = max(1, (count - 1).bit_length())
    keys = _sorted_keys(docs, row_bits) if docs else np.zeros(0, np.int32)
    if not len(keys):
        frequencies.add(np.zeros(0, np.int64), np.zeros(0), count)
        return _empty(count)
    pairs = keys >> 2
    new_pair = np.concatenate([[True], pairs[1:] != pairs[:-1]])
    # summed in order, as a reduceat would (a bincount is faster with many runs of one)
    counts = np.bincount(np.cumsum(new_pair) - 1, weights=_FLAG_WEIGHTS[keys & 3])
    pairs = pairs[new_pair]
    columns = pairs >> row_bits
    rows = pairs & ((1 << row_bits) - 1)
    new_column = np.concatenate([[True], columns[1:] != columns[:-1]])
    firsts = np.flatnonzero(new_column)
    used = columns[firsts]
    frequencies.add(used, np.diff(np.append(firsts, len(columns))), count)
    compact = np.cumsum(new_column, dtype=np.int32) - 1
    # the inverse document frequency once per column of the batch
    weights = (1.0 + np.log(np.maximum(counts, 1.0))) * frequencies.idf(used)[compact]
    # Row by row (a stable sort keeps the columns ascending within each row).
    order = np.argsort(rows.astype(np.int16 if count < 1 << 15 else np.int32), kind="stable")
    by_row = rows[order]
    weights = weights[order]
    keep = _strongest(by_row, weights, count)
    if keep is not None:
        order, by_row, weights = order[keep], by_row[keep], weights[keep]
    norms = np.sqrt(np.bincount(by_row, weights=weights * weights, minlength=count))
    lengths = np.bincount(by_row, minlength=count)
    weights = (weights / np.repeat(np.maximum(norms, 1e-12), lengths)).astype(np.float32)
    indptr = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(lengths, out=indptr[1:])
    matrix = Rows(indptr, columns[order], weights)
    return BatchVectors(matrix, used, compact[order])


def vectors(docs: Sequence[Doc], frequencies: Frequencies) -> sparse.csr_matrix:
    """The batch's vectors over all ``BUCKETS`` columns (see ``batch_vectors``)."""
    rows = batch_vectors(docs, frequencies).matrix
    return sparse.csr_matrix((rows.data, rows.indices, rows.indptr), shape=(len(docs), BUCKETS))


def bigram_counts(docs: Sequence[Doc]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document, column, weighted count) of every distinct bigram and place of each doc,
    rows in order and columns ascending within a row: title bigrams count
    ``TITLE_WEIGHT``, places ``PLACE_WEIGHT``, lead bigrams 1."""
    if not docs:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    row_bits = max(1, (len(docs) - 1).bit_length())
    keys = _sorted_keys(docs, row_bits)
    pairs = keys >> 2
    heads = np.flatnonzero(np.concatenate([[True], pairs[1:] != pairs[:-1]]))
    counts = np.add.reduceat(_FLAG_WEIGHTS[keys & 3], heads)
    pairs = pairs[heads].astype(np.int64)
    rows = pairs & ((1 << row_bits) - 1)
    order = np.argsort(rows, kind="stable")
    return rows[order], (pairs >> row_bits)[order], counts[order]
