"""What the Graph view shows, decided by plain functions of the provider and control values.

Each Dash callback of :mod:`flowlog.dashboard.views.graph` is a few lines around one of these,
so the decisions (which run, which step, what is folded or selected, what is drawn) are tested
on real logs without a browser. Nothing here imports Dash: "leave this output alone" is ``None``
in a :class:`Navigation`, and "nothing to do" is a ``None`` result.

Values from the browser (run names, fold lists, steps, focus) are untrusted: a run name is only
looked up through the provider (never joined onto a path), and everything else is checked
before use. Reads go through ``data`` (a :class:`flowlog.provider_cache.CachedProvider`);
derived per-run values are cached with ``data.memo`` and, like every cached value, never mutated.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

import numpy as np

from flowlog import render
from flowlog.dashboard import graph_data as gd
from flowlog.dashboard import graph_figures as gf
from flowlog.dashboard import untrusted
from flowlog.provider import SERIES_SEP, ReadError, first_finding

MAX_DRAWN = render.READABLE_NODES  # nodes drawn when a run opens; bigger ones start folded
NO_RUNS = (
    "No runs yet, so no graph to show. Train one, e.g. `python examples/nan_debugging.py`, "
    "which logs its graph with writer.add_graph(graph)."
)
BLANK_SVG = {"key": "", "svg": ""}
_MEMO = "graph-view"  # namespace of this view's entries in data.memo

Stats = dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]  # node -> stat -> (steps, values)


# ---------------------------------------------------------------------------- reading runs
def is_run_name(name) -> bool:
    """Only a non-empty string can name a run (lists, numbers, None from a request cannot)."""
    return isinstance(name, str) and bool(name)


def graph_or_none(data, name) -> dict | None:
    """The run's graph description; None for no such run, an unreadable one or no graph.

    For callbacks that act on what is already shown: ``load`` reports why a run cannot be shown.
    """
    if not is_run_name(name):
        return None
    try:
        return data.graph(name)
    except (KeyError, ReadError):
        return None


def _read_stats(data, name: str) -> Stats:
    return {
        node: {
            stat: (np.asarray(s.step), np.asarray(s.value, dtype=float))
            for stat, s in data.watch_stats(name, node).items()
        }
        for node in data.watched_nodes(name)
    }


def node_stats(data, name: str) -> Stats:
    """Every watched node's statistics as ``(steps, values)`` arrays, read once per change."""
    return data.memo(name, (_MEMO, "stats"), lambda: _read_stats(data, name))


def watched_steps(stats: Stats) -> list[int]:
    """Every step at which any node logged any statistic, ascending: the step slider's stops."""
    arrays = [s[0] for per_node in stats.values() for s in per_node.values()]
    if not arrays:
        return []
    return [int(s) for s in np.unique(np.concatenate(arrays))]


def run_steps(data, name: str) -> list[int]:
    return data.memo(name, (_MEMO, "steps"), lambda: watched_steps(node_stats(data, name)))


def first_numerics(findings: list[dict]) -> dict | None:
    """The earliest non-finite finding (lowest step, then logged order), as a new dict."""
    first = first_finding(findings)
    if first is None:
        return None
    return {k: first.get(k) for k in ("node", "op", "phase", "step", "kind", "inputs")}


def loss_tag(scalar_tags) -> str | None:
    """The first scalar tag that is not a watch statistic: what the Scalars view should show."""
    plain = (t for t in scalar_tags if not t.startswith("watch/") and SERIES_SEP not in t)
    return next(plain, None)


def stat_scale(data, name: str, stat: str) -> render.ColorScale | None:
    """The colour scale of ``stat`` over the whole run (every watched node and step), so a
    colour means the same value at every step; None when nothing of ``stat`` was logged."""

    def build():
        arrays = [s[stat][1] for s in node_stats(data, name).values() if stat in s]
        if not arrays:
            return None
        return render.run_scale(np.concatenate(arrays), prefer_log=stat in gd.LOG_STATS)

    return data.memo(name, (_MEMO, "scale", stat), build)


