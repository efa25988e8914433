"""Imports from the desk, below the pages: the file kept, its preview, the mapping checked,
the rows stored through the pipeline, the refused rows with their reasons; and editing,
pausing and resuming a source."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from yuqing.cli import app
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import utcnow
from yuqing.mentions import service as mentions_service
from yuqing.mentions.models import Mention
from yuqing.sources import import_jobs as jobs
from yuqing.sources import service
from yuqing.sources.importers import ImportFileError
from yuqing.sources.models import ImportJob, Source
from yuqing.sources.schemas import SourceIn
from yuqing.worker import pipeline

HEADER = ["帖子标题", "内容", "链接", "发布时间", "平台", "作者", "转发数", "评论数", "点赞数"]
ROWS = [
    ["食堂涨价引发热议", "学生反映饭菜贵了", "https://bbs.example.cn/t/1", "2024-05-01 09:00",
     "某论坛", "小王", "1.2万", 30, 45],
    ["宿舍停电两小时", "三号楼停电", "https://weibo.example.cn/2", "2024-05-02 20:30",
     "微博", "小李", 12, 3, 8],
    ["", "", "ftp://bad.example.cn/3", "2024-05-03 08:00", "论坛", "无名", 0, 0, 0],
    ["时间不对", "正文", "https://bbs.example.cn/t/4", "不是时间", "论坛", "小张", 1, 1, 1],
]  # fmt: skip


def xlsx_bytes(rows: list[list[object]], header: list[str] = HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def source(session: Session) -> Source:
    made = service.create(session, source_in=SourceIn(name="平台导出", kind="import"))
    session.commit()
    return made


def _upload(session: Session, source: Source, name: str, data: bytes) -> jobs.ImportJob:
    job, _ = jobs.save_upload(
        session, source=source, filename=name, data=io.BytesIO(data), actor=SYSTEM
    )
    session.commit()
    return job


def _kept_files() -> list[Path]:
    return sorted(jobs.imports_dir().iterdir())


def _job_count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(ImportJob)).scalar_one()


def test_an_upload_is_kept_and_previewed_with_a_guessed_mapping(
    session: Session, source: Source
) -> None:
    job, preview = jobs.save_upload(
        session,
        source=source,
        filename="导出.xlsx",
        data=io.BytesIO(xlsx_bytes(ROWS)),
        actor=SYSTEM,
    )
    assert jobs.file_of(job).is_file() and job.size_bytes == jobs.file_of(job).stat().st_size
    assert jobs.file_of(job).parent == Path(get_settings().data_dir) / "imports"
    assert job.status == "mapping" and job.filename == "导出.xlsx"
    assert preview.headers == HEADER
    assert preview.rows[0][:2] == ["食堂涨价引发热议", "学生反映饭菜贵了"]
    assert len(preview.rows) == 4
    assert preview.guessed == {
        "帖子标题": "title",
        "内容": "text",
        "链接": "url",
        "发布时间": "published_at",
        "平台": "site",
        "作者": "author",
        "转发数": "reposts",
        "评论数": "comments",
        "点赞数": "likes",
    }


def test_the_mapping_is_remembered_for_the_source(session: Session, source: Source) -> None:
    job = _upload(session, source, "一.xlsx", xlsx_bytes(ROWS))
    mapping = jobs.check_mapping(HEADER, ["title", "text", "url", "published_at", "site",
                                          "author", "reposts", "comments", "-"])  # fmt: skip
    assert jobs.start(session, job=job, source=source, mapping=mapping, actor=SYSTEM)
    session.commit()
    _, preview = jobs.save_upload(
        session, source=source, filename="二.xlsx", data=io.BytesIO(xlsx_bytes(ROWS)), actor=SYSTEM
    )
    assert preview.guessed["帖子标题"] == "title" and preview.guessed["点赞数"] == "-"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("坏的.xlsx", b"PK\x03\x04 this is not a workbook", "Excel"),
        ("改名的.xlsx", "标题,内容\n甲,乙\n".encode(), "CSV"),
        ("空的.csv", b"", "是空的"),
        ("只有表头.csv", "标题,内容\n".encode(), "只有表头"),
        ("旧版.xls", b"\xd0\xcf\x11\xe0", "另存为 .xlsx"),
        ("图片.png", b"\x89PNG", "不支持的文件类型"),
        ("坏的.jsonl", b'{"title": "x"\n', "不是合法的 JSON"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_in_chinese_and_not_kept(
    session: Session, source: Source, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(ImportFileError, match=message) as refused:
        jobs.save_upload(session, source=source, filename=name, data=io.BytesIO(data), actor=SYSTEM)
    assert name in str(refused.value)  # the file as the user named it, not as it was kept
    session.rollback()
    assert _kept_files() == [] and _job_count(session) == 0


def test_a_gbk_csv_previews_in_chinese(session: Session, source: Source) -> None:
    data = "标题,正文,来源\n食堂涨价,学生反映饭菜贵了,某论坛\n".encode("gbk")
    _, preview = jobs.save_upload(
        session, source=source, filename="gbk.csv", data=io.BytesIO(data), actor=SYSTEM
    )
    assert preview.headers == ["标题", "正文", "来源"]
    assert preview.rows == [["食堂涨价", "学生反映饭菜贵了", "某论坛"]]


def test_a_jsonl_file_previews_its_keys_and_imports(session: Session, source: Source) -> None:
    lines = [
        {"mid": 1, "title": "食堂涨价", "content": "学生反映饭菜贵了", "reposts": "1.5万"},
        {"mid": 2, "title": "宿舍停电", "content": "三号楼停电", "备注": "夜间"},
    ]
    data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    job, preview = jobs.save_upload(
        session, source=source, filename="流.jsonl", data=io.BytesIO(data), actor=SYSTEM
    )
    assert preview.headers == ["mid", "title", "content", "reposts", "备注"]
    assert preview.guessed == {
        "mid": "external_id",
        "title": "title",
        "content": "text",
        "reposts": "reposts",
        "备注": "raw",
    }
    mapping = jobs.check_mapping(preview.headers, ["external_id", "title", "text", "reposts", "-"])
    jobs.start(session, job=job, source=source, mapping=mapping, actor=SYSTEM)
    session.commit()
    jobs.run(job.id, store=pipeline.process)
    stored = list(session.execute(select(Mention).order_by(Mention.id)).scalars())
    assert [(m.external_id, m.text) for m in stored] == [
        ("1", "学生反映饭菜贵了"),
        ("2", "三号楼停电"),
    ]
    assert json.loads(stored[0].raw or "{}") == {"reposts": 15000}
    assert json.loads(stored[1].raw or "null") in (None, {})  # 备注 was dropped


def test_a_mapping_without_title_or_text_or_with_one_field_twice_is_refused() -> None:
    with pytest.raises(jobs.MappingError, match=r"标题.*内容"):
        jobs.check_mapping(["甲", "乙"], ["author", "raw"])
    with pytest.raises(jobs.MappingError, match="「甲」、「乙」 都对应到了「标题」"):
        jobs.check_mapping(["甲", "乙"], ["title", "title"])
    assert jobs.check_mapping(["甲", "乙", "丙"], ["title", "raw", "raw"]) == {
        "甲": "title",
        "乙": "raw",
        "丙": "raw",
    }


def test_a_run_stores_through_the_pipeline_and_names_each_refused_row(
    session: Session, source: Source
) -> None:
    job = _upload(session, source, "导出.xlsx", xlsx_bytes(ROWS))
    mapping = jobs.check_mapping(HEADER, ["title", "text", "url", "published_at", "site",
                                          "author", "reposts", "comments", "likes"])  # fmt: skip
    jobs.start(session, job=job, source=source, mapping=mapping, actor=SYSTEM)
    session.commit()

    jobs.run(job.id, store=pipeline.process)

    session.expire_all()
    done = session.get(ImportJob, job.id)
    assert done is not None and done.status == "done"
    assert (done.rows_total, done.rows_done, done.count_new, done.count_refused) == (4, 4, 2, 2)
    refused = jobs.refused_rows(done)
    assert [r.row for r in refused] == [4, 5]
    assert "http" in refused[0].reason and "时间" in refused[1].reason
    assert refused[1].title == "时间不对"
    stored = list(session.execute(select(Mention).order_by(Mention.id)).scalars())
    assert [m.title for m in stored] == ["食堂涨价引发热议", "宿舍停电两小时"]
    raw = json.loads(stored[0].raw or "{}")
    assert raw == {"site": "某论坛", "reposts": 12000, "comments": 30, "likes": 45}
    assert stored[0].sentiment is not None  # the pipeline ran (analysis filled)

    table = openpyxl.load_workbook(io.BytesIO(jobs.refused_xlsx(done))).active
    assert table is not None
    assert [c.value for c in table[1]] == ["行号", "原因", "标题", "链接"]
    assert table.cell(3, 1).value == 5 and "时间" in str(table.cell(3, 2).value)
    text = jobs.refused_csv(done).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text)))[1][0] == "4"

    again = _upload(session, source, "导出.xlsx", xlsx_bytes(ROWS))
    jobs.start(session, job=again, source=source, mapping=mapping, actor=SYSTEM)
    session.commit()
    jobs.run(again.id, store=pipeline.process)
    session.expire_all()
    second = session.get(ImportJob, again.id)
    assert second is not None
    assert (second.count_new, second.count_unchanged, second.count_refused) == (0, 2, 2)
    summaries = list(session.execute(select(AuditEntry.summary)).scalars())
    assert any("导入文件 导出.xlsx 到信息源 平台导出：新增 2 条" in s for s in summaries)


def test_progress_is_written_after_each_batch(
    session: Session, source: Source, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the page polls moves while the rows are stored, not only at the end."""
    rows = [[f"第{i}条通知", f"正文{i}", f"https://bbs.example.cn/p/{i}"] for i in range(25)]
    job = _upload(session, source, "多行.xlsx", xlsx_bytes(rows, header=["标题", "内容", "链接"]))
    jobs.start(session, job=job, source=source, mapping={"标题": "title"}, actor=SYSTEM)
    session.commit()
    monkeypatch.setattr(jobs, "BATCH_ROWS", 10)
    seen: list[tuple[str, int, int]] = []

    def store_and_look(work: Session, **kwargs: Any) -> Any:
        with Session(engine) as other:  # what the page would read now
            now = other.get(ImportJob, job.id)
            assert now is not None
            seen.append((now.status, now.rows_done, now.rows_total))
        return pipeline.process(work, **kwargs)

    jobs.run(job.id, store=store_and_look)
    assert seen == [("running", 0, 25), ("running", 10, 25), ("running", 20, 25)]


