"""Pydantic shapes of schemes: what the API and the editor accept, and what they return."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from yuqing.schemes.models import SCHEME_MODES, SCHEME_SCOPES
from yuqing.schemes.query import SchemeSyntaxError, parse_query, split_words

WORD_FIELDS = ("subject_words", "region_words", "person_words", "event_words")
WORD_LABELS = {
    "subject_words": "主体词",
    "region_words": "地域词",
    "person_words": "人物词",
    "event_words": "事件词",
    "exclude_words": "排除词",
}
SCOPE_LABELS = {"both": "标题和正文", "title": "仅标题", "text": "仅正文"}
MODE_LABELS = {"simple": "简单模式", "advanced": "高级模式"}


class SchemeIn(BaseModel):
    """A scheme as a user writes it; words may be one string (spaces, commas, new lines) or a
    list. The advanced query is parsed here, so a stored query always parses."""

    name: str = Field(min_length=1, max_length=200)
    group: str | None = Field(default=None, max_length=100)
    mode: str = "simple"
    subject_words: list[str] = Field(default_factory=list)
    region_words: list[str] = Field(default_factory=list)
    person_words: list[str] = Field(default_factory=list)
    event_words: list[str] = Field(default_factory=list)
    exclude_words: list[str] = Field(default_factory=list)
    query: str = ""
    scope: str = "both"
    weight: float = Field(default=1.0, ge=0, le=100)
    enabled: bool = True

    @field_validator(*WORD_FIELDS, "exclude_words", mode="before")
    @classmethod
    def _words(cls, value: object) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return split_words(value)
        if isinstance(value, list):
            return split_words(" ".join(str(v) for v in value))
        raise ValueError("词语应为文本或文本列表")

    @field_validator("name", "group", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if value not in SCHEME_MODES:
            raise ValueError("模式应为 simple（简单）或 advanced（高级）")
        return value

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        if value not in SCHEME_SCOPES:
            raise ValueError("匹配范围应为 both（标题和正文）、title（标题）或 text（正文）")
        return value

    @model_validator(mode="after")
    def _content(self) -> SchemeIn:
        if self.mode == "advanced":
            parse_query(self.query)  # SchemeSyntaxError is a ValueError: pydantic reports it
        elif not any(getattr(self, f) for f in WORD_FIELDS):
            raise ValueError("简单模式至少要在主体词、地域词、人物词、事件词中填一组词")
        return self


class SchemeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    group: str | None
    mode: str
    subject_words: list[str]
    region_words: list[str]
    person_words: list[str]
    event_words: list[str]
    exclude_words: list[str]
    query: str
    scope: str
    weight: float
    enabled: bool
    note: str = ""  # why the desk disabled it (e.g. author: on upgrade), for its owner
    version: int
    created_at: datetime
    updated_at: datetime


class QueryIn(BaseModel):
    query: str = Field(max_length=20_000)


class QueryCheck(BaseModel):
    ok: bool
    position: int | None = None
    expected: str | None = None
    message: str | None = None


def check_query(query: str) -> QueryCheck:
    try:
        parse_query(query)
    except SchemeSyntaxError as error:
        return QueryCheck(
            ok=False, position=error.position, expected=error.expected, message=error.message
        )
    return QueryCheck(ok=True)
