"""One stable colour per run, the same in every view.

Colours follow the order in which runs started (name as tie-break): a new run starts last, so
it takes the next colour and every run already there keeps its own for the life of the logdir
(by name order, a run sorting first would shift everyone; a hash of the name would collide in a
20-colour palette with a handful of runs, and resolving collisions depends on the other runs
again). The user's own picks (runs panel, kept in the browser) override these. Beyond the
palette's 20, hues a golden angle apart (a sweep of hundreds of runs gets as many distinct,
mid-dark colours, never the near-black of ever darker palette rounds).
"""

from __future__ import annotations

import colorsys
import itertools
import math
import re

PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
    "#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#5f3dc4",
    "#0b7285", "#a61e4d", "#5c940d", "#d9480f", "#495057",
]  # fmt: skip
HEX = re.compile(r"#[0-9a-fA-F]{6}")  # a colour a user may pick: what <input type=color> gives


def color_for_index(i: int) -> str:
    if i < len(PALETTE):
        return PALETTE[i]
    hue = (i * 0.381966) % 1.0  # the golden angle: each new hue far from all recent ones
    light = (0.38, 0.48, 0.30)[i % 3]  # readable on white, and told apart from a neighbour
    rgb = colorsys.hls_to_rgb(hue, light, 0.7)
    luma = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    dim = min(1.0, 0.68 / luma)  # yellows and greens are bright: no brighter than the palette's
    return "#{:02x}{:02x}{:02x}".format(*(round(c * dim * 255) for c in rgb))


def run_colors(names, start_times: dict | None = None) -> dict[str, str]:
    """``{run name: colour}`` for every name, assigned in order of ``start_times`` (name ->
    seconds; a run without one counts as the newest), then by name."""
    starts = start_times or {}

    def order(name):
        start = starts.get(name)
        return (math.inf if start is None else start, name)

    return {name: color_for_index(i) for i, name in enumerate(sorted(names, key=order))}


def with_picks(info: list[dict], picks) -> list[dict]:
    """RUNS_INFO entries with the user's colour picks (``{run: "#rrggbb"}``, from the
    browser) applied over each run's ``default_color``; anything else in ``picks`` is ignored."""
    picks = picks if isinstance(picks, dict) else {}
    out = []
    for r in info:
        pick = picks.get(r["name"])
        default = r.get("default_color", r["color"])
        color = pick if isinstance(pick, str) and HEX.fullmatch(pick) else default
        out.append({**r, "default_color": default, "color": color})
    return out


def rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def shade(hex_color: str, t: float) -> str:
    """``hex_color`` lightened towards white by ``t`` > 0, darkened towards black by ``t`` < 0."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    if t >= 0:
        r, g, b = (round(c + (255 - c) * t) for c in (r, g, b))
    else:
        r, g, b = (round(c * (1 + t)) for c in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def rank_shade(hex_color: str, index: int, total: int) -> str:
    """The colour of a run's ``index``-th rank line of ``total``: the first is ``hex_color``,
    the others alternately darker and lighter shades of it, up to 45 % away."""
    if index <= 0 or total <= 1:
        return hex_color
    step = 0.45 * ((index + 1) // 2) / (total // 2)
    return shade(hex_color, -step if index % 2 else step)


def line_colors(lines: list[tuple], run_color: dict[str, str]) -> list[str]:
    """One colour per line of a chart, given as ``(run, series key, rank)`` tuples (key and
    rank None for a plain tag of a single-file run).

    A run's first series keeps the run's colour (its swatch in the runs panel); each further
    ``add_scalars`` key of the run gets the next palette colour no run of the chart uses, so
    every run × key has its own colour. The ranks of a run × key are shades of its colour. The
    same lines always get the same colours.
    """
    ids: list[tuple[str, str | None]] = []
    for run, key, _rank in lines:
        if (run, key) not in ids:
            ids.append((run, key))
    runs = list(dict.fromkeys(run for run, _key in ids))
    base: dict[tuple[str, str | None], str] = {}
    used = {run_color.get(run) for run in runs}
    spare = (c for c in map(color_for_index, itertools.count()) if c not in used)
    seen: set[str] = set()
    for run, key in ids:
        if run not in seen and run in run_color:
            base[(run, key)] = run_color[run]
            seen.add(run)
        else:
            base[(run, key)] = next(spare)
    ranks: dict[tuple[str, str | None], list] = {}
    for run, key, rank in lines:
        ranks.setdefault((run, key), []).append(rank)
    out = []
    for run, key, rank in lines:
        order = ranks[(run, key)]
        out.append(rank_shade(base[(run, key)], order.index(rank), len(order)))
    return out
