"""The scheme query language: luqum's Lucene lexer, our grammar with NEAR/n and ONEAR/n.

Precedence, loosest first: ``OR``; ``AND`` (also implicit between adjacent terms); ``NOT``;
``NEAR/n`` and ``ONEAR/n``. Why not luqum's parser: it treats ``NEAR/5`` as a word of an
implicit operation that binds loosest, so ``a NEAR/5 b AND c`` would pair ``a`` with
``b AND c``; see docs/schemes.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from luqum.exceptions import IllegalCharacterError
from luqum.parser import lexer as luqum_lexer

from yuqing.core.search_form import search_form

TEXT_FIELDS = ("title", "text")
# No author field: a scheme on one author's name is a watch-list of one person, which Yuqing
# does not build (docs/schemes.md). Organisations' accounts are sources: source:/site:.
META_FIELDS = ("site", "source", "region", "sentiment")
REFUSED_FIELDS = {
    "author": "不支持按作者筛选（author:）：舆情工作台不为个人建立盯人名单。"
    "要关注某个机构的账号或网站，请把它配置为信息源，再用 source: 或 site: 筛选。",
}
FIELDS = TEXT_FIELDS + META_FIELDS
SENTIMENTS = {
    "正面": "positive",
    "中性": "neutral",
    "负面": "negative",
    "positive": "positive",
    "neutral": "neutral",
    "negative": "negative",
}
MAX_NEAR = 10_000
MAX_DEPTH = 32
"""Levels of brackets, NOT and chained NEAR a query may nest; real schemes use a few, and
each level costs stack in the parser and in every walk over the tree."""

EXPECT_OPERAND = "词语、短语或左括号"
EXPECT_OPERATOR = "AND/OR/NOT 或右括号"
EXPECT_OPERATOR_END = "AND/OR/NOT 或查询结束"

# Chinese keyboards type these; each maps to one ASCII character, so positions stay put.
_FULL_WIDTH = str.maketrans({"（": "(", "）": ")", "：": ":", "“": '"', "”": '"', "＂": '"'})
_NEAR = re.compile(r"^(O?NEAR)(?:/(\d+))?$")
_NEAR_LIKE = re.compile(r"^O?NEAR(/.*)?$")
_ILLEGAL_AT = re.compile(r"at position (\d+)")
_UNSUPPORTED = {
    "APPROX": "不支持模糊匹配（~）",
    "BOOST": "不支持权重（^）",
    "LBRACKET": "不支持范围查询（[ ] 或 { }）",
    "RBRACKET": "不支持范围查询（[ ] 或 { }）",
    "TO": "不支持范围查询（TO）",
    "REGEX": "不支持正则表达式（/…/）",
    "LESSTHAN": "不支持比较（<）",
    "GREATERTHAN": "不支持比较（>）",
}


class SchemeSyntaxError(ValueError):
    """A query that cannot be read: where (0-based character position) and what was expected."""

    def __init__(self, *, position: int, expected: str, message: str | None = None) -> None:
        self.position = position
        self.expected = expected
        self.message = message or f"第 {position + 1} 个字符处应为{expected}。"
        super().__init__(self.message)

    def as_dict(self) -> dict[str, object]:
        return {"position": self.position, "expected": self.expected, "message": self.message}


# --- the tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A word or phrase (search form); ``prefix`` for a trailing ``*``; ``field`` title/text."""

    word: str
    prefix: bool = False
    field: str | None = None
    pos: int = 0


@dataclass(frozen=True)
class Meta:
    """A filter on the item's metadata: site, source, region or sentiment."""

    field: str
    value: str
    prefix: bool = False
    pos: int = 0


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Near:
    """Both sides occur at most ``distance`` characters apart; ``ordered``: left first."""

    left: Node
    right: Node
    distance: int
    ordered: bool = False


Node = Term | Meta | And | Or | Not | Near


def is_positional(node: Node) -> bool:
    """Whether ``node`` has places in the text (a NEAR operand must)."""
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, Or):
        return all(is_positional(c) for c in node.children)
    return False


