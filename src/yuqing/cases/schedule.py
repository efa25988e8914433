"""The official schedule as data: reading a notice file (休/班 per date) and the package's years.

A notice file is the State Council notice (国务院办公厅关于某年部分节假日安排的通知) written as
one date per line, e.g. ``2027-02-14 班 春节调休`` (see docs/cases.md). ``parse`` checks the
whole file first and refuses it with every problem and its line number, so a bad file never
reaches the database. ``package_days`` reads what the seeding package (``holidays``) ships.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

OFF, WORK = "休", "班"
KINDS = {OFF: False, WORK: True}
WEEKDAYS = "一二三四五六日"
MAX_BYTES = 64 * 1024
MAX_LINES = 1000
MAX_RANGE_DAYS = 31
MAX_PROBLEMS = 10
FIRST_YEAR, LAST_YEAR = 2000, 2100
# Seeding starts here: cases are younger, and the list of years stays readable.
SEED_FIRST_YEAR = 2020

_SPLIT = re.compile(r"[\s,，;；]+")
_RANGE = re.compile(r"^(\S+?)\s*(?:~|～|至)\s*(\S+)$")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
EXAMPLE = "2027-02-14 班 春节调休"


@dataclass(frozen=True)
class ScheduleDay:
    """One official day: a day off (休) or a make-up working day (班)."""

    day: date
    working: bool
    name: str = ""

    @property
    def kind(self) -> str:
        return WORK if self.working else OFF


@dataclass(frozen=True)
class Schedule:
    """A parsed notice: its days, and the years it replaces (those with a day off in it; a
    year named only by a 班 day, like a make-up Saturday at the end of the year before, is
    added to rather than replaced)."""

    days: tuple[ScheduleDay, ...]

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted({d.day.year for d in self.days if not d.working}))


class ScheduleFileError(ValueError):
    """A notice file that cannot be read; ``problems`` are Chinese, one per bad line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        more = len(problems) - len(self.problems)
        tail = f"（另有 {more} 处问题未列出）" if more > 0 else ""
        self.message = "文件未导入，已有的安排没有任何改动：" + "；".join(self.problems) + tail
        super().__init__(self.message)


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without BOM), or GB18030 as saved by older Excel."""
    if len(data) > MAX_BYTES:
        raise ScheduleFileError([f"文件超过 {MAX_BYTES // 1024} KB，不像一份放假安排"])
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ScheduleFileError(["文件不是 UTF-8 或 GB18030 编码的文本，请另存为 UTF-8 文本文件"])


def _date(text: str) -> date | None:
    match = _DATE.match(text)
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _dates(text: str, where: str, problems: list[str]) -> list[date]:
    """The dates of ``2027-02-06`` or of a range ``2027-02-06~2027-02-13``."""
    ends = _RANGE.match(text)
    parts = list(ends.groups()) if ends else [text]
    found = [_date(p) for p in parts]
    if any(d is None for d in found):
        bad = next(p for p, d in zip(parts, found, strict=True) if d is None)
        problems.append(f"{where}“{bad}”不是有效日期，应为 年-月-日，例如 2027-02-06")
        return []
    first, last = found[0], found[-1]
    assert first is not None and last is not None
    if last < first or (last - first).days >= MAX_RANGE_DAYS:
        problems.append(f"{where}日期范围“{text}”应从早到晚，且不超过 {MAX_RANGE_DAYS} 天")
        return []
    if not FIRST_YEAR <= first.year <= last.year <= LAST_YEAR:
        problems.append(f"{where}年份应在 {FIRST_YEAR}–{LAST_YEAR} 之间")
        return []
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _line(number: int, text: str, problems: list[str]) -> list[ScheduleDay]:
    where = f"第 {number} 行："
    fields = _SPLIT.split(text.strip(), maxsplit=2)
    # "2027-02-06 ~ 2027-02-13 休": a range written with spaces round the sign
    if len(fields) == 3 and fields[1] in {"~", "～", "至"}:
        rest = _SPLIT.split(fields[2], maxsplit=2)
        fields = [f"{fields[0]}~{rest[0]}", *rest[1:]]
    if len(fields) < 2:
        problems.append(f"{where}应写成“日期 休/班 名称”，例如“{EXAMPLE}”")
        return []
    kind, name = fields[1], (fields[2].strip() if len(fields) > 2 else "")
    if kind not in KINDS:
        problems.append(f"{where}第二项应为“休”或“班”，而不是“{kind[:10]}”")
        return []
    if len(name) > 60:
        problems.append(f"{where}名称超过 60 个字")
        return []
    days = [ScheduleDay(d, KINDS[kind], name) for d in _dates(fields[0], where, problems)]
    for d in days:
        if d.working and d.day.weekday() < 5:
            problems.append(
                f"{where}{d.day.isoformat()} 是星期{WEEKDAYS[d.day.weekday()]}，本来就是工作日；"
                "调休上班日（班）只会是周六或周日"
            )
            return []
    return days


def parse(text: str) -> Schedule:
    """The days of a notice file, or ``ScheduleFileError`` naming every bad line."""
    problems: list[str] = []
    seen: dict[date, tuple[ScheduleDay, int]] = {}
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise ScheduleFileError([f"文件超过 {MAX_LINES} 行，不像一份放假安排"])
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or (not seen and line.startswith("日期")):  # blank, comment, header
            continue
        for d in _line(number, line, problems):
            earlier = seen.get(d.day)
            if earlier is not None and earlier[0].working != d.working:
                problems.append(
                    f"第 {number} 行：{d.day.isoformat()} 已在第 {earlier[1]} 行标为“{earlier[0].kind}”"
                )
            elif earlier is None:
                seen[d.day] = (d, number)
    if not seen and not problems:
        problems.append(f"文件里没有日期；每行写一个日期、“休”或“班”和名称，例如“{EXAMPLE}”")
    if problems:
        raise ScheduleFileError(problems)
    return Schedule(tuple(sorted((d for d, _ in seen.values()), key=lambda d: d.day)))


def format_days(days: list[ScheduleDay]) -> str:
    """Days as a notice file (what ``parse`` reads back), for export and the CLI."""
    return "".join(f"{d.day.isoformat()} {d.kind} {d.name}".rstrip() + "\n" for d in days)


# --- the seeding package --------------------------------------------------------------


def package_version() -> str:
    import holidays

    return f"holidays {holidays.__version__}"


def package_days(first: int = SEED_FIRST_YEAR, last: int | None = None) -> list[ScheduleDay]:
    """The official days the ``holidays`` package ships, for the years it has the State
    Council notice of. For a year without one it computes the statutory festivals from the
    lunar calendar, without the 调休 arrangement: a guess, which is left out. A year counts as
    known when the package lists a make-up working day (``weekend_workdays``) in it, as every
    notice since 2001 does."""
    import holidays

    last = last if last is not None else date.today().year + 1
    china = holidays.China(years=range(first, last + 2), language="zh_CN")
    known = {d.year for d in china.weekend_workdays if first <= d.year <= last}
    days = [ScheduleDay(d, False, str(name)) for d, name in china.items() if d.year in known]
    days += [ScheduleDay(d, True, "调休上班") for d in china.weekend_workdays if d.year in known]
    return sorted(days, key=lambda d: d.day)
