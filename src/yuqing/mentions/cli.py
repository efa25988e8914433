"""``yuqing index …``: the full-text index beside the database (mentions/search_index.py)."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from sqlalchemy import text

from yuqing.core.database import get_engine, upgrade_database
from yuqing.mentions import search_index

app = typer.Typer(help="全文索引：重建、追平、查看状态。", no_args_is_help=True)
console = Console()


@app.command("rebuild")
def rebuild_command() -> None:
    """从数据库重建全文索引（索引丢失、损坏或存疑时）。期间检索照常由数据库回答。"""
    upgrade_database()
    started = time.perf_counter()
    try:
        count = search_index.rebuild(get_engine())
    except RuntimeError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    size = (search_index.index_size(get_engine()) or 0) / 2**20
    console.print(
        f"已重建：{count} 条信息，用时 {time.perf_counter() - started:.0f} 秒，索引 {size:.1f} MiB"
    )


@app.command("catch-up")
def catch_up_command() -> None:
    """把数据库中已提交的变更补进全文索引（运行器会定时执行）。"""
    upgrade_database()
    applied = search_index.catch_up(get_engine())
    if applied is None:
        console.print("全文索引已关闭（YUQING_SEARCH_INDEX=off），检索由数据库回答。")
        return
    console.print(f"已补入 {applied} 条变更。")


@app.command("status")
def status_command() -> None:
    """全文索引的位置、是否建好、待补入的变更数和大小。"""
    upgrade_database()
    engine = get_engine()
    root = search_index.index_root()
    if root is None:
        console.print("全文索引已关闭（YUQING_SEARCH_INDEX=off），检索由数据库回答。")
        return
    path = search_index.index_path(engine)
    with engine.connect() as connection:
        waiting = connection.execute(text("SELECT count(*) FROM mention_fts_change")).scalar_one()
    size = (search_index.index_size(engine) or 0) / 2**20
    state = "已建好" if (path / "ready.json").exists() else "未建好（运行 yuqing index rebuild）"
    console.print(f"位置：{path}\n状态：{state}\n待补入变更：{waiting} 条\n大小：{size:.1f} MiB")
