"""Hashed text features for the sentiment and emotion models: character 1–3-grams, words,
word pairs and hits of the project's polarity word list.

Every feature is a 64-bit polynomial hash of its characters, folded into ``2**n_bits``
buckets, so there is no vocabulary to store and a batch is hashed with a few numpy array
operations over all its characters at once (the per-token hashing of sklearn's
``HashingVectorizer`` reached about 23,000 posts/s here; this reaches several times that).
Words come from ``rjieba`` and are salted so that a two-character word is not the same
feature as the two-character n-gram. A word of ``data/polarity_words.tsv`` also counts as one
of four shared features (positive, negative, and each after a negation such as 不/没/别/无),
so a polarity word never seen in training still carries its side's weight. A word or phrase
of the institution complaint lexicon (``data/complaint_words.txt``, or the office's copy in the
data directory) found anywhere in a text counts as a shared "complaint" feature the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import rjieba
import scipy.sparse as sp

from yuqing.core.settings import get_settings

MAX_CHARS = 600
"""Only the first characters count: the title and lead carry the tone of a long article, and
a 1 MB text must not stall a batch."""

_P = np.uint64(0x100000001B3)  # odd, so the hashes of different n-grams rarely meet
_FOLD = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing spreads the high bits into buckets
_SALT = {
    1: np.uint64(0x1F3D5B79),
    2: np.uint64(0x2C1B3C6D),
    3: np.uint64(0x297A2D39),
    "word": np.uint64(0x6A09E667F3BCC909),
    "pair": np.uint64(0xBB67AE8584CAA73B),
    "lexicon": np.uint64(0x3C6EF372FE94F82B),
}
_MASK = (1 << 64) - 1
POLARITY_WORDS = Path(__file__).parent / "data" / "polarity_words.tsv"
COMPLAINT_WORDS = Path(__file__).parent / "data" / "complaint_words.txt"
COMPLAINT_NEGATIONS = "不没无未非别"
"""A complaint hit within two characters after one of these (没有停电, 不拖欠) counts as a
negated hit."""
NEGATIONS = tuple(
    [
        "不",
        "没",
        "没有",
        "别",
        "无",
        "非",
        "未",
        "不是",
        "不会",
        "不能",
        "不要",
        "毫无",
        "并不",
        "从不",
        "决不",
        "绝不",
        "从来不",
        "难以",
        "不太",
        "不够",
        "不怎么",
        "不算",
    ]
)
START, END = "⟪", "⟫"
"""Text-boundary marks (``FeatureSpec.marks``): with them the first and last characters of a
text form n-grams of their own. Measured on osm2022 (docs/sentiment.md, second to fourth
pass): the largest single gain for a model retrained on incident labels."""
_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class FeatureSpec:
    """How texts become features; stored with a model so it is read the same way later."""

    n_bits: int = 18
    words: bool = True
    word_pairs: bool = False  # measured: no gain on Weibo, and 10-20 % slower
    lexicon: bool = True
    complaints: bool = True  # the complaint lexicon; files from before it load without
    marks: bool = False  # the start and end of a text as two more characters (retrained models)

    @property
    def n_features(self) -> int:
        return 1 << self.n_bits


def strip_emoticons(text: str) -> str:
    """Remove Weibo emoticon codes such as ``[哈哈]`` (used by the benchmark)."""
    return _EMOTICON.sub("", text)


def prepare(text: str | None) -> str:
    """The part of a text the models read: the first ``MAX_CHARS`` characters, lower case,
    runs of white space as one space."""
    head = (text or "")[: MAX_CHARS * 2]
    return _SPACES.sub(" ", head).strip().lower()[:MAX_CHARS]


def _codes(prepared: list[str]) -> tuple[np.ndarray, np.ndarray, str]:
    """Code points of the batch joined with newlines (``prepare`` leaves none inside a
    text), and the text each position belongs to (-1 for the separators)."""
    joined = "\n".join(prepared) + "\n"
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter(map(len, prepared), dtype=np.int64, count=len(prepared))
    doc = np.repeat(np.arange(len(prepared), dtype=np.int64), lengths + 1)
    doc[np.cumsum(lengths + 1) - 1] = -1
    return codes, doc, joined


def _char_ngrams(codes: np.ndarray, doc: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    hashes = [codes * _P + _SALT[1]]
    docs = [doc]
    current = codes
    for n in (2, 3):
        if len(codes) < n:
            break
        current = current[:-1] * _P + codes[n - 1 :]
        first = doc[: len(doc) - n + 1]
        inside = first == doc[n - 1 :]
        hashes.append(current[inside] * _P + _SALT[n])
        docs.append(first[inside])
    return hashes, docs


def _token_hashes(
    joined: str, codes: np.ndarray, doc: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hash, length and text of every ``rjieba`` token that is not white space, in order.

    Hashes come from prefix sums of the codes: with ``Q`` the inverse of ``P`` modulo 2**64,
    ``sum(c[j] * Q**j)`` over a span times ``P**(end-1)`` is the polynomial hash of the span,
    for all tokens at once."""
    # One call for the whole batch: rjieba's per-call cost is larger than its per-word cost.
    lengths = np.fromiter(map(len, rjieba.cut(joined)), dtype=np.int64)
    stop = np.cumsum(lengths)
    begin = stop - lengths
    keep = (doc[begin] >= 0) & (doc[begin] == doc[stop - 1]) & (codes[begin] != 32)
    begin, stop = begin[keep], stop[keep]
    powers_p, powers_q = _powers(len(codes) + 1)
    prefix = np.zeros(len(codes) + 1, dtype=np.uint64)
    np.cumsum(codes * powers_q[: len(codes)], out=prefix[1:])
    spans = (prefix[stop] - prefix[begin]) * powers_p[stop - 1]
    return spans, stop - begin, doc[begin]


