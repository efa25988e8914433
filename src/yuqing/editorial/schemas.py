"""Values that cross the edge of the editorial domain: flags, board rows, and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class EditorialError(ValueError):
    """A refused editorial action (bad input or a rule), with a Chinese message; nothing
    was changed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class EditorialPermissionError(EditorialError):
    """The account may not take this action (not in the stage's role, no permission)."""


class SubmissionNotFound(EditorialError):
    """No such submission, or it lies outside the account's units (the page answers 404)."""

    def __init__(self, message: str) -> None:
        super().__init__("not_found", message)


class VersionConflict(EditorialError):
    """Someone saved a newer version since this editor opened it: the save is refused and
    the editor's text comes back with the message, so nothing is lost."""

    def __init__(self, message: str, *, current: int) -> None:
        super().__init__("version_conflict", message)
        self.current = current


@dataclass(frozen=True)
class Flag:
    """One finding of the compliance pre-check, with its place in the plain text
    (``start``/``end`` in characters). A flag is for the reviewer: the text is never
    rewritten."""

    kind: str  # prohibited | sensitive | exact | number | date
    category: str
    term: str
    start: int
    end: int
    message: str

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "category": self.category,
            "term": self.term,
            "start": self.start,
            "end": self.end,
            "message": self.message,
        }


@dataclass(frozen=True)
class BoardRow:
    """One line of the editorial board: a submission, its state, stage and deadline."""

    id: int
    title: str
    kind_name: str
    unit_name: str
    author_name: str
    state: str
    state_label: str
    stage_name: str
    due_at: datetime | None
    overdue: bool
    locked_by: str
    case_id: int | None
    updated_at: datetime


@dataclass(frozen=True)
class PublishedPiece:
    """A story or signed commentary on the institution's column, for the team's credit."""

    id: int
    title: str
    author_person_id: int | None
    unit_id: int | None
    published_at: datetime
    slug: str | None