def gradient_flow(desc, stats: Stats):
    """The gradient-flow heatmap: trainable variables in graph order × their gradient norm."""
    variables = gd.trainable_order(desc, stats.keys())
    grads = {v: stats[v]["grad_norm"] for v in variables if "grad_norm" in stats.get(v, {})}
    return gf.gradient_flow_figure(variables, grads)


# ---------------------------------------------------------------------------- folding, CLI
def render_options(folded, desc) -> dict:
    """Renderer options for a fold state; identical to what `flowlog export-graph` is given.

    ``folded`` comes from the browser, so only scopes that exist in ``desc`` are passed on.
    """
    known = set(gd.all_scopes(desc))
    wanted = [s for s in folded or [] if isinstance(s, str) and s in known]
    return {"collapse": tuple(gd.visible_folded(wanted)), "show_gradients": True}


def initial_folds(desc, max_nodes: int = MAX_DRAWN) -> list[str]:
    """Scopes folded when a run is opened: the gradient/optimizer machinery (as the CLI does)
    and, for a graph too big to read expanded, every scope at the deepest level that keeps
    at most ``max_nodes`` drawn nodes. Clicking a folded scope opens it."""
    folds = render.default_collapse(desc)
    depth = render.auto_depth(desc, max_nodes, collapse=folds, show_gradients=True)
    if depth is not None:
        folds += [s.path for s in render.scopes(desc) if s.level == max(depth, 0) + 1]
    return gd.visible_folded(folds)


def cli_command(logdir, run_name: str, folded, desc) -> str:
    """The `flowlog export-graph` command that writes the SVG the view's download gives."""
    return export_command(logdir, run_name, render_options(folded, desc)["collapse"])


def export_command(logdir, run_name: str, collapse, color=None, mark_nan=False) -> str:
    """:func:`cli_command` for ``collapse`` as :func:`render_options` gives it; ``color``
    ``(stat, step)`` and ``mark_nan`` add the view's colouring and NaN marks."""
    parts = ["flowlog", "export-graph", str(logdir), "--run", run_name, "--show-gradients"]
    for scope in collapse:
        parts += ["--collapse", scope]
    if color is not None:
        parts += ["--color-by", color[0], "--step", str(color[1])]
    if mark_nan:
        parts += ["--mark-nan"]
    parts += ["-o", "graph.svg"]
    return shlex.join(parts)


def _is_index(value) -> bool:
    """A slider position from the browser: a number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _str_list(value) -> list[str]:
    """A fold list from the browser, keeping only strings (render_options checks they exist)."""
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


# ---------------------------------------------------------------------------- choosing a run
def run_names(runs_info) -> list[str]:
    """Run names from the runs panel's RUNS_INFO store (names only: it comes from the browser)."""
    return [r["name"] for r in untrusted.runs_info(runs_info)]


def pick_run(names, selected, focus, current, trigger: str | None) -> str | None:
    """One run at a time: FOCUS's run when focus moved, else the current one (unless the
    selection moved away from it), else the first selected, else the first run.

    ``trigger`` is ``"focus"``, ``"selection"`` or anything else for what changed.
    """
    selected = [n for n in untrusted.names(selected) if n in names]
    if trigger == "focus" and isinstance(focus, dict) and focus.get("run") in names:
        return focus["run"]
    if current in names and (trigger != "selection" or current in selected):
        return current
    if selected:
        return selected[0]
    return names[0] if names else None


# ---------------------------------------------------------------------------- loading a run
@dataclass
class Shown:
    """What the page shows before a load: the browser's stores and controls (untrusted)."""

    loaded: dict = field(default_factory=dict)  # {"run", "focus"} the view was last loaded for
    selected: object = None
    folded: object = None
    steps: object = None
    step_index: object = None

    def __post_init__(self):
        if not isinstance(self.loaded, dict):
            self.loaded = {}


