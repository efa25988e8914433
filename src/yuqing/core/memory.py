"""The server process's memory: fewer malloc arenas for its many threads."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Ask glibc for at most ``arenas`` malloc arenas (its default is eight per core): each
    request thread otherwise gets an arena of its own, whose freed memory is rarely given
    back, and resident memory climbs over hours of pushes though nothing leaks. Call it
    before the threads start; True when glibc took it (elsewhere nothing changes)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        log.info("mallopt is not available: malloc arenas left as they are")
        return False
