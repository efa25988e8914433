"""``yuqing model …`` (placeholder until filled in)."""

import typer

app = typer.Typer(help="情感与情绪模型。", no_args_is_help=True)
