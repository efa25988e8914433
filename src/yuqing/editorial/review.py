"""One guarded function per transition of a submission (提交, 通过, 退回, 不予采用, 发布, 撤下,
更正): each checks its guard (the table below and the stage's role), sets its timestamp,
writes one audit row and one review record, and puts its notifications in the outbox.

A reviewer outside the stage's role is refused: the refusal itself is audited (the view
commits that row alone) and nothing else changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth import service as auth
from yuqing.auth.schemas import Principal
from yuqing.cases import service as cases
from yuqing.core import audit
from yuqing.editorial import config, publishing, richtext, stages
from yuqing.editorial.editing import MANAGE, WRITE, create_version, current_time, list_versions
from yuqing.editorial.models import ReviewAction, ReviewStage, Submission, SubmissionKind
from yuqing.editorial.schemas import EditorialError, EditorialPermissionError, Flag
from yuqing.notify import service as notify
from yuqing.notify.schemas import Message, Recipient
from yuqing.org import service as org


@dataclass(frozen=True)
class Transition:
    """An action: the states it leaves from, the state it enters (None: decided by the
    stages), who may take it (the stage's role, the writer, the department)."""

    sources: frozenset[str]
    target: str | None
    who: Literal["writer", "stage", "department"]


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition(frozenset({"draft", "returned"}), "in_review", "writer"),
    "approve": Transition(frozenset({"in_review"}), None, "stage"),
    "return": Transition(frozenset({"in_review"}), "returned", "stage"),
    "reject": Transition(frozenset({"in_review"}), "rejected", "stage"),
    "publish": Transition(frozenset({"approved"}), "published", "department"),
    "unpublish": Transition(frozenset({"published"}), "unpublished", "department"),
    "correct": Transition(frozenset({"published", "unpublished"}), "published", "department"),
}
STAMP = {
    "in_review": "submitted_at",
    "returned": "returned_at",
    "approved": "approved_at",
    "rejected": "rejected_at",
    "published": "published_at",
    "unpublished": "unpublished_at",
}


def _kind(session: Session, submission: Submission) -> SubmissionKind:
    kind = session.get(SubmissionKind, submission.kind_id)
    assert kind is not None
    return kind


def _stage(session: Session, submission: Submission) -> ReviewStage | None:
    return session.get(ReviewStage, submission.stage_id) if submission.stage_id else None


def _guard(session: Session, principal: Principal, submission: Submission, action: str) -> None:
    rule = TRANSITIONS[action]
    if submission.state not in rule.sources:
        raise EditorialError(
            "state",
            f"稿件当前为“{config.STATES[submission.state]}”，不能{config.ACTIONS[action]}",
        )
    if rule.who == "writer" and not principal.can(WRITE):
        raise EditorialPermissionError("permission", "您的账号没有报送稿件的权限")
    if rule.who == "department" and not principal.can(MANAGE):
        raise EditorialPermissionError("permission", "只有宣传部可以发布、撤下或更正")
    if rule.who == "stage":
        stage = _stage(session, submission)
        if stage is None or not stages.may_act(
            session, principal=principal, stage=stage, submission=submission
        ):
            name = stage.name if stage else "审核"
            who = stages.stage_label(session, stage) if stage else ""
            audit.record(
                session,
                actor=principal.actor,
                action="refused",
                object_type="submission",
                object_id=submission.id,
                summary=f"拒绝越权{name}：稿件“{submission.title[:60]}”，{config.ACTIONS[action]}"
                f"须由{who}办理",
            )
            raise EditorialPermissionError(
                "stage_role", f"{name}须由{who}办理，您不在该环节的审核人之列（已记录）"
            )


