"""The sources pages on the real app and database: a file imported from the desk (upload,
preview, mapping, progress, result, downloads), bad files refused in Chinese, and a source
edited, paused and resumed, with one health state."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.sources.test_jobs import ROWS, xlsx_bytes
from tests.support import desk_client
from yuqing.core.timeutil import utcnow
from yuqing.mentions.models import Mention
from yuqing.sources import import_jobs as jobs
from yuqing.sources.models import ImportJob, Source

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


@pytest.fixture
def import_source(session: Session) -> Source:
    source = Source(name="平台导出", kind="import")
    session.add(source)
    session.commit()
    return source


def _token(client: TestClient, path: str = "/sources") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


def _upload(client: TestClient, source: Source, name: str, data: bytes, kind: str = XLSX) -> Any:
    return client.post(
        f"/sources/{source.id}/import",
        data={"csrf_token": _token(client)},
        files={"file": (name, data, kind)},
        follow_redirects=False,
    )


def _wait_done(client: TestClient, page: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        state = client.get(page + "/progress").json()
        if state["status"] not in ("queued", "running"):
            return dict(state)
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


def test_an_xlsx_uploaded_mapped_and_imported_on_the_desk(
    client: TestClient, session: Session, import_source: Source
) -> None:
    uploaded = _upload(client, import_source, "舆情导出.xlsx", xlsx_bytes(ROWS))
    assert uploaded.status_code == 303
    page = uploaded.headers["location"]
    assert re.fullmatch(rf"/sources/{import_source.id}/imports/\d+", page)

    mapping = client.get(page)
    assert mapping.status_code == 200
    assert "确认每一列对应的字段" in mapping.text and "食堂涨价引发热议" in mapping.text
    # The guessed field is selected under each header.
    assert re.search(
        r'name="col1".*?<option value="text" selected>内容</option>', mapping.text, re.S
    )

    chosen = {f"col{i}": t for i, t in enumerate(
        ["title", "text", "url", "published_at", "site", "author", "reposts", "comments", "-"]
    )}  # fmt: skip
    started = client.post(
        page + "/start", data={"csrf_token": _token(client), **chosen}, follow_redirects=False
    )
    assert started.status_code == 303 and started.headers["location"] == page
    assert _wait_done(client, page) == {"status": "done", "done": 4, "total": 4}

    result = client.get(page).text
    assert "导入完成" in result
    assert re.search(r"<dt>新增</dt><dd>2</dd>", result)
    assert "时间不对" in result and "未导入的行（2）" in result
    xlsx = client.get(page + "/refused.xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and [c.value for c in sheet[2]][:1] == [4]
    csv_file = client.get(page + "/refused.csv")
    assert csv_file.content.startswith(b"\xef\xbb\xbf\xe8\xa1\x8c\xe5\x8f\xb7")  # BOM, 行号
    assert client.get(page + "/refused.pdf").status_code == 404

    session.expire_all()
    titles = list(session.execute(select(Mention.title).order_by(Mention.id)).scalars())
    assert titles == ["食堂涨价引发热议", "宿舍停电两小时"]
    # The mapping is remembered: the next upload to this source offers it.
    again = client.get(
        _upload(client, import_source, "下一个.xlsx", xlsx_bytes(ROWS)).headers["location"]
    )
    assert re.search(r'name="col8".*?<option value="-" selected>不导入</option>', again.text, re.S)
    assert "舆情导出.xlsx" in client.get(f"/sources/{import_source.id}").text  # recent imports


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("坏的.xlsx", b"PK\x03\x04 broken", "不是有效的 Excel 工作簿"),
        ("空的.csv", b"", "是空的"),
        ("旧版.xls", b"\xd0\xcf\x11\xe0", "另存为 .xlsx 或 CSV"),
    ],
)
def test_a_bad_file_comes_back_on_the_page_in_chinese(
    client: TestClient,
    session: Session,
    import_source: Source,
    name: str,
    data: bytes,
    message: str,
) -> None:
    answer = _upload(client, import_source, name, data)
    assert answer.status_code == 400
    assert message in answer.text and name in answer.text
    assert session.execute(select(func.count()).select_from(ImportJob)).scalar_one() == 0
    assert not any(jobs.imports_dir().iterdir())


def test_a_gbk_csv_reads_in_chinese_and_a_mapping_without_text_is_refused(
    client: TestClient, session: Session, import_source: Source
) -> None:
    data = "编号,说明,楼主\n1,食堂涨价,小王\n".encode("gbk")
    page = _upload(client, import_source, "gbk.csv", data, "text/csv").headers["location"]
    preview = client.get(page).text
    assert "食堂涨价" in preview and "小王" in preview

    refused = client.post(
        page + "/start",
        data={"csrf_token": _token(client), "col0": "external_id", "col1": "raw", "col2": "author"},
    )
    assert refused.status_code == 422
    assert "请至少把一列对应到「标题」或「内容」" in refused.text
    session.expire_all()
    job = session.execute(select(ImportJob)).scalar_one()
    assert job.status == "mapping"  # nothing started, the file still kept
    assert jobs.file_of(job).is_file()

    fixed = client.post(
        page + "/start",
        data={
            "csrf_token": _token(client),
            "col0": "external_id",
            "col1": "text",
            "col2": "author",
        },
        follow_redirects=False,
    )
    assert fixed.status_code == 303
    assert _wait_done(client, page)["status"] == "done"
    session.expire_all()
    assert session.execute(select(Mention.text)).scalar_one() == "食堂涨价"


def test_a_fetched_source_takes_no_upload(client: TestClient, session: Session) -> None:
    feed = Source(name="新闻网", kind="rss", url="https://news.example.cn/rss")
    session.add(feed)
    session.commit()
    answer = _upload(client, feed, "导出.xlsx", xlsx_bytes(ROWS))
    assert answer.status_code == 400 and "不能导入文件" in answer.text


def test_an_interrupted_import_can_be_started_again(
    client: TestClient, session: Session, import_source: Source
) -> None:
    page = _upload(client, import_source, "导出.xlsx", xlsx_bytes(ROWS[:2])).headers["location"]
    job = session.execute(select(ImportJob)).scalar_one()
    job.status = "running"  # as a server that stopped mid-import leaves it
    job.heartbeat_at = utcnow() - timedelta(hours=1)
    job.mapping = '{"帖子标题": "title", "内容": "text"}'
    session.commit()
    assert client.get(page + "/progress").json()["status"] == "interrupted"
    shown = client.get(page).text
    assert "中断" in shown and "重新开始导入" in shown
    chosen = {f"col{i}": t for i, t in enumerate(["title", "text"] + ["raw"] * 7)}
    client.post(page + "/start", data={"csrf_token": _token(client), **chosen})
    assert _wait_done(client, page)["status"] == "done"


# Editing, pausing, one health state


def test_edit_pause_resume_from_the_source_page(client: TestClient, session: Session) -> None:
    feed = Source(
        name="新闻网",
        kind="rss",
        url="https://news.example.cn/rss",
        consecutive_failures=2,
        last_error="HTTP 404",
        last_attempt_at=utcnow(),
        next_attempt_at=utcnow() + timedelta(minutes=30),
    )
    session.add(feed)
    session.commit()

    listed = client.get("/sources").text
    row = listed[listed.index(f'id="source-{feed.id}"') :]
    row = row[: row.index("</tr>")]
    assert "失败 2 次" in row and "HTTP 404" in row and "下次重试" in row
    assert "未抓取" not in row  # the old page said 未抓取 beside 连续失败 2 次

    page = client.get(f"/sources/{feed.id}").text
    assert "失败 2 次" in page and "立即抓取" in page and "暂停" in page

    token = _token(client)
    bad = client.post(
        f"/sources/{feed.id}/edit",
        data={"csrf_token": token, "name": "", "url": "ftp://x", "interval": "abc", "weight": "1"},
    )
    assert bad.status_code == 422
    assert "请填写名称" in bad.text and "http://" in bad.text and "整数分钟" in bad.text
    saved = client.post(
        f"/sources/{feed.id}/edit",
        data={
            "csrf_token": token,
            "name": "校新闻网",
            "url": "https://news.example.cn/feed.xml",
            "interval": "30",
            "weight": "1.5",
        },
    )
    assert saved.status_code == 200 and "已保存修改" in saved.text
    session.expire_all()
    edited = session.get(Source, feed.id)
    assert edited is not None
    assert (edited.name, edited.url, edited.interval_seconds, edited.weight) == (
        "校新闻网",
        "https://news.example.cn/feed.xml",
        1800,
        1.5,
    )

    paused = client.post(f"/sources/{feed.id}/pause", data={"csrf_token": token, "back": "list"})
    assert "已暂停" in paused.text
    session.expire_all()
    assert session.get(Source, feed.id).enabled is False  # type: ignore[union-attr]
    row = paused.text[paused.text.index(f'id="source-{feed.id}"') :]
    assert "已暂停" in row[: row.index("</tr>")] and "恢复" in row[: row.index("</tr>")]
    resumed = client.post(f"/sources/{feed.id}/resume", data={"csrf_token": token})
    assert "已恢复" in resumed.text
    session.expire_all()
    assert session.get(Source, feed.id).enabled is True  # type: ignore[union-attr]


def test_adding_an_import_source_leads_to_its_upload(client: TestClient) -> None:
    added = client.post(
        "/sources",
        data={"csrf_token": _token(client), "name": "清博导出", "kind": "import"},
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"].endswith("#import")
    page = client.get(added.headers["location"]).text
    assert "已添加信息源“清博导出”" in page and 'enctype="multipart/form-data"' in page


def test_an_unknown_source_or_import_answers_a_chinese_404(
    client: TestClient, import_source: Source
) -> None:
    assert "找不到这个信息源" in client.get("/sources/987654").text
    missing = client.get(f"/sources/{import_source.id}/imports/987654")
    assert missing.status_code == 404 and "找不到这次导入" in missing.text


def test_an_upload_above_a_megabyte_passes_and_one_above_the_import_cap_is_refused(
    client: TestClient,
    session: Session,
    import_source: Source,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ordinary forms stop at 1 MB; the upload route gets the import cap."""
    from yuqing.core.settings import reset_settings_cache

    monkeypatch.setenv("YUQING_IMPORT_MAX_BYTES", str(3 * 1024 * 1024))
    reset_settings_cache()
    line = "图书馆开放时间调整,读者反映开放时间太短，希望延长到晚上十一点。" * 3
    rows = "".join(f"{line}{i},正文{i}\n" for i in range(8_000))
    big = ("标题,内容\n" + rows).encode("utf-8")
    assert 1024 * 1024 < len(big) < 3 * 1024 * 1024
    kept = _upload(client, import_source, "大文件.csv", big, "text/csv")
    assert kept.status_code == 303, kept.text[:300]

    too_big = _upload(client, import_source, "太大.csv", big * 2, "text/csv")
    assert too_big.status_code == 413 and "超过上限" in too_big.text
