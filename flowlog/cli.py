"""The ``flowlog`` command: list runs, export a run's graph (SVG/DOT/PNG/PDF) and scalars,
import TensorBoard logdirs, and serve exported models (``flowlog serve``, :mod:`flowlog.serving`).

Reads logs only through the data provider (:mod:`flowlog.provider`). Every failure the user
can cause (missing path, unknown run or tag, no graph logged, unknown scope, no ``dot``) ends
with a one-line ``flowlog: error: …`` on stderr and exit status 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import shlex
import sys
import time
import warnings

import flowlog
from flowlog import export, render
from flowlog.backends import open_logdir, run_location
from flowlog.provider import DataProvider, ReadError, first_finding
from flowlog.serving import server as serving_server

GRAPH_FORMATS = {".svg": "svg", ".dot": "dot", ".gv": "dot", ".png": "png", ".pdf": "pdf"}
SCALAR_FORMATS = {".csv": "csv", ".json": "json"}


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


# --------------------------------------------------------------------------- opening logs


def _open(path: str) -> tuple[DataProvider, str | None]:
    """A logdir, a run directory, or one run's database file → (its provider, that run's
    name or None for a whole logdir)."""
    if not os.path.exists(path):
        raise CliError(f"path does not exist: {path}")
    try:
        logdir, name = run_location(path)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    ld = open_logdir(logdir, cache=False)
    if name is None:
        return ld, None
    if name not in _run_names(ld):
        why = next((w for w in ld.warnings() if os.path.abspath(path) in w), None)
        reason = why.split(": ", 1)[1] if why and ": " in why else "unreadable"
        raise CliError(f"{path} is not a flowlog log: {reason}")
    return ld, name


def _run_names(ld: DataProvider) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reported through ld.warnings() instead
        return [r.name for r in ld.runs()]


def _no_runs(path: str, ld: DataProvider) -> CliError:
    unreadable = ld.unreadable()
    if unreadable:  # e.g. TensorBoard event files without the tensorboard package
        first = unreadable[0]
        why = f" ({len(unreadable)} run(s) found but unreadable: {first.name}: {first.reason})"
        return CliError(f"no readable runs under {path}{why}")
    found = ld.warnings()
    # the reader's warnings read "skipped PATH: why": say "skipped" once
    first = found[0].removeprefix("skipped ") if found else ""
    skipped = f" (skipped {len(found)} unreadable file(s): {first})" if found else ""
    return CliError(f"no flowlog runs under {path}{skipped}")


def _pick_runs(path: str, wanted: list[str] | None) -> tuple[DataProvider, list[str]]:
    ld, single = _open(path)
    if single is not None:
        if wanted and any(w != single for w in wanted):
            bad = next(w for w in wanted if w != single)
            raise CliError(f"no run named {bad!r} in {path}; it holds the run {single!r}")
        return ld, [single]
    names = _run_names(ld)
    if not names:
        raise _no_runs(path, ld)
    if not wanted:
        return ld, names
    for w in wanted:
        if w not in names:
            raise CliError(f"no run named {w!r} under {path}; runs: {', '.join(names)}")
    return ld, list(dict.fromkeys(wanted))


def _format_of(out: str, given: str | None, table: dict[str, str], default: str) -> str:
    if given:
        return given
    if out == "-":
        return default
    ext = os.path.splitext(out)[1].lower()
    if ext not in table:
        known = ", ".join(sorted(table))
        raise CliError(
            f"cannot tell the format of {out!r} from its extension ({known}); use --format"
        )
    return table[ext]


def _write(out: str, data: bytes) -> None:
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        with open(out, "wb") as f:
            f.write(data)
    except OSError as e:
        raise CliError(f"cannot write {out}: {e.strerror or e}") from None


# --------------------------------------------------------------------------- commands


def _status_cell(row: dict) -> str:
    """``finished``, or for a run of several ranks ``crashed (rank 1 crashed; 2 ranks)``."""
    ranks = row["ranks"]
    if not ranks:
        return row["status"]
    odd = [f"rank {r['rank']} {r['status']}" for r in ranks if r["status"] != "finished"]
    detail = "; ".join(odd[:3] + [f"{len(ranks)} ranks"])
    return f"{row['status']} ({detail})"


def user_tags_first(labels: list[str]) -> list[str]:
    """The user's own tags, then those ``writer.watch`` logs (``watch/...``): a table cut at 60
    characters otherwise showed only watch tags."""
    return sorted(labels, key=lambda t: t.startswith("watch/"))


def unknown_tag(tag: str, known: set[str], path: str) -> CliError:
    """No such tag: the closest few by name (difflib), not every tag the runs hold."""
    near = difflib.get_close_matches(tag, sorted(known), n=3, cutoff=0.5)
    if near:
        hint = "did you mean " + ", ".join(repr(t) for t in near) + "?"
    elif known:
        hint = f"the runs hold {len(known)} tags: `flowlog runs {shlex.quote(path)}` lists them"
    else:
        hint = "the selected runs logged no scalars"
    return CliError(f"no scalar tag {tag!r} in the selected runs; {hint}")


def cmd_runs(args) -> int:
    ld, names = _pick_runs(args.path, None)
    rows = []
    for name in names:
        info = ld.run_info(name)
        tags = list(ld.tags(name).values())
        steps = max((t.count for t in tags if t.kind == "scalar"), default=0)
        rows.append(
            {
                "run": name,
                "start_time": info.start_time,
                "status": info.status,
                "ranks": [{"rank": r.rank, "status": r.status, "host": r.host} for r in info.ranks],
                "steps": steps,
                "last_step": info.last_step,
                "tags": user_tags_first([t.label for t in tags]),
                "graph": ld.graph(name) is not None,
            }
        )
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    header = ("RUN", "STARTED", "STATUS", "STEPS", "LAST STEP", "GRAPH", "TAGS")
    table = [header]
    for r in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["start_time"]))
        tags = ", ".join(r["tags"])
        if len(tags) > 60:
            tags = tags[:57] + "..."
        table.append(
            (
                r["run"],
                started,
                _status_cell(r),
                str(r["steps"]),
                "-" if r["last_step"] is None else str(r["last_step"]),
                "yes" if r["graph"] else "no",
                f"{len(r['tags'])}: {tags}" if r["tags"] else "0",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)] + [row[-1]]
        sys.stdout.write("  ".join(cells).rstrip() + "\n")
    for w in ld.warnings():
        sys.stderr.write(f"flowlog: warning: {w}\n")
    return 0


def _graph_overlay(ld, name: str, desc, args) -> dict:
    """Renderer options for --color-by/--step and --mark-nan: the Graph view's colouring (one
    scale over the whole run, from flowlog.render_style) and its NaN-origin marks."""
    options: dict = {}
    if args.color_by:
        series = {}
        for node in ld.watched_nodes(name):
            stat = ld.watch_stats(name, node).get(args.color_by)
            if stat is not None and len(stat.step):
                series[node] = (stat.step, stat.value)
        if not series:
            raise CliError(f"run {name!r} logged no {args.color_by} (writer.watch)")
        steps = sorted({int(s) for st, _ in series.values() for s in st})
        step = steps[-1] if args.step is None else args.step
        names = {n["name"] for n in desc["nodes"]}
        values, scale = render.stat_overlay(series, args.color_by, step)
        values = {k: v for k, v in values.items() if k in names}
        if values:  # nothing logged by that step: drawn plain, as the Graph view does
            options.update(values=values, scale=scale, value_label=f"{args.color_by} @ step {step}")
    elif args.step is not None:
        raise CliError("--step needs --color-by STAT")
    if args.mark_nan:
        first = first_finding(ld.numerics(name))
        if first is None:
            sys.stderr.write(f"flowlog: run {name!r} has no non-finite value to mark\n")
        else:
            node = first.get("node")
            if node in {n["name"] for n in desc["nodes"]}:
                options.update(marked=(node, *render.feeders(desc, node)), highlight=(node,))
    return options


def cmd_export_graph(args) -> int:
    ld, single = _open(args.path)
    if single is not None:
        name = single
        if args.run is not None and args.run != single:
            raise CliError(f"no run named {args.run!r} in {args.path}; it holds the run {single!r}")
    else:
        names = _run_names(ld)
        if not names:
            raise _no_runs(args.path, ld)
        if args.run is None:
            if len(names) > 1:
                raise CliError(
                    f"{args.path} holds {len(names)} runs; choose one with --run: "
                    + ", ".join(names)
                )
            name = names[0]
        elif args.run not in names:
            raise CliError(f"no run named {args.run!r} under {args.path}; runs: {', '.join(names)}")
        else:
            name = args.run
    desc = ld.graph(name)
    if desc is None:
        raise CliError(f"run {name!r} has no graph logged (SummaryWriter.add_graph)")

    out = args.output or name.replace("/", "_") + ".svg"
    fmt = _format_of(out, args.format, GRAPH_FORMATS, "svg")
    options = {
        "collapse": args.collapse or (),
        "depth": args.depth,
        "show_gradients": args.show_gradients,
        "legend": not args.no_legend,
        "rankdir": args.rankdir,
        **_graph_overlay(ld, name, desc, args),
    }
    if args.depth is None and args.max_nodes:
        # dot's time grows steeply with size: fold big graphs unless asked not to.
        drawn = render.count_visible(
            desc, collapse=options["collapse"], show_gradients=args.show_gradients
        )
        if drawn > args.max_nodes:
            options["depth"] = render.auto_depth(
                desc,
                args.max_nodes,
                collapse=options["collapse"],
                show_gradients=args.show_gradients,
            )
            sys.stderr.write(
                f"flowlog: graph has {drawn} nodes to draw; folded to depth {options['depth']} "
                "(use --depth N, or --max-nodes 0 to draw everything)\n"
            )
    try:
        data = render.render(desc, fmt, **options)
    except ValueError as e:
        raise CliError(str(e)) from None
    _write(out, data)
    if out != "-":
        sys.stderr.write(f"flowlog: wrote {out} ({fmt}, run {name!r})\n")
    return 0


def cmd_export_scalars(args) -> int:
    ld, names = _pick_runs(args.path, args.run)
    fmt = _format_of(args.output, args.format, SCALAR_FORMATS, "csv")
    selected: list[tuple[str, str]] = []
    all_tags: set[str] = set()
    for name in names:
        infos = ld.tags(name, "scalar").values()
        all_tags.update(t.label for t in infos)
        for info in infos:  # --tag takes the tag as listed: add_scalars series as main/key
            if not args.tag or info.label in args.tag or info.tag in args.tag:
                selected.append((name, info.tag))
    for tag in args.tag or ():
        if tag not in all_tags:
            raise unknown_tag(tag, all_tags, args.path)

    series = []
    for name, tag in selected:
        ranks = [r.rank for r in ld.run_info(name).ranks] or [None]
        for rank in ranks:  # every rank of a torchrun run, each its own series
            try:
                s = ld.scalars(name, tag) if rank is None else ld.scalars(name, tag, rank=rank)
            except KeyError:
                continue  # this rank did not log the tag
            series.append(export.ExportSeries(name, tag, s.step, s.wall, s.value, rank=rank))
    data = export.encode(series, fmt).encode("utf-8")
    _write(args.output, data)
    if args.output != "-":
        sys.stderr.write(f"flowlog: wrote {len(series)} series to {args.output}\n")
    return 0


# --------------------------------------------------------------------------- parser


def _depth(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def cmd_import_tensorboard(args) -> int:
    """Convert every TensorBoard run of SRC into a flowlog run under DST (names kept; the
    run "." is named after SRC). Re-running appends what the event files gained since."""
    from flowlog.tensorboard_cache import TensorBoardCache

    src, dst = os.path.realpath(args.src), os.path.realpath(args.dst)
    if not os.path.isdir(src):
        raise CliError(f"not a directory: {args.src}")
    if dst == src or dst.startswith(src.rstrip(os.sep) + os.sep):
        raise CliError(f"DST {args.dst} is inside SRC {args.src}, which is never written into")
    root_name = os.path.basename(src.rstrip(os.sep)) or "root"
    result = TensorBoardCache(src, dst, root_name=root_name).sync()
    if not result.runs and not result.unreadable:
        raise CliError(f"no TensorBoard event files under {args.src}")
    for name, conv in sorted(result.runs.items()):
        stored = conv.cache_name
        sys.stdout.write(f"{name} -> {os.path.join(args.dst, stored)}\n")
    for w in result.warnings:
        sys.stderr.write(f"flowlog: warning: {w}\n")
    for u in result.unreadable:
        sys.stderr.write(f"flowlog: error: {u.name} ({u.path}): {u.reason}\n")
    sys.stdout.write(f"imported {len(result.runs)} run(s) into {args.dst}\n")
    return 1 if result.unreadable else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowlog", description="Inspect and export flowlog training logs."
    )
    p.add_argument("--version", action="version", version=f"flowlog {flowlog.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("runs", help="list runs with start time, status, steps and tags")
    r.add_argument("path", help="a logdir or one run's *.flowlog.db file")
    r.add_argument("--json", action="store_true", help="print JSON instead of a table")
    r.set_defaults(func=cmd_runs)

    g = sub.add_parser("export-graph", help="render a run's graph to SVG, DOT, PNG or PDF")
    g.add_argument("path", help="a logdir or one run's *.flowlog.db file")
    g.add_argument("--run", help="run name (needed when the logdir holds several runs)")
    g.add_argument(
        "-o", "--output", help="output file, '-' for stdout (default: <run>.svg in the cwd)"
    )
    g.add_argument(
        "--format", choices=sorted(set(GRAPH_FORMATS.values())), help="default: from -o's extension"
    )
    g.add_argument(
        "--collapse", nargs="+", metavar="SCOPE", action="extend", help="fold these scopes"
    )
    g.add_argument("--depth", type=_depth, help="fold scopes nested deeper than N levels")
    g.add_argument(
        "--show-gradients", action="store_true", help="unfold the gradient/optimizer machinery"
    )
    g.add_argument(
        "--max-nodes",
        type=_depth,
        default=render.READABLE_NODES,
        help="without --depth, fold graphs drawing more nodes than this "
        f"(0: never; default {render.READABLE_NODES})",
    )
    g.add_argument("--rankdir", choices=["TB", "LR", "BT", "RL"], default="TB")
    g.add_argument("--no-legend", action="store_true", help="leave the legend out")
    g.add_argument(
        "--color-by",
        choices=render.COLOR_STATS,
        help="colour nodes by this watch statistic, on one scale over the whole run",
    )
    g.add_argument(
        "--step", type=int, help="with --color-by: the step shown (default: the last watched)"
    )
    g.add_argument(
        "--mark-nan",
        action="store_true",
        help="mark the first non-finite value's node and everything feeding it",
    )
    g.set_defaults(func=cmd_export_graph)

    s = sub.add_parser("export-scalars", help="export scalar series to CSV or JSON")
    s.add_argument("path", help="a logdir or one run's *.flowlog.db file")
    s.add_argument("--run", nargs="+", action="extend", help="runs to export (default: all)")
    s.add_argument("--tag", nargs="+", action="extend", help="tags to export (default: all)")
    s.add_argument("-o", "--output", required=True, help="file.csv, file.json, or '-' for stdout")
    s.add_argument("--format", choices=["csv", "json"], help="default: from -o's extension")
    s.set_defaults(func=cmd_export_scalars)

    t = sub.add_parser(
        "import-tensorboard",
        help="convert a logdir of TensorBoard event files into flowlog runs (SRC is only read)",
    )
    t.add_argument("src", help="a TensorBoard logdir (events.out.tfevents.* files)")
    t.add_argument("dst", help="the logdir to write the flowlog runs into")
    t.set_defaults(func=cmd_import_tensorboard)

    v = sub.add_parser(
        "serve",
        help="serve exported models over TensorFlow Serving's REST API, swapping in new versions",
    )
    serving_server.add_arguments(v)
    v.set_defaults(func=serving_server.run)
    return p


def main(argv: list[str] | None = None) -> int:
    # skipped files are reported by the commands themselves; without a handler, logging's
    # last resort would print the reader's warning too, and an error would take two lines
    logging.getLogger("flowlog").addHandler(logging.NullHandler())
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, render.DotNotFound, render.DotError) as e:
        msg = str(e)
    except KeyError as e:  # the reader's "no run named …" and similar lookups
        msg = e.args[0] if e.args else str(e)
    except BrokenPipeError:  # `flowlog … -o - | head`
        return 0
    except (OSError, ValueError, ReadError) as e:
        msg = str(e)
    sys.stderr.write(f"flowlog: error: {' '.join(str(msg).split())}\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