def _move(
    session: Session,
    *,
    principal: Principal,
    submission: Submission,
    action: str,
    target: str,
    stage: ReviewStage | None,
    comment: str = "",
    inline: list[dict[str, str]] | None = None,
    proofread: bool = False,
    proofread_note: str = "",
    values: dict[str, Any] | None = None,
) -> ReviewAction:
    """The common body: values, timestamp, audit row, review record."""
    now = current_time()
    values = dict(values or {})
    values["state"] = target
    values["stage_id"] = stage.id if stage else None
    if target in STAMP:
        values[STAMP[target]] = now
    before = {k: getattr(submission, k) for k in values}
    acting_stage = _stage(session, submission)
    for key, value in values.items():
        setattr(submission, key, value)
    submission.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="update",
        object_type="submission",
        object_id=submission.id,
        summary=f"稿件“{submission.title[:60]}”：{config.ACTIONS[action]}"
        + (f"（{acting_stage.name}）" if acting_stage and action != "submit" else ""),
        changes=audit.diff(before, values),
    )
    user = auth.get_user(session, user_id=principal.user_id)
    record = ReviewAction(
        submission_id=submission.id,
        stage_id=acting_stage.id if acting_stage else None,
        stage_name=acting_stage.name if acting_stage and action != "submit" else "",
        action=action,
        version_number=submission.version,
        comment=comment,
        inline=json.dumps(inline or [], ensure_ascii=False),
        proofread=proofread,
        proofread_note=proofread_note,
        actor_user_id=principal.user_id,
        actor_person_id=user.person_id if user else None,
        actor_name=principal.actor.name,
        at=now,
    )
    session.add(record)
    session.flush()
    return record


def notify_about(
    session: Session,
    *,
    submission: Submission,
    title: str,
    text: str,
    recipients: list[Recipient],
    key: str,
) -> None:
    if not recipients:
        return
    message = Message(
        title=title,
        text=text,
        level="info",
        link=config.SUBMISSION_LINK.format(id=submission.id),
    )
    notify.enqueue(
        session,
        message=message,
        recipients=recipients,
        dedupe_key=key,
        source_type="editorial",
        source_id=submission.id,
    )


def writer_recipients(submission: Submission, session: Session) -> list[Recipient]:
    found = []
    if submission.author_person_id:
        found.append(Recipient(kind="person", id=submission.author_person_id))
    user = (
        auth.get_user(session, user_id=submission.created_by_user_id)
        if submission.created_by_user_id
        else None
    )
    if user is not None and user.person_id and user.person_id != submission.author_person_id:
        found.append(Recipient(kind="person", id=user.person_id))
    return found


def run_precheck(session: Session, *, submission: Submission) -> list[Flag]:
    """The compliance pre-check of the current text against the previous version; stored
    on the submission for the stage's reviewer."""
    versions = list_versions(session, submission=submission)
    previous = versions[-2] if len(versions) >= 2 else None
    checker = stages.current_checker(session)
    text = richtext.text_of(submission.body)
    prior = richtext.text_of(previous.body) if previous else None
    flags = checker.check(
        f"{submission.title}\n{text}", f"{previous.title}\n{prior}" if previous else None
    )
    submission.flags = json.dumps([f.to_dict() for f in flags], ensure_ascii=False)
    submission.checked_at = current_time()
    return flags


def _wait_at(
    session: Session, submission: Submission, stage: ReviewStage, record: ReviewAction
) -> None:
    run_precheck(session, submission=submission)
    flags = len(json.loads(submission.flags))
    notify_about(
        session,
        submission=submission,
        title=f"待{stage.name}：{submission.title}",
        text=f"合规预检提示 {flags} 处" if flags else "合规预检未发现问题",
        recipients=stages.stage_recipients(session, stage=stage, submission=submission),
        key=f"editorial:{submission.id}:{record.id}:wait",
    )