@dataclass
class Opened:
    """Everything a load sets: the slider, the NaN origin, folds, selection, the flow figure."""

    loaded: dict
    steps: list[int] = field(default_factory=list)
    step_index: int = 0
    origin: dict | None = None  # first non-finite finding, plus "tag" for the Scalars jump
    origin_op: str | None = None
    scopes: list[str] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)
    selected: str | None = None
    flow: object = None  # plotly figure
    message: str | None = None  # why nothing is shown, when nothing is

    @classmethod
    def nothing(cls, name, figure_message: str, message: str) -> Opened:
        """A run that cannot be shown, with ``message`` saying why."""
        return cls(
            loaded={"run": name, "focus": None},
            flow=gf.empty_figure(figure_message),
            message=message,
        )


def focus_to_apply(name, focus, shown: Shown, on_tab_or_focus: bool):
    """``(focus, same_run)`` for a load, or None when it would change nothing on screen.

    A focus (from a curve click or a NaN marker) is applied once: coming back to the tab
    with the same run and focus keeps the user's folds, selection and step.
    """
    focus = focus if isinstance(focus, dict) and focus.get("run") == name else None
    new_focus = focus is not None and focus != shown.loaded.get("focus")
    same_run = shown.loaded.get("run") == name
    if same_run and not new_focus and on_tab_or_focus:
        return None
    return (focus if new_focus else None), same_run


def _place(desc, index, steps, origin, focus, shown: Shown, same_run: bool, default_folds):
    """``(folded, selected, step_index)`` after a load.

    A newly opened run starts at its NaN origin (unfolded, selected, at its step) if it has one,
    else at the last step; reloading the same run keeps the user's state; a focus wins over both.
    """
    folded = _str_list(shown.folded) if same_run else list(default_folds)
    sel = shown.selected
    selected = sel if same_run and isinstance(sel, str) and sel in index else None
    idx = len(steps) - 1 if steps else 0
    if same_run and steps == shown.steps and _is_index(shown.step_index):
        idx = shown.step_index
    if origin and not same_run:
        if origin.get("node") in index:
            folded = gd.unfold_for(folded, index[origin["node"]])
            selected = origin["node"]
        if origin.get("step") is not None:
            idx = gd.nearest_index(steps, origin["step"])
    if focus:
        if focus.get("step") is not None:
            idx = gd.nearest_index(steps, focus["step"])
        node = focus.get("node")
        if isinstance(node, str) and node in index:
            selected = node
            folded = gd.unfold_for(folded, index[node])
    return folded, selected, idx


def open_run(data, name, focus, shown: Shown, on_tab_or_focus: bool) -> Opened | None:
    """The view's state for run ``name`` (None: leave the screen as it is).

    ``on_tab_or_focus``: the load was triggered by the tab being opened or by FOCUS, not by
    choosing a run — then a run already on screen is only changed by a new focus.
    """
    decided = focus_to_apply(name, focus, shown, on_tab_or_focus)
    if decided is None:
        return None
    focus, same_run = decided
    missing = f"no run named {name!r} in {data.location}" if name else NO_RUNS
    if not is_run_name(name):
        return Opened.nothing(name, "select a run", missing)
    try:
        return _open(data, name, focus, shown, same_run)
    except KeyError:
        return Opened.nothing(name, "select a run", missing)
    except ReadError as exc:
        return Opened.nothing(name, "this run cannot be read", untrusted.problem(name, exc, data))


HOW_TO_LOG = (
    "To log one, call writer.add_graph(graph) with a flowlog engine graph, or "
    "writer.add_graph(model, example_input) for a PyTorch model."
)


def runs_with_graph(data) -> list[str]:
    """Names of the runs that logged a graph (unreadable runs are left out)."""
    out = []
    for info in data.runs():
        try:
            if data.graph(info.name) is not None:
                out.append(info.name)
        except (KeyError, ReadError):
            continue
    return out


def no_graph_message(data, name: str) -> str:
    """Why nothing is drawn for run ``name``: which runs do have a graph, and how to log one."""
    others = runs_with_graph(data)
    if others:
        where = f"Runs with a graph: {', '.join(others[:8])}{' …' if len(others) > 8 else ''}."
    else:
        where = f"No run in {data.location} logged a graph."
    return f"Run {name!r} logged no graph. {where} {HOW_TO_LOG}"