def test_a_job_is_started_once_and_an_interrupted_one_again(
    session: Session, source: Source
) -> None:
    job = _upload(session, source, "导出.xlsx", xlsx_bytes(ROWS[:1]))
    mapping = {"帖子标题": "title"}
    assert jobs.start(session, job=job, source=source, mapping=mapping, actor=SYSTEM)
    assert not jobs.start(session, job=job, source=source, mapping=mapping, actor=SYSTEM)
    job.heartbeat_at = utcnow() - jobs.STALE_AFTER * 2  # the server restarted meanwhile
    session.commit()
    assert jobs.interrupted(job)
    assert jobs.start(session, job=job, source=source, mapping=mapping, actor=SYSTEM)


def test_a_file_broken_after_the_preview_fails_the_job_and_stores_nothing(
    session: Session, source: Source
) -> None:
    job = _upload(session, source, "导出.csv", "标题,内容\n甲,乙\n".encode())
    jobs.start(session, job=job, source=source, mapping={"标题": "title"}, actor=SYSTEM)
    session.commit()
    jobs.file_of(job).write_bytes(b"")
    jobs.run(job.id, store=pipeline.process)
    session.expire_all()
    failed = session.get(ImportJob, job.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and "导出.csv 是空的" in failed.error
    assert session.execute(select(func.count()).select_from(Mention)).scalar_one() == 0


def test_removing_a_source_forgets_its_imports_and_files(session: Session, source: Source) -> None:
    _upload(session, source, "导出.xlsx", xlsx_bytes(ROWS))
    jobs.remove_for_source(session, source_id=source.id)
    removed = mentions_service.delete_for_source(session, source_id=source.id)
    service.delete_source(session, source=source, mentions_deleted=removed)
    session.commit()
    assert _kept_files() == [] and _job_count(session) == 0


# Editing, pausing, resuming


def test_edit_pause_and_resume_are_audited_and_reschedule(session: Session) -> None:
    feed = service.create(
        session, source_in=SourceIn(name="新闻网", kind="rss", url="https://a.example.cn/rss")
    )
    feed.consecutive_failures = 3
    feed.next_attempt_at = None
    session.commit()

    edited = SourceIn(
        name="校新闻网", kind="rss", url="https://b.example.cn/rss", interval_seconds=1800, weight=2
    )
    service.update(session, source=feed, source_in=edited, actor=SYSTEM)
    assert (feed.name, feed.url, feed.interval_seconds, feed.weight) == (
        "校新闻网",
        "https://b.example.cn/rss",
        1800,
        2.0,
    )
    assert feed.consecutive_failures == 0 and feed.next_attempt_at is not None  # new address

    assert service.set_enabled(session, source=feed, enabled=False, actor=SYSTEM)
    assert not service.set_enabled(session, source=feed, enabled=False, actor=SYSTEM)
    feed.consecutive_failures = 2
    assert service.set_enabled(session, source=feed, enabled=True, actor=SYSTEM)
    assert feed.enabled and feed.consecutive_failures == 0
    session.commit()
    summaries = list(session.execute(select(AuditEntry.summary).order_by(AuditEntry.seq)).scalars())
    assert summaries[-3:] == ["修改信息源 校新闻网", "暂停信息源 校新闻网", "恢复信息源 校新闻网"]


# The command line


def test_import_command_refuses_an_unknown_source_and_names_close_ones(
    engine: object, session: Session, source: Source, tmp_path: Path
) -> None:
    path = tmp_path / "导出.csv"
    path.write_text("标题,内容\n甲,乙\n", encoding="utf-8")
    runner = CliRunner()
    typo = runner.invoke(app, ["import", str(path), "--source", "平台导岀"])
    assert typo.exit_code == 2
    assert "没有名为“平台导岀”的信息源" in typo.output and "平台导出" in typo.output
    assert "--create" in typo.output
    assert session.execute(select(func.count()).select_from(Source)).scalar_one() == 1

    made = runner.invoke(app, ["import", str(path), "--source", "新平台", "--create"])
    assert made.exit_code == 0, made.output
    default = runner.invoke(app, ["import", str(path)])  # the default source may be created
    assert default.exit_code == 0, default.output
    names = set(session.execute(select(Source.name)).scalars())
    assert names == {"平台导出", "新平台", "导入文件"}
