"""The access matrix: every route × every role × own unit / other unit, on the real app.

Each route of ``create_app()`` must have an entry in ``ROUTES`` naming what it needs (a
permission, ``PUBLIC``, ``SIGNED_IN`` or ``TOKEN``), so a new route without one fails here.
The expected answer for a role is worked out from ``yuqing.auth.config.ROLES``: allowed (2xx
or 3xx), 403 without the permission, 404 for another unit's record (the same answer as for a
record that does not exist, so ids tell nothing), 303 to /login (pages) or 401 (/api/) for a
signed-out client. No page a unit's account opens may name another unit's records.
"""

from __future__ import annotations

import importlib
import io
import secrets
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from docx import Document
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from tests.support import TEST_PASSWORD, LocalServer, Reply, make_user, sign_in
from yuqing.alerts import delivery as alert_flows
from yuqing.alerts import service as alerts
from yuqing.alerts.models import SensitiveCategory
from yuqing.alerts.schemas import RecipientRef, RuleIn
from yuqing.auth import config
from yuqing.auth import service as auth
from yuqing.auth.deps import SESSION_COOKIE
from yuqing.auth.models import Role, User
from yuqing.auth.schemas import Principal
from yuqing.cases import calendar_service
from yuqing.cases import service as cases
from yuqing.cases.config import HIDDEN_UNIT
from yuqing.cases.models import Case, CaseEntry
from yuqing.core.audit import SYSTEM
from yuqing.events.models import EventMember
from yuqing.mentions import store as mentions
from yuqing.mentions.models import Mention
from yuqing.notify import service as notify
from yuqing.notify.schemas import Message, Recipient
from yuqing.org import excel
from yuqing.org import service as org
from yuqing.org.models import Person, Unit
from yuqing.schemes import backfill as scheme_flows
from yuqing.schemes import service as schemes
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import ImportJob, Source
from yuqing.web.app import create_app
from yuqing.worker import pipeline
from yuqing.worker.models import InboxBatch

PUBLIC = "public"  # no account: sign-in, docs, static files, sign-out
SIGNED_IN = "signed-in"  # any account: its own password and tokens
TOKEN = "token"  # the push API: an API token only, never a session cookie

UNIT = "unit"  # the request names a unit-owned record in its path or query
FORM_UNIT = "form-unit"  # ... in the submitted form, which may come back with the error (400)
OWNER = "owner"  # the request names a record of one account (an API token, an inbox message)

OWN, OTHER, MISSING = "own", "other", "missing"
NO_SUCH_ID = 987_654

ROLE_KEYS = [key for key, *_ in config.ROLES]
PERMISSIONS = {key: frozenset(perms) for key, _, _, _, perms in config.ROLES}
ALL_UNITS = {key: all_units for key, _, _, all_units, _ in config.ROLES}

# Names only the other unit's records carry: no answer to a unit-scoped account may show them.
OTHER_UNIT_NAME = "乙学院"
OTHER_PERSON_NAME = "乙同学"
OTHER_PERSON_EMAIL = "yi.tongxue@matrix.example"  # named as an alert's delivery address
ROOT_UNIT_NAME = "示范大学"
SHARED_NAME = "办公室"
# Another account's inbox message: no answer to any account of the matrix may show it.
PRIVATE_TITLE = "只发给目标账号的私信"
# A channel's signing secret and the credentials in its URL (the robot key in the query, a
# password before the host, a token as the last part of the path): masked, never whole.
CHANNEL_SECRET = "SECmatrix-signing-secret-7Q2Z"
ROBOT_KEY = "matrix-robot-key-5K8W"
URL_PASSWORD = "matrix-url-password-3J6V"
PATH_TOKEN = "matrixPathToken0123456789"
SECRETS = (CHANNEL_SECRET, ROBOT_KEY, URL_PASSWORD, PATH_TOKEN)


# --- the world the requests run in ---------------------------------------------------


@dataclass
class World:
    """Records in the test database whose ids fill the path parameters."""

    engine: Engine
    root: int
    own_unit: int
    other_unit: int
    own_person: int
    other_person: int
    source: int
    mention: int
    scheme: int
    target_user: int
    target_token: int
    leader_role: int
    roster: bytes
    robot_url: str = ""
    channel: int = 0
    rule: int = 0
    manual_rule: int = 0
    alert: int = 0
    category: int = 0
    event: int = 0
    target_message: int = 0
    case_mention: int = 0  # a repost of the event: attached to and detached from cases
    report: int = 0  # the 专报, whose advice the office wrote naming the other college
    reports: dict[str, int] = field(default_factory=dict)  # kind → the institution's report
    cases: dict[str, int] = field(default_factory=dict)  # standing cases, see _add_cases
    tokens: dict[str, int] = field(default_factory=dict)  # user name → that user's token id
    inbox: dict[str, int] = field(default_factory=dict)  # user name → a message to that user

    def fresh_source(self) -> int:
        with Session(self.engine) as session:
            source = Source(name=f"待删来源{time.monotonic_ns()}", kind="push")
            session.add(source)
            session.commit()
            return source.id

    def fresh_scheme(self) -> int:
        with Session(self.engine) as session:
            scheme_in = SchemeIn(name=f"待删方案{time.monotonic_ns()}", subject_words=["食堂"])
            scheme = schemes.create(session, scheme_in=scheme_in, actor=SYSTEM)
            session.commit()
            return scheme.id

    def fresh_rule(self, kind: str = "scheme_hit") -> int:
        """A rule that sends to the other unit and its person, as the world's rules do."""
        with Session(self.engine) as session:
            rule_in = RuleIn(
                name=f"矩阵规则{time.monotonic_ns()}", kind=kind, recipients=self.recipients()
            )
            rule = alerts.create_rule(session, rule_in=rule_in, actor=SYSTEM)
            session.commit()
            return rule.id

    def recipients(self) -> list[RecipientRef]:
        return [
            RecipientRef(kind="unit", id=self.other_unit),
            RecipientRef(kind="person", id=self.other_person),
            RecipientRef(kind="channel", id=self.channel),
        ]

    def fresh_event(self, size: int = 1) -> tuple[int, list[int]]:
        """A new event of ``size`` mentions (the first, then reposts of it) through the
        ingest pipeline; returns its id and its mention ids, first first."""
        return _event(self.engine, size)

    def fresh_case(self, unit: int, status: str, *, linked: bool = False) -> int:
        """A case reported by ``unit`` and (from 下发 on) handled by it, brought to
        ``status`` by the office, so the action asked of it is one its state allows."""
        person = self.own_person if unit == self.own_unit else self.other_person
        with Session(self.engine) as session:
            title = f"矩阵处置单{time.monotonic_ns()}"
            case = _case_at(session, title, status, unit, unit, person)
            if linked:
                office = _everything()
                ids = [self.case_mention]
                cases.attach_mentions(session, principal=office, case=case, mention_ids=ids)
            session.commit()
            return case.id


def _org(session: Session) -> tuple[Unit, Unit, Unit, Person, Person]:
    """示范大学 → 甲学院 → 办公室, 乙学院 → 办公室; one person in each college."""
    org.ensure_defaults(session)
    root = org.create_unit(session, name=ROOT_UNIT_NAME, actor=SYSTEM)
    own = org.create_unit(session, name="甲学院", actor=SYSTEM, parent_id=root.id)
    other = org.create_unit(session, name=OTHER_UNIT_NAME, actor=SYSTEM, parent_id=root.id)
    # One name in both colleges: where a label needs the path, it must not show the other's.
    # The other college's first, so a lookup taking the first match would pick it.
    for college in (other, own):
        org.create_unit(session, name=SHARED_NAME, actor=SYSTEM, parent_id=college.id)
    mine = org.create_person(session, actor=SYSTEM, name="甲同学", unit_id=own.id)
    theirs = org.create_person(
        session, actor=SYSTEM, name=OTHER_PERSON_NAME, unit_id=other.id, email=OTHER_PERSON_EMAIL
    )
    return root, own, other, mine, theirs


def _user_token(session: Session, username: str) -> int:
    user = auth.get_user_by_username(session, username=username)
    assert user is not None
    token, _ = auth.create_token(
        session, user=user, name="矩阵令牌", scopes=["mentions.read"], actor=SYSTEM
    )
    return token.id


def build_world(engine: Engine, server: LocalServer) -> World:
    with Session(engine) as session:
        auth.ensure_roles(session)
        root, own, other, mine, theirs = _org(session)
        source = Source(name="矩阵来源", kind="push")
        session.add(source)
        session.flush()
        item = {"external_id": "m1", "title": "食堂饭菜涨价", "text": "学生反映食堂饭菜涨价。"}
        mentions.ingest(session, source=source, items=[item])
        scheme_in = SchemeIn(name="食堂方案", subject_words=["食堂"])
        scheme = schemes.create(session, scheme_in=scheme_in, actor=SYSTEM)
        session.commit()
        ids = (root.id, own.id, other.id, mine.id, theirs.id, source.id, scheme.id)
    mention = _only_mention(engine)
    make_user(engine, "target_user", "unit_member", ids[1])
    with Session(engine) as session:
        target = auth.get_user_by_username(session, username="target_user")
        assert target is not None
        world = World(
            engine=engine,
            root=ids[0],
            own_unit=ids[1],
            other_unit=ids[2],
            own_person=ids[3],
            other_person=ids[4],
            source=ids[5],
            mention=mention,
            scheme=ids[6],
            target_user=target.id,
            target_token=_user_token(session, "target_user"),
            leader_role=auth.get_role(session, key="leader").id,
            # The registration form of the own unit, to import back.
            roster=excel.export_registration(session, viewer=_everything(), unit_id=ids[1]),
        )
        session.commit()
    _add_alerting(world, server)
    world.event, members = world.fresh_event(2)
    world.case_mention = members[1]
    _add_cases(world)
    world.report = _report(engine, world.event)
    world.reports = _reports(world)
    world.target_message = _inbox_message(engine, "target_user", ids[1], PRIVATE_TITLE)
    return world


def _add_alerting(world: World, server: LocalServer) -> None:
    """A group robot on the test server, a rule and a manual rule sending to the other unit,
    and one manual alert on the mention (delivered to the other unit's person)."""
    server.routes["/robot"] = Reply(200, b'{"errcode": 0}')
    world.robot_url = server.url(f"/robot?key={ROBOT_KEY}").replace(
        "//", f"//matrix:{URL_PASSWORD}@", 1
    )
    with Session(world.engine) as session:
        channel = notify.create_channel(
            session,
            kind="webhook",
            name="矩阵群机器人",
            url=world.robot_url,
            secret=CHANNEL_SECRET,
            actor=SYSTEM,
        )
        world.category = alerts.ensure_categories(session)[0].id
        session.commit()
        world.channel = channel.id
    world.rule = world.fresh_rule()
    world.manual_rule = world.fresh_rule("manual")
    with Session(world.engine) as session:
        rule = alerts.get_rule(session, rule_id=world.manual_rule)
        assert rule is not None
        alert = alert_flows.raise_manual(
            session, rule=rule, mention_id=world.mention, note="矩阵", actor=SYSTEM
        )
        session.commit()
        world.alert = alert.id


# The standing cases (the scope names OWN and OTHER are keys too). The other college's titles
# carry its name, so a list that shows them to a unit account fails the leak check.
CASE_TITLES = {
    OWN: "甲学院食堂排队过长",
    "own_closed": "甲学院教室漏雨",
    OTHER: f"{OTHER_UNIT_NAME}宿舍停水",
    "other_closed": f"{OTHER_UNIT_NAME}校车晚点",
    "shared": "东门外交通拥堵",  # reported by the own college, handled by the other
}
FEEDBACK = "已协调交警疏导，现场恢复通行。"
# The main flow, each status reached by one action from the one before.
CASE_FLOW = ("new", "triaged", "assigned", "in_progress", "feedback", "review", "closed")


