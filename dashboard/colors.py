"""One stable colour per run, the same in every view.

Colours follow the sorted order of run names, so a run keeps its colour across page reloads
and views; with more runs than palette entries the palette repeats with a darker shade.
"""

from __future__ import annotations

PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
    "#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#5f3dc4",
    "#0b7285", "#a61e4d", "#5c940d", "#d9480f", "#495057",
]  # fmt: skip


def _darken(hex_color: str, factor: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(int(c * factor) for c in (r, g, b)))


def color_for_index(i: int) -> str:
    base = PALETTE[i % len(PALETTE)]
    rounds = i // len(PALETTE)
    return base if rounds == 0 else _darken(base, 0.75**rounds)


def run_colors(names) -> dict[str, str]:
    """``{run name: colour}`` for every name, assigned by sorted name."""
    return {name: color_for_index(i) for i, name in enumerate(sorted(names))}


def rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
