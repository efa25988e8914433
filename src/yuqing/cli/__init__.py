"""The ``yuqing`` command: set up, serve, fetch, import, search and manage sources.

Start-up is kept light: this module imports only Typer and Rich at the top, each command
imports what it needs when it runs, and the command groups of the domains (``schemes``,
``model``, ``report`` …) are loaded only when one of their commands is called, so
``yuqing --help`` does not pay for scikit-learn, matplotlib or the web app.
"""

from __future__ import annotations

import importlib
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from yuqing.core import terminal

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from datetime import datetime

    from rich.progress import Progress
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from yuqing.core.settings import Settings

# name → (module holding a Typer ``app``, the line shown in ``yuqing --help``)
LAZY_GROUPS: dict[str, tuple[str, str]] = {
    "sources": ("yuqing.sources.cli", "管理信息源。"),
    "audit": ("yuqing.cli.audit", "审计日志。"),
    "schemes": ("yuqing.schemes.cli", "监测方案：列出、添加、回溯匹配。"),
    "model": ("yuqing.analysis.cli", "情感模型：评估、训练、查看。"),
    "notify": ("yuqing.notify.cli", "通知渠道与发送队列。"),
    "report": ("yuqing.reports.cli", "生成日报、周报、月报和专报。"),
    "calendar": ("yuqing.cases.cli", "工作日历：法定节假日与调休，导入放假通知。"),
    "index": ("yuqing.mentions.cli", "全文索引：重建、追平、查看状态。"),
    "retention": ("yuqing.maintenance.cli", "数据保留期限与清理。"),
    "people": ("yuqing.maintenance.people_cli", "数据中出现的个人：查找、按申请删除、化名导出。"),
}


class _LazyGroup(TyperGroup):
    """A command group that imports its module only when one of its commands runs."""

    def __init__(self, name: str, module: str, help_text: str) -> None:
        super().__init__(name=name, help=help_text, short_help=help_text)
        self.module = module

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        loaded = typer.main.get_group(importlib.import_module(self.module).app)
        return loaded.make_context(info_name, args, parent=parent, **extra)