def _add_cases(world: World) -> None:
    """An open and a closed case of each college, and one the own college reported that the
    other college handles, its steps signed by the other college's person's account."""
    w = world
    with Session(w.engine) as session:
        handler = _account(session, "yi_handler", OTHER_PERSON_NAME, "unit_head", w.other_unit)
        plan = {
            OWN: (w.own_unit, w.own_unit, w.own_person, "in_progress", None),
            "own_closed": (w.own_unit, w.own_unit, w.own_person, "closed", None),
            OTHER: (w.other_unit, w.other_unit, w.other_person, "in_progress", None),
            "other_closed": (w.other_unit, w.other_unit, w.other_person, "closed", None),
            "shared": (w.own_unit, w.other_unit, w.other_person, "feedback", handler),
        }
        for key, (reporter, unit, person, status, signer) in plan.items():
            case = _case_at(session, CASE_TITLES[key], status, reporter, unit, person, signer)
            w.cases[key] = case.id
        session.commit()


def _account(session: Session, username: str, name: str, role: str, unit_id: int) -> Principal:
    """An account that never signs in (no password hash: hashing costs 0.4 s)."""
    user = User(
        username=username,
        display_name=name,
        password_hash="!",
        role_id=auth.get_role(session, key=role).id,
        unit_id=unit_id,
    )
    session.add(user)
    session.flush()
    return auth.principal_for(session, user=user)


def _reporter(unit_id: int) -> Principal:
    """A unit member who reports (报送) for the unit."""
    return Principal(
        user_id=0,
        username="reporter",
        display_name="报送员",
        role_key="unit_member",
        permissions=PERMISSIONS["unit_member"],
        unit_id=unit_id,
        visible_units=frozenset({unit_id}),
    )


def _case_at(
    session: Session,
    title: str,
    status: str,
    reporter_unit: int,
    unit: int,
    person: int,
    handler: Principal | None = None,
) -> Case:
    """A case reported by ``reporter_unit``, from 下发 on handled by ``unit`` and ``person``,
    moved on to ``status``; ``handler`` signs the unit's steps (the office by default)."""
    office = _everything()
    doer = handler or office
    case = cases.open_case(session, principal=_reporter(reporter_unit), title=title)
    steps: dict[str, Callable[[], Any]] = {
        "triaged": lambda: cases.triage(session, principal=office, case=case, grade_key="general"),
        "assigned": lambda: cases.assign(
            session, principal=office, case=case, unit_id=unit, person_id=person
        ),
        "in_progress": lambda: cases.start(session, principal=doer, case=case),
        "feedback": lambda: cases.give_feedback(
            session, principal=doer, case=case, feedback_text=FEEDBACK
        ),
        "review": lambda: cases.accept(session, principal=office, case=case),
        "closed": lambda: cases.close(session, principal=office, case=case),
    }
    for step in CASE_FLOW[1 : CASE_FLOW.index(status) + 1]:
        steps[step]()
    return case


def _random_words(length: int = 24) -> str:
    """Random Han characters: events cluster on character pairs, and hex strings share many
    pairs, so a fresh event made of them would join another one by text."""
    return "".join(chr(0x4E00 + secrets.randbelow(0x9FA5 - 0x4E00)) for _ in range(length))


def _event(engine: Engine, size: int) -> tuple[int, list[int]]:
    # Random words: a fresh event must not join another one by shared key terms.
    root = uuid.uuid4().hex
    items = [{"external_id": root, "title": _random_words(12), "text": _random_words()}]
    for n in range(1, size):
        items.append(
            {"external_id": f"{root}-{n}", "text": _random_words(), "parent_external_id": root}
        )
    with Session(engine) as session:
        source = session.execute(select(Source).where(Source.name == "矩阵来源")).scalar_one()
        pipeline.process(session, source=source, items=items)
        session.commit()
        external = [item["external_id"] for item in items]
        query = select(Mention.id).where(
            Mention.source_id == source.id, Mention.external_id.in_(external)
        )
        ids = sorted(session.execute(query).scalars())
        member = select(EventMember.event_id).where(EventMember.mention_id == ids[0])
        event = session.execute(member).scalar_one()
    return event, ids


def _inbox_message(engine: Engine, username: str, unit_id: int | None, title: str) -> int:
    """A desk message to ``username`` through the outbox (to a person the account is)."""
    with Session(engine) as session:
        user = auth.get_user_by_username(session, username=username)
        assert user is not None
        person = org.create_person(session, actor=SYSTEM, name=f"{username}本人", unit_id=unit_id)
        user.person_id = person.id
        rows = notify.enqueue(
            session,
            message=Message(title=title, text="矩阵测试消息。"),
            recipients=[Recipient(kind="person", id=person.id)],
            dedupe_key=f"matrix:{username}",
            source_type="matrix",
        )
        session.commit()
        return next(row.id for row in rows if row.channel == notify.INBOX)


def _only_mention(engine: Engine) -> int:
    with Session(engine) as session:
        return session.execute(select(Mention.id)).scalar_one()


def _everything() -> Principal:
    """A viewer of every unit with every permission (for exports made by the test)."""
    return Principal(
        user_id=0,
        username="test",
        display_name="test",
        role_key="admin",
        permissions=PERMISSIONS["admin"],
        unit_id=None,
        visible_units=None,
    )


# --- what each route needs and how to ask it ------------------------------------------


@dataclass
class Ask:
    """One request to build: who asks, about which unit's record, and a unique number."""

    world: World
    role: str | None
    scope: str | None
    n: int
    username: str


@dataclass
class Call:
    params: dict[str, Any] = field(default_factory=dict)  # path parameters
    query: dict[str, Any] = field(default_factory=dict)
    form: dict[str, Any] | None = None
    json: Any = None
    files: dict[str, Any] | None = None


Build = Callable[[Ask], Call]


@dataclass(frozen=True)
class Route:
    """What a route needs: ``need`` is a permission key or PUBLIC/SIGNED_IN/TOKEN;
    ``all_units`` asks for a role that sees every unit; ``scope`` says the request names a
    record that belongs to a unit (UNIT, FORM_UNIT) or to an account (OWNER); ``missing``
    names the path parameter of an institution's record (an event, a rule, a channel), which
    is also asked with an id that does not exist: 404, but only after the permission check.
    ``may`` is the service's own rule where the route's permission is not the whole answer
    (a case action through the API): a role it refuses gets 403, after the unit check."""

    need: str
    build: Build = lambda ask: Call()
    scope: str | None = None
    all_units: bool = False
    last: int = 0  # runs after the routes of a lower number (sign-out last of all)
    missing: str | None = None
    may: Callable[[str], bool] | None = None

    def call(self, ask: Ask) -> Call:
        call = self.build(ask)
        if self.missing and ask.scope == MISSING:
            call.params[self.missing] = NO_SUCH_ID
        return call


def _unit(ask: Ask) -> int:
    w = ask.world
    return {OWN: w.own_unit, OTHER: w.other_unit}.get(ask.scope or OWN, NO_SUCH_ID)


def _person(ask: Ask) -> int:
    w = ask.world
    return {OWN: w.own_person, OTHER: w.other_person}.get(ask.scope or OWN, NO_SUCH_ID)


def _token(ask: Ask) -> int:
    w = ask.world
    own = w.tokens.get(ask.username, NO_SUCH_ID)
    return {OWN: own, OTHER: w.target_token}.get(ask.scope or OWN, NO_SUCH_ID)


def _inbox(ask: Ask) -> int:
    """A batch in queue mode's inbox (its status is what the route shows)."""
    with Session(ask.world.engine) as session:
        row = InboxBatch(source_id=ask.world.source, origin="push", received=0, items="[]")
        session.add(row)
        session.commit()
        return row.id


def _unit_edit(ask: Ask) -> Call:
    """The unit's own values sent back (a valid, unchanged save)."""
    unit_id = _unit(ask)
    with Session(ask.world.engine) as session:
        unit = session.get(Unit, unit_id)
        name, parent = (unit.name, unit.parent_id) if unit else ("无此单位", None)
    return Call({"unit_id": unit_id}, form={"name": name, "parent_id": str(parent or "")})


def _person_edit(ask: Ask) -> Call:
    person_id = _person(ask)
    with Session(ask.world.engine) as session:
        person = session.get(Person, person_id)
        name, unit_id = (person.name, person.unit_id) if person else ("无此人", None)
    return Call({"person_id": person_id}, form={"name": name, "unit_id": str(unit_id or "")})


def _scheme_form(ask: Ask) -> dict[str, str]:
    return {"name": f"矩阵方案{ask.n}", "mode": "simple", "subject_words": "食堂"}


def _import_job(ask: Ask) -> int:
    """A finished import into the world's source (its page, progress and refused rows)."""
    with Session(ask.world.engine) as session:
        job = ImportJob(
            source_id=ask.world.source, filename="矩阵.csv", stored_name="x.csv", status="done"
        )
        session.add(job)
        session.commit()
        return job.id


def _import_file(ask: Ask) -> Call:
    return Call(form={}, files={"file": ("矩阵.csv", "标题,内容\n甲,乙\n".encode(), "text/csv")})


def _roster(ask: Ask) -> Call:
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Call(form={}, files={"file": ("登记表.xlsx", ask.world.roster, xlsx)})


def _role_permissions(ask: Ask) -> Call:
    """The leader role's own permissions sent back unchanged."""
    return Call(
        {"role_id": ask.world.leader_role}, form={"permissions": list(PERMISSIONS["leader"])}
    )


def _message(ask: Ask) -> int:
    w = ask.world
    own = w.inbox.get(ask.username, NO_SUCH_ID)
    return {OWN: own, OTHER: w.target_message}.get(ask.scope or OWN, NO_SUCH_ID)


def _rule_form(ask: Ask, name: str) -> dict[str, Any]:
    """A scheme-hit rule sending to the other unit, its person and the robot."""
    w = ask.world
    recipients = [f"unit:{w.other_unit}", f"person:{w.other_person}", f"channel:{w.channel}"]
    return {"name": name, "kind": "scheme_hit", "enabled": "1", "recipient": recipients}


def _words(ask: Ask) -> Call:
    """The category's own name and words sent back (an unchanged save)."""
    with Session(ask.world.engine) as session:
        category = session.get(SensitiveCategory, ask.world.category)
        assert category is not None
        return Call(form={"name": category.name, "words": category.words})


def _raise(ask: Ask) -> Call:
    """A manual alert on the mention through a new manual rule (one alert per rule and item)."""
    rule = ask.world.fresh_rule("manual")
    return Call(form={"rule_id": str(rule), "mention_id": str(ask.world.mention), "note": "矩阵"})


def _merge(ask: Ask) -> Call:
    return Call(form={"others": str(ask.world.fresh_event()[0])})


def _split(ask: Ask) -> Call:
    event, members = ask.world.fresh_event(2)
    return Call({"event_id": event}, form={"mention_ids": [str(members[1])]})


def _channel_form(ask: Ask) -> dict[str, str]:
    url = ask.world.robot_url.split("?")[0] + f"/{PATH_TOKEN}"
    return {"kind": "webhook", "name": f"矩阵渠道{ask.n}", "url": url, "secret": CHANNEL_SECRET}


