"""Kinds, their review stages and the pre-check word lists as data (seeded from config), and
who may act at a stage: the one rule every review action is guarded by."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.alerts import service as alerts
from yuqing.auth import service as auth
from yuqing.auth.schemas import Principal
from yuqing.editorial import config
from yuqing.editorial.models import ReviewStage, Submission, SubmissionKind, WordList
from yuqing.editorial.precheck import Checker, Word, parse_exact
from yuqing.notify.schemas import Recipient
from yuqing.org import service as org


def ensure_defaults(session: Session) -> None:
    """Create the default kinds, their stages and the word lists that do not exist yet."""
    org.ensure_defaults(session)  # the duty roles the stages name
    roles = {r.key: r.id for r in org.list_duty_roles(session)}
    kinds = {k.key: k for k in session.execute(select(SubmissionKind)).scalars()}
    for key, name, order, default, due, publishable, interview in config.KINDS:
        if key in kinds:
            continue
        kind = SubmissionKind(
            key=key,
            name=name,
            order=order,
            is_default=default,
            due_working_days=due,
            publishable=publishable,
            is_interview=interview,
        )
        session.add(kind)
        session.flush()
        stages = config.INTERVIEW_REVIEWS if interview else config.THREE_REVIEWS
        for skey, sname, sorder, role, rule in stages:
            session.add(
                ReviewStage(
                    kind_id=kind.id,
                    key=skey,
                    name=sname,
                    order=sorder,
                    duty_role_id=roles.get(role),
                    unit_rule=rule,
                )
            )
    lists = set(session.execute(select(WordList.key)).scalars())
    for key, name, kind_key, order, words in config.WORD_LISTS:
        if key not in lists:
            session.add(WordList(key=key, name=name, kind=kind_key, order=order, words=words))
    session.flush()


def list_kinds(session: Session) -> list[SubmissionKind]:
    # ``yuqing init`` makes the defaults; a database it has not run on since gets them here.
    if session.execute(select(SubmissionKind.id).limit(1)).first() is None:
        ensure_defaults(session)
    return list(session.execute(select(SubmissionKind).order_by(SubmissionKind.order)).scalars())


def get_kind(session: Session, *, kind_id: int) -> SubmissionKind | None:
    return session.get(SubmissionKind, kind_id)


def list_stages(session: Session, *, kind_id: int) -> list[ReviewStage]:
    statement = select(ReviewStage).where(ReviewStage.kind_id == kind_id)
    return list(session.execute(statement.order_by(ReviewStage.order)).scalars())


def next_stage(session: Session, *, submission: Submission) -> ReviewStage | None:
    """The stage after the submission's current one (the first when it has none)."""
    stages = list_stages(session, kind_id=submission.kind_id)
    if submission.stage_id is None:
        return stages[0] if stages else None
    ids = [s.id for s in stages]
    at = ids.index(submission.stage_id) if submission.stage_id in ids else -1
    return stages[at + 1] if at + 1 < len(stages) else None


UNIT_RULES = {"own": "稿件所属单位", "fixed": "指定单位", "any": "不限单位"}


def update_stage(
    session: Session,
    *,
    principal: Principal,
    stage: ReviewStage,
    name: str,
    duty_role_id: int | None,
    unit_rule: str,
    unit_id: int | None,
    person_id: int | None,
) -> ReviewStage:
    """Change who acts at a stage (the department only; audited). A person, when named,
    takes precedence over the duty role."""
    from yuqing.core import audit
    from yuqing.editorial.schemas import EditorialError, EditorialPermissionError

    if not principal.can("editorial.manage"):
        raise EditorialPermissionError("permission", "只有宣传部可以修改审核环节")
    label = (name or "").strip()[:60]
    if not label:
        raise EditorialError("stage_name", "环节名称不能为空")
    if unit_rule not in UNIT_RULES:
        raise EditorialError("unit_rule", "单位范围须为：稿件所属单位、指定单位或不限单位")
    if unit_rule == "fixed" and (unit_id is None or org.get_unit(session, unit_id=unit_id) is None):
        raise EditorialError("unit_unknown", "“指定单位”须选择一个存在的单位")
    if duty_role_id is not None and duty_role_id not in org.list_duty_role_names(session):
        raise EditorialError("role_unknown", f"职责 {duty_role_id} 不存在")
    if person_id is not None and org.get_person(session, person_id=person_id) is None:
        raise EditorialError("person_unknown", f"人员 {person_id} 不存在")
    if duty_role_id is None and person_id is None:
        raise EditorialError("nobody", "请指定职责或具体人员，否则该环节无人可审")
    values = {
        "name": label,
        "duty_role_id": duty_role_id,
        "unit_rule": unit_rule,
        "unit_id": unit_id if unit_rule == "fixed" else None,
        "person_id": person_id,
    }
    before = {k: getattr(stage, k) for k in values}
    for key, value in values.items():
        setattr(stage, key, value)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="update",
        object_type="editorial_stage",
        object_id=stage.id,
        summary=f"修改审核环节“{label}”",
        changes=audit.diff(before, values),
    )
    return stage


