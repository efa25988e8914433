"""The server process's memory: fewer malloc arenas for its many threads, big blocks handed
back to the system when they are freed, free pages inside the arenas on demand."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ARENAS = 2

MMAP_THRESHOLD = 256 * 1024
"""Bytes from which a block is its own mapping, returned to the system when freed.

glibc starts at 128 KiB but raises the threshold to the size of any mapped block freed, up
to 32 MiB: the server's start frees a few hundred MB of such blocks (models, the first
index loads), after which every batch's numpy arrays and result lists came from the arenas
and stayed there as free space. Measured with bench/soak.py at 400 items/s on SQLite (2
cores shared with other benchmarks, load 5-10): resident memory at minutes 2 and 6 was
417 and 442 MB before, 379 and 414 MB with the threshold fixed here; the arenas' free part
36-70 MB before, 5-40 MB with it (``mallinfo2``). Setting it also fixes the trim threshold
(no longer adjusted either), to ``TRIM_THRESHOLD``."""

TRIM_THRESHOLD = 4 * MMAP_THRESHOLD
"""Free bytes at the top of an arena above which glibc gives them back to the system."""


@cache
def _libc() -> ctypes.CDLL | None:
    """glibc, looked up once: ``find_library`` runs ``ldconfig`` in a subprocess, and the
    trim runs every 15 s."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018 - only glibc has it
    except (OSError, AttributeError):
        log.info("mallopt is not available: malloc left as it is")
        return None
    return libc


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Ask glibc for at most ``arenas`` malloc arenas (its default is eight per core): each
    request thread otherwise gets an arena of its own, whose freed memory is rarely given
    back, and resident memory climbs over hours of pushes though nothing leaks. Also fix the
    mmap and trim thresholds (``MMAP_THRESHOLD``), so that big transient blocks go back to
    the system. Call it before the threads start; True when glibc took it (elsewhere
    nothing changes)."""
    libc = _libc()
    if libc is None:
        return False
    taken = bool(libc.mallopt(M_ARENA_MAX, arenas))
    taken = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and taken
    return bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and taken


def release_free_memory() -> bool:
    """Give the free pages inside the malloc arenas back to the system (glibc's
    ``malloc_trim``); True when some were. Freed memory in the middle of an arena stays
    resident otherwise: bench/soak.py at 400 items/s (glibc's default thresholds, arenas at
    130-170 MB with 40-70 MB of them free) measured resident memory 417 and 442 MB at
    minutes 2 and 6 without it, 415 and 423 MB with it every 15 s, each call handing back
    20-45 MB. With ``MMAP_THRESHOLD`` fixed less is left to hand back. It holds each
    arena's lock while it walks the free blocks (milliseconds to tens of them), so it runs
    with the WAL checkpoint, every 15 s by default (the maintenance runner)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False
    return bool(libc.malloc_trim(0))