def terms(node: Node, *, positive: bool = True) -> Iterable[Term]:
    """The terms of ``node``: those outside any NOT (``positive``) or inside one."""
    if isinstance(node, Term):
        if positive:
            yield node
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from terms(child, positive=positive)
    elif isinstance(node, Not):
        yield from terms(node.child, positive=not positive)
    elif isinstance(node, Near):
        yield from terms(node.left, positive=positive)
        yield from terms(node.right, positive=positive)


def needs_keyword(node: Node) -> bool:
    """True when ``node`` can only hold if one of its positive terms occurs, so the matcher
    may skip it for texts where none does."""
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, And):
        return any(needs_keyword(c) for c in node.children)
    if isinstance(node, Or):
        return all(needs_keyword(c) for c in node.children)
    return False


# --- tokens ---------------------------------------------------------------------------


@dataclass
class _Token:
    kind: str  # TERM PHRASE AND OR NOT NEAR LPAREN RPAREN COLUMN MINUS PLUS END
    value: str
    pos: int
    distance: int = 0
    ordered: bool = False


def _tokens(query: str) -> list[_Token]:
    lexer = luqum_lexer.clone()
    lexer.input(query.translate(_FULL_WIDTH))
    found: list[_Token] = []
    try:
        for tok in lexer:
            found.append(_token(str(tok.value), tok.type, tok.lexpos))
    except IllegalCharacterError as error:
        match = _ILLEGAL_AT.search(str(error))
        at = int(match.group(1)) if match else len(query)
        if query[at : at + 1] in '"“＂':
            raise SchemeSyntaxError(
                position=at, expected="右引号", message=f"第 {at + 1} 个字符处的引号没有配对。"
            ) from None
        raise SchemeSyntaxError(position=at, expected=EXPECT_OPERAND) from None
    found.append(_Token("END", "", len(query)))
    return found


def _token(value: str, kind: str, pos: int) -> _Token:
    if kind in _UNSUPPORTED:
        raise SchemeSyntaxError(
            position=pos,
            expected=EXPECT_OPERAND,
            message=f"第 {pos + 1} 个字符处{_UNSUPPORTED[kind]}。",
        )
    kind = {"AND_OP": "AND", "OR_OP": "OR"}.get(kind, kind)
    if kind == "TERM":
        if value == "&&":
            kind = "AND"
        elif value == "||":
            kind = "OR"
        elif _NEAR_LIKE.match(value):
            return _near_token(value, pos)
    return _Token(kind, value, pos)


def _near_token(value: str, pos: int) -> _Token:
    match = _NEAR.match(value)
    if not match or match.group(2) is None:
        word = value.split("/")[0]
        raise SchemeSyntaxError(
            position=pos + len(word),
            expected="“/距离”",
            message=f"第 {pos + 1} 个字符处的 {word} 后应写距离（字数），例如 {word}/5。",
        )
    distance = int(match.group(2))
    if distance > MAX_NEAR:
        raise SchemeSyntaxError(
            position=pos, expected=f"不超过 {MAX_NEAR} 的距离", message=f"距离最大为 {MAX_NEAR}。"
        )
    return _Token("NEAR", value, pos, distance=distance, ordered=match.group(1) == "ONEAR")


# --- grammar --------------------------------------------------------------------------


_STARTS_OPERAND = ("TERM", "PHRASE", "LPAREN", "NOT", "MINUS", "PLUS")


