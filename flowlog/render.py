"""Graph description (contract 1) → DOT text → SVG/PNG/PDF through Graphviz's ``dot``.

Everything here works on the plain description dict, never on live engine objects, so the CLI
and the dashboard can render any logged graph, including hand-written ones that only carry
``name``/``op``/``inputs`` per node.

Folding: a folded scope becomes one node (``id="scope:<path>"``, class ``fl-scope``) labelled with
its short name and how many description nodes it holds; edges crossing its border are merged and
labelled with their count. Scopes fold by an explicit list (``collapse``), by nesting ``depth``
and, unless ``show_gradients``, the gradient/optimizer machinery folds by default.

SVG contract (used by the dashboard): each visible description node is a ``<g>`` with
``id="node:<full name>"``, ``class="node fl-node fl-kind-<kind>"`` and ``<title>`` = full name;
scope clusters carry ``id="cluster:<path>"`` and class ``fl-cluster``.

This module is the public face and runs the stages, each in its own module:

- ``render_desc``: parse and validate the description, the scope tree;
- ``render_fold``: what folds, which element each node is drawn as, merged and bundled edges;
- ``render_style``: attributes of nodes, folded scopes, clusters and edges; the colour scale;
- ``render_emit``: the DOT text (``render_syntax`` does its escaping).
"""

from __future__ import annotations

from collections.abc import Mapping

from flowlog import render_emit
from flowlog.render_desc import KINDS, ScopeInfo, default_collapse, scopes, shape_label
from flowlog.render_fold import (
    auto_depth,
    count_visible,
    edges,
    feeders,
    fold,
    layout,
    make_plan,
    resolve,
    resolve_marks,
)
from flowlog.render_style import (
    COLOR_STATS,
    HIGHLIGHT_COLOR,
    LOG_STATS,
    MARK_COLOR,
    NAN_COLOR,
    ColorScale,
    Marks,
    color_scale,
    format_value,
    overlay,
    run_scale,
    stat_overlay,
)
from flowlog.render_syntax import Raw

#: Graphs drawing more nodes than this open folded (dashboard) or export folded (CLI): about
#: what a reader takes in on one screen (a ResNet-18, 172 nodes, opens with its blocks folded).
READABLE_NODES = 50

__all__ = [
    "COLOR_STATS",
    "LOG_STATS",
    "DOT_TIMEOUT",
    "FAST_LAYOUT",
    "FAST_THRESHOLD",
    "FORMATS",
    "HIGHLIGHT_COLOR",
    "INSTALL_HINT",
    "KINDS",
    "LINE_THRESHOLD",
    "MARK_COLOR",
    "NAN_COLOR",
    "ColorScale",
    "DotError",
    "DotNotFound",
    "ScopeInfo",
    "auto_depth",
    "color_scale",
    "count_visible",
    "default_collapse",
    "feeders",
    "fold",
    "format_value",
    "render",
    "resolve",
    "run_dot",
    "run_scale",
    "stat_overlay",
    "scopes",
    "shape_label",
    "to_dot",
]

FORMATS = ("svg", "dot", "png", "pdf")

INSTALL_HINT = (
    "Graphviz's `dot` program was not found on PATH; install Graphviz "
    "(Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install graphviz`, "
    "conda: `conda install graphviz`)"
)
# Seconds one `dot` run may take. Generous: the CLI may be asked to draw everything, and a
# 10,000-node graph expanded lays out in seconds with FAST_LAYOUT; this only stops a runaway
# layout from holding a dashboard worker forever.
DOT_TIMEOUT = 300.0


class DotNotFound(RuntimeError):
    """Graphviz's ``dot`` executable is missing; the message says what to install."""


class DotError(RuntimeError):
    """``dot`` ran but rejected the input, crashed or timed out; carries its stderr."""


# Layout settings for big graphs, measured in benchmarks/render.py: capping network-simplex
# positioning (nslimit) bounds dot's time; above LINE_THRESHOLD drawn nodes straight edges also
# skip spline routing, which dominates (minutes) on dense expanded graphs. mclimit and
# remincross=false were measured too and do not pay off (remincross=false is 4× slower).
FAST_LAYOUT = {"nslimit": 0.2}
COMPACT = {"ranksep": 0.3}  # with compact=True (edge labels then take no rank of their own)
FAST_THRESHOLD = 300  # visible nodes above which FAST_LAYOUT applies when fast=None
LINE_THRESHOLD = 400  # ... and above which fast layouts use splines=line


