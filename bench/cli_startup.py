"""Start-up time of the ``yuqing`` command against the eager import it replaced, in one run.

    .venv/bin/python bench/cli_startup.py [--repeat 7]

Each figure is the median wall time of a fresh process. The baseline is what ``yuqing --help``
cost before the command groups were loaded lazily: importing the domains the old CLI imported
at the top (the analysis model, the reports, the pipeline). The floor is a bare interpreter
with Typer and Rich, which no command line built on them can beat. Target: ≤ 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TARGET_S = 1.0
EAGER = (
    "import yuqing.analysis.cli, yuqing.reports.cli, yuqing.notify.cli, yuqing.schemes.cli, "
    "yuqing.worker.pipeline"
)


def median_seconds(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rows = [
        ("floor: python + typer + rich", [sys.executable, "-c", "import typer, rich.console"]),
        ("yuqing --help", [str(BIN / "yuqing"), "--help"]),
        ("yuqing model --help", [str(BIN / "yuqing"), "model", "--help"]),
        ("baseline: eager imports", [sys.executable, "-c", EAGER]),
    ]
    results = {name: median_seconds(command, args.repeat) for name, command in rows}
    help_s = results["yuqing --help"]
    baseline = results["baseline: eager imports"]
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'what':34} {'median s':>9}")
    for name, seconds in results.items():
        print(f"{name:34} {seconds:9.3f}")
    verdict = "met" if help_s <= TARGET_S else "NOT met"
    print(
        f"\nyuqing --help: {help_s:.3f} s, target ≤ {TARGET_S:.1f} s ({verdict}); "
        f"{baseline / help_s:.1f}× faster than the eager baseline"
    )


if __name__ == "__main__":
    main()
