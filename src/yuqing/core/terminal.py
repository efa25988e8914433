"""What the ``yuqing`` commands share on the terminal: one console, and how a command stops
on a problem (the message in red, exit status 2 unless said otherwise)."""

from __future__ import annotations

from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

Found = TypeVar("Found")

console = Console()


def fail(message: str, *, code: int = 2) -> NoReturn:
    """Print ``message`` in red and end the command with ``code``."""
    console.print(f"[red]{escape(message)}[/red]")
    raise typer.Exit(code)


def found(value: Found | None, missing: str) -> Found:
    """``value``, or the command ends with ``missing`` when there is none (a wrong id)."""
    if value is None:
        fail(missing)
    return value
