"""The server's malloc settings, in a fresh process each (glibc's settings are process-wide
and must come before the allocations they govern): big blocks freed after others go back to
the system, and free pages inside the arenas are handed back on demand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from yuqing.core import memory

SRC = str(Path(memory.__file__).resolve().parents[2])

# Big blocks interleaved with small ones that stay: freed, the big ones leave holes in the
# heap (resident) unless each was a mapping of its own. A freed 8 MB block first, as the
# server's start frees models and index loads: glibc then raises its mmap threshold.
HOLES = """
import re, sys
from yuqing.core import memory

def rss():
    status = open("/proc/self/status").read()
    return int(re.search(r"VmRSS:\\s+(\\d+)", status).group(1)) // 1024

if sys.argv[1] == "limit":
    memory.limit_malloc_arenas()
def touched(size):
    block = bytearray(size)
    block[::4096] = b"x" * len(range(0, size, 4096))  # every page resident
    return block

del touched(8 * 2**20)[:]
start = rss()
blocks, kept = [], []
for _ in range(200):
    blocks.append(touched(512 * 1024))
    kept.append(touched(2048))
grown = rss()
del blocks
print(grown - start, rss() - start)
"""

TRIM = """
import re
from yuqing.core import memory

def rss():
    status = open("/proc/self/status").read()
    return int(re.search(r"VmRSS:\\s+(\\d+)", status).group(1)) // 1024

blocks = [bytearray(4000) for _ in range(50_000)]
for block in blocks:
    block[::1000] = b"xxxx"
kept = blocks[::20]
del blocks  # 95 % free, in holes between the blocks kept
before = rss()
released = memory.release_free_memory()
print(int(released), before, rss())
"""


def _run(code: str, *args: str) -> list[int]:
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return [int(x) for x in done.stdout.split()]


def _glibc() -> bool:
    return memory._libc() is not None and hasattr(memory._libc(), "malloc_trim")


@pytest.mark.skipif(not _glibc(), reason="glibc's malloc settings")
def test_big_blocks_freed_between_kept_ones_go_back_to_the_system() -> None:
    grown, left = _run(HOLES, "limit")
    assert grown >= 90  # 200 blocks of 512 KB were resident
    assert left < 20
    grown, left = _run(HOLES, "default")  # what the fixed threshold prevents
    assert left >= 90


@pytest.mark.skipif(not _glibc(), reason="glibc's malloc settings")
def test_free_pages_inside_the_heap_are_given_back() -> None:
    released, before, after = _run(TRIM)
    assert released == 1
    assert before - after >= 100  # of about 190 MB freed in holes