def stage_label(session: Session, stage: ReviewStage) -> str:
    """Who may act, in the desk's words: "本单位的单位负责人", "宣传部编辑", a person."""
    if stage.person_id is not None:
        person = org.get_person(session, person_id=stage.person_id)
        return person.name if person else f"人员 {stage.person_id}"
    role = org.list_duty_role_names(session).get(stage.duty_role_id or 0, "（未指定职责）")
    if stage.unit_rule == "own":
        return f"本单位的{role}"
    if stage.unit_rule == "fixed" and stage.unit_id is not None:
        return f"{org.list_unit_names(session).get(stage.unit_id, '')}的{role}"
    return role


def may_act(
    session: Session, *, principal: Principal, stage: ReviewStage, submission: Submission
) -> bool:
    """Whether the account's person is the stage's person or holds its duty role in the
    unit the stage names."""
    if not principal.can("editorial.review"):
        return False
    user = auth.get_user(session, user_id=principal.user_id)
    person = org.get_person(session, person_id=user.person_id) if user and user.person_id else None
    if person is None or not person.active:
        return False
    if stage.person_id is not None:
        return person.id == stage.person_id
    held = {r.id for r in org.list_duty_roles_of(session, person_ids=[person.id])[person.id]}
    if stage.duty_role_id not in held:
        return False
    if stage.unit_rule == "own":
        return person.unit_id is not None and person.unit_id == submission.unit_id
    if stage.unit_rule == "fixed":
        return person.unit_id == stage.unit_id
    return True


def stage_recipients(
    session: Session, *, stage: ReviewStage, submission: Submission
) -> list[Recipient]:
    """Who is told a submission waits at ``stage``."""
    if stage.person_id is not None:
        return [Recipient(kind="person", id=stage.person_id)]
    if stage.duty_role_id is None:
        return []
    unit = submission.unit_id if stage.unit_rule == "own" else stage.unit_id
    if stage.unit_rule == "any" or unit is None:
        return [Recipient(kind="role", id=stage.duty_role_id)]
    people = org.list_active_people(session, duty_role_ids=[stage.duty_role_id])
    return [Recipient(kind="person", id=p.id) for p in people if p.unit_id == unit]


# --- the word lists -------------------------------------------------------------------

_checker: tuple[tuple[object, ...], Checker] | None = None


def list_word_lists(session: Session) -> list[WordList]:
    if session.execute(select(WordList.id).limit(1)).first() is None:
        ensure_defaults(session)
    return list(session.execute(select(WordList).order_by(WordList.order)).scalars())


def current_checker(session: Session) -> Checker:
    """The pre-check automaton over the editorial word lists and the alerts' sensitive
    words, rebuilt when any list's version changes."""
    global _checker
    lists = list_word_lists(session)
    categories = alerts.list_categories(session)
    stamp = tuple((w.key, w.version) for w in lists) + tuple((c.key, c.version) for c in categories)
    if _checker is not None and _checker[0] == stamp:
        return _checker[1]
    words = [
        Word(line.strip(), "prohibited", w.name)
        for w in lists
        if w.kind == "prohibited"
        for line in w.words.splitlines()
        if line.strip()
    ]
    words += [
        Word(line.strip(), "sensitive", c.name)
        for c in categories
        for line in c.words.splitlines()
        if line.strip()
    ]
    exact = [t for w in lists if w.kind == "exact" for t in parse_exact(w.words)]
    checker = Checker(words, exact)
    _checker = (stamp, checker)
    return checker
