"""Online clustering by text: key terms of a mention and an in-memory index of recent events.

A mention that no repost link or near-duplicate group places is compared with the events
seen in the last ``WINDOW`` by their key terms (rjieba words of two or more characters, stop
words and repost boilerplate left out, place names weighted up). Terms are weighted by
inverse document frequency over the items seen, and an item joins the best event only when

- it shares at least ``MIN_SHARED`` terms with it, of which ``MIN_RARE`` are rare enough
  (document frequency at most ``RARE_SHARE`` of the items seen), and
- the cosine similarity of their weighted term sets reaches ``THRESHOLD``.

Both bars are set for precision: two stories that share a common word ("学校", "通知") stay
apart; an item that shares too little starts its own event. See docs/events.md.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import rjieba

WINDOW = timedelta(hours=72)
MIN_SHARED = 3
MIN_RARE = 2
RARE_SHARE = 0.02
THRESHOLD = 0.34
MAX_ITEM_TERMS = 40  # terms taken from one item (its first ones: the lead of a post)
MAX_EVENT_TERMS = 60  # terms kept per event, strongest first
MAX_CANDIDATES = 30  # events scored per item, most shared postings first
MAX_CHARS = 400  # characters of a text that are segmented
PLACE_BOOST = 1.5
PRUNE_EVERY = timedelta(hours=1)

_NOISE = re.compile(
    r"https?://\S+|www\.\S+"  # links
    r"|@[\w\-·]{1,30}"  # mentioned and reposting accounts
    r"|\[[^\[\]\s]{1,8}\]"  # [表情]
    r"|//"
)
_WORD = re.compile(r"^[0-9a-z\u3400-\u4dbf\u4e00-\u9fff]{2,}$")
_STOP = frozenset(
    [
        "转发",
        "微博",
        "转发微博",
        "回复",
        "评论",
        "分享",
        "视频",
        "图片",
        "网页",
        "链接",
        "全文",
        "原文",
        "详情",
        "来自",
        "客户端",
        "哈哈",
        "哈哈哈",
        "我们",
        "你们",
        "他们",
        "她们",
        "它们",
        "自己",
        "大家",
        "这个",
        "那个",
        "这些",
        "那些",
        "这样",
        "那样",
        "这么",
        "那么",
        "这里",
        "那里",
        "什么",
        "怎么",
        "怎样",
        "为什么",
        "为何",
        "如何",
        "是不是",
        "有没有",
        "一个",
        "一些",
        "一下",
        "一点",
        "一样",
        "一直",
        "一定",
        "一起",
        "已经",
        "还是",
        "就是",
        "不是",
        "没有",
        "可以",
        "可能",
        "应该",
        "需要",
        "知道",
        "觉得",
        "认为",
        "表示",
        "看到",
        "看看",
        "出来",
        "起来",
        "时候",
        "现在",
        "今天",
        "昨天",
        "明天",
        "今年",
        "去年",
        "因为",
        "所以",
        "如果",
        "但是",
        "而且",
        "虽然",
        "然后",
        "还有",
        "只是",
        "只有",
        "或者",
        "以及",
        "对于",
        "关于",
        "真的",
        "真是",
        "其实",
        "确实",
        "非常",
        "特别",
        "还要",
        "不要",
        "不会",
        "不能",
        "不知",
        "不过",
        "终于",
        "居然",
        "竟然",
        "简直",
        "太多",
        "很多",
        "好像",
        "希望",
        "相信",
        "感觉",
        "希望",
        "支持",
        "谢谢",
        "呵呵",
        "嘻嘻",
        "啊啊",
        "天哪",
        "我的",
        "你的",
        "他的",
        "她的",
        "的话",
        "之后",
        "之前",
        "以后",
        "以前",
        "一次",
        "一天",
        "今晚",
        "晚上",
        "早上",
        "上午",
        "下午",
        "中国",
        "国家",
        "社会",
        "问题",
        "事情",
        "消息",
        "情况",
        "发生",
        "发现",
    ]
)


def key_terms(text: str, places: Iterable[str] = ()) -> list[str]:
    """The key terms of a text, in order of first appearance, each once; the given place
    names (from the places stage) come first."""
    form = _NOISE.sub(" ", text[:MAX_CHARS].lower())
    seen: dict[str, None] = dict.fromkeys(p for p in places if len(p) >= 2)
    for word in rjieba.cut(form):
        if word in seen or word in _STOP or not _WORD.match(word) or word.isdigit():
            continue
        seen[word] = None
        if len(seen) >= MAX_ITEM_TERMS:
            break
    return list(seen)


@dataclass
class _Profile:
    """The key terms of one event and when it was last seen."""

    terms: Counter[str]
    last_seen: datetime
    norm: float = 0.0


@dataclass
class Match:
    """Why an item joins an event: the terms they share and the similarity (explainable)."""

    event_id: int
    score: float
    shared: list[str]


@dataclass
class TermIndex:
    """Recent events' key terms with postings (term → events) and document frequencies."""

    profiles: dict[int, _Profile] = field(default_factory=dict)
    postings: dict[str, set[int]] = field(default_factory=dict)
    df: Counter[str] = field(default_factory=Counter)
    docs: int = 0
    max_event_id: int = 0
    places: frozenset[str] = frozenset()
    pruned_at: datetime | None = None

    def weight(self, term: str) -> float:
        boost = PLACE_BOOST if term in self.places else 1.0
        return boost * (math.log((self.docs + 1) / (self.df.get(term, 0) + 1)) + 1.0)

    def observe(self, terms: Iterable[str]) -> None:
        """Count one item's terms in the document frequencies."""
        self.docs += 1
        self.df.update(terms)

    def best(self, terms: list[str], at: datetime) -> Match | None:
        """The event these terms belong to, or None when no event is close enough."""
        if len(terms) < MIN_SHARED:
            return None
        # A match needs MIN_RARE shared rare terms, so only rare terms' postings can name
        # candidates: common words ("学校") would list most of the index.
        rare_df = max(2.0, RARE_SHARE * self.docs)
        df = self.df
        hits: Counter[int] = Counter()
        for term in terms:
            if df.get(term, 0) <= rare_df:
                hits.update(self.postings.get(term, ()))
        if not hits:
            return None
        weights = {t: self.weight(t) for t in terms}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        best: Match | None = None
        for event_id, rare in hits.most_common(MAX_CANDIDATES):
            if rare < MIN_RARE:
                break
            profile = self.profiles.get(event_id)
            if profile is None or at - profile.last_seen > WINDOW:
                continue
            shared = [t for t in terms if t in profile.terms]
            if len(shared) < MIN_SHARED:
                continue
            score = sum(weights[t] ** 2 for t in shared) / (norm * self._norm(profile) or 1.0)
            if score >= THRESHOLD and (best is None or score > best.score):
                best = Match(event_id=event_id, score=score, shared=shared)
        return best

    def _norm(self, profile: _Profile) -> float:
        return math.sqrt(sum(self.weight(t) ** 2 for t in profile.terms))

    def add(self, event_id: int, terms: Iterable[str], at: datetime) -> None:
        """Put an item's terms into an event's profile (creating it), keeping the strongest."""
        profile = self.profiles.get(event_id)
        if profile is None:
            profile = self.profiles[event_id] = _Profile(Counter(), at)
        profile.last_seen = max(profile.last_seen, at)
        kept = profile.terms
        fresh = [t for t in terms if t not in kept]
        kept.update(terms)
        for term in fresh:  # terms already kept are already posted
            self.postings.setdefault(term, set()).add(event_id)
        if len(kept) > MAX_EVENT_TERMS:
            ranked = sorted(kept, key=lambda t: -kept[t] * self.weight(t))
            for term in ranked[MAX_EVENT_TERMS:]:
                del kept[term]
                self._unpost(term, event_id)
        if event_id > 0:
            self.max_event_id = max(self.max_event_id, event_id)

    def rename(self, old: int, new: int) -> None:
        """Give an event created in this batch (temporary id) its stored id."""
        profile = self.profiles.pop(old, None)
        if profile is None:
            return
        self.profiles[new] = profile
        self.max_event_id = max(self.max_event_id, new)
        for term in profile.terms:
            self._unpost(term, old)
            self.postings.setdefault(term, set()).add(new)

    def touch(self, event_id: int, at: datetime) -> None:
        profile = self.profiles.get(event_id)
        if profile is not None and at > profile.last_seen:
            profile.last_seen = at

    def forget(self, event_id: int) -> None:
        profile = self.profiles.pop(event_id, None)
        if profile is not None:
            for term in profile.terms:
                self._unpost(term, event_id)

    def prune(self, now: datetime) -> None:
        """Drop events not seen within the window before ``now`` (at most once an hour of
        stream time: the scan is over every profile)."""
        if self.pruned_at is not None and timedelta(0) <= now - self.pruned_at < PRUNE_EVERY:
            return
        self.pruned_at = now
        for event_id in [e for e, p in self.profiles.items() if now - p.last_seen > WINDOW]:
            self.forget(event_id)

    def terms_of(self, event_id: int) -> list[str]:
        """An event's kept terms (already cut to the strongest ``MAX_EVENT_TERMS``)."""
        profile = self.profiles.get(event_id)
        return list(profile.terms) if profile is not None else []

    def _unpost(self, term: str, event_id: int) -> None:
        holders = self.postings.get(term)
        if holders is not None:
            holders.discard(event_id)
            if not holders:
                del self.postings[term]
