"""The report as an HTML fragment for the desk (every text escaped)."""

from __future__ import annotations

import base64
from html import escape

from yuqing.reports import charts
from yuqing.reports.schemas import Paragraph, ReportContent, Table


def _paragraph(p: Paragraph) -> str:
    parts = [escape(p.text)]
    for q in p.quotes:
        quote = f"“{escape(q.text)}”"
        if q.url.startswith(("http://", "https://")):
            quote = f'<a href="{escape(q.url)}" rel="noopener noreferrer">{quote}</a>'
        parts.append(quote)
    return f"<p>{''.join(parts)}</p>"


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in t.rows
    )
    return f'<table class="report-table"><caption>{escape(t.title)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def to_html(content: ReportContent, *, with_charts: bool = True) -> str:
    """The report as an <article>; charts inline as PNG data URLs."""
    out = [f'<article class="report"><h1>{escape(content.title)}</h1>']
    out.append(f'<p class="period">{escape(content.period_label)}</p>')
    for section in content.sections:
        out.append(f"<section><h2>{escape(section.heading)}</h2>")
        out.extend(_paragraph(p) for p in section.paragraphs)
        for t in section.tables:
            # A table with no rows is left out, as in the Word report: a header alone reads as
            # a broken page; one line says there is nothing.
            out.append(
                _table(t) if t.rows else f'<p class="report-empty">{escape(t.title)}：无</p>'
            )
        if with_charts:
            for spec in section.charts:
                data = base64.b64encode(charts.render(spec)).decode("ascii")
                out.append(f'<img alt="{escape(spec.title)}" src="data:image/png;base64,{data}">')
        out.append("</section>")
    out.append("</article>")
    return "\n".join(out)