def _open(data, name: str, focus, shown: Shown, same_run: bool) -> Opened:
    desc = data.graph(name)
    if desc is None:
        return Opened.nothing(name, "this run logged no graph", no_graph_message(data, name))
    try:
        index = gd.node_index(desc)
        default_folds = data.memo(name, (_MEMO, "initial-folds"), lambda: initial_folds(desc))
    except ValueError as exc:  # GraphDescriptionError, or a description the renderer rejects
        return Opened.nothing(name, "unusable graph", f"run {name!r}: {exc}")
    stats = node_stats(data, name)
    steps = run_steps(data, name)
    origin = first_numerics(data.numerics(name))
    folded, selected, idx = _place(
        desc, index, steps, origin, focus, shown, same_run, default_folds
    )
    op = None
    if origin:
        op = origin.get("op") or index.get(origin["node"], {}).get("op", "?")
        origin["tag"] = loss_tag(data.tags(name, kind="scalar"))
    old_focus = shown.loaded.get("focus")
    return Opened(
        loaded={"run": name, "focus": (focus or old_focus) if same_run else focus},
        steps=steps,
        step_index=idx,
        origin=origin,
        origin_op=op,
        scopes=gd.all_scopes(desc),
        folded=folded,
        selected=selected,
        flow=gradient_flow(desc, stats),
    )


# ---------------------------------------------------------------------------- live runs
@dataclass
class Followed:
    steps: list[int]
    step_index: int
    flow: object  # plotly figure


def follow(data, name, old_steps, step_index) -> Followed | None:
    """New watched steps of a run still being written (None: nothing new, or not running).

    The slider follows the newest step if it was at the end, else stays where the user put it.
    """
    if not is_run_name(name):
        return None
    try:
        if data.run_info(name).status != "running":
            return None
        steps = run_steps(data, name)
        old = old_steps if isinstance(old_steps, list) else []
        if steps == old:
            return None
        at_end = not old or not _is_index(step_index) or step_index >= len(old) - 1
        desc = data.graph(name) or {"nodes": []}
        flow = gradient_flow(desc, node_stats(data, name))
    except (KeyError, ReadError, gd.GraphDescriptionError):
        return None
    return Followed(steps, len(steps) - 1 if at_end else step_index, flow)


# ---------------------------------------------------------------------------- navigation
@dataclass
class Navigation:
    """New selection / fold list / search status; None leaves that output as it is."""

    selected: str | None = None
    folded: list[str] | None = None
    status: str | None = None
    hits: dict | None = None  # {"names": [...], "i": shown one} for the search's ‹ › buttons


def navigate(desc, folded, event: str, value) -> Navigation | None:
    """What a click in the drawing (``"click"``, the clicked element's id), a search
    (``"search"``, the query), the search's next/previous buttons (``"next"``/``"prev"``, the
    hits store), a node link (``"nav"``, its name) or a fold button (``"fold"``, its scope)
    changes; None when it changes nothing.

    Opening a node (search, link) unfolds every scope hiding it.
    """
    if desc is None:
        return None
    index = gd.node_index(desc)
    folded = _str_list(folded)
    if event == "click":
        return _clicked(index, folded, value)
    if event == "search":
        return _searched(desc, index, folded, value)
    if event in ("next", "prev"):
        return _stepped(index, folded, value, 1 if event == "next" else -1)
    if event == "nav" and isinstance(value, str) and value in index:
        return Navigation(selected=value, folded=gd.unfold_for(folded, index[value]))
    if event == "fold" and value in gd.all_scopes(desc) and value not in folded:
        return Navigation(folded=folded + [value])
    return None


