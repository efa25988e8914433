"""Event clustering on a real Weibo stream: B-cubed precision/recall/F1 and throughput.

Usage: .venv/bin/python bench/events.py [--limit N] [--batch 500] [--data PATH]

Replays /work/shared/data/events/ced_stream_dev.jsonl.gz (or ``$YUQING_SHARED_DATA``) in
time order through the real ingest pipeline (``mentions.service.ingest`` with
``worker.pipeline.analyse`` followed by ``events.flows.stage``, exactly as the pipeline
composes stages; if ``worker.pipeline`` already calls the events stage it is used as is) on a
fresh SQLite database, one commit per batch. Each stored mention (exact copies included) is
read back with its event and scored against the gold ``event_id``:

- run "links": items carry ``root``/``parent`` as platform exports do;
- run "text": ``root`` and ``parent`` stripped, so only text (near-duplicates, key terms)
  can group items.

Baselines in the same run, on the same items: every item its own event, and a naive
grouping by the first 20 characters of the text. Throughput is items per second of the whole
pipeline and the CPU µs per item spent in the events stage alone.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

TARGET_F1_LINKS = 0.95
TARGET_PRECISION_TEXT = 0.90
TARGET_STAGE_US = 20.0


def shared_data() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("YUQING_SHARED_DATA", default))


def load(path: Path, limit: int | None) -> list[dict[str, Any]]:
    records = []
    with gzip.open(path, "rb") as handle:
        for line in handle:
            records.append(orjson.loads(line))
            if limit and len(records) >= limit:
                break
    records.sort(key=lambda r: r["time"])
    return records


def bcubed(gold: dict[Any, Any], found: dict[Any, Any]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of ``found`` clusters against ``gold`` (item → label)."""
    items = [i for i in gold if i in found]
    pair: Counter[tuple[Any, Any]] = Counter((gold[i], found[i]) for i in items)
    gold_size = Counter(gold[i] for i in items)
    found_size = Counter(found[i] for i in items)
    precision = recall = 0.0
    for (g, f), n in pair.items():
        precision += n * n / found_size[f]
        recall += n * n / gold_size[g]
    precision, recall = precision / len(items), recall / len(items)
    return precision, recall, 2 * precision * recall / (precision + recall)


class _Timer:
    def __init__(self) -> None:
        self.cpu = 0.0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            began = time.process_time()
            try:
                result = function(*args)
            finally:
                self.cpu += time.process_time() - began
            if callable(result):
                return self.wrap(result)
            return result

        return timed


def replay(records: list[dict[str, Any]], batch: int, *, links: bool) -> dict[str, Any]:
    """Ingest the stream into a fresh database; mid → event id, and the timings."""
    from sqlalchemy import text

    from yuqing.core import database
    from yuqing.core.settings import reset_settings_cache
    from yuqing.events import flows
    from yuqing.mentions import service as mentions
    from yuqing.sources import service as sources
    from yuqing.worker import pipeline

    timer = _Timer()
    built_in = "events" in pipeline.analyse.__code__.co_names or hasattr(pipeline, "events")
    events_stage = timer.wrap(flows.stage)

    def analyse(session: Any, source: Any, rows: list[dict[str, Any]]) -> Any:
        first = pipeline.analyse(session, source, rows)
        if built_in:
            return first
        second = events_stage(session, source, rows)

        def finish(ids: list[int]) -> None:
            if first is not None:
                first(ids)
            if second is not None:
                second(ids)

        return finish

    items = []
    for r in records:
        item = {"mid": r["mid"], "time": r["time"], "text": r["text"]}
        if links:
            item["root"], item["parent"] = r.get("root"), r.get("parent")
        items.append(item)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/events.db"
        os.environ["YUQING_DATABASE_URL"] = url
        os.environ["YUQING_DATA_DIR"] = folder
        reset_settings_cache()
        engine = database.make_engine(url)
        database.upgrade_database(engine)
        database.set_engine(engine)
        try:
            began, cpu0 = time.perf_counter(), time.process_time()
            for start in range(0, len(items), batch):
                with database.session_scope() as session:
                    source = sources.get_or_create(session, name="微博推送", kind="push")
                    mentions.ingest(
                        session, source=source, items=items[start : start + batch], analyse=analyse
                    )
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu0
            with database.session_scope() as session:
                found: dict[str, int] = dict(
                    session.execute(
                        text(
                            "SELECT m.external_id, em.event_id FROM mention m "
                            "JOIN event_member em ON em.mention_id = m.id"
                        )
                    ).all()
                )
                events = session.execute(text("SELECT COUNT(*) FROM event")).scalar_one()
        finally:
            database.set_engine(None)
            engine.dispose()
    return {
        "found": found,
        "seconds": seconds,
        "cpu": cpu,
        "stage_cpu": timer.cpu,
        "events": events,
        "built_in": built_in,
    }


def prefix_groups(records: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {r["mid"]: r["text"].strip()[:20] for r in records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    path = args.data or shared_data() / "events" / "ced_stream_dev.jsonl.gz"
    if not path.is_file():
        sys.exit(f"找不到数据文件：{path}")
    records = load(path, args.limit)
    gold = {r["mid"]: r["event_id"] for r in records}
    print(
        f"{len(records):,} items, {len(set(gold.values())):,} gold events, batches of {args.batch}"
    )
    rows: list[tuple[str, float, float, float, str, str, str]] = []
    singletons = {m: m for m in gold}
    p, r, f = bcubed(gold, singletons)
    rows.append(("baseline: every item its own event", p, r, f, "", "", ""))
    p, r, f = bcubed(gold, prefix_groups(records))
    rows.append(("baseline: same first 20 characters", p, r, f, "", "", ""))
    for links in (True, False):
        run = replay(records, args.batch, links=links)
        missing = len(gold) - len(run["found"])
        p, r, f = bcubed(gold, run["found"])
        name = "events, with root/parent links" if links else "events, text alone"
        target = f"F1 ≥ {TARGET_F1_LINKS}" if links else f"P ≥ {TARGET_PRECISION_TEXT}"
        rate = len(records) / run["seconds"]
        stage_us = run["stage_cpu"] / len(records) * 1e6
        rows.append(
            (
                f"{name} ({run['events']:,} events, {missing} unplaced)",
                p,
                r,
                f,
                target,
                f"{rate:,.0f}",
                f"{stage_us:.1f}" if not run["built_in"] else "n/a",
            )
        )
    print()
    print(
        "| run | B³ precision | B³ recall | B³ F1 | target | pipeline items/s | events µs/item (CPU) |"
    )
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for name, p, r, f, target, rate, stage in rows:
        print(f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} | {target} | {rate} | {stage} |")
    print(
        f"\nevents stage target: ≤ {TARGET_STAGE_US:.0f} µs/item; pipeline target ≥ 6,000 items/s"
    )


if __name__ == "__main__":
    main()
