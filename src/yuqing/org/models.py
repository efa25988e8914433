"""Tables of the organisation domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow


class UnitKind(Base):
    """A kind of unit (单位类型): 学院, 机关教辅单位, 领导小组 … (data, renamable)."""

    __tablename__ = "unit_kind"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    order: Mapped[int] = mapped_column(Integer, default=0)


class Unit(Base):
    """A unit (单位) in the institution's tree: institution → 部门/学院 → 科室/系."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True
    )
    kind_id: Mapped[int | None] = mapped_column(ForeignKey("unit_kind.id", ondelete="SET NULL"))
    # No foreign keys here: unit → person → unit would be a cycle that a single migration
    # cannot create on PostgreSQL; the service checks the ids and clears them when a person
    # is removed.
    head_person_id: Mapped[int | None] = mapped_column(Integer)
    contact_person_id: Mapped[int | None] = mapped_column(Integer)
    student_count: Mapped[int | None] = mapped_column(Integer)  # for per-200-students quotas
    order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DutyRole(Base):
    """A duty role (职责角色): 核心网评员, 新闻通讯员 … (data, renamable and extensible)."""

    __tablename__ = "duty_role"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    order: Mapped[int] = mapped_column(Integer, default=0)


class Person(Base):
    """A person of the team (人员台账): the unit's staff who hold duty roles."""

    __tablename__ = "person"
    __table_args__ = (Index("ix_person_unit_name", "unit_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    position: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    wecom_userid: Mapped[str | None] = mapped_column(String(100))
    dingtalk_userid: Mapped[str | None] = mapped_column(String(100))
    political_status: Mapped[str | None] = mapped_column(String(40))  # 政治面貌 (登记表)
    note: Mapped[str | None] = mapped_column(Text)  # 备注 (登记表)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)


class PersonRole(Base):
    """A duty role held by a person."""

    __tablename__ = "person_role"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    duty_role_id: Mapped[int] = mapped_column(
        ForeignKey("duty_role.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RoleTerm(Base):
    """One term a person held a duty role (任职记录): the ledger (台账) of any date is the
    terms open on that date, so history is kept, never overwritten. ``person_role`` is the
    current state; every change of it opens or closes a term here."""

    __tablename__ = "org_role_term"
    __table_args__ = (
        Index("ix_org_role_term_person", "person_id", "duty_role_id"),
        Index("ix_org_role_term_dates", "valid_from", "valid_to"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    duty_role_id: Mapped[int] = mapped_column(ForeignKey("duty_role.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    valid_from: Mapped[datetime] = mapped_column(DateTime)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)
    change_request_id: Mapped[int | None] = mapped_column(Integer)  # the 变更 that made it


class QuotaRule(Base):
    """A quota (定额) of a duty role: for a kind of unit, or for one named unit (which then
    replaces the kind's rule for that role). ``fixed`` members, plus one per ``per_students``
    of the unit's student headcount when set (基层: 1 per 200)."""

    __tablename__ = "org_quota_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    duty_role_id: Mapped[int] = mapped_column(ForeignKey("duty_role.id", ondelete="CASCADE"))
    unit_kind_id: Mapped[int | None] = mapped_column(ForeignKey("unit_kind.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    fixed: Mapped[int] = mapped_column(Integer, default=0)
    per_students: Mapped[int | None] = mapped_column(Integer)
    order: Mapped[int] = mapped_column(Integer, default=0)


class ChangeRequest(Base):
    """A change request (变更申请): a unit asks to add, remove or replace a member in a duty
    role; the department approves (the change is applied and filed, 备案) or refuses."""

    __tablename__ = "org_change_request"
    __table_args__ = (Index("ix_org_change_request_unit", "unit_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # add | remove | replace
    duty_role_id: Mapped[int] = mapped_column(ForeignKey("duty_role.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    new_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    new_person_name: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="proposed")
    proposed_by: Mapped[str] = mapped_column(String(100), default="")
    proposed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    refused_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class RegistrationRound(Base):
    """A registration round (登记): the department asks every unit for its stamped form
    (登记表) by a deadline."""

    __tablename__ = "org_registration_round"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    deadline: Mapped[datetime] = mapped_column(DateTime)
    opened_by: Mapped[str] = mapped_column(String(100), default="")
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)


class RegistrationForm(Base):
    """One unit's form in a round: its roster as submitted (a snapshot), the scanned stamped
    form, and where it stands (draft → submitted → returned/accepted)."""

    __tablename__ = "org_registration_form"
    __table_args__ = (UniqueConstraint("round_id", "unit_id", name="uq_org_registration_form"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("org_registration_round.id", ondelete="CASCADE")
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    snapshot: Mapped[str] = mapped_column(Text, default="[]")  # JSON rows as submitted
    warnings: Mapped[str] = mapped_column(Text, default="")  # quota warnings, one a line
    scan_name: Mapped[str | None] = mapped_column(String(200))  # the uploaded file's name
    scan_stored: Mapped[str | None] = mapped_column(String(200))  # its name in the store
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    return_reason: Mapped[str] = mapped_column(Text, default="")
    accepted_by: Mapped[str | None] = mapped_column(String(100))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime)
