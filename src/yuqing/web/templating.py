"""Jinja2 templates shared by every domain's views; autoescaping is always on."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from yuqing.core.timeutil import format_local

TEMPLATE_DIR = Path(__file__).parent / "templates"

templates = Jinja2Templates(directory=TEMPLATE_DIR)
templates.env.autoescape = True
templates.env.filters["local"] = format_local
