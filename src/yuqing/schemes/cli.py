"""``yuqing schemes …`` (placeholder until filled in)."""

import typer

app = typer.Typer(help="监测方案。", no_args_is_help=True)
