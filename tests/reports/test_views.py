"""Report desk pages on the real app: list, generate, view, edit, send, download, 专报."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.core.audit import AuditEntry
from yuqing.events.models import EventMember
from yuqing.reports import service, views
from yuqing.reports.models import Report, ReportVersion

from .conftest import DAY, NOW, Known

EVIL = "<script>alert(1)</script>"


@contextmanager
def reports_client(engine: Engine, role: str = "publicity") -> Iterator[Any]:
    with desk_client(engine, role=role, username=f"{role}_reports") as client:
        if not any(getattr(r, "path", "") == "/reports" for r in client.app.routes):
            client.app.include_router(views.router)
        yield client


def _csrf(client: Any) -> str:
    token = client.cookies.get("yuqing_csrf")
    assert token
    return str(token)


def _daily(session: Session) -> Report:
    report = service.create_report(session, content=service.daily(session, day=DAY, now=NOW))
    session.commit()
    return report


def _canteen_event(session: Session, known: Known) -> int:
    return session.execute(
        select(EventMember.event_id).where(EventMember.mention_id == known.canteen_ids[0])
    ).scalar_one()


def test_generate_from_the_list_and_view(engine: Engine, session: Session, known: Known) -> None:
    with reports_client(engine) as client:
        empty = client.get("/reports")
        assert empty.status_code == 200 and "还没有报告" in empty.text
        answer = client.post(
            "/reports/generate",
            data={"kind": "daily", "date": DAY.isoformat(), "csrf_token": _csrf(client)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text[:300]
        page = client.get(answer.headers["location"])
        assert page.status_code == 200
        assert "每日舆情（2024年03月05日）" in page.text
        assert "共监测到相关信息 6 条" in page.text  # the report body is embedded
        assert 'src="data:image/png;base64,' in page.text  # with its chart
        listing = client.get("/reports")
        assert "每日舆情（2024年03月05日）" in listing.text and "未发送" in listing.text
        for kind in ("weekly", "monthly"):
            made = client.post(
                "/reports/generate",
                data={"kind": kind, "date": DAY.isoformat(), "csrf_token": _csrf(client)},
            )
            assert made.status_code == 200
        assert "舆情周报（2024年03月04日—03月10日）" in client.get("/reports").text
        bad = client.post(
            "/reports/generate",
            data={"kind": "yearly", "date": DAY.isoformat(), "csrf_token": _csrf(client)},
        )
        assert bad.status_code == 422 and "未知的报告类型" in bad.text
    audit_rows = session.execute(
        select(AuditEntry).where(AuditEntry.object_type == "report")
    ).scalars()
    assert [e.action for e in audit_rows] == ["create", "create", "create"]


def test_event_report_edit_keeps_the_sent_version(
    engine: Engine, session: Session, known: Known
) -> None:
    event_id = _canteen_event(session, known)
    with reports_client(engine) as client:
        made = client.post(
            f"/events/{event_id}/report",
            data={"csrf_token": _csrf(client)},
            follow_redirects=False,
        )
        assert made.status_code == 303
        report_id = int(made.headers["location"].split("?")[0].rsplit("/", 1)[1])
        page = client.get(f"/reports/{report_id}")
        assert "舆情专报" in page.text and "四、处置建议" in page.text
        assert 'name="text"' in page.text  # the advice paragraph is editable
        sent = client.post(f"/reports/{report_id}/sent", data={"csrf_token": _csrf(client)})
        assert sent.status_code == 200 and "已发送" in sent.text
        edited = client.post(
            f"/reports/{report_id}/edit",
            data={
                "section": 3,
                "paragraph": 0,
                "text": f"建议后勤处公开调查结果。{EVIL}",
                "csrf_token": _csrf(client),
            },
        )
        assert edited.status_code == 200
        assert "第 2 版" in edited.text and "发送的是较早的版本" in edited.text
        assert EVIL not in edited.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in edited.text
        quoted = client.post(
            f"/reports/{report_id}/edit",
            data={"section": 0, "paragraph": 0, "text": "改写", "csrf_token": _csrf(client)},
        )
        assert quoted.status_code == 422 and "不能编辑" in quoted.text
        missing = client.post("/events/999999/report", data={"csrf_token": _csrf(client)})
        assert missing.status_code == 404 and "没有 ID 为 999999 的事件" in missing.text
    session.expire_all()
    report = session.get(Report, report_id)
    assert report is not None
    first = session.get(ReportVersion, report.sent_version_id)
    assert first is not None and first.number == 1 and EVIL not in first.text
    latest = service.get_latest_version(session, report=report)
    assert latest.number == 2 and EVIL in latest.text and latest.sent_at is None


def test_downloads_open_and_are_audited(engine: Engine, session: Session, known: Known) -> None:
    report = _daily(session)
    with reports_client(engine, role="leader") as client:
        word = client.get(f"/reports/{report.id}/download?format=docx")
        assert word.status_code == 200
        header = word.headers["content-disposition"]
        assert header.startswith('attachment; filename="report-')
        assert unquote(header.split("filename*=UTF-8''")[1]) == "每日舆情（2024年03月05日）.docx"
        text = "\n".join(p.text for p in Document(io.BytesIO(word.content)).paragraphs)
        assert "共监测到相关信息 6 条" in text
        sheet = client.get(f"/reports/{report.id}/download?format=xlsx")
        book = load_workbook(io.BytesIO(sheet.content))
        assert book["概要"]["A1"].value == "每日舆情（2024年03月05日）"
        page = client.get(f"/reports/{report.id}/download?format=html")
        assert page.headers["content-type"].startswith("text/html")
        assert "<article" in page.text
        assert client.get(f"/reports/{report.id}/download?format=pdf").status_code == 422
        assert client.get("/reports/999999").status_code == 404
    exports = session.execute(
        select(AuditEntry).where(AuditEntry.action == "export", AuditEntry.object_type == "report")
    ).scalars()
    assert len(list(exports)) == 3


def test_leader_reads_but_cannot_generate(engine: Engine, session: Session, known: Known) -> None:
    report = _daily(session)
    event_id = _canteen_event(session, known)
    with reports_client(engine, role="leader") as client:
        listing = client.get("/reports")
        assert listing.status_code == 200 and "生成昨日日报" not in listing.text
        page = client.get(f"/reports/{report.id}")
        assert page.status_code == 200 and "标记为已发送" not in page.text
        token = _csrf(client)
        attempts: list[tuple[str, dict[str, object]]] = [
            ("/reports/generate", {"kind": "daily", "date": DAY.isoformat()}),
            (f"/events/{event_id}/report", {}),
            (f"/reports/{report.id}/sent", {}),
            (f"/reports/{report.id}/edit", {"section": 0, "paragraph": 0, "text": "x"}),
        ]
        for path, data in attempts:
            refused = client.post(path, data={**data, "csrf_token": token})
            assert refused.status_code == 403, path
    session.expire_all()
    assert session.execute(select(Report)).scalars().all() == [report]
    assert report.sent_version_id is None


def test_forged_csrf_is_refused(engine: Engine, session: Session, known: Known) -> None:
    report = _daily(session)
    with reports_client(engine) as client:
        client.get("/reports")
        forged = client.post(
            "/reports/generate",
            data={"kind": "weekly", "date": DAY.isoformat(), "csrf_token": "abc.def"},
        )
        assert forged.status_code == 403 and "安全令牌" in forged.text
        foreign = client.post(
            f"/reports/{report.id}/sent",
            data={"csrf_token": _csrf(client)},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
    session.expire_all()
    assert len(session.execute(select(Report)).scalars().all()) == 1
    assert session.get(Report, report.id).sent_version_id is None  # type: ignore[union-attr]
