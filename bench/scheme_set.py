"""The benches' generated scheme set: bench/schemes.py's schemes as SchemeIn, to store in a database.

The words and the query shapes are those of ``bench/schemes.py`` (same seed, same vocabulary
rule), written the way a user would: odd schemes in simple mode (three word groups and
excluded words), even schemes in advanced mode (an OR list, a NOT, a NEAR and a title prefix).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from schemes import vocabulary  # bench/schemes.py, a script beside this one
from yuqing.schemes.schemas import SchemeIn

SEED = 20240501


def scheme_ins(texts: list[str], n_schemes: int = 500, n_keywords: int = 10_000) -> list[SchemeIn]:
    """``n_schemes`` schemes holding ``n_keywords`` words in all, sampled from ``texts``."""
    rng = random.Random(SEED)
    words = vocabulary(texts, rng)
    per = max(4, n_keywords // n_schemes)
    made = []
    for sid in range(1, n_schemes + 1):
        picked = rng.sample(words, per)
        name = f"方案{sid:04d}"
        if sid % 2:
            a, b, c = per // 2, per * 3 // 4, per - 2
            made.append(
                SchemeIn(
                    name=name,
                    subject_words=picked[:a],
                    region_words=picked[a:b],
                    person_words=picked[b:c],
                    exclude_words=picked[c:],
                )
            )
            continue
        ors = " OR ".join(picked[: per - 4])
        query = (
            f"({ors}) AND NOT {picked[-1]} OR {picked[-2]} NEAR/10 {picked[-3]} "
            f"OR title:{picked[-4]}*"
        )
        made.append(SchemeIn(name=name, mode="advanced", query=query))
    return made


def keyword_lists(schemes: list[SchemeIn]) -> list[list[str]]:
    """Every scheme's words, as a plain keyword loop would check them."""
    from yuqing.schemes.query import parse_query, terms

    lists = []
    for scheme in schemes:
        if scheme.mode == "advanced":
            lists.append([t.word for t in terms(parse_query(scheme.query))])
        else:
            lists.append(
                [
                    *scheme.subject_words,
                    *scheme.region_words,
                    *scheme.person_words,
                    *scheme.exclude_words,
                ]
            )
    return lists