def submit(session: Session, *, principal: Principal, submission: Submission) -> Submission:
    """提交审核: to the kind's first stage, after the pre-check."""
    _guard(session, principal, submission, "submit")
    if not submission.body.strip() and not _kind(session, submission).is_interview:
        raise EditorialError("body_empty", "正文不能为空")
    first = stages.next_stage(session, submission=Submission(kind_id=submission.kind_id))
    if first is None:
        raise EditorialError("no_stage", "该稿件类型没有配置审核环节")
    record = _move(
        session, principal=principal, submission=submission, action="submit",
        target="in_review", stage=first,
    )  # fmt: skip
    submission.lock_user_id, submission.lock_name, submission.locked_at = None, "", None
    _wait_at(session, submission, first, record)
    return submission


def approve(
    session: Session,
    *,
    principal: Principal,
    submission: Submission,
    comment: str = "",
    proofread: bool = False,
    proofread_note: str = "",
) -> Submission:
    """通过 this stage: on to the next (pre-checked again), or 审核通过 after the last. An
    interview request's approval carries its conditions and tells the unit's contact."""
    _guard(session, principal, submission, "approve")
    following = stages.next_stage(session, submission=submission)
    kind = _kind(session, submission)
    values: dict[str, Any] = {}
    if following is None and kind.is_interview:
        values["conditions"] = comment.strip()
    record = _move(
        session,
        principal=principal,
        submission=submission,
        action="approve",
        target="in_review" if following else "approved",
        stage=following,
        comment=comment.strip(),
        proofread=proofread,
        proofread_note=proofread_note.strip(),
        values=values,
    )
    if following is not None:
        _wait_at(session, submission, following, record)
        return submission
    told = writer_recipients(submission, session)
    if kind.is_interview:
        told += _unit_contact(session, submission)
    text = f"条件：{comment.strip()}" if kind.is_interview and comment.strip() else comment.strip()
    notify_about(
        session,
        submission=submission,
        title=f"{kind.name}已审核通过：{submission.title}",
        text=text,
        recipients=told,
        key=f"editorial:{submission.id}:{record.id}:approved",
    )
    return submission


def _unit_contact(session: Session, submission: Submission) -> list[Recipient]:
    if submission.contact_person_id:
        return [Recipient(kind="person", id=submission.contact_person_id)]
    unit = org.get_unit(session, unit_id=submission.unit_id) if submission.unit_id else None
    if unit is not None and unit.contact_person_id:
        return [Recipient(kind="person", id=unit.contact_person_id)]
    return [Recipient(kind="unit", id=unit.id)] if unit is not None else []


def return_(
    session: Session,
    *,
    principal: Principal,
    submission: Submission,
    comment: str,
    inline: list[dict[str, str]] | None = None,
    proofread: bool = False,
    proofread_note: str = "",
) -> Submission:
    """退回修改 with an overall comment and remarks on quoted passages; back to the writer,
    and through all stages again."""
    _guard(session, principal, submission, "return")
    text = (comment or "").strip()
    if not text:
        raise EditorialError("comment_empty", "退回需要填写修改意见")
    record = _move(
        session, principal=principal, submission=submission, action="return",
        target="returned", stage=None, comment=text, inline=inline,
        proofread=proofread, proofread_note=proofread_note.strip(),
    )  # fmt: skip
    remarks = "\n".join(f"“{i['quote']}”：{i['remark']}" for i in inline or [])
    notify_about(
        session,
        submission=submission,
        title=f"稿件被退回修改：{submission.title}",
        text=f"{text}\n{remarks}".strip(),
        recipients=writer_recipients(submission, session),
        key=f"editorial:{submission.id}:{record.id}:return",
    )
    return submission


def reject(
    session: Session, *, principal: Principal, submission: Submission, comment: str
) -> Submission:
    """不予采用: the end of the submission, with the reason."""
    _guard(session, principal, submission, "reject")
    text = (comment or "").strip()
    if not text:
        raise EditorialError("comment_empty", "不予采用需要说明理由")
    record = _move(
        session, principal=principal, submission=submission, action="reject",
        target="rejected", stage=None, comment=text,
    )  # fmt: skip
    notify_about(
        session,
        submission=submission,
        title=f"稿件不予采用：{submission.title}",
        text=text,
        recipients=writer_recipients(submission, session),
        key=f"editorial:{submission.id}:{record.id}:reject",
    )
    return submission


