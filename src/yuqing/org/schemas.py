"""Typed input and output of the organisation domain: person and unit forms, the viewer, the
unit tree rows and the roster import report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, field_validator

from yuqing.core.audit import Actor

PHONE = re.compile(r"^\+?[0-9][0-9\- ]{4,19}$")
EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")


class Viewer(Protocol):
    """Who asks the organisation services: ``auth.schemas.Principal`` fits (org sits below
    auth, so it names the shape, not the class)."""

    @property
    def visible_units(self) -> frozenset[int] | None: ...

    @property
    def actor(self) -> Actor: ...

    def can(self, permission: str) -> bool: ...

    def sees_unit(self, unit_id: int | None) -> bool: ...


def _blank_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class PersonIn(BaseModel):
    """A person from the form or a row of the registration form (登记表)."""

    name: str
    unit_id: int
    position: str | None = None
    phone: str | None = None
    email: str | None = None
    wecom_userid: str | None = None
    dingtalk_userid: str | None = None
    political_status: str | None = None
    note: str | None = None
    role_keys: list[str] = []

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("姓名不能为空")
        if len(value) > 60:
            raise ValueError("姓名不超过 60 个字符")
        return value

    @field_validator(
        "position", "wecom_userid", "dingtalk_userid", "political_status", "note", mode="before"
    )
    @classmethod
    def _text(cls, value: object) -> object:
        return _blank_none(value)

    @field_validator("position", "wecom_userid", "dingtalk_userid")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 100:
            raise ValueError("职务、企业微信号、钉钉号均不超过 100 个字符")
        return value

    @field_validator("political_status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 40:
            raise ValueError("政治面貌不超过 40 个字符")
        return value

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 2000:
            raise ValueError("备注不超过 2000 个字符")
        return value

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: object) -> object:
        value = _blank_none(value)
        if value is not None and not PHONE.match(str(value)):
            raise ValueError(f"手机号格式不对：{value}")
        return value

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: object) -> object:
        value = _blank_none(value)
        if value is not None and (len(str(value)) > 200 or not EMAIL.match(str(value))):
            raise ValueError(f"邮箱格式不对：{value}")
        return value


class UnitIn(BaseModel):
    """A unit from the edit form."""

    name: str
    parent_id: int | None = None
    kind_id: int | None = None
    head_person_id: int | None = None
    contact_person_id: int | None = None
    student_count: int | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value or len(value) > 100:
            raise ValueError("单位名称不能为空，且不超过 100 个字符")
        return value

    @field_validator("student_count")
    @classmethod
    def _students(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= 1_000_000:
            raise ValueError("学生人数应在 0 到 1000000 之间")
        return value


@dataclass
class TreeRow:
    """One unit of the tree page, with its depth and head counts."""

    unit_id: int
    name: str
    depth: int
    kind: str
    people: int
    roles: dict[int, int]  # duty role id → holders
    student_count: int | None


@dataclass(frozen=True)
class RowProblem:
    """A row of an imported roster that was not stored, and why (Chinese)."""

    row: int
    reason: str
    sheet: str = ""

    def __str__(self) -> str:
        where = f"工作表“{self.sheet}”" if self.sheet else ""
        return f"{where}第 {self.row} 行：{self.reason}"


@dataclass
class RosterImport:
    """What a roster import did: every data row is counted once."""

    filename: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return len(self.problems)
