"""The yuqing command end to end: add a source, fetch it from a real server, search, import."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.support import LocalServer, Reply
from yuqing.cli import app

FIXTURES = Path(__file__).parent / "sources" / "fixtures"
runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_add_fetch_search_and_remove_a_feed(engine: Engine, http_server: LocalServer) -> None:
    http_server.routes["/feed.xml"] = Reply(
        200, (FIXTURES / "atom.xml").read_bytes(), {"Content-Type": "application/atom+xml"}
    )
    added = _run(
        "sources", "add", "示例日报", "--kind", "rss", "--url", http_server.url("/feed.xml")
    )
    assert "已添加信息源 1" in added
    fetched = _run("fetch", "--once", "--source", "1")
    assert "示例日报" in fetched and "成功" in fetched
    listed = _run("sources", "list")
    assert "1/0/0" in listed  # new / duplicate / failed
    found = _run("search", "两会")
    assert "共 1 条" in found and "全国两会在京开幕" in found
    again = _run("fetch", "--once", "--source", "1")  # unchanged body: nothing stored twice
    assert "未变化" in again or "成功" in again
    assert "共 1 条" in _run("search", "两会")
    removed = _run("sources", "remove", "1", "--yes")
    assert "同时删除 1 条信息" in removed
    assert "共 0 条" in _run("search", "两会")


def test_import_reports_bad_rows_and_stores_good_ones(engine: Engine, tmp_path: Path) -> None:
    csv_file = tmp_path / "导出.csv"
    csv_file.write_text(
        "标题,正文,发布时间,链接\n"
        "食堂涨价,学生反映饭菜涨价,2024-05-01 09:00,https://bbs.example.cn/t/1\n"
        "坏行,正文,不是时间,https://bbs.example.cn/t/2\n"
        "宿舍停电,南区停电两小时,2024-05-02 22:10,https://bbs.example.cn/t/3\n",
        encoding="gb18030",
    )
    output = _run("import", str(csv_file), "--source", "论坛导出", "--create")
    assert "新增 2 条" in output and "失败 1 条" in output
    assert "第 3 行" in output  # the header is row 1
    assert "共 1 条" in _run("search", "停电")


def test_invalid_search_query_exits_with_a_chinese_message(engine: Engine) -> None:
    result = runner.invoke(app, ["search", "，，"])
    assert result.exit_code == 2
    assert "查询中没有可检索的汉字" in result.output


def test_adding_a_feed_without_url_is_refused(engine: Engine) -> None:
    result = runner.invoke(app, ["sources", "add", "无地址", "--kind", "rss"])
    assert result.exit_code == 2
    assert "需要地址" in result.output
