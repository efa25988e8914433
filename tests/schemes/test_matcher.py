"""The compiled matcher against a brute-force evaluator, simple mode, sizes and edge texts."""

from __future__ import annotations

import random
import time

from yuqing.core.search_form import search_form
from yuqing.schemes.matcher import MatchDoc, Matcher, SchemeSpec
from yuqing.schemes.query import And, Near, Node, Not, Or, Term, simple_tree, split_words

ALPHABET = "南京大学食堂火灾投诉学院"


def brute_spans(node: Node, text: str) -> list[tuple[int, int]]:
    if isinstance(node, Term):
        out, at = [], text.find(node.word)
        while at >= 0:
            out.append((at, at + len(node.word)))
            at = text.find(node.word, at + 1)
        return out
    if isinstance(node, Or):
        return [s for c in node.children for s in brute_spans(c, text)]
    assert isinstance(node, Near)
    out = []
    for ls, le in brute_spans(node.left, text):
        for rs, re_ in brute_spans(node.right, text):
            gap = rs - le if node.ordered else max(rs - le, ls - re_)
            if (not node.ordered or le <= rs) and gap <= node.distance:
                out.append((ls, re_))
    return out


def brute(node: Node, text: str) -> bool:
    if isinstance(node, Term | Near):
        return bool(brute_spans(node, text))
    if isinstance(node, Not):
        return not brute(node.child, text)
    if isinstance(node, And):
        return all(brute(c, text) for c in node.children)
    assert isinstance(node, Or)
    return any(brute(c, text) for c in node.children)


def random_term(rng: random.Random) -> Term:
    return Term("".join(rng.choice(ALPHABET) for _ in range(rng.choice((1, 2, 2, 3)))))


def random_tree(rng: random.Random, depth: int = 0) -> Node:
    roll = rng.random()
    if depth > 2 or roll < 0.3:
        return random_term(rng)
    if roll < 0.45:
        return Near(random_term(rng), random_term(rng), rng.randrange(0, 6), rng.random() < 0.5)
    if roll < 0.55:
        return Not(random_tree(rng, depth + 1))
    kids = tuple(random_tree(rng, depth + 1) for _ in range(rng.randrange(2, 4)))
    return And(kids) if roll < 0.8 else Or(kids)


def test_matcher_agrees_with_brute_force() -> None:
    rng = random.Random(7)
    trees = [random_tree(rng) for _ in range(200)]
    matcher = Matcher([SchemeSpec(i, t) for i, t in enumerate(trees)])
    for _ in range(300):
        text = "".join(rng.choice(ALPHABET + "，的") for _ in range(rng.randrange(0, 40)))
        got = {h.scheme_id for h in matcher.match(MatchDoc(title="", text=text))}
        want = {i for i, t in enumerate(trees) if brute(t, "\x00" + text)}
        assert got == want, text


def test_simple_mode_groups_and_exclusions() -> None:
    tree = simple_tree([["南京大学", "南大"], [], [], ["食堂", "宿舍"]], ["招聘"])
    matcher = Matcher([SchemeSpec(3, tree, weight=2.5)])
    [hit] = matcher.match(MatchDoc(title="南大食堂涨价", text="同学们说宿舍也……"))
    assert (hit.scheme_id, hit.words, hit.weight) == (3, ["南大", "食堂", "宿舍"], 2.5)
    assert matcher.match(MatchDoc(title="南大食堂招聘", text="")) == []
    assert matcher.match(MatchDoc(title="南大图书馆", text="")) == []
    assert simple_tree([[], [], [], []]) is None


def test_edge_texts() -> None:
    matcher = Matcher([SchemeSpec(1, simple_tree([["火灾"]])), SchemeSpec(2, Not(Term("x")))])
    assert [h.scheme_id for h in matcher.match(MatchDoc(title="", text=""))] == [2]
    assert [h.scheme_id for h in matcher.match(MatchDoc(title="", text="😀🔥😀" * 100))] == [2]
    big = "普通的一段话，" * 150_000 + "火灾"
    started = time.perf_counter()
    assert {h.scheme_id for h in matcher.match(MatchDoc(title="", text=big))} == {1, 2}
    assert time.perf_counter() - started < 5


def test_scheme_with_fifty_thousand_keywords() -> None:
    rng = random.Random(3)
    # split_words puts them in search form, as the editor and the API do.
    words = split_words(
        ["".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(3)) for _ in range(50_000)]
    )
    assert len(words) > 49_000
    started = time.perf_counter()
    matcher = Matcher([SchemeSpec(1, simple_tree([words]))])
    assert time.perf_counter() - started < 20
    assert matcher.keyword_count == len(words)
    [hit] = matcher.match(MatchDoc(title="", text=f"前面{words[-1]}后面"))
    assert words[-1] in hit.words
    assert matcher.match(MatchDoc(title="", text="没有")) == [] or "没有" in words


def test_search_form() -> None:
    assert search_form("國家  Big\nDATA") == "国家 big data"
    assert search_form(None) == ""