def _layout_attrs(fast: bool | None, drawn: int) -> dict[str, object]:
    """Graph attributes that trade layout quality for dot's speed on big graphs."""
    if fast is None:
        fast = drawn > FAST_THRESHOLD
    if not fast:
        return {}
    out: dict[str, object] = {
        k: Raw(str(v)) if isinstance(v, str) else v for k, v in FAST_LAYOUT.items()
    }
    if drawn > LINE_THRESHOLD:
        out["splines"] = Raw("line")
    return out


def to_dot(
    desc,
    *,
    collapse=(),
    depth: int | None = None,
    show_gradients: bool = False,
    values: Mapping[str, float] | None = None,
    value_label: str = "",
    value_log: bool = False,
    scale: ColorScale | None = None,
    marked=(),
    highlight=(),
    legend: bool = True,
    expand=(),
    rankdir: str = "TB",
    edge_labels: bool = True,
    fast: bool | None = None,
    max_fan: int | None = 12,
    compact: bool = False,
) -> str:
    """DOT text for a graph description; the same arguments always give the same text.

    ``values`` (node name → float) colours nodes on a viridis scale spanning them (``value_log``
    for log10) or on ``scale`` when given (:func:`run_scale`: fixed over a run's steps);
    a folded scope shows the largest finite value inside, or NaN/Inf if any is non-finite.
    ``marked`` (e.g. a NaN origin and its feeders) is drawn red and doubled; ``highlight``
    (e.g. the selected node) gets a thick blue outline; both accept node names or scope paths
    and mark the folded scope that hides them. ``expand`` keeps scopes (and their parents)
    open despite ``depth``/default folding. An element with more than ``max_fan`` distinct
    neighbours on one side (a hub) gets those edges bundled per outermost foreign cluster
    (``ltail``/``lhead``, class ``fl-bundled``); ``None`` never bundles. Gradient → gradient
    edges are laid out reversed (drawn with ``dir=back``) so each gradient sits next to the
    forward op it belongs to instead of below the whole model. ``fast`` applies
    ``FAST_LAYOUT`` (default: when more than ``FAST_THRESHOLD`` nodes are drawn), plus straight
    edges above ``LINE_THRESHOLD`` drawn nodes. ``compact`` (the dashboard's drawing) places
    edge labels after layout and ranks closer, so a graph is about a quarter less tall.
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be TB, LR, BT or RL, got {rankdir!r}")
    # Validation order (and so which error a bad call gets) follows the argument order.
    plan = make_plan(desc, collapse, depth, show_gradients, expand)
    marks = Marks(
        resolve_marks("marked", marked, plan), resolve_marks("highlight", highlight, plan)
    )
    ov = overlay(values, plan, value_log, scale)
    lay = layout(plan)
    return render_emit.dot_text(
        plan,
        lay,
        edges(plan, max_fan),
        ov,
        marks,
        rankdir=rankdir,
        layout_attrs={**_layout_attrs(fast, lay.visible_count), **(COMPACT if compact else {})},
        edge_labels=edge_labels,
        value_label=value_label,
        show_legend=legend,
        compact=compact,
    )


# --------------------------------------------------------------------------- running dot


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"unknown output format {format!r}; use one of {', '.join(FORMATS)}")


def run_dot(dot_text: str, format: str = "svg", *, timeout: float | None = None) -> bytes:
    """Run Graphviz's ``dot`` on DOT text; ``DotNotFound`` with an install hint if missing,
    ``DotError`` with dot's stderr if it fails or runs past ``timeout`` (``DOT_TIMEOUT``)."""
    import subprocess  # here, not at the top: importing the renderer stays cheap (~3 ms less)

    _check_format(format)
    timeout = DOT_TIMEOUT if timeout is None else timeout
    try:
        proc = subprocess.run(
            ["dot", "-T" + format],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
        )
    except FileNotFoundError as e:
        raise DotNotFound(INSTALL_HINT) from e
    except subprocess.TimeoutExpired:
        raise DotError(
            f"dot failed: no result after {timeout:g} s; fold the graph (depth, collapse)"
        ) from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
        raise DotError(f"dot failed: {msg}")
    return proc.stdout


def render(desc, format: str = "svg", **options) -> bytes:
    """Render a description: ``format`` is ``svg``, ``png``, ``pdf`` or ``dot`` (DOT text
    itself, without running Graphviz). ``options`` are those of ``to_dot``."""
    _check_format(format)
    text = to_dot(desc, **options)
    if format == "dot":
        return text.encode("utf-8")
    return run_dot(text, format)
