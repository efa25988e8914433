"""A mention's raw collector payload can carry platform user ids: only administrators see it,
on the mention page; no API answer and no export carries it, whoever asks."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.mentions.store import ingest
from yuqing.sources.models import Source

PLATFORM_UID = "uid-7788990011"
TITLE = "学生反映食堂饭菜价格上涨"


def _plant(session: Session, source: Source) -> int:
    ingest(
        session,
        source=source,
        items=[
            {
                "external_id": "w1",
                "title": TITLE,
                "text": "有同学发帖称食堂饭菜价格上涨明显。",
                "author": "校园论坛网友",
                "published_at": "2024-04-10 09:00",
                "raw": {"user": {"id": PLATFORM_UID, "followers": 12}, "platform": "论坛"},
            }
        ],
    )
    session.commit()
    from sqlalchemy import select

    from yuqing.mentions.models import Mention

    return int(session.scalars(select(Mention.id)).one())


def _csrf(client: Any) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/reports").text)
    assert found
    return found.group(1)


def _zip_text(body: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return "".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())


def test_only_administrators_see_the_raw_payload(
    engine: Any, session: Session, push_source: Source
) -> None:
    mention_id = _plant(session, push_source)
    with desk_client(engine, role="admin") as admin:
        page = admin.get(f"/mentions/{mention_id}")
        assert page.status_code == 200
        assert PLATFORM_UID in page.text and "原始数据" in page.text
    for role in ("publicity", "leader", "unit_head", "unit_member"):
        with desk_client(engine, role=role) as client:
            page = client.get(f"/mentions/{mention_id}")
            assert page.status_code == 200, role
            assert TITLE in page.text
            assert PLATFORM_UID not in page.text and "原始数据" not in page.text, role


@pytest.mark.parametrize("role", ["admin", "publicity"])
def test_no_api_answer_or_export_carries_it(
    engine: Any, session: Session, push_source: Source, role: str
) -> None:
    mention_id = _plant(session, push_source)
    with desk_client(engine, role=role) as client:
        one = client.get(f"/api/v1/mentions/{mention_id}")
        assert one.status_code == 200 and one.json()["title"] == TITLE
        found = client.get("/api/v1/search", params={"q": "食堂"})
        assert found.status_code == 200 and found.json()["items"]
        for answer in (one, found):
            assert PLATFORM_UID not in answer.text and '"raw"' not in answer.text

        token = _csrf(client)
        opened = client.post(f"/mentions/{mention_id}/case", data={"csrf_token": token})
        assert opened.status_code < 400
        ledger = client.get("/cases/ledger.xlsx")
        assert ledger.status_code == 200
        assert PLATFORM_UID not in _zip_text(ledger.content)

        made = client.post(
            "/reports/generate",
            data={"kind": "daily", "date": "2024-04-10", "csrf_token": token},
        )
        assert made.status_code < 400
        report = re.search(r"/reports/(\d+)", str(made.url) + made.text)
        assert report, "the report was generated"
        for fmt in ("html", "docx", "xlsx"):
            download = client.get(f"/reports/{report.group(1)}/download", params={"format": fmt})
            assert download.status_code == 200, fmt
            text = download.text if fmt == "html" else _zip_text(download.content)
            assert PLATFORM_UID not in text, fmt