class _Root(TyperGroup):
    """The top-level group: its own commands plus the lazily loaded groups."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_GROUPS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_GROUPS:
            module, help_text = LAZY_GROUPS[cmd_name]
            return _LazyGroup(cmd_name, module, help_text)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    help="Yuqing 舆情工作台：采集、存储、检索与处置。", no_args_is_help=True, cls=_Root
)
console = terminal.console


# The database, settings and time helpers are imported on first use, not at start-up.


def upgrade_database() -> None:
    from yuqing.core.database import upgrade_database as upgrade

    upgrade()


def session_scope() -> AbstractContextManager[Session]:
    from yuqing.core.database import session_scope as scope

    return scope()


def get_settings() -> Settings:
    from yuqing.core.settings import get_settings as settings

    return settings()


def _queue_mode() -> None:
    """Turn queue mode on for this process (and the processes it starts): Celery must be
    installed (the ``cluster`` extra) and Redis reachable (a local one is started)."""
    import importlib.util
    import os

    from yuqing.core.settings import reset_settings_cache

    if importlib.util.find_spec("celery") is None:
        console.print(
            "[red]队列模式需要 Celery：pip install 'yuqing[cluster]'（见 docs/scaling.md）[/red]"
        )
        raise typer.Exit(2)
    os.environ["YUQING_QUEUE"] = "true"
    reset_settings_cache()
    from yuqing.core.database import is_sqlite

    if is_sqlite(get_settings().resolved_database_url()):
        console.print(
            "[yellow]提示：队列模式的多个进程应共用 PostgreSQL（YUQING_DATABASE_URL）[/yellow]"
        )
    from yuqing.worker import tasks

    problem = tasks.ensure_broker()
    if problem:
        console.print(f"[red]{escape(problem)}[/red]")
        raise typer.Exit(2)


def get_engine() -> Engine:
    from yuqing.core.database import get_engine as engine

    return engine()


def format_local(value: datetime | None) -> str:
    from yuqing.core.timeutil import format_local as fmt

    return fmt(value)


def _progress() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _retire_person_watchlists() -> None:
    """Stored schemes on ``author:`` (a watch-list of one person) are disabled on upgrade,
    with a note to their owners (see docs/schemes.md)."""
    from yuqing.schemes import backfill as scheme_backfill

    with session_scope() as session:
        names = [s.name for s in scheme_backfill.retire_person_watchlists(session)]
    for name in names:
        console.print(
            f"[yellow]已停用监测方案“{escape(name)}”：检索式按作者筛选（author:），"
            "工作台不为个人建立盯人名单；已在方案上注明原因并通知其创建人。[/yellow]"
        )


@app.command()
def init(
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="工作台访问地址，如 https://yuqing.example.edu.cn（消息和邮件中的链接以它开头）",
        ),
    ] = None,
) -> None:
    """创建或升级数据库（SQLite WAL / PostgreSQL），生成推送接口令牌。"""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _backup_before_upgrade()
    upgrade_database()
    from yuqing.cli import setup

    token, created = setup.ensure_push_token()
    setup.ensure_audit_key()
    console.print(f"数据库已就绪：{get_engine().url.render_as_string(hide_password=True)}")
    from yuqing.assessment import service as assessment
    from yuqing.auth import service as auth
    from yuqing.cases import service as cases
    from yuqing.editorial import service as editorial
    from yuqing.org import quota
    from yuqing.org import service as org

    with session_scope() as session:
        org.ensure_defaults(session)
        quota.ensure_defaults(session)  # the default quota rules (定额), editable on /team
        assessment.ensure_defaults(session)  # credit weights and rubrics, editable too
        cases.ensure_defaults(session)  # grades, clocks, the working calendar
        editorial.ensure_defaults(session)  # 三审 kinds and stages, the pre-check word lists
        admin = auth.bootstrap_admin(session)
    setup.init_public_url(public_url)
    _retire_person_watchlists()
    if admin is not None:
        console.print("已创建初始管理员账号（首次登录后须修改密码）：")
        console.print(f"  用户名 [bold]admin[/bold]  一次性密码 [bold]{escape(admin[1])}[/bold]")
    from yuqing.doctor import run_checks

    findings = run_checks()
    if not all(f.ok for f in findings):
        console.print("[yellow]体检发现以下问题（运行 yuqing doctor 查看全部）：[/yellow]")
        setup.print_findings(findings, all_rows=False)
    if created:
        console.print(f"推送接口令牌（只显示这一次，保存在 {settings.data_dir / 'push_token'}）：")
        console.print(f"  [bold]{token}[/bold]")


def _backup_before_upgrade() -> None:
    """A database made by an earlier release is backed up before its schema is upgraded;
    if the backup fails, nothing is upgraded."""
    from yuqing.maintenance import backup, upgrade

    pending = upgrade.pending_upgrade(get_engine())
    if pending is None:
        return
    console.print(f"数据库结构将从 {pending[0]} 升级到 {pending[1]}，先做一次备份……")
    try:
        result = backup.create_backup()
    except backup.BackupError as error:
        terminal.fail(f"{error}\n未升级数据库：请先解决备份问题再运行 yuqing init。")
    console.print(f"已备份到 {result.path}（{result.size:,} 字节）。")


@app.command(name="backup")
def backup_command(
    to: Annotated[
        Path | None,
        typer.Option("--to", help="备份目录（默认 YUQING_BACKUP_DIR 或 数据目录/backups）"),
    ] = None,
    keep: Annotated[
        int | None, typer.Option("--keep", min=1, help="只保留最近几份（默认 YUQING_BACKUP_KEEP）")
    ] = None,
) -> None:
    """备份数据库与数据目录中的文件（上传文件、模型文件），工作台可照常运行。"""
    from yuqing.core.database import new_session
    from yuqing.maintenance import backup, upgrade
    from yuqing.maintenance import service as maintenance

    try:
        if upgrade.pending_upgrade(get_engine()) is not None:
            # A database of an earlier release: copied as it is, not upgraded first.
            result = backup.create_backup(target_dir=to)
        else:
            upgrade_database()
            result = maintenance.run_backup(new_session, trigger="manual", keep=keep, target_dir=to)
    except maintenance.BackupError as error:
        terminal.fail(str(error), code=1)
    manifest = result.manifest
    console.print(
        f"已备份到 {result.path}（{result.size:,} 字节；数据库结构 {manifest.schema_revision}，"
        f"{sum(manifest.counts.values()):,} 行，{len(manifest.members)} 个文件，"
        f"审计日志至第 {manifest.audit_seq} 条）。"
    )
    console.print(
        "[yellow]备份不含密钥（audit_key、secret_key、push_token、pseudonym_key）："
        "请另行保管它们，恢复时放回数据目录或用环境变量给出。[/yellow]"
    )


@app.command(name="restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="yuqing backup 写出的备份文件")],
) -> None:
    """把备份恢复到空的数据目录（YUQING_DATA_DIR）和空数据库；损坏的或来自更新版本的备份会被拒绝。"""
    from yuqing.maintenance import backup

    if not file.is_file():
        terminal.fail(f"找不到备份文件：{file}")
    try:
        manifest = backup.restore_backup(file)
    except backup.BackupError as error:
        terminal.fail(str(error))
    console.print(
        f"已恢复 {file.name}：备份于 {manifest.created_at}，{sum(manifest.counts.values()):,} 行，"
        f"{sum(1 for m in manifest.members if m.startswith('files/'))} 个文件。"
    )
    console.print(
        "请放回审计密钥后运行 yuqing audit verify 校验审计日志；全文索引会在启动后自动重建。"
    )


@app.command()
def doctor() -> None:
    """体检：逐项检查工作台用到的组件（正文抽取、字体、模型、前端文件等），说明缺什么、怎么装。"""
    from yuqing.cli.setup import print_findings
    from yuqing.doctor import run_checks

    findings = run_checks()
    print_findings(findings, all_rows=True)
    missing = [f for f in findings if not f.ok and f.check.required]
    if missing:
        console.print(f"[red]有 {len(missing)} 项必需组件不可用，相关功能会失败。[/red]")
        raise typer.Exit(1)
    console.print("必需组件都可用。")


@app.command()
def demo() -> None:
    """载入示例信息源和示例信息流（只载入一次）。"""
    from yuqing.demo import load_demo

    upgrade_database()
    with session_scope() as session:
        result = load_demo(session)
    if result is None:
        console.print("示例数据已存在，未重复载入。")
    else:
        console.print(
            f"已载入示例数据：新增 {result.new} 条，重复 {result.duplicate} 条，失败 {result.failed} 条。"
        )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址")] = None,
    port: Annotated[int | None, typer.Option(help="端口")] = None,
    fetch: Annotated[bool, typer.Option("--fetch/--no-fetch", help="同时在后台抓取信息源")] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="信任其 X-Forwarded-For 的反向代理地址（逗号分隔）；不设时登录限制会把所有人算作代理的地址",
        ),
    ] = None,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="队列模式：推送与抓取写入收件箱后立即返回，由 yuqing worker --queues 进程处理"
            "（需 PostgreSQL 与 Redis，见 docs/scaling.md）",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="网页与接口的进程数，同一端口（多于 1 个时需 PostgreSQL；后台任务仍只运行一份）",
        ),
    ] = 1,
) -> None:
    """启动工作台（网页与接口），默认同时在后台按计划抓取信息源。"""
    import uvicorn

    from yuqing.core.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread starts
    if queue:
        _queue_mode()
    settings = get_settings()
    from yuqing.core.database import is_sqlite

    if workers > 1 and is_sqlite(settings.resolved_database_url()):
        console.print(
            "[red]多个网页进程需要 PostgreSQL（YUQING_DATABASE_URL）：SQLite 同一时刻只有一个写入者，"
            "单个进程已合并并发推送（见 docs/pipeline.md）。[/red]"
        )
        raise typer.Exit(2)
    upgrade_database()
    from yuqing.cli import setup

    setup.ensure_push_token()
    setup.ensure_audit_key()
    _retire_person_watchlists()
    stop = threading.Event()
    from yuqing.worker import runner

    runner.start(stop, fetch=fetch)
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"舆情工作台：http://{bind_host}:{bind_port}/  （接口文档：/docs）")
    from yuqing.cli import processes

    try:
        if workers > 1:
            options = {"forwarded_allow_ips": forwarded_allow_ips}
            try:
                processes.serve_many(bind_host, bind_port, workers, options)
            except (processes.PortTaken, processes.StartFailed) as error:
                console.print(f"[red]{escape(str(error))}[/red]")
                raise typer.Exit(2) from error
        else:
            uvicorn.run(
                processes.APP,
                factory=True,
                host=bind_host,
                port=bind_port,
                forwarded_allow_ips=forwarded_allow_ips,
            )
    finally:
        stop.set()


@app.command(name="rebuild-counts")
def rebuild_counts() -> None:
    """重新计算大屏的预聚合计数（升级或导入历史数据后使用）。"""
    from yuqing.dashboard import service as dashboard

    upgrade_database()
    with session_scope() as session:
        rows = dashboard.rebuild(session)
    console.print(f"已重新计算大屏计数：{rows} 条计数记录。")


@app.command()
def worker(
    fetch: Annotated[bool, typer.Option("--fetch/--no-fetch", help="同时抓取信息源")] = True,
    queues: Annotated[
        str | None,
        typer.Option(
            "--queues",
            help="队列模式：只处理这些队列（逗号分隔：analysis 分析入库、ordered 事件与预警"
            "（只能有一个进程）、notify 通知投递）；每个进程一次处理一批",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="队列模式下本进程的名称")] = None,
) -> None:
    """只运行后台工作（抓取、通知投递、预警与事件热度的定时计算），不启动网页。"""
    from yuqing.worker import runner

    upgrade_database()
    if queues is not None:
        _queue_worker(queues, name)
        return
    stop = threading.Event()
    runner.start(stop, fetch=fetch)
    console.print("后台工作已启动，按 Ctrl+C 停止。")
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        stop.set()


def _queue_worker(queues: str, name: str | None) -> None:
    _queue_mode()
    from yuqing.worker import tasks

    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(wanted) - set(tasks.QUEUES))
    if not wanted or unknown:
        console.print(
            f"[red]未知的队列：{'、'.join(unknown) or '（空）'}；可选：{'、'.join(tasks.QUEUES)}[/red]"
        )
        raise typer.Exit(2)
    tasks.run_worker(wanted, name=name)


@app.command(name="fetch")
def fetch_command(
    once: Annotated[bool, typer.Option("--once", help="只抓取一轮后退出")] = False,
    source: Annotated[int | None, typer.Option("--source", help="只抓取这个信息源（ID）")] = None,
) -> None:
    """抓取到期的信息源；不加 --once 时持续运行。"""
    from yuqing.worker import collect

    upgrade_database()
    if not once and source is None:
        console.print("持续抓取中，按 Ctrl+C 停止。")
        stop = threading.Event()
        try:
            collect.run_forever(stop)
        except KeyboardInterrupt:
            stop.set()
        return
    with _progress() as progress:
        task = progress.add_task("抓取", total=None)

        def report(done: int, total: int, name: str) -> None:
            progress.update(task, completed=done, total=total, description=f"抓取 {name}")

        runs = collect.run_due(source_id=source, progress=report, force=source is not None)
    table = Table("信息源", "结果", "新增", "重复", "更新", "失败")
    with session_scope() as session:
        from yuqing.sources import service as sources

        for run in runs:
            found = sources.get(session, source_id=run.source_id)
            name = found.name if found else str(run.source_id)
            status = "未变化" if run.not_modified else ("成功" if run.ok else (run.error or "失败"))
            table.add_row(
                name,
                status,
                str(run.items_new),
                str(run.items_duplicate),
                str(run.items_updated),
                str(run.items_failed),
            )
    console.print(table if runs else "没有到期的信息源。")


@app.command(name="import")
def import_command(
    file: Annotated[
        Path, typer.Argument(help="JSON Lines、CSV 或 Excel (.xlsx) 文件", exists=True)
    ],
    source: Annotated[
        str | None,
        typer.Option("--source", help="信息源名称（默认“导入文件”；新名称须加 --create）"),
    ] = None,
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="列映射，例如 --map 帖子内容=text")
    ] = None,
    create: Annotated[
        bool, typer.Option("--create", help="--source 指定的信息源不存在时新建它")
    ] = False,
) -> None:
    """导入平台导出的文件；坏行报告行号和原因，好行照常保存。"""
    from yuqing.sources import service as sources_service
    from yuqing.sources.importers import ImportFileError
    from yuqing.worker.collect import import_file

    upgrade_database()
    if source is not None and not create:
        # A typo must not quietly start a new source: an unknown name is refused.
        with session_scope() as session:
            known = sources_service.get_by_name(session, name=source) is not None
            close = [] if known else sources_service.close_names(session, name=source)
        if not known:
            hint = f"相近的信息源：{'、'.join(close)}。" if close else ""
            console.print(
                f"[red]没有名为“{escape(source)}”的信息源。{escape(hint)}"
                "如要新建，请加 --create。[/red]"
            )
            raise typer.Exit(2)
    source = source or "导入文件"
    column_map: dict[str, str] = {}
    for pair in mapping or []:
        if "=" not in pair:
            raise typer.BadParameter(f"列映射应写成 列名=字段：{pair}")
        column, field = pair.split("=", 1)
        column_map[column.strip()] = field.strip()
    with _progress() as progress, session_scope() as session:
        task = progress.add_task("导入", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            outcome = import_file(
                session,
                file,
                source_name=source,
                mapping=column_map or None,
                progress=report,
            )
        except ImportFileError as error:
            console.print(f"[red]导入失败：{error}[/red]")
            raise typer.Exit(2) from error
    console.print(
        f"新增 {outcome.new} 条，重复 {outcome.duplicate} 条，更新 {outcome.updated} 条，"
        f"未变化 {outcome.unchanged} 条，失败 {outcome.failed} 条。"
    )
    for row_error in outcome.errors[:50]:
        console.print(f"  [red]{escape(str(row_error))}[/red]")
    for note in outcome.warnings[:50]:
        console.print(f"  [yellow]{escape(str(note))}[/yellow]")
    if len(outcome.errors) > 50 or len(outcome.warnings) > 50:
        console.print("  ……（只显示前 50 条）")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="检索词，空格分隔表示同时包含")],
    limit: Annotated[int, typer.Option(help="显示条数")] = 20,
) -> None:
    """全文检索（中文按子串匹配，繁简通查）。"""
    from yuqing.mentions import search as search_index
    from yuqing.mentions.models import Mention

    upgrade_database()
    with session_scope() as session:
        try:
            page = search_index.search(session, query, limit=limit)
        except search_index.SearchQueryError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from error
        total = f"{page.total}+" if page.total_capped else str(page.total)
        console.print(f"共 {total} 条，显示前 {len(page.ids)} 条：")
        for mention_id in page.ids:
            mention = session.get(Mention, mention_id)
            if mention is None:
                continue
            console.print(
                f"[bold]{mention.id}[/bold] {format_local(mention.published_at)} "
                f"{escape(mention.title)}\n    {escape(mention.url or '')}",
                highlight=False,
            )


users_app = typer.Typer(help="管理账号。", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("list")
def users_list() -> None:
    """列出账号。"""
    from yuqing.auth import service as auth

    upgrade_database()
    table = Table("ID", "用户名", "姓名", "角色", "单位", "状态", "最近登录")
    with session_scope() as session:
        roles = {r.id: r.name for r in auth.list_roles(session)}
        for user in auth.list_users(session):
            table.add_row(
                str(user.id),
                user.username,
                user.display_name,
                roles.get(user.role_id, ""),
                str(user.unit_id or ""),
                "启用" if user.active else "停用",
                format_local(user.last_login_at),
            )
    console.print(table)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="用户名")],
    role: Annotated[str, typer.Option(help="admin | publicity | leader | unit_head | unit_member")],
    name: Annotated[str | None, typer.Option(help="姓名")] = None,
    unit: Annotated[int | None, typer.Option(help="单位 ID")] = None,
) -> None:
    """新建账号，打印一次性密码（首次登录须修改）。"""
    from yuqing.auth import service as auth
    from yuqing.core.audit import SYSTEM

    upgrade_database()
    password = secrets.token_urlsafe(12) + "7k"
    with session_scope() as session:
        auth.ensure_roles(session)
        try:
            auth.create_user(
                session,
                username=username,
                password=password,
                role_key=role,
                actor=SYSTEM,
                display_name=name,
                unit_id=unit,
            )
        except auth.AuthError as error:
            console.print(f"[red]{escape(str(error))}[/red]")
            raise typer.Exit(2) from error
    console.print(f"已创建账号 {escape(username)}，一次性密码：[bold]{escape(password)}[/bold]")


@users_app.command("reset-password")
def users_reset_password(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """重置密码、解除登录限制并吊销该账号的全部接口令牌，打印一次性密码。"""
    from yuqing.auth import service as auth
    from yuqing.core.audit import SYSTEM

    upgrade_database()
    with session_scope() as session:
        user = auth.get_user_by_username(session, username=username)
        if user is None:
            console.print(f"[red]没有账号 {escape(username)}[/red]")
            raise typer.Exit(2)
        password = auth.reset_password(session, user=user, actor=SYSTEM)
    console.print(f"已重置 {escape(username)} 的密码，一次性密码：[bold]{escape(password)}[/bold]")
    console.print("该账号的接口令牌已全部吊销，登录限制已解除；登录后须先修改密码。")


@users_app.command("unlock")
def users_unlock(
    username: Annotated[str | None, typer.Argument(help="用户名")] = None,
    address: Annotated[str | None, typer.Option(help="解除此来源地址的登录限制")] = None,
) -> None:
    """解除账号（在所有地址）或某个来源地址的登录限制：管理员在命令行总能进来。"""
    from yuqing.auth import service as auth
    from yuqing.core.audit import SYSTEM

    if not username and not address:
        console.print("[red]请给出用户名，或用 --address 给出来源地址[/red]")
        raise typer.Exit(2)
    upgrade_database()
    with session_scope() as session:
        if username:
            user = auth.get_user_by_username(session, username=username)
            if user is None:
                console.print(f"[red]没有账号 {escape(username)}[/red]")
                raise typer.Exit(2)
            lifted = auth.unlock(session, user=user, actor=SYSTEM)
            console.print(f"已解除账号 {escape(user.username)} 的登录限制（{lifted} 处暂停）。")
        if address:
            lifted = auth.unlock_address(session, ip=address, actor=SYSTEM)
            console.print(f"已解除地址 {escape(address)} 的登录限制（{lifted} 处暂停）。")


if __name__ == "__main__":
    app()
