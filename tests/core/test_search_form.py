"""The search form skips OpenCC only when OpenCC would change nothing, phrase rules included."""

from __future__ import annotations

import subprocess
from pathlib import Path

import opencc
import pytest

from tests.support import need
from yuqing.core.search_form import needs_simplifying, search_form, simplified, t2s
from yuqing.schemes.matcher import MatchDoc, Matcher, SchemeSpec
from yuqing.schemes.query import parse_query


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("回覆", "回复"),
        ("沈默", "沉默"),
        ("学校已回覆家长", "学校已回复家长"),
        ("他一直沈默不语", "他一直沉默不语"),
        ("以此为藉口", "以此为借口"),
        ("我瞭解情况", "我了解情况"),
        ("學校回覆", "学校回复"),
        ("食堂涨价", "食堂涨价"),
    ],
)
def test_phrase_rules_apply_without_any_traditional_character(text: str, form: str) -> None:
    assert search_form(text) == form


def test_scheme_matches_a_simplified_phrase_written_with_phrase_only_characters() -> None:
    matcher = Matcher([SchemeSpec(1, parse_query("回复 AND 沉默"), "both")])
    assert matcher.match(MatchDoc(title="校方回覆", text="此前一直沈默"))
    assert not matcher.match(MatchDoc(title="校方回应", text="此前一直安静"))


def test_supplementary_plane_traditional_characters_are_converted() -> None:
    # U+29028 (Extension B) is Traditional; t2s maps it to another Extension-B character.
    text = "\U00029028"
    assert str(t2s().convert(text)) != text
    assert needs_simplifying(text) and simplified(text) == str(t2s().convert(text))


def _dictionary(name: str, folder: Path) -> list[str]:
    """Keys of one of the installed OpenCC dictionaries, dumped as text by its own tool."""
    share = Path(opencc.__file__).parent / "clib"
    tool = share / "bin" / "opencc_dict"
    need(tool.exists(), "opencc_dict is not shipped with this OpenCC build")
    out = folder / f"{name}.txt"
    source = share / "share" / "opencc" / f"{name}.ocd2"
    subprocess.run(
        [str(tool), "-i", str(source), "-o", str(out), "-f", "ocd2", "-t", "text"], check=True
    )
    return [line.split("\t", 1)[0] for line in out.read_text("utf-8").splitlines() if line]


@pytest.mark.parametrize("name", ["TSPhrases", "TSCharacters", "TSCharactersExt"])
def test_every_key_t2s_rewrites_is_caught(name: str, tmp_path: Path) -> None:
    keys = _dictionary(name, tmp_path)
    assert len(keys) > 100
    missed = [k for k in keys if str(t2s().convert(k)) != k and not needs_simplifying(k)]
    assert missed == []
