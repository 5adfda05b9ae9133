"""What the Scalars view checks of a chart's state coming back from the browser, and the note
a chart carries for the runs it could not draw (no Dash here).

A chart's state (``ScalarsView.build``) lives in the browser and returns with every live tick,
click, zoom and export: a crafted request can send anything there, so those act only on a
state of the shape the builder gives (:func:`valid_state`). A run that fails to read is named
on its chart with the reason (:func:`problems_note`) while the other runs draw.
"""

from __future__ import annotations

import math
from html import escape

from flowlog.dashboard.scalars_data import RANK_MODES, X_TITLES
from flowlog.dashboard.untrusted import number


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _valid_entry(e) -> bool:
    """One line's live state, as :meth:`ScalarsView.build` writes it."""
    if not isinstance(e, dict) or not isinstance(e.get("run"), str):
        return False
    if not isinstance(e.get("tag"), str):
        return False
    if any(k in e and not _int(e[k]) for k in ("raw", "smooth", "nf", "band")):
        return False
    if "ranks" in e:
        last = e.get("rank_last")
        return (
            isinstance(e["ranks"], list) and all(_int(r) for r in e["ranks"])
            and isinstance(last, dict) and all(v is None or _int(v) for v in last.values())
            and all(k.lstrip("-").isdigit() for k in last)
        )  # fmt: skip
    ema_state = e.get("ema")
    return (
        _int(e.get("last_step")) and _num(e.get("wall0")) and ("raw" in e or "smooth" in e)
        and (e.get("rank") is None or _int(e["rank"]))
        and isinstance(ema_state, list) and len(ema_state) == 2 and all(map(_num, ema_state))
    )  # fmt: skip


def valid_state(state) -> bool:
    """Whether a chart's state from the browser has the shape :meth:`ScalarsView.build` gives
    it: a crafted request can send anything, and live updates, clicks, zooms and exports act
    only on states this module made."""
    if not isinstance(state, dict) or not isinstance(state.get("tag"), str):
        return False
    rng = state.get("range")
    weight = state.get("weight")
    return (
        isinstance(state.get("xmode"), str) and state["xmode"] in X_TITLES
        and state.get("ranks", "each") in RANK_MODES and _num(weight) and 0 <= weight < 1
        and isinstance(state.get("problems", {}), dict)
        and (rng is None or (isinstance(rng, list) and len(rng) == 2 and all(map(_num, rng))))
        and isinstance(state.get("grouped"), bool) and _int(state.get("appended", 0))
        and _int(state.get("seq", 0)) and isinstance(state.get("runs"), dict)
        and all(_valid_entry(e) for e in state["runs"].values())
    )  # fmt: skip


NOTE_CHARS = 70  # characters per line of a chart's problems note (~430 px at 11 px)
NOTE_LINE_PX = 15
NOTE_MAX_LINES = 4


def _wrap(text: str, width: int = NOTE_CHARS) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        while len(word) > width:  # a path or a long name: cut it
            if line:
                lines, line = lines + [line], ""
            lines.append(word[:width])
            word = word[width:]
        if line and len(line) + 1 + len(word) > width:
            lines, line = lines + [line], word
        else:
            line = f"{line} {word}" if line else word
    return lines + ([line] if line else [])


def problems_note(fig, problems: dict[str, str]) -> None:
    """The runs a chart could not draw and why, under its title (the figure grows by the
    note's height, so the plot and its legend keep their place); the full text is the
    note's tooltip."""
    if not problems:
        return
    lines = [ln for text in problems.values() for ln in _wrap(f"⚠ {text}")]
    if len(lines) > NOTE_MAX_LINES:
        lines = lines[: NOTE_MAX_LINES - 1] + [f"… {len(problems)} runs not drawn (hover)"]
    extra = NOTE_LINE_PX * len(lines) + 6
    margin = dict(fig.layout["margin"])  # as the chart's layout set them
    margin["t"] += extra
    title = {**(fig.layout.get("title") or {}), "yref": "container", "y": 1, "yanchor": "top"}
    title["pad"] = {"t": 10}
    fig.update_layout(height=fig.layout["height"] + extra, margin=margin, title=title)
    fig.add_annotation(
        text="<br>".join(escape(ln) for ln in lines),
        hovertext="<br>".join(escape(t) for t in problems.values()),
        xref="paper", yref="paper", x=0, y=1, xanchor="left", yanchor="bottom", yshift=6,
        xshift=10 - margin["l"],  # under the title, not the plot
        align="left", showarrow=False, font=dict(size=11, color="#8a3b00"),
        bgcolor="#fff4e0", bordercolor="#f0b060", borderwidth=1, borderpad=3,
    )  # fmt: skip


def range_of(value) -> tuple[float, float] | None:
    """A chart state's zoomed ``[lo, hi]`` as a tuple, or None (also for anything else)."""
    if isinstance(value, list) and len(value) == 2:
        lo, hi = (number(v, math.nan) for v in value)
        if not (math.isnan(lo) or math.isnan(hi)):
            return lo, hi
    return None


def step_of(value) -> int | None:
    """A step from a clicked point's customdata (a number, or its text), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return int(float(value))
    except (ValueError, OverflowError):
        return None
