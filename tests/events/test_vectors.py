"""Text vectors and similarities of a batch: the one-sort vectorisation against a plain
per-text reading of the rules, marks cleaned alike in small and large batches, dense and
sparse products alike."""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from datetime import datetime
from itertools import pairwise

import numpy as np
import pytest

from yuqing.events import similarity
from yuqing.events.cluster import TextIndex
from yuqing.events.vectors import (
    BUCKETS,
    ITEM_FEATURES,
    LEAD_CHARS,
    NOISE,
    STOP_WORDS,
    Doc,
    Frequencies,
    batch_vectors,
    bigram_counts,
    stable_order,
)

T0 = datetime(2024, 5, 1, 8, 0)
_WORD = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff]")
_STOCK = "据了解 记者了解到 记者获悉 据悉 据报道 有网友称 网友爆料 多位同学反映 多位网友反映 "
_STOCK += "论坛热帖显示 网帖显示 本报讯 今日 昨日 中午 昨晚 今晚 本周 上周 本月 日电 新闻 快讯 "
_STOCK += "发布 通报 关注 讨论 点赞"

TEXTS = [
    "南江大学第三食堂今天中午发生学生集体腹泻事件，二十多名学生被送往校医院治疗。",
    "转发微博 //@某人: 南江大学图书馆新馆今天正式开放 http://t.cn/abc [哈哈]",
    "HTTP://EXAMPLE.COM/X 北湖镇村民反映自来水发黄，镇政府回复称正在检修管道。",
    "据了解，" + "江城大学宿舍楼夜间停电，" * 12 + "@物业 回复：已抢修。",
    "Hello World 2024：校园网频繁掉线，学生吐槽信息中心。",
    "！！！",
    "",
    "".join(chr(0x4E00 + 7 * i) for i in range(150)),  # more bigrams than a vector keeps
]


def _column(first: str, second: str) -> int:
    return ((ord(first) << 21) | ord(second)) % 1_048_573


def _stop_columns() -> set[int]:
    phrases = (STOP_WORDS + " " + _STOCK).split()
    return {_column(a, b) for p in phrases for a, b in pairwise(p)}


def _counts(doc: Doc) -> dict[int, float]:
    """The rules of the module doc, one text at a time, in plain Python."""
    stop = _stop_columns()
    found: dict[int, float] = {}
    lead = NOISE.sub(" ", doc.text[: LEAD_CHARS + 40].lower())[:LEAD_CHARS]
    for part, weight in ((NOISE.sub(" ", doc.title.lower()), 3.0), (lead, 1.0)):
        for first, second in pairwise(part):
            if _WORD.match(first) and _WORD.match(second):
                column = _column(first, second)
                if column not in stop:
                    found[column] = found.get(column, 0.0) + weight
    for place in doc.places:
        bucket = zlib.crc32(place.encode()) & (BUCKETS - 1)
        found[bucket] = found.get(bucket, 0.0) + 1.0
    return found


def _docs(count: int) -> list[Doc]:
    return [
        Doc(
            title=TEXTS[(i + 2) % len(TEXTS)][:20] if i % 3 == 0 else "",
            text=f"{TEXTS[i % len(TEXTS)]}第{i}条",
            places=["北湖镇"] if i % 4 == 0 else [],
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [3, 200])  # marks found text by text, and in numpy
def test_bigram_counts_follow_the_rules_text_by_text(count: int) -> None:
    docs = _docs(count)
    rows, columns, counts = bigram_counts(docs)
    for row, doc in enumerate(docs):
        mine = rows == row
        got = dict(zip(columns[mine].tolist(), counts[mine].tolist(), strict=True))
        assert got == dict(_counts(doc))
        assert columns[mine].tolist() == sorted(got)


def test_vectors_are_tf_idf_cut_to_the_strongest_and_scaled() -> None:
    docs = _docs(40)
    frequencies = Frequencies()
    vectors = batch_vectors(docs, frequencies).matrix
    df = Counter(c for doc in docs for c in _counts(doc))
    assert frequencies.docs == len(docs)
    for row, doc in enumerate(docs):
        weights = {
            c: (1.0 + math.log(n)) * (math.log((len(docs) + 1.0) / (df[c] + 1.0)) + 1.0)
            for c, n in _counts(doc).items()
        }
        if len(weights) > ITEM_FEATURES:
            bar = sorted(weights.values(), reverse=True)[ITEM_FEATURES - 1]
            weights = {c: w for c, w in weights.items() if w >= bar}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        start, end = vectors.indptr[row], vectors.indptr[row + 1]
        columns, data = vectors.indices[start:end].tolist(), vectors.data[start:end].tolist()
        got = dict(zip(columns, data, strict=True))
        assert got.keys() == weights.keys()
        assert all(abs(got[c] - w / norm) < 1e-6 for c, w in weights.items())


def test_dense_and_sparse_products_give_the_same_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Small batches are multiplied dense, large ones sparse: the same similarities."""

    def place(cells: int) -> list[tuple[int | None, float]]:
        monkeypatch.setattr(similarity, "DENSE_CELLS", cells)
        index = TextIndex()
        seed = index.batch(_docs(12), [T0] * 12)
        for row in range(12):
            match = seed.best(row)
            seed.join(row, match.event_id if match else -(row + 1))
        seed.commit()
        for temp in sorted((e for e in index.profiles if e < 0), reverse=True):
            index.rename(temp, index.max_event_id + 1)
        later = index.batch(_docs(30)[12:], [T0] * 18)
        found: list[tuple[int | None, float]] = []
        for row in range(18):
            match = later.best(row)
            found.append((match.event_id, match.score) if match else (None, 0.0))
            later.join(row, match.event_id if match else -(row + 1))
        return found

    dense, sparse = place(1 << 30), place(0)
    assert [e for e, _ in dense] == [e for e, _ in sparse]
    assert np.allclose([s for _, s in dense], [s for _, s in sparse], atol=1e-6)
    assert any(e is not None for e, _ in dense)


def test_stable_order_is_a_stable_argsort() -> None:
    """The packed order (keys and positions in 63 bits) and the plain one (larger keys) both
    give numpy's stable argsort: ties keep their order, which the profile sums rely on."""
    rng = np.random.default_rng(7)
    for high in (50, 1 << 20, 1 << 31, 1 << 40, 1 << 55):
        keys = rng.integers(0, high, 5_000, dtype=np.int64)
        assert np.array_equal(stable_order(keys), np.argsort(keys, kind="stable"))
    assert stable_order(np.zeros(0, np.int64)).tolist() == []