def _clicked(index, folded: list[str], click) -> Navigation | None:
    """A click in the drawing: a folded scope opens, a node is selected (ids from graph.js)."""
    target = click.get("id") if isinstance(click, dict) else None
    target = target if isinstance(target, str) else ""
    if target.startswith("scope:"):
        scope = target[len("scope:") :]
        return Navigation(folded=[s for s in folded if s != scope])
    if target.startswith("node:") and target[5:] in index:
        return Navigation(selected=target[5:])
    return None


MAX_HITS = 200  # matches kept for next/previous (the store goes to the browser)


def _show_hit(index, folded: list[str], names: list[str], i: int) -> Navigation:
    """Select match ``i`` of ``names`` (unfolding it); the status says which of how many."""
    found = names[i]
    status = f"{i + 1} of {len(names)}: {found}" if len(names) > 1 else f"found {found}"
    hits = {"names": names, "i": i}
    return Navigation(found, gd.unfold_for(folded, index[found]), status, hits)


def _searched(desc, index, folded: list[str], query) -> Navigation:
    """The best match is selected and unfolded; the status says how many others matched."""
    query = query if isinstance(query, str) else ""
    hits = gd.search(desc, query)[:MAX_HITS]
    if not hits:
        status = f"no node matches {query!r}" if query else ""
        return Navigation(status=status, hits={"names": [], "i": 0})
    return _show_hit(index, folded, hits, 0)


def _stepped(index, folded: list[str], store, delta: int) -> Navigation | None:
    """The next/previous match of the last search (wrapping); the store is from the browser."""
    store = store if isinstance(store, dict) else {}
    names = [n for n in _str_list(store.get("names")) if n in index]
    if not names:
        return None
    i = store.get("i") if _is_index(store.get("i")) else 0
    return _show_hit(index, folded, names, (int(i) + delta) % len(names))


# ---------------------------------------------------------------------------- drawing
@dataclass
class Drawing:
    svg: dict = field(default_factory=lambda: dict(BLANK_SVG))  # {"key", "svg"} for graph.js
    legend: object = None  # list of strings, or one string saying why nothing is drawn
    cli: str | None = None
    step_label: str = ""
    key: dict | None = None  # what the HTML legend shows (graph_legend.key_items)


def step_at(steps, step_index) -> int | None:
    """The watched step the slider points at (clamped), or None with no (usable) steps."""
    if not isinstance(steps, list) or not steps:
        return None
    try:
        i = min(max(int(step_index or 0), 0), len(steps) - 1)
        return int(steps[i])
    except (TypeError, ValueError):
        return None


def legend(stat: str, step, values: dict, nonfinite: list[str]) -> list[str]:
    """The line under the graph: what the colours mean at this step, and what is non-finite."""
    if values:
        out = [
            f"colour: {gd.COLOR_STATS[stat]} at step {step} ({len(values)} nodes; grey = no value)"
        ]
    elif step is not None:
        out = [f"no {gd.COLOR_STATS[stat]} logged at step {step}"]
    else:
        out = ["no watch statistics in this run: use writer.watch(sess, every=N)"]
    if nonfinite:
        out.append(f" · non-finite at this step: {', '.join(nonfinite)}")
    return out


def origin_marks(desc, index, origin) -> tuple[tuple, tuple]:
    """``(marked, highlight)``: the NaN origin and everything feeding it in red, the origin
    itself also outlined."""
    node = origin.get("node") if isinstance(origin, dict) else None
    if not isinstance(node, str) or node not in index:
        return (), ()
    return (node, *render.feeders(desc, node)), (node,)


def drawn_kinds(desc, collapse) -> list[str]:
    """Kinds of the description nodes drawn (not hidden in a folded scope), in KINDS order."""
    folded = set(collapse)
    kinds = {
        n.get("kind") if n.get("kind") in render.KINDS else "op"
        for n in gd.check_description(desc)
        if not folded.intersection(gd.scope_chain(gd.node_scope(n)))
    }
    return [k for k in render.KINDS if k in kinds]


