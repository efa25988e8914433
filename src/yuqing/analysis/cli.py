"""``yuqing model …``: train the sentiment/emotion models from corrections and files, evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yuqing.analysis import sentiment, service
from yuqing.analysis.labelled import LabelledFileError, Scores, read_labelled, score
from yuqing.core.database import session_scope, upgrade_database

app = typer.Typer(help="情感与情绪模型。", no_args_is_help=True)
console = Console()

EmotionOption = Annotated[bool, typer.Option("--emotion", help="情绪模型（六类）而非情感模型。")]


def _name(label: str) -> str:
    return sentiment.SENTIMENT_NAMES.get(label) or sentiment.EMOTION_NAMES.get(label, label)


def _show(title: str, scores: Scores, *, emotion: bool) -> None:
    names = {**sentiment.SENTIMENT_NAMES} if not emotion else {**sentiment.EMOTION_NAMES}
    console.print(
        f"{title}：{scores.count} 条，准确率 {scores.accuracy:.4f}，宏平均 F1 {scores.macro_f1:.4f}"
    )
    table = Table(title="混淆矩阵（行：标注，列：预测）")
    table.add_column("标注＼预测")
    for label in scores.labels:
        table.add_column(names.get(label, label), justify="right")
    for label, row in zip(scores.labels, scores.confusion, strict=True):
        table.add_row(names.get(label, label), *[str(n) for n in row])
    console.print(table)


def _model(emotion: bool) -> sentiment.SentimentModel:
    model = sentiment.get_emotion_model() if emotion else sentiment.get_sentiment_model()
    if model is None:
        console.print("还没有情绪模型：先用 yuqing model train --emotion --file 标注文件 训练。")
        raise typer.Exit(1)
    return model


@app.command("eval")
def evaluate(
    file: Annotated[
        Path, typer.Argument(help="标注文件：TSV（标签<TAB>文本）、JSON、JSONL 或 CSV。")
    ],
    emotion: EmotionOption = False,
) -> None:
    """在标注文件上评估当前模型：准确率、宏平均 F1、混淆矩阵。"""
    try:
        texts, labels = read_labelled(file, emotion=emotion)
    except LabelledFileError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    model = _model(emotion)
    origin = model.meta.get("origin", "shipped")
    _show(
        f"{'情绪' if emotion else '情感'}模型（{origin}）",
        score(model, texts, labels),
        emotion=emotion,
    )


@app.command("train")
def train(
    file: Annotated[
        list[Path] | None, typer.Option("--file", help="另加的标注文件（可多次给出）。")
    ] = None,
    emotion: EmotionOption = False,
) -> None:
    """用人工校正（及标注文件）重新训练；新模型在留出部分上胜过当前模型才启用。"""
    upgrade_database()
    try:
        with session_scope() as session:
            report = service.train(session, files=list(file or []), emotion=emotion)
    except (LabelledFileError, sentiment.TrainingDataError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    for note in report.notes:
        console.print(note)
    where = "人工校正" if report.hold_out_from == "corrections" else "标注文件"
    console.print(
        f"训练数据：人工校正 {report.corrections} 条，文件 {report.file_examples} 条；"
        f"比较用的留出部分取自{where}（{int(service.HOLD_OUT * 100)}%）。"
    )
    _show("新模型", report.candidate, emotion=emotion)
    if report.current is not None:
        _show("当前模型", report.current, emotion=emotion)
    if report.accepted:
        console.print(f"[green]已启用新模型：{report.path}[/green]")
    else:
        console.print("[yellow]新模型没有胜过当前模型，未启用。[/yellow]")
        raise typer.Exit(2)
