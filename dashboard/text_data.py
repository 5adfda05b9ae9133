"""The Text view's work, as plain functions of provider values (no Dash callbacks): one run's
entries of a tag, the entry shown at a step, the newest entries of "show all steps", and texts
clipped to what a card can show.

A text is Markdown (TensorBoard's text plugin renders it so too); it reaches the browser only
as the source of a ``dcc.Markdown`` with raw HTML escaped (see :mod:`..views.text`).
"""

from __future__ import annotations

import time
from typing import NamedTuple

MAX_LISTED = 100  # entries per run and tag in "show all steps", newest first
MAX_CHARS = 50_000  # of one text shown on a card; longer ones are cut with a note
MAX_LISTED_CHARS = 400_000  # of all the texts one card lists (100 long texts would be MBs)


class Entry(NamedTuple):
    step: int
    wall: float
    text: str


def entries(data, run: str, tag: str) -> list[Entry]:
    """The run's texts of ``tag`` by step (the provider's ``(tag, step, wall, text)`` rows)."""
    out = []
    for row in data.texts(run, tag):
        _tag, step, wall, text = row
        out.append(Entry(int(step), float(wall), text if isinstance(text, str) else str(text)))
    out.sort(key=lambda e: e.step)
    return out


def newest(items: list[Entry], limit: int = MAX_LISTED, budget: int = MAX_LISTED_CHARS
           ) -> tuple[list[Entry], int]:  # fmt: skip
    """``(entries, total)``: the newest entries first, at most ``limit`` of them and no more
    than fit in ``budget`` characters (each counted as clipped; the newest always shown)."""
    out, used = [], 0
    for e in reversed(items[-limit:] if limit > 0 else []):
        used += min(len(e.text), MAX_CHARS)
        if out and used > budget:
            break
        out.append(e)
    return out, len(items)


def clip(text: str, limit: int = MAX_CHARS) -> tuple[str, str | None]:
    """``(text, note)``: the text cut to ``limit`` characters (not inside a fenced code block's
    closing marker: an open fence is closed), and a note saying so, or None."""
    if len(text) <= limit:
        return text, None
    cut = text[:limit]
    if cut.count("```") % 2:  # an open fence would swallow nothing more, but close it
        cut += "\n```"
    return cut, f"text cut: showing the first {limit:,} of {len(text):,} characters"


def listed_note(shown: int, total: int) -> str | None:
    """``"showing 100 of 340 steps (newest first)"`` when not every entry is listed."""
    if total <= shown:
        return None
    return f"showing {shown} of {total} steps (newest first)"


def when(wall: float) -> str:
    """A wall time as local date and time, for a card's header ('' when unusable)."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))
    except (OverflowError, OSError, ValueError):
        return ""