def key_info(desc, opts, stat, step, scale, marked) -> dict:
    """What the HTML legend beside the drawing shows, as plain data (no Dash here)."""
    return {
        "kinds": drawn_kinds(desc, opts["collapse"]),
        "folded": bool(opts["collapse"]),
        "marked": bool(marked),
        "stat": gd.COLOR_STATS[stat],
        "step": step,
        "scale": scale,
    }


def overlay_options(data, name, desc, index, stat, step, origin) -> tuple[dict, list[str]]:
    """Renderer options colouring by ``stat`` at ``step`` (one scale for the run) and marking
    the NaN origin: what the view draws and `export-graph --color-by S --step N --mark-nan`
    writes. Also the nodes whose value is non-finite."""
    values, nonfinite = {}, []
    if step is not None:
        values, nonfinite = gd.overlay_values(node_stats(data, name), stat, step)
    values = {k: v for k, v in values.items() if k in index}
    marked, highlight = origin_marks(desc, index, origin)
    opts: dict = {"marked": marked, "highlight": highlight}
    if values:
        scale = stat_scale(data, name, stat)
        opts.update(values=values, scale=scale, value_label=f"{stat} @ step {step}")
    return opts, nonfinite


def draw(data, name, folded, stat, step_index, origin, steps) -> Drawing:
    """The SVG (coloured by ``stat`` at the slider's step, NaN origin marked), its legend, the
    equivalent CLI command and the step label. Unknown runs draw nothing."""
    desc = graph_or_none(data, name)
    if desc is None:
        return Drawing()
    try:
        index = gd.node_index(desc)
        opts = render_options(folded, desc)
        step = step_at(steps, step_index)
        stat = stat if stat in gd.COLOR_STATS else "grad_norm"
        over, nonfinite = overlay_options(data, name, desc, index, stat, step, origin)
        values = over.get("values", {})
        svg = render.render(
            desc,
            format="svg",
            legend=False,  # the view's legend is HTML beside the drawing
            compact=True,  # fits the canvas at a readable size more often
            **over,
            **opts,
        )
    except (render.DotNotFound, render.DotError, ValueError, TypeError, ReadError) as exc:
        # missing `dot` (install hint) or a description the renderer rejects (names the node)
        return Drawing(legend=f"cannot draw this graph: {exc}")
    except KeyError:
        return Drawing()  # the run went away meanwhile
    svg_text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    key = f"{name}|{','.join(opts['collapse'])}|{stat}|{step}|{len(svg_text)}"  # graph.js redraws
    return Drawing(
        svg={"key": key, "svg": svg_text},
        legend=legend(stat, step, values, nonfinite),
        cli=export_command(
            data.location,
            name,
            opts["collapse"],
            (stat, step) if values else None,
            bool(over["marked"]),
        ),
        step_label=f"step {step}" if step is not None else "no watched steps",
        key=key_info(desc, opts, stat, step, over.get("scale"), over["marked"]),
    )


def download(data, name, folded, stat=None, step=None, origin=None) -> tuple[bytes, str] | None:
    """``(svg bytes, file name)`` of the graph as folded (and coloured by ``stat`` at ``step``,
    NaN origin marked, when given): the bytes `flowlog export-graph` writes with the command
    shown under the graph."""
    desc = graph_or_none(data, name)
    if desc is None:
        return None
    try:
        over = {}
        if stat is not None:
            stat = stat if stat in gd.COLOR_STATS else "grad_norm"
            index = gd.node_index(desc)
            over = overlay_options(data, name, desc, index, stat, step, origin)[0]
        svg = render.render(desc, format="svg", **over, **render_options(folded, desc))
    except (render.DotNotFound, render.DotError, ValueError, TypeError, ReadError):
        return None  # the drawing above already says why (Drawing.legend)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return svg, f"{safe}-graph.svg"


def jump_focus(name, origin) -> dict | None:
    """The FOCUS that shows the NaN origin's step (and loss curve) in the Scalars view."""
    if not isinstance(origin, dict) or not origin:
        return None
    return {
        "run": name,
        "tag": origin.get("tag"),
        "step": origin.get("step"),
        "node": origin.get("node"),
    }