@dataclass
class _Parser:
    tokens: list[_Token]
    at: int = 0
    depth: int = 0
    field_stack: list[str] = field(default_factory=list)

    @property
    def tok(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        tok = self.tokens[self.at]
        self.at += 1
        return tok

    def fail(self, expected: str) -> SchemeSyntaxError:
        tok = self.tok
        if tok.kind == "END":
            message = f"查询在结尾处不完整，应为{expected}。"
        else:
            message = f"第 {tok.pos + 1} 个字符处（“{tok.value}”）应为{expected}。"
        return SchemeSyntaxError(position=tok.pos, expected=expected, message=message)

    def parse(self) -> Node:
        if self.tok.kind == "END":
            raise SchemeSyntaxError(position=0, expected=EXPECT_OPERAND, message="查询是空的。")
        node = self.or_expr()
        if self.tok.kind == "RPAREN":
            tok = self.tok
            raise SchemeSyntaxError(
                position=tok.pos,
                expected=EXPECT_OPERATOR_END,
                message=f"第 {tok.pos + 1} 个字符处的右括号没有对应的左括号。",
            )
        if self.tok.kind != "END":
            raise self.fail(EXPECT_OPERATOR_END)
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.tok.kind == "OR":
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.not_expr()]
        while self.tok.kind == "AND" or self.tok.kind in _STARTS_OPERAND:
            if self.tok.kind == "AND":
                self.take()
            children.append(self.not_expr())
        return children[0] if len(children) == 1 else And(tuple(children))

    def nest(self, tok: _Token) -> None:
        """One level deeper at ``tok``; refused beyond MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SchemeSyntaxError(
                position=tok.pos,
                expected="更少的嵌套",
                message=f"第 {tok.pos + 1} 个字符处：括号、NOT 或 NEAR 嵌套超过 {MAX_DEPTH} 层，"
                "请简化查询。",
            )

    def not_expr(self) -> Node:
        if self.tok.kind in ("NOT", "MINUS"):
            self.nest(self.take())
            node = Not(self.not_expr())
            self.depth -= 1
            return node
        if self.tok.kind == "PLUS":
            self.take()
        return self.near_expr()

    def near_expr(self) -> Node:
        start = self.tok.pos
        node = self.atom()
        depth = self.depth
        while self.tok.kind == "NEAR":
            op = self.take()
            self.nest(op)  # each NEAR wraps the chain so far: a level of the tree
            right_start = self.tok.pos
            right = self.atom()
            for side, where in ((node, start), (right, right_start)):
                if not is_positional(side):
                    raise SchemeSyntaxError(
                        position=where,
                        expected="词语、短语或用 OR 连接的词语",
                        message=f"第 {where + 1} 个字符处：{op.value} 两边只能是词语、短语"
                        "或括号内用 OR 连接的词语（不能是 AND、NOT 或元数据字段）。",
                    )
            node = Near(node, right, op.distance, op.ordered)
        self.depth = depth
        return node

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "LPAREN":
            return self.group()
        if tok.kind == "PHRASE":
            self.take()
            return self.leaf(tok.value[1:-1].replace('\\"', '"'), tok.pos, phrase=True)
        if tok.kind == "TERM":
            self.take()
            if self.tok.kind == "COLUMN":
                return self.fielded(tok)
            return self.leaf(tok.value, tok.pos, phrase=False)
        if tok.kind == "NEAR":
            raise self.fail(EXPECT_OPERAND)
        raise self.fail(EXPECT_OPERAND)

    def group(self) -> Node:
        self.nest(self.take())
        if self.tok.kind == "RPAREN":
            raise self.fail(EXPECT_OPERAND)
        node = self.or_expr()
        if self.tok.kind != "RPAREN":
            raise self.fail(EXPECT_OPERATOR)
        self.take()
        self.depth -= 1
        return node

    def fielded(self, name_tok: _Token) -> Node:
        name = name_tok.value.lower()
        if name in REFUSED_FIELDS:
            raise SchemeSyntaxError(
                position=name_tok.pos,
                expected="字段 " + "/".join(FIELDS),
                message=f"第 {name_tok.pos + 1} 个字符处：{REFUSED_FIELDS[name]}",
            )
        if name not in FIELDS:
            raise SchemeSyntaxError(
                position=name_tok.pos,
                expected="字段 " + "/".join(FIELDS),
                message=f"第 {name_tok.pos + 1} 个字符处的字段“{name_tok.value}”不存在，"
                f"可用字段：{'、'.join(FIELDS)}。",
            )
        if self.field_stack:
            raise SchemeSyntaxError(
                position=name_tok.pos,
                expected=EXPECT_OPERAND,
                message=f"第 {name_tok.pos + 1} 个字符处：字段不能套在另一个字段里。",
            )
        self.take()  # the colon
        if self.tok.kind not in ("TERM", "PHRASE", "LPAREN"):
            raise self.fail(f"字段 {name} 的值")
        self.field_stack.append(name)
        try:
            return self.atom()
        finally:
            self.field_stack.pop()

    def leaf(self, raw: str, pos: int, *, phrase: bool) -> Node:
        prefix = not phrase and raw.endswith("*") and len(raw) > 1
        body = raw[:-1] if prefix else raw
        if not phrase:
            body = body.replace("\\", "")
        if not phrase and ("*" in body or "?" in body):
            star = raw.find("*") if "*" in body else raw.find("?")
            raise SchemeSyntaxError(
                position=pos + star,
                expected="词尾的 *",
                message=f"第 {pos + star + 1} 个字符处：通配符只能写在词的末尾（如 南京*）。",
            )
        word = search_form(body).replace("\x00", "")
        if not word:
            raise SchemeSyntaxError(
                position=pos, expected="非空的词语", message=f"第 {pos + 1} 个字符处的词语是空的。"
            )
        current = self.field_stack[-1] if self.field_stack else None
        if current is None or current in TEXT_FIELDS:
            return Term(word, prefix=prefix, field=current, pos=pos)
        if current == "sentiment":
            if word not in SENTIMENTS:
                raise SchemeSyntaxError(
                    position=pos,
                    expected="正面/中性/负面 或 positive/neutral/negative",
                    message=f"第 {pos + 1} 个字符处的情感“{body}”无效，应为正面、中性或负面。",
                )
            word = SENTIMENTS[word]
        return Meta(current, word, prefix=prefix, pos=pos)


def parse_query(query: str) -> Node:
    """The tree of an advanced-mode query; ``SchemeSyntaxError`` says where it went wrong."""
    if len(query) > 20_000:
        raise SchemeSyntaxError(
            position=20_000, expected="更短的查询", message="查询过长（上限 2 万字）。"
        )
    return _Parser(_tokens(query)).parse()


# --- simple mode ----------------------------------------------------------------------

_WORD_SPLIT = re.compile(r"[\s,，、;；|]+")


def split_words(raw: str | Iterable[str] | None) -> list[str]:
    """Words of a word-group box: separated by spaces, commas (both widths) or new lines;
    each in search form, duplicates dropped, order kept."""
    if raw is None:
        return []
    parts = _WORD_SPLIT.split(raw) if isinstance(raw, str) else list(raw)
    seen: dict[str, None] = {}
    for part in parts:
        word = search_form(part).replace("\x00", "")
        if word:
            seen.setdefault(word, None)
    return list(seen)


def simple_tree(groups: Iterable[Iterable[str]], exclude: Iterable[str] = ()) -> Node | None:
    """OR inside each filled word group, AND across them; NOT any excluded word. ``None``
    when no group has a word (such a scheme matches nothing)."""
    filled = [Or(tuple(Term(w) for w in group)) for group in map(list, groups) if group]
    if not filled:
        return None
    excluded = [Term(w) for w in exclude]
    parts: list[Node] = [g.children[0] if len(g.children) == 1 else g for g in filled]
    if excluded:
        parts.append(Not(excluded[0] if len(excluded) == 1 else Or(tuple(excluded))))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def refused_fields(query: str) -> list[str]:
    """The refused fields (``author``) a stored query uses, found by its tokens so a query
    with another problem still shows them; empty when there are none."""
    try:
        tokens = _tokens(query)
    except SchemeSyntaxError:
        return []
    found = [
        tok.value.lower()
        for tok, after in pairwise(tokens)
        if tok.kind == "TERM" and after.kind == "COLUMN" and tok.value.lower() in REFUSED_FIELDS
    ]
    return list(dict.fromkeys(found))
