"""``yuqing model …``: train the sentiment/emotion models from corrections and files, evaluate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yuqing.analysis import sentiment, service
from yuqing.analysis.labelled import (
    LabelledFileError,
    Scores,
    check_labels,
    parse_map,
    read_labelled,
    score,
)
from yuqing.core.database import session_scope, upgrade_database

app = typer.Typer(help="情感与情绪模型。", no_args_is_help=True)
console = Console()

EmotionOption = Annotated[bool, typer.Option("--emotion", help="情绪模型（六类）而非情感模型。")]


def _name(label: str) -> str:
    return sentiment.SENTIMENT_NAMES.get(label) or sentiment.EMOTION_NAMES.get(label, label)


def _model(emotion: bool) -> sentiment.SentimentModel:
    model = sentiment.get_emotion_model() if emotion else sentiment.get_sentiment_model()
    if model is None:
        console.print("还没有情绪模型：先用 yuqing model train --emotion --file 标注文件 训练。")
        raise typer.Exit(1)
    return model


@app.command("eval")
def evaluate(
    file: Annotated[
        Path,
        typer.Argument(
            help="标注文件：TSV（标签<TAB>文本）、带表头的 CSV（如 id,label,text）、JSON 或 JSONL。"
        ),
    ],
    emotion: EmotionOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出一个 JSON 对象。")] = False,
    label_map: Annotated[
        str | None,
        typer.Option(
            "--map", help="文件标签到模型标签的对应，如 0=positive,1=negative,2=negative。"
        ),
    ] = None,
) -> None:
    """在标注文件上评估当前模型。两类文件（0 负面 / 1 正面）：负面的精确率、召回率、F1 和准确率，
    模型判为中性的按概率归入较可能的一方；三类文件：3×3 混淆矩阵。"""
    try:
        mapping = parse_map(label_map, emotion=emotion) if label_map else None
        texts, labels = read_labelled(file, emotion=emotion, mapping=mapping)
        check_labels(labels, path=file)
    except LabelledFileError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    model = _model(emotion)
    scores = score(model, texts, labels)
    if as_json:
        payload = {"model": model.version, "file": str(file), **scores.to_dict()}
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    _show(f"{'情绪' if emotion else '情感'}模型（{model.version}）", scores, emotion=emotion)


def _show(title: str, scores: Scores, *, emotion: bool) -> None:
    names = {**sentiment.SENTIMENT_NAMES} if not emotion else {**sentiment.EMOTION_NAMES}
    console.print(
        f"{title}：{scores.count} 条，准确率 {scores.accuracy:.4f}，宏平均 F1 {scores.macro_f1:.4f}"
    )
    negative = scores.per_class.get("negative")
    if negative is not None and not emotion:
        console.print(
            f"负面：精确率 {negative.precision:.4f}，召回率 {negative.recall:.4f}，"
            f"F1 {negative.f1:.4f}（{negative.support} 条负面标注）"
        )
    if scores.neutral_mapped:
        console.print(
            f"文件没有中性标注：{scores.neutral_mapped} 条中性判断按概率归入了正面或负面。"
        )
    table = Table(title="混淆矩阵（行：标注，列：预测）")
    table.add_column("标注＼预测")
    for label in scores.labels:
        table.add_column(names.get(label, label), justify="right")
    for label, row in zip(scores.labels, scores.confusion, strict=True):
        table.add_row(names.get(label, label), *[str(n) for n in row])
    console.print(table)


@app.command("train")
def train(
    file: Annotated[
        list[Path] | None, typer.Option("--file", help="另加的标注文件（可多次给出）。")
    ] = None,
    emotion: EmotionOption = False,
) -> None:
    """用人工校正（及标注文件）重新训练：新模型用八成标注训练，在留出的两成上胜过当前模型才启用，
    启用前再用全部标注重新拟合；每个版本连同比较结果都保留，可在工作台上回退。"""
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
    name = f"v{report.version.id}" if report.version else ""
    if report.accepted:
        console.print(
            f"[green]已启用新模型 {name}（已用全部 {report.corrections + report.file_examples} "
            f"条标注重新拟合）：{report.path}[/green]"
        )
    else:
        console.print(f"[yellow]新模型 {name} 没有胜过当前模型，未启用。[/yellow]")
        raise typer.Exit(2)
