"""CPU time of a process tree, from ``/proc``: what one request costs a server."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def process_table() -> tuple[dict[int, list[int]], dict[int, int]]:
    """Every process's children, and its user + system CPU ticks."""
    children: dict[int, list[int]] = defaultdict(list)
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        pid = int(stat.parent.name)
        children[int(fields[1])].append(pid)  # after the name: state, ppid, ...
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    return children, ticks


def descendants(root: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """``root`` and its live descendants.

    By tree, not by session or process group: BentoML's workers run in sessions
    of their own.
    """
    if children is None:
        children = process_table()[0]
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of ``root`` and its live descendants."""
    children, ticks = process_table()
    return sum(ticks.get(pid, 0) for pid in descendants(root, children)) / TICKS_PER_S
