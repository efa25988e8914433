"""Differences between two versions, character by character (Chinese has no spaces to cut
words at), with diff-match-patch and its semantic clean-up so a changed phrase reads as
one change, not scattered characters."""

from __future__ import annotations

from dataclasses import dataclass

from diff_match_patch import diff_match_patch

# 1 second at most per diff: two versions of a long statement never hold a request.
TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Piece:
    """One run of the diff: ``op`` is "same", "added" or "removed"."""

    op: str
    text: str


def diff_text(before: str, after: str) -> list[Piece]:
    """The runs that turn ``before`` into ``after``."""
    engine = diff_match_patch()
    engine.Diff_Timeout = TIMEOUT_SECONDS
    runs = engine.diff_main(before, after)
    engine.diff_cleanupSemantic(runs)
    names = {0: "same", 1: "added", -1: "removed"}
    return [Piece(names[op], text) for op, text in runs]


def count_changes(pieces: list[Piece]) -> tuple[int, int]:
    """Characters added and removed."""
    added = sum(len(p.text) for p in pieces if p.op == "added")
    removed = sum(len(p.text) for p in pieces if p.op == "removed")
    return added, removed