def _form(**values: Any) -> Build:
    return lambda ask: Call(form=values)


def _calendar_day(ask: Ask) -> Call:
    """A day of the working calendar to remove (entered afresh for each request)."""
    day = date(2031, 1, 1) + timedelta(days=ask.n % 300)
    with Session(ask.world.engine) as session:
        calendar_service.update_day(session, by=SYSTEM, day=day, working=False, name="矩阵")
        session.commit()
    return Call(form={"day": day.isoformat()})


def _calendar_year(ask: Ask) -> Call:
    """A year of the working calendar to remove (entered afresh for each request)."""
    day = date(2040 + ask.n % 50, 1, 1)
    with Session(ask.world.engine) as session:
        calendar_service.update_day(session, by=SYSTEM, day=day, working=False, name="矩阵")
        session.commit()
    return Call(form={"year": str(day.year)})


def _case_id(ask: Ask, need: str, status: str, *, linked: bool = False) -> int:
    """The case a request names: a fresh case of the scope's college in ``status`` for a role
    the route lets through (each action then meets the state it leaves from), the standing
    one for a role refused before the case is read, or an id that does not exist."""
    w = ask.world
    if ask.scope == MISSING:
        return NO_SUCH_ID
    scope = ask.scope or OWN
    if ask.role is None or need not in PERMISSIONS[ask.role]:
        return w.cases[scope]
    return w.fresh_case(_unit(ask), status, linked=linked)


def _case_action(need: str, status: str, **form: Any) -> Route:
    """A case action of the desk (a form post) on a case of one college."""
    return Route(need, lambda a: Call({"case_id": _case_id(a, need, status)}, form=form), UNIT)


def _assign(ask: Ask) -> Call:
    """下发 to the case's own college and its person."""
    form = {"unit_id": str(_unit(ask)), "person_id": str(_person(ask))}
    return Call({"case_id": _case_id(ask, "cases.manage", "triaged")}, form=form)


def _detach(ask: Ask) -> Call:
    case_id = _case_id(ask, "cases.handle", "assigned", linked=True)
    return Call({"case_id": case_id, "mention_id": ask.world.case_mention}, form={})


def _standing_case(ask: Ask) -> int:
    return {OWN: ask.world.cases[OWN], OTHER: ask.world.cases[OTHER]}.get(
        ask.scope or OWN, NO_SUCH_ID
    )


def _handles_cases(role: str) -> bool:
    """The service's rule for the unit's steps (签收, 反馈, 上报): the office (cases.manage with
    every unit) or an account of the handling unit with cases.handle."""
    perms = PERMISSIONS[role]
    return ("cases.manage" in perms and ALL_UNITS[role]) or "cases.handle" in perms


def _api_start(ask: Ask) -> Call:
    """签收 through the API, on a fresh 下发 case: a role the service refuses gets 403 for
    who it is, not 422 for the case's state."""
    return Call({"case_id": _case_id(ask, "cases.read", "assigned")}, json={"action": "start"})


# --- the team (docs/team.md): rounds, changes and trainings made afresh for each request ---

PDF_SCAN = b"%PDF-1.4\n" + b"0" * 64


def _role_id(ask: Ask, key: str) -> int:
    with Session(ask.world.engine) as session:
        return next(r.id for r in org.list_duty_roles(session) if r.key == key)


def _round_form(ask: Ask, status: str = "draft", *, scan: bool = False) -> Call:
    """A fresh round with a form of the scope's unit in ``status`` (a stored scan with it)."""
    from yuqing.org import files
    from yuqing.org.models import RegistrationForm, RegistrationRound

    unit = _unit(ask)
    with Session(ask.world.engine) as session:
        found = RegistrationRound(title=f"矩阵登记{ask.n}", deadline=datetime(2031, 1, 1))
        session.add(found)
        session.flush()
        if unit != NO_SUCH_ID:
            form = RegistrationForm(round_id=found.id, unit_id=unit, status=status)
            if scan:
                form.scan_name = "盖章.pdf"
                form.scan_stored = files.store(
                    "scans", data=PDF_SCAN, filename="x.pdf", allowed=(".pdf",)
                )
            session.add(form)
        session.commit()
        return Call({"round_id": found.id, "unit_id": unit})


def _with(build: Callable[[Ask], Call], **extra: Any) -> Build:
    def made(ask: Ask) -> Call:
        call = build(ask)
        for key, value in extra.items():
            if key == "form":
                call.form = value
            elif key == "files":
                call.files = value
        return call

    return made


def _change(ask: Ask) -> Call:
    """A fresh proposed change of the own college: add a new correspondent."""
    from yuqing.org.models import ChangeRequest

    role = _role_id(ask, "correspondent")
    with Session(ask.world.engine) as session:
        found = ChangeRequest(
            unit_id=ask.world.own_unit, kind="add", duty_role_id=role,
            new_person_name=f"矩阵新人{ask.n}", reason="矩阵", status="proposed",
        )  # fmt: skip
        session.add(found)
        session.commit()
        return Call({"change_id": found.id}, form={"action": "approve"})


def _training(ask: Ask, *, material: bool = False) -> tuple[int, str]:
    """A fresh training (with one stored material); its id and sign-in token."""
    from yuqing.assessment.models import TrainingSession
    from yuqing.org import files

    with Session(ask.world.engine) as session:
        found = TrainingSession(
            topic=f"矩阵培训{ask.n}", kind="law", starts_at=datetime(2030, 1, 1),
            sign_token=uuid.uuid4().hex, materials="[]",
        )  # fmt: skip
        if material:
            stored = files.store("materials", data=PDF_SCAN, filename="x.pdf", allowed=(".pdf",))
            found.materials = f'[["讲义.pdf", "{stored}"]]'
        session.add(found)
        session.commit()
        return found.id, found.sign_token


def _training_call(**form: Any) -> Build:
    return lambda ask: Call({"training_id": _training(ask)[0]}, form=form if form else None)


def _headcounts(ask: Ask) -> Call:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["单位", "学生人数"])
    sheet.append(["甲学院", 400])
    buffer = io.BytesIO()
    book.save(buffer)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Call(form={}, files={"file": ("人数.xlsx", buffer.getvalue(), xlsx)})


def _quota_rule(ask: Ask) -> Call:
    with Session(ask.world.engine) as session:
        kind = org.get_kind(session, key="college")
        assert kind is not None
        role = next(r.id for r in org.list_duty_roles(session) if r.key == "correspondent")
    return Call(form={"duty_role_id": str(role), "unit_kind_id": str(kind.id), "fixed": "1"})


# --- editorial: a submission belongs to its unit ----------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _submission(ask: Ask, state: str = "draft") -> int:
    """A fresh submission of the scope's college in ``state`` (each action meets the state
    it leaves from), or an id that does not exist."""
    from yuqing.core.timeutil import utcnow
    from yuqing.editorial import service as editorial
    from yuqing.editorial.models import Submission, SubmissionVersion

    if ask.scope == MISSING:
        return NO_SUCH_ID
    with Session(ask.world.engine) as session:
        kinds = editorial.list_kinds(session)
        kind = next(k for k in kinds if k.key == "news")
        stage = editorial.list_stages(session, kind_id=kind.id)[0]
        row = Submission(
            kind_id=kind.id,
            title=f"矩阵稿件{ask.n}",
            body="<p>矩阵正文</p>",
            unit_id=_unit(ask),
            state=state,
            stage_id=stage.id if state == "in_review" else None,
            slug=f"{time.monotonic_ns() % 16**12:012x}" if state == "published" else None,
            published_at=utcnow() if state == "published" else None,
            author_person_id=_person(ask) if state == "published" else None,
        )
        session.add(row)
        session.flush()
        session.add(
            SubmissionVersion(submission_id=row.id, number=1, title=row.title, body=row.body)
        )
        session.commit()
        return row.id


def _editorial(need: str, state: str = "draft", **form: Any) -> Route:
    """A request about one submission of one college (a page, or a form post)."""
    return Route(
        need,
        lambda a: Call({"submission_id": _submission(a, state)}, form=form or None),
        UNIT,
    )


def _attachment(ask: Ask) -> Call:
    """A submission of the scope's college with one attachment (written straight to the
    store: the route under test is the download)."""
    from yuqing.editorial import editing
    from yuqing.editorial.models import Attachment

    submission = _submission(ask)
    if submission == NO_SUCH_ID:
        return Call({"submission_id": NO_SUCH_ID, "attachment_id": NO_SUCH_ID})
    editing.attachments_dir().mkdir(parents=True, exist_ok=True)
    (editing.attachments_dir() / f"{'b' * 64}.pdf").write_bytes(b"%PDF-1.4")
    with Session(ask.world.engine) as session:
        row = Attachment(submission_id=submission, filename="附件.pdf", stored=f"{'b' * 64}.pdf",
                         content_type="application/octet-stream", size=8)  # fmt: skip
        session.add(row)
        session.commit()
        return Call({"submission_id": submission, "attachment_id": row.id})


def _image(ask: Ask) -> Call:
    from yuqing.editorial import editing

    name = f"{'a' * 63}{ask.n % 10}.png"
    editing.images_dir().mkdir(parents=True, exist_ok=True)
    (editing.images_dir() / name).write_bytes(PNG)
    return Call({"name": name})


