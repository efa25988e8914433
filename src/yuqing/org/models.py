"""Tables of the organisation domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
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
