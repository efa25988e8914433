"""The start-up check and a light command line: what a fresh install lacks is named in Chinese."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from yuqing.cli import app
from yuqing.core import audit
from yuqing.core.audit import SYSTEM
from yuqing.doctor import run_checks

runner = CliRunner()


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_doctor_passes_on_a_complete_install() -> None:
    result = runner.invoke(app, ["doctor"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "✓ 正文抽取" in result.output and "必需组件都可用" in result.output


def test_doctor_names_the_missing_html_cleaner_and_how_to_install_it() -> None:
    # The import system refuses a module mapped to None: the same failure as a missing wheel.
    done = _python(
        """
        import sys
        sys.modules["lxml_html_clean"] = None
        from yuqing.doctor import run_checks
        for finding in run_checks():
            if not finding.ok:
                print(finding.check.name, finding.problem, finding.check.fix, sep="|")
        """
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("正文抽取|")]
    assert lines, done.stdout
    assert "lxml_html_clean" in lines[0]


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    done = _python(
        """
        import sys
        from yuqing.cli import app
        try:
            app(["--help"])
        except SystemExit:
            pass
        heavy = {"sklearn", "matplotlib", "fastapi", "sqlalchemy", "scipy", "numpy"}
        print("LOADED", sorted(heavy & {name.split(".")[0] for name in sys.modules}))
        """
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout
    assert "model" in done.stdout and "report" in done.stdout  # the lazy groups are listed


def test_a_lazy_command_group_runs_its_commands() -> None:
    result = runner.invoke(app, ["model", "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "eval" in result.output and "train" in result.output


def test_doctor_says_when_the_audit_key_is_gone(engine: Engine) -> None:
    with Session(engine) as session:
        audit.record(session, actor=SYSTEM, action="test.write", object_type="test", summary="体检")
        session.commit()
    assert all(f.ok for f in run_checks() if f.check.name == "审计密钥")
    audit.key_path().unlink()  # lost with a server, not restored from the backup
    found = [f for f in run_checks() if f.check.name == "审计密钥"]
    assert found and not found[0].ok
    assert "审计密钥缺失" in (found[0].problem or "") and "audit_key" in found[0].check.fix