def _published(ask: Ask) -> dict[str, str]:
    """An article of the public column showing an uploaded image: its slug and image name."""
    from yuqing.editorial import service as editorial
    from yuqing.editorial.models import Submission

    name = _image(ask).params["name"]
    with Session(ask.world.engine) as session:
        kind = next(k for k in editorial.list_kinds(session) if k.key == "news")
        slug = f"{time.monotonic_ns() % 16**12:012x}"
        session.add(
            Submission(
                kind_id=kind.id,
                title=f"公开稿件{ask.n}",
                body=f'<p>公开</p><img src="/editorial/images/{name}">',
                unit_id=ask.world.own_unit,
                state="published",
                slug=slug,
                published_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )
        session.flush()
        editorial.write_site(session)
        session.commit()
    return {"slug": slug, "name": name}


def _stage(ask: Ask) -> Call:
    """The interview kind's one stage, saved as it is (its duty role, anywhere)."""
    from yuqing.editorial import service as editorial

    with Session(ask.world.engine) as session:
        kind = next(k for k in editorial.list_kinds(session) if k.is_interview)
        stage = editorial.list_stages(session, kind_id=kind.id)[0]
        session.commit()
        form = {
            "name": stage.name,
            "duty_role_id": str(stage.duty_role_id or ""),
            "unit_rule": "any",
        }
        return Call({"stage_id": stage.id}, form=form)


def _word_list(ask: Ask) -> Call:
    from yuqing.editorial import service as editorial

    with Session(ask.world.engine) as session:
        lists = editorial.list_word_lists(session)
        session.commit()
        return Call({"list_id": lists[-1].id}, form={"words": "张三丰"})


ROUTES: dict[tuple[str, str], Route] = {
    # no account
    ("GET", "/login"): Route(PUBLIC),
    ("POST", "/login"): Route(
        PUBLIC,
        lambda a: Call(form={"username": a.username, "password": TEST_PASSWORD, "next": "/"}),
    ),
    ("POST", "/logout"): Route(PUBLIC, _form(), last=2),
    ("GET", "/docs"): Route(PUBLIC),
    ("GET", "/openapi.json"): Route(PUBLIC),
    ("GET", "/healthz"): Route(PUBLIC),
    ("GET", "/static"): Route(PUBLIC, lambda a: Call({"__suffix": "/favicon.svg"})),
    ("POST", "/api/v1/mentions"): Route(
        TOKEN, lambda a: Call(json={"source": "矩阵推送", "items": []})
    ),
    ("GET", "/api/v1/inbox/{inbox_id}"): Route(TOKEN, lambda a: Call({"inbox_id": _inbox(a)})),
    # the account itself
    ("GET", "/account/password"): Route(SIGNED_IN),
    # Two different new passwords: the form comes back (422) and the password stays.
    ("POST", "/account/password"): Route(
        SIGNED_IN, _form(current=TEST_PASSWORD, new="one-new-pass-1", repeat="two-new-pass-2")
    ),
    ("GET", "/account/tokens"): Route(SIGNED_IN),
    ("POST", "/account/tokens"): Route(
        SIGNED_IN, lambda a: Call(form={"name": f"令牌{a.n}", "scopes": ["mentions.read"]})
    ),
    ("POST", "/account/tokens/{token_id}/revoke"): Route(
        SIGNED_IN, lambda a: Call({"token_id": _token(a)}, form={}), scope=OWNER
    ),
    # mentions
    ("GET", "/"): Route("mentions.read"),
    ("GET", "/stream"): Route("mentions.read"),
    ("GET", "/search"): Route("mentions.read", lambda a: Call(query={"q": "食堂"})),
    ("GET", "/mentions/{mention_id}"): Route("mentions.read"),
    ("GET", "/mentions/{mention_id}/similar"): Route("mentions.read"),
    ("GET", "/schemes/mention/{mention_id}"): Route("mentions.read"),
    ("GET", "/api/v1/mentions/{mention_id}"): Route("mentions.read"),
    ("GET", "/api/v1/search"): Route("mentions.read", lambda a: Call(query={"q": "食堂"})),
    ("POST", "/mentions/{mention_id}/sentiment"): Route("mentions.label", _form(label="negative")),
    # the 标注 queue and the sentiment model page
    ("GET", "/labelling"): Route("mentions.label"),
    ("POST", "/labelling"): Route(
        "mentions.label",
        lambda a: Call(form={"label": "negative", "mention_id": str(a.world.mention)}),
    ),
    ("GET", "/models"): Route("models.manage"),
    # Too few labels: the page answers with the reason (200), nothing is trained.
    ("POST", "/models/train"): Route("models.manage", _form()),
    ("POST", "/models/activate"): Route("models.manage", _form(version="shipped")),
    ("POST", "/models/settings"): Route("models.manage", _form(sensitivity="balanced")),
    ("POST", "/mentions/{mention_id}/important"): Route(
        "mentions.read", _form(), missing="mention_id"
    ),
    ("POST", "/mentions/batch/marks"): Route(
        "mentions.read",
        lambda a: Call(form={"action": "read", "mention_ids": [str(a.world.mention)]}),
    ),
    ("POST", "/mentions/batch/export"): Route(
        "mentions.read", lambda a: Call(form={"mention_ids": [str(a.world.mention)]})
    ),
    ("POST", "/mentions/batch/case"): Route(
        "cases.report", lambda a: Call(form={"mention_ids": [str(a.world.mention)]})
    ),
    # sources
    ("GET", "/sources"): Route("sources.read"),
    ("POST", "/sources"): Route(
        "sources.manage", lambda a: Call(form={"name": f"矩阵来源{a.n}", "kind": "push"})
    ),
    ("POST", "/sources/{source_id}/remove"): Route(
        "sources.manage", lambda a: Call({"source_id": a.world.fresh_source()}, form={})
    ),
    ("POST", "/sources/{source_id}/fetch"): Route("sources.manage", _form()),
    ("GET", "/sources/{source_id}"): Route("sources.read"),
    ("POST", "/sources/{source_id}/edit"): Route(
        "sources.manage", _form(name="矩阵来源", interval="15", weight="1")
    ),
    ("POST", "/sources/{source_id}/pause"): Route("sources.manage", _form()),
    ("POST", "/sources/{source_id}/resume"): Route("sources.manage", _form()),
    ("POST", "/sources/{source_id}/import"): Route("sources.manage", _import_file),
    ("GET", "/sources/{source_id}/imports/{job_id}"): Route(
        "sources.read", lambda a: Call({"job_id": _import_job(a)})
    ),
    ("POST", "/sources/{source_id}/imports/{job_id}/start"): Route(
        "sources.manage", lambda a: Call({"job_id": _import_job(a)}, form={})
    ),
    ("GET", "/sources/{source_id}/imports/{job_id}/progress"): Route(
        "sources.read", lambda a: Call({"job_id": _import_job(a)})
    ),
    ("GET", "/sources/{source_id}/imports/{job_id}/refused.{kind}"): Route(
        "sources.read", lambda a: Call({"job_id": _import_job(a), "kind": "csv"})
    ),
    # schemes
    ("GET", "/schemes"): Route("schemes.read"),
    ("GET", "/schemes/new"): Route("schemes.manage"),
    ("GET", "/schemes/validate"): Route("schemes.read", lambda a: Call(query={"query": "食堂"})),
    ("POST", "/schemes"): Route("schemes.manage", lambda a: Call(form=_scheme_form(a))),
    ("GET", "/schemes/{scheme_id}"): Route("schemes.read"),
    ("GET", "/schemes/{scheme_id}/edit"): Route("schemes.manage"),
    ("POST", "/schemes/{scheme_id}"): Route(
        "schemes.manage", _form(name="食堂方案", mode="simple", subject_words="食堂")
    ),
    ("POST", "/schemes/{scheme_id}/enabled"): Route("schemes.manage", _form(enabled="1")),
    ("POST", "/schemes/{scheme_id}/delete"): Route(
        "schemes.manage", lambda a: Call({"scheme_id": a.world.fresh_scheme()}, form={})
    ),
    # The backfill runs in a thread: started last, awaited before the database goes.
    ("POST", "/schemes/{scheme_id}/backfill"): Route("schemes.manage", _form(), last=1),
    ("GET", "/schemes/{scheme_id}/backfill"): Route("schemes.read"),
    ("GET", "/api/v1/schemes"): Route("schemes.read"),
    ("GET", "/api/v1/schemes/{scheme_id}"): Route("schemes.read"),
    ("POST", "/api/v1/schemes/validate"): Route(
        "schemes.read", lambda a: Call(json={"query": "食堂 AND 涨价"})
    ),
    ("POST", "/api/v1/schemes"): Route(
        "schemes.manage",
        lambda a: Call(json={"name": f"接口方案{a.n}", "subject_words": ["食堂"]}),
    ),
    ("PUT", "/api/v1/schemes/{scheme_id}"): Route(
        "schemes.manage", lambda a: Call(json={"name": "食堂方案", "subject_words": ["食堂"]})
    ),
    ("DELETE", "/api/v1/schemes/{scheme_id}"): Route(
        "schemes.manage", lambda a: Call({"scheme_id": a.world.fresh_scheme()})
    ),
    # organisation: units and people belong to units
    ("GET", "/org"): Route("org.read"),
    ("POST", "/org/units"): Route(
        "org.manage",
        lambda a: Call(form={"name": f"矩阵新单位{a.n}", "parent_id": str(_unit(a))}),
        scope=UNIT,
    ),
    ("GET", "/org/units/{unit_id}"): Route(
        "org.read", lambda a: Call({"unit_id": _unit(a)}), scope=UNIT
    ),
    ("POST", "/org/units/{unit_id}"): Route("org.manage", _unit_edit, scope=UNIT),
    ("GET", "/org/people/new"): Route(
        "org.manage", lambda a: Call(query={"unit_id": a.world.own_unit})
    ),
    ("POST", "/org/people/new"): Route(
        "org.manage",
        lambda a: Call(form={"name": f"矩阵新人{a.n}", "unit_id": str(_unit(a))}),
        scope=FORM_UNIT,
    ),
    ("GET", "/org/people/{person_id}"): Route(
        "org.read", lambda a: Call({"person_id": _person(a)}), scope=UNIT
    ),
    ("POST", "/org/people/{person_id}"): Route("org.manage", _person_edit, scope=UNIT),
    ("GET", "/org/settings"): Route("org.manage", all_units=True),
    ("POST", "/org/settings/{what}"): Route(
        "org.manage",
        lambda a: Call({"what": "kinds"}, form={"name": f"矩阵类型{a.n}"}),
        all_units=True,
    ),
    ("GET", "/org/export/ledger.xlsx"): Route("org.read"),
    ("GET", "/org/export/registration.xlsx"): Route(
        "org.read", lambda a: Call(query={"unit_id": _unit(a)}), scope=UNIT
    ),
    ("GET", "/org/import"): Route("org.manage"),
    ("POST", "/org/import"): Route("org.manage", _roster),
    # accounts, roles and the audit log
    ("GET", "/admin/users"): Route("users.manage"),
    ("POST", "/admin/users"): Route(
        "users.manage", lambda a: Call(form={"username": f"made{a.n}", "role": "unit_member"})
    ),
    ("GET", "/admin/users/{user_id}"): Route("users.manage"),
    ("POST", "/admin/users/{user_id}/role"): Route(
        "users.manage",
        lambda a: Call(form={"role": "unit_member", "unit_id": str(a.world.own_unit)}),
    ),
    ("POST", "/admin/users/{user_id}/person"): Route("users.manage", _form(person_id="")),
    ("POST", "/admin/users/{user_id}/active"): Route("users.manage", _form(active="1")),
    ("POST", "/admin/users/{user_id}/unlock"): Route("users.manage", _form()),
    ("POST", "/admin/users/{user_id}/password"): Route("users.manage", _form()),
    ("GET", "/admin/roles"): Route("users.manage"),
    ("POST", "/admin/roles/{role_id}"): Route("users.manage", _role_permissions),
    ("GET", "/admin/settings"): Route("users.manage"),
    ("POST", "/admin/settings"): Route("users.manage", _form(public_url="https://yq.example.cn")),
    ("GET", "/admin/audit"): Route("audit.read"),
    # maintenance: backups, retention, people's data — administrators only
    ("GET", "/admin/maintenance"): Route("maintenance.manage"),
    ("POST", "/admin/maintenance/backup"): Route("maintenance.manage", _form()),
    ("POST", "/admin/maintenance/retention"): Route(
        "maintenance.manage", _form(days_mentions="700")
    ),
    ("GET", "/admin/maintenance/people"): Route(
        "maintenance.manage", lambda ask: Call(query={"name": "matrix"})
    ),
    ("POST", "/admin/maintenance/erase"): Route(
        "maintenance.manage", _form(name="nobody-here", confirm="nobody-here")
    ),
    ("POST", "/admin/maintenance/export"): Route(
        "maintenance.manage", _form(kind="events", days="7")
    ),
    ("POST", "/admin/audit/verify"): Route("audit.read", _form()),
    ("POST", "/admin/audit/export"): Route("audit.read", _form(format="csv")),
    ("GET", "/api/v1/audit"): Route("audit.read"),
    # alerts: everyone who reads mentions sees alerts and may raise one by hand; the rules
    # name people and units of every unit, so only alerts.manage sees or changes them.
    ("GET", "/alerts"): Route("mentions.read"),
    ("GET", "/alerts/{alert_id}"): Route("mentions.read", missing="alert_id"),
    ("GET", "/alerts/raise"): Route(
        "mentions.read", lambda a: Call(query={"mention_id": a.world.mention})
    ),
    ("POST", "/alerts/raise"): Route("mentions.read", _raise),
    ("GET", "/alerts/words"): Route("mentions.read"),
    ("POST", "/alerts/words/{category_id}"): Route("alerts.manage", _words, missing="category_id"),
    ("GET", "/alerts/rules"): Route("alerts.manage"),
    ("GET", "/alerts/rules/new"): Route("alerts.manage", lambda a: Call(query={"kind": "manual"})),
    ("GET", "/alerts/rules/{rule_id}/edit"): Route("alerts.manage", missing="rule_id"),
    ("POST", "/alerts/rules"): Route(
        "alerts.manage", lambda a: Call(form=_rule_form(a, f"矩阵新规则{a.n}"))
    ),
    ("POST", "/alerts/rules/{rule_id}"): Route(
        "alerts.manage", lambda a: Call(form=_rule_form(a, "矩阵预警规则")), missing="rule_id"
    ),
    ("POST", "/alerts/rules/{rule_id}/delete"): Route(
        "alerts.manage",
        lambda a: Call({"rule_id": a.world.fresh_rule()}, form={}),
        missing="rule_id",
    ),
    # events: read with mentions; merging and splitting re-file mentions (as labelling does)
    ("GET", "/dashboard"): Route("mentions.read"),
    ("GET", "/analysis"): Route("mentions.read"),
    ("GET", "/reports"): Route("mentions.read"),
    # Every reader may ask; without reports.all the answer is the own units' version (and
    # 403 for a 专报: test_a_report_is_built_for_its_reader asks every kind and format).
    ("GET", "/reports/{report_id}"): Route(
        "mentions.read",
        lambda a: Call({"report_id": a.world.reports["daily"]}),
        missing="report_id",
    ),
    ("GET", "/reports/{report_id}/download"): Route(
        "mentions.read",
        lambda a: Call({"report_id": a.world.reports["monthly"]}, query={"format": "xlsx"}),
        missing="report_id",
    ),
    # Making, editing and sending also need reports.all, which every role with
    # reports.manage holds by default.
    ("POST", "/reports/generate"): Route("reports.manage", _form(kind="daily", date="2024-05-01")),
    ("POST", "/reports/{report_id}/edit"): Route(
        "reports.manage",
        _form(section="3", paragraph="0", text="建议学校尽快发布情况说明。"),
        missing="report_id",
    ),
    ("POST", "/reports/{report_id}/sent"): Route("reports.manage", _form(), missing="report_id"),
    ("POST", "/events/{event_id}/report"): Route("reports.manage", _form(), missing="event_id"),
    ("GET", "/api/v1/dashboard"): Route("mentions.read"),
    ("GET", "/api/v1/analysis"): Route("mentions.read"),
    ("GET", "/events"): Route("mentions.read"),
    ("GET", "/events/hot"): Route("mentions.read"),
    ("GET", "/events/{event_id}"): Route("mentions.read", missing="event_id"),
    ("GET", "/api/v1/events/{event_id}/charts"): Route("mentions.read", missing="event_id"),
    ("POST", "/events/{event_id}/merge"): Route("mentions.label", _merge, missing="event_id"),
    ("POST", "/events/{event_id}/split"): Route("mentions.label", _split, missing="event_id"),
    # the desk inbox: each account's own messages
    ("GET", "/inbox"): Route(SIGNED_IN),
    ("GET", "/inbox/badge"): Route(SIGNED_IN),
    ("GET", "/inbox/{notification_id}"): Route(
        SIGNED_IN, lambda a: Call({"notification_id": _message(a)}), scope=OWNER
    ),
    ("POST", "/inbox/read-all"): Route(SIGNED_IN, _form()),
    ("GET", "/alerts/toast"): Route(SIGNED_IN),  # the account's own new alerts (toasts)
    # group channels: their URLs and secrets are shown masked, to notify.manage only
    ("GET", "/notify/channels"): Route("notify.manage"),
    ("POST", "/notify/channels"): Route("notify.manage", lambda a: Call(form=_channel_form(a))),
    ("POST", "/notify/channels/{channel_id}/test"): Route(
        "notify.manage", _form(), missing="channel_id"
    ),
    ("POST", "/notify/channels/{channel_id}/enabled"): Route(
        "notify.manage", _form(enabled="1"), missing="channel_id"
    ),
    # cases: a case belongs to the college it is handed to and to the one that reported it
    ("GET", "/cases"): Route("cases.read"),
    ("GET", "/cases/library"): Route("cases.read"),
    ("GET", "/cases/ledger.xlsx"): Route("cases.read"),
    ("GET", "/cases/accountability"): Route("cases.read"),
    # the working calendar: kept by the office (cases.manage with every unit)
    ("GET", "/calendar"): Route("cases.manage", all_units=True),
    ("POST", "/calendar/days"): Route(
        "cases.manage", _form(day="2030-01-05", kind="班", name="矩阵调休"), all_units=True
    ),
    ("POST", "/calendar/days/delete"): Route("cases.manage", _calendar_day, all_units=True),
    ("POST", "/calendar/years/delete"): Route("cases.manage", _calendar_year, all_units=True),
    ("POST", "/calendar/import"): Route(
        "cases.manage", _form(text="2033-01-03 休 矩阵\n"), all_units=True
    ),
    ("POST", "/calendar/seed"): Route("cases.manage", _form(), all_units=True),
    ("GET", "/api/v1/cases"): Route("cases.read"),
    ("GET", "/cases/{case_id}"): Route(
        "cases.read", lambda a: Call({"case_id": _standing_case(a)}), scope=UNIT
    ),
    ("GET", "/api/v1/cases/{case_id}"): Route(
        "cases.read", lambda a: Call({"case_id": _standing_case(a)}), scope=UNIT
    ),
    ("POST", "/cases/{case_id}/comment"): Route(
        "cases.read",
        lambda a: Call({"case_id": _standing_case(a)}, form={"text": f"矩阵备注{a.n}"}),
        scope=UNIT,
    ),
    ("GET", "/cases/new"): Route("cases.report"),
    ("POST", "/cases/new"): Route(
        "cases.report", lambda a: Call(form={"title": f"矩阵报送{a.n}", "link": ""})
    ),
    ("POST", "/api/v1/cases"): Route(
        "cases.report", lambda a: Call(json={"title": f"接口报送{a.n}"})
    ),
    ("POST", "/mentions/{mention_id}/case"): Route("cases.report", _form(), missing="mention_id"),
    ("POST", "/events/{event_id}/case"): Route("cases.report", _form(), missing="event_id"),
    ("POST", "/alerts/{alert_id}/case"): Route("cases.report", _form(), missing="alert_id"),
    # the office's steps
    ("POST", "/cases/{case_id}/triage"): _case_action("cases.manage", "new", grade="general"),
    ("POST", "/cases/{case_id}/assign"): Route("cases.manage", _assign, UNIT),
    ("POST", "/cases/{case_id}/accept"): _case_action("cases.manage", "feedback"),
    ("POST", "/cases/{case_id}/return"): _case_action("cases.manage", "feedback", reason="补充"),
    ("POST", "/cases/{case_id}/close"): _case_action("cases.manage", "review"),
    ("POST", "/cases/{case_id}/reopen"): _case_action("cases.manage", "closed", reason="复发"),
    # the handling unit's steps
    ("POST", "/cases/{case_id}/start"): _case_action("cases.handle", "assigned"),
    ("POST", "/cases/{case_id}/feedback"): _case_action(
        "cases.handle", "in_progress", feedback_text=FEEDBACK
    ),
    ("POST", "/cases/{case_id}/response"): _case_action(
        "cases.handle", "assigned", response_text="情况说明", kind="public"
    ),
    ("POST", "/cases/{case_id}/escalate"): _case_action("cases.handle", "assigned", reason="难办"),
    ("POST", "/cases/{case_id}/attach"): Route(
        "cases.handle",
        lambda a: Call(
            {"case_id": _case_id(a, "cases.handle", "assigned")},
            form={"mention_ids": str(a.world.case_mention)},
        ),
        UNIT,
    ),
    ("POST", "/cases/{case_id}/mentions/{mention_id}/detach"): Route("cases.handle", _detach, UNIT),
    # any reader may ask; the service lets the office and the handling unit act
    ("POST", "/api/v1/cases/{case_id}/transitions"): Route(
        "cases.read", _api_start, UNIT, may=_handles_cases
    ),
    # the team: quotas, registration and changes belong to units; the department decides
    ("GET", "/team"): Route("team.read"),
    ("GET", "/team/quotas.xlsx"): Route("team.read"),
    ("POST", "/team/quotas"): Route("team.manage", _quota_rule, all_units=True),
    ("POST", "/team/headcounts"): Route("team.manage", _headcounts, all_units=True),
    ("GET", "/team/rounds"): Route("team.read"),
    ("POST", "/team/rounds"): Route(
        "team.manage",
        lambda a: Call(form={"title": f"矩阵登记{a.n}", "deadline": "2031-01-01"}),
        all_units=True,
    ),
    ("GET", "/team/rounds/{round_id}/units/{unit_id}"): Route("team.read", _round_form, UNIT),
    ("POST", "/team/rounds/{round_id}/units/{unit_id}/upload"): Route(
        "team.unit",
        lambda a: _with(
            _round_form, form={}, files={"file": ("登记表.xlsx", a.world.roster, excel.XLSX_TYPE)}
        )(a),
        UNIT,
    ),
    ("POST", "/team/rounds/{round_id}/units/{unit_id}/submit"): Route(
        "team.unit",
        _with(_round_form, form={}, files={"file": ("盖章.pdf", PDF_SCAN, "application/pdf")}),
        UNIT,
    ),
    ("POST", "/team/rounds/{round_id}/units/{unit_id}/decide"): Route(
        "team.manage",
        _with(lambda a: _round_form(a, "submitted"), form={"action": "accept"}),
        UNIT,
        all_units=True,
    ),
    ("GET", "/team/rounds/{round_id}/units/{unit_id}/scan"): Route(
        "team.read", lambda a: _round_form(a, "submitted", scan=True), UNIT
    ),
    ("GET", "/team/changes"): Route("team.read"),
    ("POST", "/team/changes"): Route(
        "team.unit",
        lambda a: Call(
            form={
                "unit_id": str(_unit(a)),
                "kind": "add",
                "new_person_name": f"矩阵变更{a.n}",
                "duty_role_id": str(_role_id(a, "correspondent")),
                "reason": "矩阵",
            }
        ),
        scope=FORM_UNIT,
    ),
    ("POST", "/team/changes/{change_id}/decide"): Route(
        "team.manage", _change, all_units=True, missing="change_id"
    ),
    ("GET", "/team/ledger.xlsx"): Route("team.read", lambda a: Call(query={"on": "2030-01-01"})),
    # training: a session is the institution's; people and attendance shown by unit
    ("GET", "/team/training"): Route("team.read"),
    ("POST", "/team/training"): Route(
        "team.manage",
        _form(topic="矩阵培训", kind="policy", starts_at="2030-01-01T09:00"),
        all_units=True,
    ),
    ("GET", "/team/training/{training_id}"): Route(
        "team.read", _training_call(), missing="training_id"
    ),
    ("POST", "/team/training/{training_id}/invite"): Route(
        "team.manage", _training_call(unit_id=""), all_units=True, missing="training_id"
    ),
    ("POST", "/team/training/{training_id}/materials"): Route(
        "team.manage",
        lambda a: Call(
            {"training_id": _training(a)[0]},
            form={},
            files={"file": ("讲义.pdf", PDF_SCAN, "application/pdf")},
        ),
        all_units=True,
        missing="training_id",
    ),
    ("GET", "/team/training/{training_id}/materials/{index}"): Route(
        "team.read",
        lambda a: Call({"training_id": _training(a, material=True)[0], "index": 0}),
        missing="training_id",
    ),
    ("GET", "/team/training/{training_id}/qr.svg"): Route(
        "team.manage", _training_call(), all_units=True, missing="training_id"
    ),
    ("POST", "/team/training/{training_id}/attendance"): Route(
        "team.manage",
        lambda a: Call(
            {"training_id": _training(a)[0]}, form={"person_id": str(a.world.own_person)}
        ),
        all_units=True,
        missing="training_id",
    ),
    ("GET", "/team/training/{training_id}/certificates.xlsx"): Route(
        "team.manage", _training_call(), all_units=True, missing="training_id"
    ),
    ("GET", "/team/sign/{token}"): Route(SIGNED_IN, lambda a: Call({"token": _training(a)[1]})),
    ("POST", "/team/sign/{token}"): Route(
        SIGNED_IN, lambda a: Call({"token": _training(a)[1]}, form={})
    ),
    # the month: figures by unit; the bulletin and ranking name every unit
    ("GET", "/team/month"): Route("team.read"),
    ("GET", "/team/month/people/{person_id}"): Route(
        "team.read", lambda a: Call({"person_id": _person(a)}), scope=UNIT
    ),
    ("POST", "/team/tasks"): Route(
        "team.manage",
        lambda a: Call(
            form={
                "month": "2030-01",
                "duty_role_id": str(_role_id(a, "correspondent")),
                "metric": "news",
                "target": "2",
            }
        ),
        all_units=True,
    ),
    ("POST", "/team/manual"): Route(
        "team.manage",
        lambda a: Call(
            form={
                "person_id": str(a.world.own_person),
                "points": "1",
                "title": "矩阵表彰",
                "reason": "矩阵",
            }
        ),
        all_units=True,
    ),
    ("POST", "/team/quality"): Route(
        "team.manage",
        lambda a: Call(
            form={"month": "2030-01", "person_id": str(a.world.own_person), "score": "80"}
        ),
        all_units=True,
    ),
    ("POST", "/team/patrol"): Route("cases.report", _form(note="矩阵巡查")),
    ("GET", "/team/bulletin"): Route("team.read", all_units=True),
    ("POST", "/team/bulletin"): Route("team.manage", _form(month="2030-01"), all_units=True),
    ("GET", "/team/bulletin/{month}.docx"): Route(
        "team.read", lambda a: Call({"month": "2030-01"}), all_units=True
    ),
    ("GET", "/team/year.xlsx"): Route(
        "team.read", lambda a: Call(query={"year": "2030"}), all_units=True
    ),
    # editorial: submissions of a unit; reviewing also needs the stage's duty role, which no
    # account of the matrix holds (refused, and audited); publishing is the department's
    ("GET", "/editorial"): Route("editorial.read"),
    ("GET", "/editorial/visits"): Route("editorial.read"),
    ("GET", "/editorial/new"): Route("editorial.write"),
    ("POST", "/editorial/new"): Route(
        "editorial.write", lambda a: Call(form={"title": f"矩阵新稿{a.n}", "body": "<p>正文</p>"})
    ),
    ("GET", "/editorial/{submission_id}"): _editorial("editorial.read"),
    ("GET", "/editorial/{submission_id}/edit"): _editorial("editorial.write"),
    ("POST", "/editorial/{submission_id}/edit"): _editorial(
        "editorial.write", title="矩阵改稿", body="<p>改</p>", base_version="1"
    ),
    ("POST", "/editorial/{submission_id}/unlock"): _editorial("editorial.write", force=""),
    ("POST", "/editorial/{submission_id}/submit"): _editorial("editorial.write", x=""),
    ("POST", "/editorial/{submission_id}/review"): Route(
        "editorial.review",
        lambda a: Call(
            {"submission_id": _submission(a, "in_review")}, form={"decision": "approve"}
        ),
        UNIT,
        may=lambda role: False,
    ),
    ("POST", "/editorial/{submission_id}/publish"): _editorial(
        "editorial.manage", "approved", x=""
    ),
    ("POST", "/editorial/{submission_id}/unpublish"): _editorial(
        "editorial.manage", "published", note="矩阵撤下"
    ),
    ("POST", "/editorial/{submission_id}/grade"): _editorial(
        "team.manage", "published", grade="featured"
    ),
    ("POST", "/editorial/{submission_id}/correct"): _editorial(
        "editorial.manage", "published", note="矩阵更正", body="<p>更正</p>"
    ),
    ("GET", "/editorial/{submission_id}/approval.docx"): _editorial("editorial.read"),
    ("POST", "/editorial/{submission_id}/attachments"): Route(
        "editorial.write",
        lambda a: Call(
            {"submission_id": _submission(a)},
            form={},
            files={"file": ("a.pdf", b"%PDF-1.4", "application/pdf")},
        ),
        UNIT,
    ),
    ("GET", "/editorial/{submission_id}/attachments/{attachment_id}"): Route(
        "editorial.read", _attachment, UNIT
    ),
    ("POST", "/editorial/images"): Route(
        "editorial.write", lambda a: Call(form={}, files={"file": ("a.png", PNG, "image/png")})
    ),
    ("GET", "/editorial/images/{name}"): Route("editorial.read", _image),
    ("GET", "/editorial/wordlists"): Route("editorial.manage"),
    ("GET", "/editorial/stages"): Route("editorial.manage"),
    ("POST", "/editorial/stages/{stage_id}"): Route("editorial.manage", _stage, missing="stage_id"),
    ("POST", "/editorial/wordlists/{list_id}"): Route(
        "editorial.manage", _word_list, missing="list_id"
    ),
    # the institution's own column: public, read-only
    ("GET", "/news"): Route(PUBLIC),
    ("GET", "/news/{name}"): Route(PUBLIC, lambda a: Call({"name": "index.html"})),
    ("GET", "/news/a/{slug}.html"): Route(PUBLIC, lambda a: Call({"slug": _published(a)["slug"]})),
    ("GET", "/news/images/{name}"): Route(PUBLIC, lambda a: Call({"name": _published(a)["name"]})),
}


def _report(engine: Engine, event_id: int) -> int:
    """A special report (专报) on the test event: its 处置建议 is the editable part."""
    from yuqing.reports import service as report_service

    with Session(engine) as session:
        content = report_service.event_report(session, event_id=event_id)
        report = report_service.create_report(session, content=content, subject_id=event_id)
        session.commit()
        return report.id


REPORT_ADVICE = f"建议{OTHER_UNIT_NAME}尽快恢复供水，并由宣传部统一发布说明。"


def _reports(world: World) -> dict[str, int]:
    """The institution's daily, weekly and monthly report of today, made after the standing
    cases (so they hold both colleges' cases and figures), and the 专报 with the advice the
    office wrote, naming the other college."""
    from yuqing.core.timeutil import to_local, utcnow
    from yuqing.reports import service as report_service
    from yuqing.reports.models import Report

    today = (to_local(utcnow()) or utcnow()).date()
    builders = {
        "daily": report_service.daily,
        "weekly": report_service.weekly,
        "monthly": report_service.monthly,
    }
    with Session(world.engine) as session:
        made = {
            kind: report_service.create_report(session, content=build(session, day=today)).id
            for kind, build in builders.items()
        }
        special = session.get(Report, world.report)
        assert special is not None
        report_service.update_paragraph(
            session, report=special, section=3, paragraph=0, text=REPORT_ADVICE, editor="宣传部"
        )
        session.commit()
    return {**made, "event": world.report}


def _default_params(world: World) -> dict[str, Any]:
    return {
        "mention_id": world.mention,
        "source_id": world.source,
        "scheme_id": world.scheme,
        "user_id": world.target_user,
        "rule_id": world.rule,
        "alert_id": world.alert,
        "category_id": world.category,
        "event_id": world.event,
        "channel_id": world.channel,
        "report_id": world.report,
    }


# --- the app's routes -----------------------------------------------------------------


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route, mounts as GET; HEAD rides along with GET."""
    routing = importlib.import_module("fastapi.routing")
    # FastAPI ≥ 0.16x keeps included routers lazily; iter_route_contexts flattens them.
    walk = getattr(routing, "iter_route_contexts", None)
    found: set[tuple[str, str]] = set()
    for route in walk(app.routes) if walk else app.routes:
        path = getattr(route, "path", None)
        if not path:
            continue
        methods = set(getattr(route, "methods", None) or {"GET"})
        found.update((method, path) for method in methods - {"HEAD"} or methods)
    return found


def test_every_route_has_an_entry_in_the_matrix() -> None:
    routes = app_routes(create_app())
    missing = sorted(routes - ROUTES.keys())
    stale = sorted(ROUTES.keys() - routes)
    assert not missing, (
        "routes without an access expectation (add them to ROUTES in "
        f"tests/test_access_matrix.py with the permission they need): {missing}"
    )
    assert not stale, f"ROUTES names routes the app no longer has: {stale}"
    assert len(routes) >= 60  # the walk found the included routers, not just the mounts


# --- expected answers -----------------------------------------------------------------

ALLOWED, FORBIDDEN, NOT_FOUND, SIGNED_OUT, NEEDS_TOKEN = (
    "allowed",
    "403",
    "404",
    "signed out",
    "401 (token only)",
)


def expected(route: Route, role: str | None, scope: str | None) -> str:
    """The answer ``role`` should get, from the role's permissions and unit reach."""
    if route.need == PUBLIC:
        return ALLOWED
    if role is None:
        return SIGNED_OUT
    if route.need == TOKEN:
        return NEEDS_TOKEN
    if route.need != SIGNED_IN and route.need not in PERMISSIONS[role]:
        return FORBIDDEN
    if route.all_units and not ALL_UNITS[role]:
        return FORBIDDEN
    if scope == MISSING:
        return NOT_FOUND
    if scope == OTHER and (route.scope == OWNER or not ALL_UNITS[role]):
        return NOT_FOUND
    if route.may is not None and not route.may(role):
        return FORBIDDEN
    return ALLOWED


def verdict(route: Route, path: str, want: str, answer: Any) -> str | None:
    """``None`` when the answer is the expected one, else what was wrong."""
    status = answer.status_code
    location = answer.headers.get("location", "")
    if want == ALLOWED:
        to_login = 300 <= status < 400 and location.startswith("/login")
        good = (status < 400 or (status == 422 and route.need == SIGNED_IN)) and (
            not to_login or route.need == PUBLIC
        )
    elif want == FORBIDDEN:
        good = status == 403
    elif want == NOT_FOUND:
        good = status == 404 or (status == 400 and route.scope == FORM_UNIT)
    elif want == SIGNED_OUT:
        if path.startswith("/api/"):
            good = status == 401
        else:
            good = status == 303 and location.startswith("/login")
    else:
        good = status == 401
    return None if good else f"got {status} {location}".strip()


# --- requests -------------------------------------------------------------------------


def _csrf(client: TestClient) -> str:
    token = client.cookies.get("yuqing_csrf")
    assert token, "the sign-in page sets the CSRF cookie"
    return str(token)


def send(client: TestClient, method: str, template: str, call: Call, world: World) -> Any:
    params = {**_default_params(world), **call.params}
    path = template.format(**params) + str(params.get("__suffix", ""))
    headers: dict[str, str] = {}
    form = call.form
    if method != "GET":
        token = _csrf(client)
        headers["X-CSRF-Token"] = token
        if form is not None:
            form = {**form, "csrf_token": token}
    return client.request(
        method,
        path,
        params=call.query,
        data=form,
        json=call.json,
        files=call.files,
        headers=headers,
        follow_redirects=False,
    )


def _scopes(route: Route) -> list[str | None]:
    if route.scope:
        return [OWN, OTHER, MISSING]
    return [None, MISSING] if route.missing else [None]


def _ordered() -> list[tuple[tuple[str, str], Route]]:
    return sorted(ROUTES.items(), key=lambda item: item[1].last)


def _text(answer: Any) -> str:
    """What a person would read in the answer: the body, the text and table cells of a Word
    file, or the cells of a spreadsheet."""
    if answer.content[:2] != b"PK":
        return str(answer.text)
    if "word/document.xml" in zipfile.ZipFile(io.BytesIO(answer.content)).namelist():
        doc = Document(io.BytesIO(answer.content))
        cells = (c.text for table in doc.tables for row in table.rows for c in row.cells)
        return "\n".join([*(p.text for p in doc.paragraphs), *cells])
    book = load_workbook(io.BytesIO(answer.content), read_only=True)
    cells = (str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row)
    return " ".join(cells)


def _leaks(answer: Any) -> list[str]:
    text = _text(answer)
    return [
        name for name in (OTHER_UNIT_NAME, OTHER_PERSON_NAME, OTHER_PERSON_EMAIL) if name in text
    ]


def _secrets(answer: Any) -> list[str]:
    """What no account may read: a channel's secret or robot key, another account's mail."""
    text = _text(answer)
    return [secret for secret in (*SECRETS, PRIVATE_TITLE) if secret in text]


@pytest.fixture
def world(engine: Engine, http_server: LocalServer) -> Iterator[World]:
    built = build_world(engine, http_server)
    yield built
    _await_backfills(built)


def _await_backfills(world: World) -> None:
    """The backfill thread must be done before the test's database is dropped."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = scheme_flows.job(world.scheme)
        if job is None or job.finished:
            return
        time.sleep(0.05)


def _signed_in(engine: Engine, world: World, role: str) -> TestClient:
    scoped = not ALL_UNITS[role]
    unit_id = world.own_unit if scoped else None
    name = make_user(engine, f"{role}_user", role, unit_id)
    with Session(engine) as session:
        world.tokens[name] = _user_token(session, name)
        session.commit()
    world.inbox[name] = _inbox_message(engine, name, unit_id, f"给{name}的消息")
    return sign_in(TestClient(create_app()), name, TEST_PASSWORD)


@pytest.mark.parametrize("role", ROLE_KEYS)
def test_every_route_answers_each_role_as_its_permissions_say(
    engine: Engine, world: World, role: str
) -> None:
    client = _signed_in(engine, world, role)
    problems: list[str] = []
    n = 0
    for (method, template), route in _ordered():
        for scope in _scopes(route):
            n += 1
            ask = Ask(world, role, scope, n, f"{role}_user")
            answer = send(client, method, template, route.call(ask), world)
            want = expected(route, role, scope)
            wrong = verdict(route, template, want, answer)
            where = f"{role} {method} {template}" + (f" [{scope}]" if scope else "")
            if wrong:
                problems.append(f"{where}: expected {want}, {wrong}: {answer.text[:200]!r}")
            if not ALL_UNITS[role] and (leaked := _leaks(answer)):
                problems.append(f"{where}: the answer names another unit's records {leaked}")
            if shown := _secrets(answer):
                problems.append(f"{where}: the answer shows {shown}")
    client.close()
    assert not problems, "\n".join(problems)
    assert n >= 70


@pytest.mark.parametrize("role", [r for r in ROLE_KEYS if not ALL_UNITS[r]])
def test_a_unit_account_writes_nothing_into_another_unit(
    engine: Engine, world: World, role: str
) -> None:
    client = _signed_in(engine, world, role)
    before = _counts(engine, world.other_unit)
    for (method, template), route in ROUTES.items():
        if route.scope in (UNIT, FORM_UNIT) and method == "POST":
            ask = Ask(world, role, OTHER, 0, f"{role}_user")
            send(client, method, template, route.call(ask), world)
    client.close()
    assert _counts(engine, world.other_unit) == before
    assert _case_entries_by(engine, f"{role}_user", world.other_unit) == 0


def _case_entries_by(engine: Engine, username: str, unit_id: int) -> int:
    """Timeline lines (steps, notes, links) the account wrote on the cases of ``unit_id``."""
    with Session(engine) as session:
        user = auth.get_user_by_username(session, username=username)
        assert user is not None
        of_unit = select(Case.id).where(
            or_(Case.unit_id == unit_id, Case.reporter_unit_id == unit_id)
        )
        query = select(func.count()).where(
            CaseEntry.actor_id == user.id, CaseEntry.case_id.in_(of_unit)
        )
        return int(session.scalar(query) or 0)


def _counts(engine: Engine, unit_id: int) -> tuple[int, int]:
    with Session(engine) as session:
        units = session.scalar(select(func.count()).where(Unit.parent_id == unit_id))
        people = session.scalar(select(func.count()).where(Person.unit_id == unit_id))
        return int(units or 0), int(people or 0)


def test_signed_out_browsers_go_to_sign_in_and_api_clients_get_401(
    engine: Engine, world: World
) -> None:
    make_user(engine, "someone", "leader")
    client = TestClient(create_app())
    client.get("/login")  # the CSRF cookie, so only the missing account can refuse a POST
    problems: list[str] = []
    for n, ((method, template), route) in enumerate(_ordered()):
        for scope in _scopes(route):
            call = route.call(Ask(world, None, scope, n, "someone"))
            answer = send(client, method, template, call, world)
            client.cookies.delete(SESSION_COOKIE)  # POST /login signs in: stay signed out
            want = expected(route, None, scope)
            wrong = verdict(route, template, want, answer)
            if wrong:
                problems.append(f"signed out {method} {template}: expected {want}, {wrong}")
    client.close()
    assert not problems, "\n".join(problems)


# --- the token column: a token opens /api/ routes within its scopes, nothing else ------

TOKEN_SCOPES = {"push-only": ["push"], "every-scope": list(config.PERMISSIONS)}


def expected_with_token(
    route: Route, template: str, scopes: frozenset[str], scope: str | None
) -> str:
    """The answer to an administrator's API token holding ``scopes`` (docs/access.md, "API
    tokens"): public routes as for anyone; the account's own pages, its tokens and its inbox
    refused (they are for people), and so is every desk page (a token opens ``/api/`` only);
    an ``/api/`` route as for the administrator when the scopes name its permission, else
    403."""
    if route.need == PUBLIC:
        return ALLOWED
    if route.need == TOKEN:
        return ALLOWED if "push" in scopes else FORBIDDEN
    if route.need == SIGNED_IN or not template.startswith("/api/") or route.need not in scopes:
        return FORBIDDEN
    return expected(route, "admin", scope)


@pytest.mark.parametrize("label", list(TOKEN_SCOPES))
def test_every_route_answers_an_api_token_as_its_scopes_say(
    engine: Engine, world: World, label: str
) -> None:
    name = make_user(engine, "token_admin", "admin")
    scopes = TOKEN_SCOPES[label]
    with Session(engine) as session:
        world.tokens[name] = _user_token(session, name)  # its own token, to revoke
        session.commit()
    world.inbox[name] = _inbox_message(engine, name, None, f"给{name}的消息")
    bearer = {"Authorization": f"Bearer {_token_secret(engine, name, scopes)}"}
    client = TestClient(create_app(), headers=bearer)
    client.get("/login")  # a CSRF cookie, so only the token can refuse a desk form
    problems: list[str] = []
    for n, ((method, template), route) in enumerate(_ordered()):
        for scope in _scopes(route):
            call = route.call(Ask(world, "admin", scope, n, name))
            answer = send(client, method, template, call, world)
            client.cookies.delete(SESSION_COOKIE)  # POST /login signs in: stay a token
            want = expected_with_token(route, template, frozenset(scopes), scope)
            where = f"{label} token {method} {template}" + (f" [{scope}]" if scope else "")
            if wrong := verdict(route, template, want, answer):
                problems.append(f"{where}: expected {want}, {wrong}: {answer.text[:200]!r}")
            if shown := _secrets(answer):
                problems.append(f"{where}: the answer shows {shown}")
    client.close()
    assert not problems, "\n".join(problems)
    with Session(engine) as session:  # no token made a token or an account on the way
        user = auth.get_user_by_username(session, username=name)
        assert user is not None and len(auth.list_tokens(session, user=user)) == 2
        made = select(func.count()).where(User.username.like("made%"))
        assert session.scalar(made) == 0


# --- sign-in, sessions and tokens -----------------------------------------------------


def test_the_sign_in_page_and_the_api_docs_need_no_account(engine: Engine) -> None:
    with TestClient(create_app()) as client:
        for path in ("/login", "/docs", "/openapi.json", "/static/favicon.svg"):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 200, path
        assert "/api/v1/mentions" in client.get("/openapi.json").json()["paths"]
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")


def test_a_tampered_session_cookie_counts_as_signed_out(engine: Engine, world: World) -> None:
    client = _signed_in(engine, world, "admin")
    assert client.get("/org", follow_redirects=False).status_code == 200
    secret = str(client.cookies.get(SESSION_COOKIE))
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    client.cookies.set(SESSION_COOKIE, flipped)
    page = client.get("/org", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.get("/api/v1/audit").status_code == 401
    client.cookies.set(SESSION_COOKIE, secret)  # the real cookie still works: only it counts
    assert client.get("/org", follow_redirects=False).status_code == 200
    client.close()


def _token_secret(engine: Engine, username: str, scopes: list[str]) -> str:
    with Session(engine) as session:
        user = auth.get_user_by_username(session, username=username)
        assert user is not None
        _, secret = auth.create_token(session, user=user, name="范围", scopes=scopes, actor=SYSTEM)
        session.commit()
    return secret


def test_an_api_token_carries_only_its_scopes(engine: Engine, world: World) -> None:
    make_user(engine, "office", "publicity")
    reader = {"Authorization": f"Bearer {_token_secret(engine, 'office', ['mentions.read'])}"}
    writer_scopes = ["schemes.read", "schemes.manage", "push"]
    writer = {"Authorization": f"Bearer {_token_secret(engine, 'office', writer_scopes)}"}
    scheme = {"name": "令牌方案", "subject_words": ["食堂"]}
    push = {"source": "令牌推送", "items": [{"external_id": "t1", "title": "令牌推送测试"}]}
    with TestClient(create_app()) as client:
        assert client.get(f"/api/v1/mentions/{world.mention}", headers=reader).status_code == 200
        assert client.get("/api/v1/search?q=食堂", headers=reader).status_code == 200
        # The account may manage schemes and push; this token may not.
        assert client.post("/api/v1/schemes", json=scheme, headers=reader).status_code == 403
        assert client.get("/api/v1/schemes", headers=reader).status_code == 403
        assert client.post("/api/v1/mentions", json=push, headers=reader).status_code == 403
        # A token with those scopes may, without a CSRF header (it is not a browser session).
        assert client.post("/api/v1/schemes", json=scheme, headers=writer).status_code == 201
        assert client.post("/api/v1/mentions", json=push, headers=writer).status_code == 200
        assert client.get(f"/api/v1/mentions/{world.mention}", headers=writer).status_code == 403
    with Session(engine) as session:
        office = auth.get_user_by_username(session, username="office")
        assert office is not None
        for token in auth.list_tokens(session, user=office):
            auth.revoke_token(session, token=token, actor=SYSTEM)
        session.commit()
    with TestClient(create_app()) as client:
        assert client.get("/api/v1/search?q=食堂", headers=reader).status_code == 401
        assert client.post("/api/v1/schemes", json=scheme, headers=writer).status_code == 401


def test_a_json_write_on_a_session_cookie_needs_the_csrf_header(
    engine: Engine, world: World
) -> None:
    client = _signed_in(engine, world, "publicity")
    scheme = {"name": "会话方案", "subject_words": ["食堂"]}
    assert client.post("/api/v1/schemes", json=scheme).status_code == 403
    headers = {"X-CSRF-Token": _csrf(client)}
    assert client.post("/api/v1/schemes", json=scheme, headers=headers).status_code == 201
    client.close()


def test_a_token_cannot_be_given_scopes_beyond_its_account(engine: Engine, world: World) -> None:
    client = _signed_in(engine, world, "leader")
    answer = client.post(
        "/account/tokens",
        data={"name": "越权", "scopes": ["push"], "csrf_token": _csrf(client)},
    )
    assert answer.status_code == 422 and "不能超过账号本身的权限" in answer.text
    with Session(engine) as session:
        roles = {r.key: r for r in session.execute(select(Role)).scalars()}
        assert "push" not in roles["leader"].permissions.split()
    client.close()


def _roster_with(roster: bytes, rows: list[tuple[str, str]]) -> bytes:
    """The exported registration form with its people replaced by ``rows`` (unit, name)."""
    book = load_workbook(io.BytesIO(roster))
    sheet = book.active
    assert sheet is not None
    first = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 2).value == "甲同学")
    for offset, (unit, name) in enumerate(rows):
        sheet.cell(first + offset, 1, unit)
        sheet.cell(first + offset, 2, name)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "role", [r for r in ROLE_KEYS if not ALL_UNITS[r] and "org.manage" in PERMISSIONS[r]]
)
def test_a_unit_roster_import_stays_in_its_units_and_names_no_other(
    engine: Engine, world: World, role: str
) -> None:
    client = _signed_in(engine, world, role)
    before = _counts(engine, world.other_unit)
    data = _roster_with(
        world.roster, [(SHARED_NAME, "新办事员"), (OTHER_UNIT_NAME, "乙新人"), ("甲学院", "甲新人")]
    )
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    answer = client.post(
        "/org/import",
        data={"csrf_token": _csrf(client)},
        files={"file": ("登记表.xlsx", data, xlsx)},
    )
    client.close()
    assert answer.status_code == 200
    page = answer.text.replace(f"单位“{OTHER_UNIT_NAME}”", "")  # the file's own words, echoed
    assert OTHER_UNIT_NAME not in page and OTHER_PERSON_NAME not in page
    assert _counts(engine, world.other_unit) == before
    with Session(engine) as session:
        names = set(session.execute(select(Person.name)).scalars())
    assert "乙新人" not in names and "甲新人" in names
    # The other college's namesake is out of sight: the name is the unit head's own office.
    assert "新办事员" in names


# --- alerts, inbox and channels -------------------------------------------------------


def test_an_inbox_message_is_its_accounts_own(engine: Engine, world: World) -> None:
    neighbour = _signed_in(engine, world, "unit_member")  # same unit as the target account
    assert PRIVATE_TITLE not in neighbour.get("/inbox").text
    assert neighbour.get(f"/inbox/{world.target_message}").status_code == 404
    read_all = neighbour.post("/inbox/read-all", data={"csrf_token": _csrf(neighbour)})
    assert read_all.status_code == 200  # followed back to the neighbour's own inbox
    neighbour.close()
    target = sign_in(TestClient(create_app()), "target_user", TEST_PASSWORD)
    assert 'id="unread-count">1<' in target.get("/inbox").text  # still unread
    message = target.get(f"/inbox/{world.target_message}")
    assert message.status_code == 200 and PRIVATE_TITLE in message.text
    assert 'id="unread-count">0<' in target.get("/inbox").text
    target.close()


def test_alert_delivery_addresses_are_shown_to_alert_managers_only(
    engine: Engine, world: World
) -> None:
    manager = _signed_in(engine, world, "publicity")
    page = manager.get(f"/alerts/{world.alert}").text
    # Deliveries name their channel as people know it, never as ``webhook channel:1``.
    assert OTHER_PERSON_EMAIL in page and "矩阵群机器人" in page
    assert f"channel:{world.channel}" not in page
    manager.close()
    head = _signed_in(engine, world, "unit_head")
    page = head.get(f"/alerts/{world.alert}").text
    assert "投递状态" in page and "邮件" in page  # the state of each delivery stays
    assert OTHER_PERSON_EMAIL not in page
    head.close()


def test_channel_secrets_are_shown_masked_and_used_whole(
    engine: Engine, world: World, http_server: LocalServer
) -> None:
    client = _signed_in(engine, world, "publicity")
    page = client.get("/notify/channels").text
    assert "矩阵群机器人" in page and notify.mask(CHANNEL_SECRET) in page
    assert not [secret for secret in SECRETS if secret in page]
    answer = client.post(
        f"/notify/channels/{world.channel}/test", data={"csrf_token": _csrf(client)}
    )
    client.close()
    assert answer.status_code == 200 and "测试消息已发到" in answer.text
    assert not [secret for secret in SECRETS if secret in answer.text]
    sent = [seen for seen in http_server.requests if seen.path.startswith("/robot")]
    assert sent and sent[-1].path.endswith(ROBOT_KEY)  # the robot got the whole key
    assert "x-yuqing-signature" in sent[-1].headers


# --- cases ----------------------------------------------------------------------------


def _ledger_rows(answer: Any) -> dict[str, tuple[str, str]]:
    """The case ledger's rows: title → (责任单位, 责任人), read from the cells."""
    assert answer.status_code == 200 and answer.content[:2] == b"PK"
    book = load_workbook(io.BytesIO(answer.content), read_only=True)
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    return {str(row[2]): (str(row[6] or ""), str(row[7] or "")) for row in rows}


@pytest.mark.parametrize(
    "role", [r for r in ROLE_KEYS if not ALL_UNITS[r] and "cases.read" in PERMISSIONS[r]]
)
def test_a_unit_account_lists_only_its_colleges_cases(
    engine: Engine, world: World, role: str
) -> None:
    client = _signed_in(engine, world, role)
    board = client.get("/cases").text
    library = client.get("/cases/library").text
    ledger = _ledger_rows(client.get("/cases/ledger.xlsx"))
    listed = {item["id"] for item in client.get("/api/v1/cases").json()["items"]}
    client.close()
    mine = (OWN, "own_closed", "shared")  # handled by it, or reported by it
    assert CASE_TITLES[OWN] in board and CASE_TITLES["shared"] in board  # open ones
    assert CASE_TITLES["own_closed"] in library  # closed ones
    assert set(ledger) == {CASE_TITLES[key] for key in mine}
    assert listed == {world.cases[key] for key in mine}
    for theirs in (CASE_TITLES[OTHER], CASE_TITLES["other_closed"]):
        assert theirs not in board and theirs not in library


def test_a_reporting_unit_sees_its_case_but_not_who_handles_it(
    engine: Engine, world: World
) -> None:
    shared = world.cases["shared"]
    client = _signed_in(engine, world, "unit_member")
    page = client.get(f"/cases/{shared}")
    api = client.get(f"/api/v1/cases/{shared}")
    board = client.get("/cases")
    ledger = _ledger_rows(client.get("/cases/ledger.xlsx"))
    client.close()
    assert page.status_code == 200 and CASE_TITLES["shared"] in page.text
    assert FEEDBACK in page.text and HIDDEN_UNIT in page.text  # its report, and what was done
    assert api.status_code == 200 and api.json()["feedback_text"] == FEEDBACK
    assert api.json()["unit_id"] is None and api.json()["assignee_person_id"] is None
    assert CASE_TITLES["shared"] in board.text
    assert ledger[CASE_TITLES["shared"]] == (HIDDEN_UNIT, "")
    for answer in (page, api, board):
        assert not _leaks(answer), answer.url
    # The office sees who handles it: the names are there to hide.
    office = _signed_in(engine, world, "publicity")
    seen = office.get(f"/cases/{shared}").text
    listed = {item["id"] for item in office.get("/api/v1/cases").json()["items"]}
    office.close()
    assert OTHER_UNIT_NAME in seen and OTHER_PERSON_NAME in seen
    assert listed == set(world.cases.values())


def test_a_unit_filter_does_not_tell_a_reporting_unit_who_handles_its_case(
    engine: Engine, world: World
) -> None:
    """Filtering by the other college's id finds nothing, though the shared case is handled
    there: otherwise trying unit ids would name the handling unit."""
    client = _signed_in(engine, world, "unit_member")
    shared = CASE_TITLES["shared"]
    found: dict[int, list[str]] = {}
    for unit_id in (world.own_unit, world.other_unit):
        query = {"unit_id": unit_id}
        items = client.get("/api/v1/cases", params=query).json()["items"]
        found[unit_id] = [
            *(item["title"] for item in items),
            *_ledger_rows(client.get("/cases/ledger.xlsx", params=query)),
            *(t for t in CASE_TITLES.values() if t in client.get("/cases", params=query).text),
            *(
                t
                for t in CASE_TITLES.values()
                if t in client.get("/cases/library", params=query).text
            ),
        ]
    client.close()
    assert CASE_TITLES[OWN] in found[world.own_unit]  # the filter works on its own college
    assert CASE_TITLES["own_closed"] in found[world.own_unit]
    assert shared not in found[world.own_unit] and found[world.other_unit] == []


# --- reports --------------------------------------------------------------------------

REPORT_FORMATS = ("html", "docx", "xlsx")


def _report_answers(client: TestClient, report_id: int) -> list[Any]:
    downloads = [f"/reports/{report_id}/download?format={fmt}" for fmt in REPORT_FORMATS]
    return [client.get(path) for path in (f"/reports/{report_id}", *downloads)]


@pytest.mark.parametrize("role", ROLE_KEYS)
def test_a_report_is_built_for_its_reader(engine: Engine, world: World, role: str) -> None:
    """Each report kind, its page and every download: a role with reports.all reads the
    institution's report (both colleges' cases, the office's advice); any other reads its
    own units' version, which names no other unit, and gets 403 for a 专报."""
    whole = "reports.all" in PERMISSIONS[role]
    client = _signed_in(engine, world, role)
    problems: list[str] = []
    for kind, report_id in world.reports.items():
        refused = kind == "event" and not whole
        for answer in _report_answers(client, report_id):
            where = f"{role} {kind} {answer.url.path}?{answer.url.query.decode()}"
            if answer.status_code != (403 if refused else 200):
                problems.append(f"{where}: got {answer.status_code}")
                continue
            text = _text(answer)
            if kind != "event" and CASE_TITLES[OWN] not in text:
                problems.append(f"{where}: the own college's case is missing")
            if whole and OTHER_UNIT_NAME not in text:
                problems.append(f"{where}: the institution's report lacks the other college")
            if not ALL_UNITS[role] and (leaked := _leaks(answer)):
                problems.append(f"{where}: the answer names another unit's records {leaked}")
            if not whole and REPORT_ADVICE in text:
                problems.append(f"{where}: the office's advice is shown")
    listing = client.get("/reports").text
    client.close()
    if whole != (f'href="/reports/{world.reports["event"]}"' in listing):
        problems.append(f"{role}: the list shows the 专报 only to reports.all")
    assert not problems, "\n".join(problems)
