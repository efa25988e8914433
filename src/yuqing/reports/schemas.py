"""The content of a report, typed: what every format (Word, Excel, HTML) renders."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["daily", "weekly", "monthly", "event"]
KIND_LABELS = {
    "daily": "每日舆情",
    "weekly": "舆情周报",
    "monthly": "舆情月报",
    "event": "舆情专报",
}


class ReportError(ValueError):
    """A report that cannot be made (unknown event, broken template); the message is for users."""


class ReportAccessError(Exception):
    """A report the reader may not read in any version (a 专报 without ``reports.all``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Quote(BaseModel):
    """A sentence taken verbatim from a collected item, with the item it came from."""

    text: str
    mention_id: int
    url: str = ""


class Paragraph(BaseModel):
    """One paragraph: template text with the numbers, then the quoted sentences."""

    text: str
    quotes: list[Quote] = Field(default_factory=list)
    editable: bool = False


class Table(BaseModel):
    """A data table; the first column names the row."""

    title: str
    columns: list[str]
    rows: list[list[str | int | float]] = Field(default_factory=list)


class ChartSpec(BaseModel):
    """A chart drawn server-side: a line (trend), bar (ranking) or pie (split)."""

    kind: Literal["line", "bar", "pie"]
    title: str
    labels: list[str]
    values: list[float]
    colors: list[str] = Field(default_factory=list)  # per label; empty: the chart palette


class Section(BaseModel):
    """A titled part of a report."""

    heading: str
    paragraphs: list[Paragraph] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    charts: list[ChartSpec] = Field(default_factory=list)


class ReportContent(BaseModel):
    """A whole report: title, period (naive UTC, [start, end)) and its sections."""

    kind: Kind
    title: str
    period_label: str
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    sections: list[Section] = Field(default_factory=list)

    def quotes(self) -> list[Quote]:
        """Every quoted sentence of the report, in order."""
        return [q for s in self.sections for p in s.paragraphs for q in p.quotes]

    def plain_text(self) -> str:
        """The text of the report as one string (paragraphs with their quotes)."""
        lines = [self.title, self.period_label]
        for section in self.sections:
            lines.append(section.heading)
            lines.extend(_paragraph_text(p) for p in section.paragraphs)
        return "\n".join(lines)


def _paragraph_text(paragraph: Paragraph) -> str:
    return paragraph.text + "".join(f"“{q.text}”" for q in paragraph.quotes)