def _case_entry(session: Session, principal: Principal, submission: Submission, text: str) -> None:
    if submission.case_id is None:
        return
    case = cases.get_case(session, principal=principal, case_id=submission.case_id)
    cases.create_entry(session, case=case, actor=principal.actor, kind="statement", text=text)


def publish(session: Session, *, principal: Principal, submission: Submission) -> Submission:
    """发布 to the institution's own column (static files under the data dir), in the unit's
    name; a statement from a case shows on the case's timeline."""
    _guard(session, principal, submission, "publish")
    if not _kind(session, submission).publishable:
        raise EditorialError("not_publishable", "媒体采访申请不发布")
    slug = submission.slug or publishing.new_slug(session)
    _move(
        session, principal=principal, submission=submission, action="publish",
        target="published", stage=None, values={"slug": slug},
    )  # fmt: skip
    publishing.write_site(session)
    _case_entry(
        session, principal, submission,
        f"已发布“{submission.title}”：{publishing.public_link(submission)}",
    )  # fmt: skip
    return submission


def unpublish(
    session: Session, *, principal: Principal, submission: Submission, note: str
) -> Submission:
    """撤下: the article page stays, saying it was withdrawn and why (never a silent removal)."""
    _guard(session, principal, submission, "unpublish")
    text = (note or "").strip()
    if not text:
        raise EditorialError("note_empty", "撤下需要填写说明，说明会显示在原文位置")
    _move(
        session, principal=principal, submission=submission, action="unpublish",
        target="unpublished", stage=None, comment=text, values={"correction_note": text},
    )  # fmt: skip
    publishing.write_site(session)
    _case_entry(session, principal, submission, f"已撤下“{submission.title}”：{text}")
    return submission


def correct(
    session: Session, *, principal: Principal, submission: Submission, body: str, note: str
) -> Submission:
    """更正: a new version of the published text with a visible correction note."""
    _guard(session, principal, submission, "correct")
    text = (note or "").strip()
    if not text:
        raise EditorialError("note_empty", "更正需要填写更正说明，说明会显示在文章上")
    if len(body) > config.MAX_BODY_CHARS:
        raise EditorialError("body_long", f"正文过长（上限 {config.MAX_BODY_CHARS:,} 个字符）")
    submission.body = richtext.clean(body)
    submission.version += 1
    submission.corrected_at = current_time()
    create_version(session, submission, principal, f"更正：{text}")
    _move(
        session, principal=principal, submission=submission, action="correct",
        target="published", stage=None, comment=text, values={"correction_note": text},
    )  # fmt: skip
    publishing.write_site(session)
    _case_entry(session, principal, submission, f"已更正“{submission.title}”：{text}")
    return submission


def list_reviews(session: Session, *, submission: Submission) -> list[ReviewAction]:
    statement = select(ReviewAction).where(ReviewAction.submission_id == submission.id)
    return list(session.execute(statement.order_by(ReviewAction.at, ReviewAction.id)).scalars())


def allowed_actions(session: Session, *, principal: Principal, submission: Submission) -> list[str]:
    """The actions the account could take now (for the buttons)."""
    found = []
    for action, rule in TRANSITIONS.items():
        if submission.state not in rule.sources:
            continue
        if rule.who == "writer" and principal.can(WRITE):
            found.append(action)
        elif rule.who == "department" and principal.can(MANAGE):
            if action != "publish" or _kind(session, submission).publishable:
                found.append(action)
        elif rule.who == "stage":
            stage = _stage(session, submission)
            if stage and stages.may_act(
                session, principal=principal, stage=stage, submission=submission
            ):
                found.append(action)
    return found
