"""One matcher for all enabled schemes: an Aho-Corasick pass, then the candidates' trees.

A document is scanned once over ``title \\x00 text`` (both in search form); each hit records
its end position under its keyword id. Only schemes with a positive keyword among the hits
are evaluated (plus the few whose query can hold without any keyword, e.g. ``site:gov.cn``).
Keywords are substrings, except that a keyword starting (ending) with a Latin letter or digit
needs a non-alphanumeric character before (after) it, so ``ai`` does not match ``said``; a
trailing ``*`` drops the check after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import ahocorasick_rs

from yuqing.core.search_form import search_form, warm_up
from yuqing.mentions.batch import SchemeHit
from yuqing.schemes.query import And, Meta, Near, Node, Not, Or, Term, needs_keyword, terms

SCOPES = ("both", "title", "text")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@dataclass
class MatchDoc:
    """What the matcher reads of one mention; the matcher puts the text in search form."""

    title: str
    text: str
    url: str | None = None
    source_name: str = ""
    regions: list[str] = field(default_factory=list)
    sentiment: str | None = None  # positive | neutral | negative


@dataclass(frozen=True)
class SchemeSpec:
    """A scheme as the matcher needs it: its tree (``None`` matches nothing) and scope."""

    scheme_id: int
    tree: Node | None
    scope: str = "both"
    weight: float = 1.0


class _Doc:
    """One document during matching: keyword hits and lazily derived views of them."""

    __slots__ = ("_host", "_keys", "doc", "hits", "lengths", "split")

    def __init__(self, doc: MatchDoc, hits: dict[int, list[int]], split: int, lengths: list[int]):
        self.doc = doc
        self.hits = hits  # keyword id -> end positions (exclusive) in title\x00text
        self.split = split  # index of the \x00; title ends before it
        self.lengths = lengths
        self._keys: dict[str, set[int]] = {}
        self._host: str | None = None

    def keys(self, where: str) -> set[int] | dict[int, list[int]]:
        """Keyword ids that occur in ``where`` (both / title / text)."""
        if where == "both":
            return self.hits
        found = self._keys.get(where)
        if found is None:
            in_title = where == "title"
            found = {
                k
                for k, ends in self.hits.items()
                if any((e <= self.split) == in_title for e in ends)
            }
            self._keys[where] = found
        return found

    def spans(self, kid: int, where: str) -> list[tuple[int, int]]:
        n = self.lengths[kid]
        out = [(e - n, e) for e in self.hits.get(kid, ())]
        if where == "title":
            return [s for s in out if s[1] <= self.split]
        if where == "text":
            return [s for s in out if s[0] > self.split]
        return out

    def host(self) -> str:
        if self._host is None:
            try:
                self._host = (urlsplit(self.doc.url or "").hostname or "").lower().rstrip(".")
            except ValueError:
                self._host = ""
        return self._host


Check = Callable[[_Doc], bool]
Spans = Callable[[_Doc], list[tuple[int, int]]]


@dataclass
class _Keywords:
    """Distinct (word, needs-left-check, needs-right-check) keywords and their ids."""

    ids: dict[tuple[str, bool, bool], int] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)

    def id_of(self, term: Term) -> int:
        word = term.word
        key = (word, word[0] in _ALNUM, word[-1] in _ALNUM and not term.prefix)
        kid = self.ids.get(key)
        if kid is None:
            kid = self.ids[key] = len(self.words)
            self.words.append(word)
        return kid


def _meta_value(doc: _Doc, name: str) -> list[str]:
    d = doc.doc
    if name == "site":
        return [doc.host()]
    if name == "source":
        return [search_form(d.source_name)]
    if name == "region":
        return [search_form(r) for r in d.regions]
    return [d.sentiment or ""]


def _meta_check(node: Meta) -> Check:
    value, name, prefix = node.value, node.field, node.prefix

    def check(doc: _Doc) -> bool:
        for have in _meta_value(doc, name):
            if not have:
                continue
            if name == "site":
                if (
                    have == value
                    or have.endswith("." + value)
                    or (prefix and have.startswith(value))
                ):
                    return True
            elif name == "region":
                if have.startswith(value):
                    return True
            elif have == value or (prefix and have.startswith(value)):
                return True
        return False

    return check


def _near_spans(left: Spans, right: Spans, distance: int, ordered: bool) -> Spans:
    def spans(doc: _Doc) -> list[tuple[int, int]]:
        lefts = left(doc)
        if not lefts:
            return []
        rights = right(doc)
        out = []
        for ls, le in lefts:
            for rs, re_ in rights:
                if (ls < doc.split) != (rs < doc.split):
                    continue  # one in the title, the other in the body
                if ordered:
                    ok = le <= rs and rs - le <= distance
                else:
                    ok = max(rs - le, ls - re_) <= distance
                if ok:
                    out.append((min(ls, rs), max(le, re_)))
        return out

    return spans


class _Compiler:
    def __init__(self, keywords: _Keywords, scope: str) -> None:
        self.keywords = keywords
        self.scope = scope

    def where(self, term: Term) -> str:
        return term.field or self.scope

    def spans(self, node: Node) -> Spans:
        if isinstance(node, Term):
            kid, where = self.keywords.id_of(node), self.where(node)
            return lambda doc: doc.spans(kid, where)
        if isinstance(node, Or):
            parts = [self.spans(c) for c in node.children]
            return lambda doc: [s for p in parts for s in p(doc)]
        assert isinstance(node, Near)
        return _near_spans(
            self.spans(node.left), self.spans(node.right), node.distance, node.ordered
        )

    def check(self, node: Node) -> Check:
        if isinstance(node, Term):
            kid, where = self.keywords.id_of(node), self.where(node)
            return lambda doc: kid in doc.keys(where)
        if isinstance(node, Meta):
            return _meta_check(node)
        if isinstance(node, Not):
            inner = self.check(node.child)
            return lambda doc: not inner(doc)
        if isinstance(node, Near):
            spans = self.spans(node)
            return lambda doc: bool(spans(doc))
        if isinstance(node, Or):
            return self._or(node)
        assert isinstance(node, And)
        parts = [self.check(c) for c in node.children]

        def check_all(doc: _Doc) -> bool:
            for part in parts:  # noqa: SIM110 (a loop, not a generator: hot path)
                if not part(doc):
                    return False
            return True

        return check_all

    def _or(self, node: Or) -> Check:
        plain = [c for c in node.children if isinstance(c, Term)]
        rest = [self.check(c) for c in node.children if not isinstance(c, Term)]
        by_where: dict[str, set[int]] = {}
        for term in plain:
            by_where.setdefault(self.where(term), set()).add(self.keywords.id_of(term))
        groups = [(where, frozenset(ids)) for where, ids in by_where.items()]

        def check(doc: _Doc) -> bool:
            for where, ids in groups:
                if not ids.isdisjoint(doc.keys(where)):
                    return True
            return any(p(doc) for p in rest)

        return check


@dataclass
class _Compiled:
    scheme_id: int
    weight: float
    check: Check
    shown: list[tuple[int, str, str]]  # keyword id, scope, the word as written


class Matcher:
    """All enabled schemes compiled together; ``match_batch`` is safe to call from threads."""

    def __init__(self, specs: Iterable[SchemeSpec], *, generation: object = None) -> None:
        warm_up()
        self.generation = generation
        keywords = _Keywords()
        self._schemes: list[_Compiled] = []
        by_keyword: dict[int, set[int]] = {}
        always: list[int] = []
        for spec in specs:
            if spec.tree is None:
                continue
            index = len(self._schemes)
            compiler = _Compiler(keywords, spec.scope if spec.scope in SCOPES else "both")
            check = compiler.check(spec.tree)
            positive = list(terms(spec.tree))
            shown = [(keywords.id_of(t), compiler.where(t), t.word) for t in positive]
            self._schemes.append(_Compiled(spec.scheme_id, spec.weight, check, shown))
            if needs_keyword(spec.tree):
                for kid, _, _ in shown:
                    by_keyword.setdefault(kid, set()).add(index)
            else:
                always.append(index)
        self._by_keyword = [frozenset(by_keyword.get(k, ())) for k in range(len(keywords.words))]
        self._always = tuple(always)
        self._lengths = [len(w) for w in keywords.words]
        self._checked = {
            kid: (left, right) for (_, left, right), kid in keywords.ids.items() if left or right
        }
        self.keyword_count = len(keywords.words)
        self.scheme_count = len(self._schemes)
        # Same word under two boundary rules (``ai`` and ``ai*``): one pattern, both ids.
        patterns: dict[str, tuple[int, ...]] = {}
        for kid, word in enumerate(keywords.words):
            patterns[word] = (*patterns.get(word, ()), kid)
        self._pattern_ids = list(patterns.values())
        self._automaton: ahocorasick_rs.AhoCorasick | None = None
        if patterns:
            self._automaton = ahocorasick_rs.AhoCorasick(
                list(patterns), matchkind=ahocorasick_rs.MatchKind.Standard
            )

    def match(self, doc: MatchDoc) -> list[SchemeHit]:
        title, text = search_form(doc.title), search_form(doc.text)
        haystack = f"{title}\x00{text}"
        hits: dict[int, list[int]] = {}
        if self._automaton is not None:
            pattern_ids = self._pattern_ids
            for pattern, _start, end in self._automaton.find_matches_as_indexes(
                haystack, overlapping=True
            ):
                for kid in pattern_ids[pattern]:
                    found = hits.get(kid)
                    if found is None:
                        hits[kid] = [end]
                    else:
                        found.append(end)
            if self._checked:
                self._drop_partial_words(haystack, hits)
        if not hits and not self._always:
            return []
        candidates: set[int] = set(self._always)
        by_keyword = self._by_keyword
        for kid in hits:
            candidates |= by_keyword[kid]
        if not candidates:
            return []
        state = _Doc(doc, hits, len(title), self._lengths)
        out = []
        for index in sorted(candidates):
            scheme = self._schemes[index]
            if scheme.check(state):
                words = [w for kid, where, w in scheme.shown if kid in state.keys(where)]
                out.append(SchemeHit(scheme.scheme_id, list(dict.fromkeys(words)), scheme.weight))
        return out

    def _drop_partial_words(self, haystack: str, hits: dict[int, list[int]]) -> None:
        """Remove hits of Latin keywords that sit inside a longer word."""
        last = len(haystack)
        for kid in [k for k in hits if k in self._checked]:
            left, right = self._checked[kid]
            n = self._lengths[kid]
            kept = [
                e
                for e in hits[kid]
                if not (left and e - n > 0 and haystack[e - n - 1] in _ALNUM)
                and not (right and e < last and haystack[e] in _ALNUM)
            ]
            if kept:
                hits[kid] = kept
            else:
                del hits[kid]

    def match_batch(self, docs: list[MatchDoc]) -> list[list[SchemeHit]]:
        """The schemes each document matches, in the order of ``docs``."""
        match = self.match
        return [match(doc) for doc in docs]