def _word_features(
    tokens: tuple[np.ndarray, np.ndarray, np.ndarray], spec: FeatureSpec
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Words of two or more characters, pairs of neighbouring tokens, polarity word hits."""
    spans, lengths, docs = tokens
    hashes: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    if spec.words:
        long = lengths > 1
        hashes.append(spans[long] * _P + _SALT["word"])
        owners.append(docs[long])
    same = docs[:-1] == docs[1:]
    if spec.word_pairs and len(spans) > 1:
        hashes.append((spans[:-1][same] * _FOLD + spans[1:][same]) * _P + _SALT["pair"])
        owners.append(docs[:-1][same])
    if spec.lexicon and len(spans):
        hits, hit_docs = _lexicon_hits(spans, docs, same)
        hashes.append(hits)
        owners.append(hit_docs)
    return hashes, owners


def _lexicon_hits(
    spans: np.ndarray, docs: np.ndarray, same: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One of four features per polarity word: its side, flipped by a negation one or two
    tokens before it in the same text (不 好, 没 那么 好)."""
    keys, kinds = _lexicon_table()
    # One binary search for all three lists is several times cheaper than three np.isin.
    where = np.minimum(np.searchsorted(keys, spans), len(keys) - 1)
    kind = np.where(keys[where] == spans, kinds[where], 0)
    is_negation = kind == _NEGATION
    negated = np.zeros(len(spans), dtype=bool)
    negated[1:] |= is_negation[:-1] & same
    negated[2:] |= is_negation[:-2] & same[:-1] & same[1:]
    hit = (kind == 1) | (kind == -1)
    code = (kind[hit] > 0).astype(np.uint64) + np.uint64(2) * negated[hit].astype(np.uint64)
    return (code + np.uint64(1)) * _P + _SALT["lexicon"], docs[hit]


def _complaint_hits(joined: str, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Code 5 for each complaint-lexicon hit in the batch, 6 after a negation; one
    regular-expression scan of the joined batch (a trie of the words, about 2 µs a post)."""
    pattern = complaint_pattern()
    if pattern is None:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    starts = [m.start() for m in pattern.finditer(joined)]
    negated = [any(c in COMPLAINT_NEGATIONS for c in joined[max(s - 2, 0) : s]) for s in starts]
    codes = np.array([6 if n else 5 for n in negated], dtype=np.uint64)
    return codes * _P + _SALT["lexicon"], doc[np.array(starts, dtype=np.int64)]


def complaint_path() -> Path:
    """The complaint lexicon in use: the office's copy in the data directory if there is one
    (``<data_dir>/lexicon/complaint_words.txt``), else the shipped list."""
    office = office_complaint_path()
    return office if office.is_file() else COMPLAINT_WORDS


def office_complaint_path() -> Path:
    """Where the desk keeps the office's edited complaint lexicon."""
    return Path(get_settings().data_dir) / "lexicon" / "complaint_words.txt"


def read_word_list(path: Path) -> list[str]:
    """The words of a one-word-a-line list; ``#`` lines and blanks are skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [w.strip().lower() for w in lines if w.strip() and not w.lstrip().startswith("#")]


def complaint_pattern() -> re.Pattern[str] | None:
    """The compiled complaint lexicon, read again when its file changes (the desk edits it
    while the worker runs)."""
    path = complaint_path()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    return _compiled_complaints(str(path), stamp)


@lru_cache(maxsize=4)
def _compiled_complaints(path: str, stamp: int) -> re.Pattern[str] | None:
    words = read_word_list(Path(path))
    return _trie_pattern(words) if words else None


_Trie = dict[str, "_Trie"]


def _trie_pattern(words: list[str]) -> re.Pattern[str]:
    """One alternation per shared prefix: the scan tries one branch per character instead of
    one per word, and the longest word wins."""
    trie: _Trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: _Trie) -> str:
        branches = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile(build(trie))


def _polynomial(word: str) -> int:
    value = 0
    for char in word.lower():
        value = (value * int(_P) + ord(char)) & _MASK
    return value


_NEGATION = 2


@lru_cache(maxsize=1)
def _lexicon_table() -> tuple[np.ndarray, np.ndarray]:
    """Sorted hashes of the polarity words and negations, and the kind of each: 1 positive,
    -1 negative, 2 negation (a negation wins over a polarity word of the same spelling)."""
    table: dict[int, int] = {}
    sides = {"positive": 1, "negative": -1}
    for line in POLARITY_WORDS.read_text(encoding="utf-8").splitlines():
        label, _, word = line.partition("\t")
        if label in sides and word.strip():
            table[_polynomial(word.strip())] = sides[label]
    for word in NEGATIONS:
        table[_polynomial(word)] = _NEGATION
    keys = np.array(sorted(table), dtype=np.uint64)
    kinds = np.array([table[int(k)] for k in keys], dtype=np.int64)
    return keys, kinds


_POWER_CACHE: dict[str, np.ndarray] = {}


def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    cached = _POWER_CACHE.get("p")
    if cached is None or len(cached) < size:
        length = max(size, 4096)
        q = np.uint64(pow(int(_P), -1, 1 << 64))
        # uint64 products wrap around, which is arithmetic modulo 2**64 as wanted.
        with np.errstate(over="ignore"):
            p_pow = np.concatenate(([np.uint64(1)], np.cumprod(np.full(length - 1, _P))))
            q_pow = np.concatenate(([np.uint64(1)], np.cumprod(np.full(length - 1, q))))
        _POWER_CACHE["p"], _POWER_CACHE["q"] = p_pow, q_pow
    return _POWER_CACHE["p"], _POWER_CACHE["q"]


def hashed(texts: list[str], spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """The (text, bucket) pair of every feature occurrence in a batch, repeats included
    (counting is cheaper than sorting out repeats, and short posts rarely repeat)."""
    prepared = [prepare(t) for t in texts]
    if spec.marks:
        # A leading 呵呵 or a closing ？ becomes its own n-gram. An empty text stays empty (a
        # text without features is neutral).
        prepared = [f"{START}{p}{END}" if p else p for p in prepared]
    codes, doc, joined = _codes(prepared)
    hashes, docs = _char_ngrams(codes, doc)
    if spec.words or spec.word_pairs or spec.lexicon:
        word_hashes, word_docs = _word_features(_token_hashes(joined, codes, doc), spec)
        hashes += word_hashes
        docs += word_docs
    if spec.complaints:
        complaint_hashes, complaint_docs = _complaint_hits(joined, doc)
        hashes.append(complaint_hashes)
        docs.append(complaint_docs)
    every_doc = np.concatenate(docs)
    real = every_doc >= 0
    buckets = np.concatenate(hashes)[real] * _FOLD >> np.uint64(64 - spec.n_bits)
    return every_doc[real], buckets.astype(np.int64)


def row_scale(rows: np.ndarray, count: int) -> np.ndarray:
    """Per text, one over the square root of its number of features (1 for an empty text)."""
    per_doc = np.bincount(rows, minlength=count).astype(np.float32)
    return (1.0 / np.sqrt(np.maximum(per_doc, 1.0))).astype(np.float32)


def matrix(texts: list[str], spec: FeatureSpec) -> sp.csr_matrix:
    """Feature counts scaled by ``row_scale``: what the models are trained on."""
    rows, cols = hashed(texts, spec)
    data = row_scale(rows, len(texts))[rows]
    shape = (len(texts), spec.n_features)
    result = sp.csr_matrix((data, (rows, cols)), shape=shape, dtype=np.float32)
    result.sum_duplicates()
    return result
