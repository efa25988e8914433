"""The institution's own voice (编辑发布): the face other domains and the desk pages call.

The work lives in the domain's rooms: ``stages`` (kinds, review stages, word lists, who may
act), ``editing`` (seeing, saving with version checks, locks, deadlines, images),
``review`` (one guarded function per transition), ``publishing`` (the static column, the
share kit), ``approval_form`` (the .docx), ``precheck``, ``diffs`` and ``richtext``.
Every function works in the caller's transaction and never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.core.timeutil import utcnow
from yuqing.editorial import config
from yuqing.editorial.approval_form import fill as approval_form
from yuqing.editorial.diffs import count_changes, diff_text
from yuqing.editorial.editing import (
    MANAGE,
    READ,
    REVIEW,
    WRITE,
    Draft,
    count_by_state,
    create_attachment,
    create_image,
    create_submission,
    flags_of,
    get_attachment,
    get_image_path,
    get_submission,
    get_version,
    is_overdue,
    list_attachments,
    list_submissions,
    list_versions,
    lock,
    sees,
    unlock,
    update_submission,
)
from yuqing.editorial.models import ReviewStage, Submission, SubmissionKind
from yuqing.editorial.publishing import public_link, share_kit, site_dir, write_site
from yuqing.editorial.review import (
    allowed_actions,
    approve,
    correct,
    list_reviews,
    publish,
    reject,
    return_,
    run_precheck,
    submit,
    unpublish,
)
from yuqing.editorial.schemas import BoardRow, PublishedPiece
from yuqing.editorial.stages import (
    UNIT_RULES,
    current_checker,
    ensure_defaults,
    list_kinds,
    list_stages,
    list_word_lists,
    stage_label,
    update_stage,
)
from yuqing.org import service as org

__all__ = [
    "MANAGE",
    "READ",
    "REVIEW",
    "UNIT_RULES",
    "WRITE",
    "Draft",
    "allowed_actions",
    "approval_form",
    "approve",
    "correct",
    "count_by_state",
    "count_changes",
    "create_attachment",
    "create_image",
    "create_submission",
    "current_checker",
    "diff_text",
    "ensure_defaults",
    "flags_of",
    "get_attachment",
    "get_image_path",
    "get_submission",
    "get_version",
    "is_overdue",
    "kind_of",
    "list_attachments",
    "list_board_rows",
    "list_for_case",
    "list_kinds",
    "list_published",
    "list_reviews",
    "list_stages",
    "list_submissions",
    "list_versions",
    "list_word_lists",
    "lock",
    "public_link",
    "publish",
    "reject",
    "return_",
    "run_precheck",
    "sees",
    "share_kit",
    "site_dir",
    "stage_label",
    "submit",
    "unlock",
    "unpublish",
    "update_stage",
    "update_submission",
    "write_site",
]


def list_board_rows(
    session: Session, *, principal: Principal, kind_id: int | None = None
) -> list[BoardRow]:
    """The board: the account's units' submissions, newest first, with state and deadline."""
    kinds = {k.id: k.name for k in list_kinds(session)}
    stages = {s.id: s.name for s in session.execute(select(ReviewStage)).scalars()}
    units = org.list_unit_names(session)
    people = org.list_active_person_names(session)
    now = utcnow()
    rows = list_submissions(session, principal=principal)
    return [
        BoardRow(
            id=s.id,
            title=s.title,
            kind_name=kinds.get(s.kind_id, ""),
            unit_name=units.get(s.unit_id or 0, ""),
            author_name=people.get(s.author_person_id or 0, s.created_by_name),
            state=s.state,
            state_label=config.STATES.get(s.state, s.state),
            stage_name=stages.get(s.stage_id or 0, ""),
            due_at=s.due_at,
            overdue=is_overdue(s, now),
            locked_by=s.lock_name if s.lock_user_id else "",
            case_id=s.case_id,
            updated_at=s.updated_at,
        )
        for s in rows
        if kind_id is None or s.kind_id == kind_id
    ]


def list_for_case(session: Session, *, principal: Principal, case_id: int) -> list[Submission]:
    """The statements written for a case (the case page shows their state and links)."""
    if not principal.can(READ):
        return []
    rows = session.execute(
        select(Submission).where(Submission.case_id == case_id).order_by(Submission.id)
    ).scalars()
    return [s for s in rows if sees(principal, s)]


def kind_of(session: Session, *, submission: Submission) -> SubmissionKind:
    kind = session.get(SubmissionKind, submission.kind_id)
    assert kind is not None
    return kind


# The kinds whose published pieces count as the author's news work (docs/team.md): unit
# news and signed commentary. Statements speak for the institution, not for a person.
CREDITED_KINDS = ("news", "commentary")


def list_published(session: Session, *, start: datetime, end: datetime) -> list[PublishedPiece]:
    """Pieces of the credited kinds published in [start, end) and still on the column (a
    piece taken down earns nothing); naive UTC times."""
    rows = session.execute(
        select(
            Submission.id, Submission.title, Submission.author_person_id, Submission.unit_id,
            Submission.published_at, Submission.slug,
        )
        .join(SubmissionKind, SubmissionKind.id == Submission.kind_id)
        .where(
            SubmissionKind.key.in_(CREDITED_KINDS), Submission.state == "published",
            Submission.published_at >= start, Submission.published_at < end,
        )
        .order_by(Submission.published_at, Submission.id)
    )  # fmt: skip
    return [
        PublishedPiece(id=i, title=t, author_person_id=a, unit_id=u, published_at=at, slug=sl)
        for i, t, a, u, at, sl in rows
        if at is not None
    ]
