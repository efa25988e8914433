"""What ``yuqing init`` and ``yuqing serve`` make sure of before the desk opens: the push
token, the audit chain's key and the public address; and how the doctor's findings are
printed. Loaded only when one of those commands runs."""

from __future__ import annotations

import secrets

from rich.markup import escape

from yuqing.core.database import session_scope
from yuqing.core.settings import get_settings
from yuqing.core.terminal import console, fail
from yuqing.doctor import Finding


def ensure_push_token() -> tuple[str, bool]:
    """The desk-wide push token and whether it was made now (saved beside the data, mode
    600), unless one is configured."""
    settings = get_settings()
    if settings.effective_push_token():
        return settings.effective_push_token(), False
    path = settings.data_dir / "push_token"
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return token, True


def ensure_audit_key() -> None:
    """The audit chain's signing key: made once beside the data (mode 600), never stored in
    the database; a desk whose key is missing or not the chain's is told so here."""
    from yuqing.core import audit

    try:
        with session_scope() as session:
            path, made = audit.ensure_key(session)
            problem = audit.check_key(session)
    except audit.AuditKeyError as error:
        problem = str(error)
    else:
        if made:
            console.print(
                f"已生成审计日志密钥 {path}（仅本账号可读）：请另行备份；"
                "丢失后审计日志既不能再写入，也无法校验（见 docs/audit.md）"
            )
    if problem:
        fail(problem)


def init_public_url(given: str | None) -> None:
    """Set the desk's public address from ``--public-url``, then say which one is in force.

    It is never asked for interactively: ``make run`` calls ``init`` on every start and must
    not wait at a prompt; the hint below says where to set it."""
    from yuqing.core.audit import SYSTEM
    from yuqing.system import service as system

    with session_scope() as session:
        current = system.get_public_url(session)
        if given is not None and given.strip() != current.url:
            try:
                current = system.update_public_url(session, url=given, actor=SYSTEM)
            except system.SettingError as error:
                fail(str(error))
    if current.url:
        console.print(f"工作台访问地址：{current.url}")
    else:
        console.print(
            "[yellow]尚未设置工作台访问地址：消息和邮件中的链接将无法点击。"
            "用 yuqing init --public-url https://… 或在工作台“系统设置”页填写。[/yellow]"
        )


def print_findings(findings: list[Finding], *, all_rows: bool) -> None:
    """The doctor's findings, each failed one with its fix; ``all_rows`` lists the passed too."""
    for finding in findings:
        check = finding.check
        if finding.ok:
            if all_rows:
                console.print(f"  [green]✓[/green] {check.name}（{check.purpose}）")
            continue
        colour = "red" if check.required else "yellow"
        console.print(
            f"  [{colour}]✗ {check.name}（{check.purpose}）：{escape(finding.problem or '')}[/{colour}]"
            f"\n      解决办法：{escape(check.fix)}"
        )
