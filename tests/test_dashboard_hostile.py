"""The dashboard against hostile logs and requests: damaged runs, watch runs without histograms,
pathological regexes and crafted callback requests, on real logs and a real server."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import DashServer, linear_model, write_run

import flowlog as fl
from flowlog.writer import SummaryWriter

GOOD = ("alpha", "beta")
DAMAGED = "damaged"
NOHIST = "nohist"  # writer.watch(sess, histograms_every=0): statistics, no histograms
GARBAGE = "garbage"  # a file of random bytes: discovery cannot open it
GHOST = "no-such-run"
MALFORMED = "database disk image is malformed"
DAMAGED_CHUNK = "damaged scalar chunk"  # what a chunk whose bytes fail its checksum reads as


def damage_middle(path, size=16 * 1024, seed=0) -> None:
    """``size`` random bytes written over the middle of a closed run's file (a torn write)."""
    n = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(n // 2)
        f.write(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())


def damage_scalar_chunk(path, tag: str = "loss/train") -> None:
    """16 bytes inside one of ``tag``'s scalar chunks overwritten: a torn write that SQLite's
    page checks cannot see (the bytes are blob content); the chunk's checksum does."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    (data,) = conn.execute(
        "SELECT c.data FROM scalar_chunks c JOIN tags t ON t.id = c.tag_id WHERE t.tag = ? "
        "ORDER BY c.step_first LIMIT 1",
        (tag,),
    ).fetchone()
    conn.close()
    raw = Path(path).read_bytes()
    at = raw.find(data[len(data) // 2 : len(data) // 2 + 64])
    assert at > 0, "the chunk's bytes are not in the file"
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(b"\xff" * 16)


def write_watched_without_histograms(logdir, name=NOHIST, steps=20) -> None:
    """A trained linear model with its graph, watched every step, histograms never."""
    g, x, y, w, b, loss, train = linear_model()
    rng = np.random.default_rng(0)
    bx, by = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    sess = fl.Session(g)
    with SummaryWriter(logdir=logdir, run_name=name) as writer:
        writer.add_graph(g)
        writer.watch(sess, every=1, histograms_every=0)
        for step in range(steps):
            _, value = sess.run([train, loss], feed_dict={x: bx, y: by})
            writer.add_scalar("loss/train", float(value), step)


def write_hostile_logdir(logdir):
    """Two good runs, one with a damaged scalar chunk (it still opens: the damage shows when
    its points are read), a watch run without histograms, and a garbage file."""
    for i, name in enumerate(GOOD):
        write_run(logdir, name, seed=i + 1, lr=0.1 / (i + 1))
    write_run(logdir, DAMAGED, seed=7)  # 3000 points per tag and 10 histograms, closed
    damage_scalar_chunk(logdir / DAMAGED / "flowlog.db")
    write_watched_without_histograms(logdir)
    (logdir / f"{GARBAGE}.flowlog.db").write_bytes(np.random.default_rng(1).bytes(8192))
    return logdir


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return write_hostile_logdir(tmp_path_factory.mktemp("hostile") / "runs")


@pytest.fixture(scope="module")
def server(hostile):
    """``(url, app)`` of a real dashboard server on the hostile logdir."""
    from flowlog.dashboard import create_app

    app = create_app(hostile, reload_interval=0.5)
    srv = DashServer(app)
    yield srv.url, app
    srv.stop()


# ------------------------------------------------------------------------- crafted requests
def post(url, body, timeout=60, path="_dash-update-component"):
    """``(status, text)`` of a POST of ``body`` (JSON; bytes are sent as they are)."""
    req = urllib.request.Request(
        url + path,
        data=body if isinstance(body, bytes) else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def _parse_id(text: str):
    """A callback_map id: a plain string, or the JSON of a pattern-matching id."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _wildcard(value) -> str | None:
    return value[0] if isinstance(value, list) and len(value) == 1 else None


def _outputs(output_key: str) -> list[tuple[object, str]]:
    """``[(id, property)]`` of a callback_map key (``..a.b...c.d..`` for several)."""
    parts = output_key[2:-2].split("...") if output_key.startswith("..") else [output_key]
    out = []
    for part in parts:
        cid, prop = part.rsplit(".", 1)
        out.append((_parse_id(cid), prop.split("@")[0]))
    return out


def _view_of(output_key: str) -> str:
    """The tab a callback's view needs to be shown (its callbacks do nothing while hidden)."""
    views = (("graph-", "graph"), ("hist-", "histograms"), ("hp-", "hparams"),
             ("img-", "images"), ("text-", "text"), ("pr-", "pr_curves"))  # fmt: skip
    for prefix, tab in views:
        if prefix in output_key:
            return tab
    return "scalars"


class Crafted:
    """Builds ``/_dash-update-component`` bodies for one callback like the renderer does, with
    chosen values: ``values`` maps ``id.property`` (``type.property`` for pattern ids) to the
    value sent, ``keys`` each pattern key (``tag``, ``node``...) to the concrete ids ALL
    wildcards expand to (MATCH takes the first)."""

    def __init__(self, output_key: str, callback: dict):
        self.output = output_key
        self.inputs = [(_parse_id(i["id"]), i["property"]) for i in callback["inputs"]]
        self.state = [(_parse_id(s["id"]), s["property"]) for s in callback["state"]]

    @staticmethod
    def _expand(cid, keys):
        """A concrete id (MATCH, plain) or a list of them (ALL, ALLSMALLER)."""
        if not isinstance(cid, dict):
            return cid
        wild = {k: _wildcard(v) for k, v in cid.items() if _wildcard(v)}
        if not wild:
            return cid
        (key, kind), *_ = wild.items()
        choices = keys.get(key, [])
        if kind == "MATCH":
            return {**cid, key: choices[0] if choices else "x"}
        return [{**cid, key: c} for c in choices]

    @staticmethod
    def _name(cid) -> str:
        return cid["type"] if isinstance(cid, dict) else cid

    def _spec(self, cid, prop, values, keys):
        concrete = self._expand(cid, keys)

        def one(c):
            value = c if prop == "id" else values.get(f"{self._name(c)}.{prop}")
            return {"id": c, "property": prop, "value": value}

        return [one(c) for c in concrete] if isinstance(concrete, list) else one(concrete)

    def body(self, values: dict, keys: dict, changed: int = 0) -> dict:
        outs = []
        for cid, prop in _outputs(self.output):
            concrete = self._expand(cid, keys)
            if isinstance(concrete, list):
                outs.append([{"id": c, "property": prop} for c in concrete])
            else:
                outs.append({"id": concrete, "property": prop})
        inputs = [self._spec(c, p, values, keys) for c, p in self.inputs]
        trigger = inputs[changed] if changed < len(inputs) else inputs[0]
        trigger = trigger[0] if isinstance(trigger, list) and trigger else trigger
        changed_ids = []
        if isinstance(trigger, dict):
            tid = trigger["id"]
            tid = tid if isinstance(tid, str) else json.dumps(tid, sort_keys=True,
                                                              separators=(",", ":"))  # fmt: skip
            changed_ids = [f"{tid}.{trigger['property']}"]
        return {
            "output": self.output,
            "outputs": outs if self.output.startswith("..") else outs[0],
            "inputs": inputs,
            "state": [self._spec(c, p, values, keys) for c, p in self.state],
            "changedPropIds": changed_ids,
        }

    def positions(self) -> list[tuple[str, int | None]]:
        """``(values key, index of the input or None for a State)`` of every argument."""
        out = [(f"{self._name(c)}.{p}", i) for i, (c, p) in enumerate(self.inputs)]
        return out + [(f"{self._name(c)}.{p}", None) for c, p in self.state]


HUGE = "x" * 100_000
# sent in turn as every input and state of every callback
GENERIC = [None, 7, -1.5, True, "", HUGE, [], [None, 3, "x"], {"k": [1, {"z": None}]}]
EVIL_PATTERNS = ["(.|.)*!", r"(a)\1", "(?=x)", "(", "[[:nope:]]"]


def sane_values(app) -> dict:
    """What the page would send: the runs as discovered, every run selected, the controls'
    defaults, a node of the watch run selected in the Graph view."""
    from flowlog.dashboard import runs_panel, tab_gate
    from flowlog.dashboard.app import _views

    ctx = app.flowlog_context
    info = runs_panel.discover(ctx, 0)[0]
    tab_ids = [v.TAB_ID for v in _views()]
    names = [r["name"] for r in info]
    view = ctx.extra["scalars"]
    _fig, state = view.build("loss/train", info, names, 0.6, "step", [], "none", None, None)
    state["visible"] = "1"
    gated = {f"{tab_gate.runs_info(t)}.data": info for t in tab_ids}  # hidden views' copies
    ticks = {f"{tab_gate.ticks(t)}.data": 3 for t in tab_ids}
    return {
        **gated,
        **ticks,
        "refresh.n_intervals": 3,
        "runs-info.data": info,
        "runs-warnings-seen.data": [],
        "runs-filter.value": "a",
        "runs-checklist.value": names,
        "runs-all.n_clicks": 1,
        "selected-runs.data": names,
        "runs-checked.data": names,
        "runs-known.data": names,
        "sc-tag-filter.value": "loss",
        "sc-tags.data": ["loss/train", "loss/val"],
        "sc-group-head.n_clicks": 1,
        "sc-group-info.data": {"tags": ["loss/train", "loss/val"], "open": False,
                               "rendered": False},  # fmt: skip
        "sc-smoothing.value": 0.6,
        "sc-xaxis.value": "step",
        "sc-log.value": [],
        "sc-group-mode.value": "none",
        "sc-group-key.value": "(a|b)",
        "sc-rank-mode.value": "each",
        "sc-zoom.data": {"xaxis.range[0]": 10, "xaxis.range[1]": 900},
        "sc-visible.data": "1",
        "sc-state.data": state,
        "sc-graph.clickData": {"points": [{"curveNumber": 0, "customdata": 100}]},
        "sc-export-csv.n_clicks": 1,
        "focus.data": {"run": NOHIST, "tag": "loss/train", "step": 5, "node": "dense/w"},
        "graph-run.value": NOHIST,
        "graph-run.options": [{"label": n, "value": n} for n in names],
        "graph-step.value": 3,
        "graph-steps.data": list(range(20)),
        "graph-selected.data": "dense/w",
        "graph-folded.value": [],
        "graph-loaded.data": {"run": NOHIST, "focus": None},
        "graph-click.data": {"id": "node:dense/w"},
        "graph-search.value": "w",
        "graph-nav.n_clicks": 1,
        "graph-fold.n_clicks": 1,
        "graph-stat.value": "grad_norm",
        "graph-jump-scalars.n_clicks": 1,
        "graph-download-btn.n_clicks": 1,
        "hist-tag-filter.value": "w",
        "hist-mode.value": "ridge",
        "hp-metric-tags.value": ["loss/train"],
        "hp-color-by.value": "__run__",
    }


def specific_values(sane: dict) -> dict:
    """Hostile values that mean something to one argument: damaged, unknown and garbage run
    names, malformed run records, regexes RE2 refuses or re would hang on, crafted states."""
    info = sane["runs-info.data"]
    state = sane["sc-state.data"]
    entry = next(iter(state["runs"].values()))
    runs = [[DAMAGED], [GHOST], [GARBAGE], [DAMAGED, *GOOD, GHOST], [NOHIST], [[1], {"a": 2}]]
    got = {
        "selected-runs.data": runs,
        "runs-checklist.value": runs,
        "runs-checked.data": runs,
        "runs-known.data": runs,
        "runs-info.data": [
            [*info, {"name": GHOST, "color": "#123456", "status": "running", "last_step": 9}],
            [{"name": DAMAGED}],
            [{"name": 5, "color": None, "ranks": "x"}],
            ["alpha", None],
            [{**r, "last_step": 10**9, "status": "running", "ranks": [{"rank": "x"}]}
             for r in info],  # fmt: skip
            [{**r, "last_step": "x", "status": 5, "start_time": "y",
              "ranks": [{"rank": 0, "last_step": "z"}, {"rank": 1, "last_step": 10**9}]}
             for r in info],  # fmt: skip
        ],
        "runs-filter.value": EVIL_PATTERNS,
        "sc-tag-filter.value": EVIL_PATTERNS,
        "hist-tag-filter.value": EVIL_PATTERNS,
        "sc-group-key.value": EVIL_PATTERNS,
        "sc-group-mode.value": ["regex", "hparam", "nope"],
        "sc-xaxis.value": ["wall", "relative", "nope"],
        "sc-rank-mode.value": ["mean", "nope"],
        "sc-log.value": [["logx", "logy"], "logx"],
        "sc-smoothing.value": [0.99, 5, "0.5"],
        "sc-zoom.data": [{"xaxis.range": ["a", "b"]}, {"xaxis.autorange": True},
                         {"xaxis.range[0]": None, "xaxis.range[1]": 1}],  # fmt: skip
        "sc-state.data": [
            {**state, "runs": {GHOST: {**entry, "run": GHOST}}},
            {**state, "runs": {DAMAGED: {**entry, "run": DAMAGED}}},
            {**state, "runs": {"a": {"raw": "x", "last_step": "y"}}},
            {**state, "runs": [1, 2]},
            {**state, "range": ["a", None], "xmode": "nope", "weight": "heavy"},
            {"tag": "loss/train"},
        ],
        "sc-graph.clickData": [
            {"points": [{"customdata": ["numerics", DAMAGED, "x", None]}]},
            {"points": [{"curveNumber": "0", "customdata": {"a": 1}}]},
            {"points": []},
            {"points": [5]},
        ],
        "sc-group-info.data": [{"tags": [GHOST, 5], "open": True, "rendered": False},
                               {"tags": "loss"}],  # fmt: skip
        "sc-tags.data": [["weights/w", GHOST], "loss/train"],
        "focus.data": [
            {"run": DAMAGED, "step": 5, "node": "dense/w", "tag": "loss/train"},
            {"run": GHOST},
            {"run": NOHIST, "step": "x", "node": 5},
            {"run": [NOHIST]},
        ],
        "graph-run.value": [DAMAGED, GHOST, GARBAGE, "alpha"],
        "graph-selected.data": ["dense/b", "loss", "ghost-node", ["dense/w"]],
        "graph-folded.value": [["dense", "gradients"], ["ghost", 5], "dense"],
        "graph-click.data": [{"id": "scope:dense"}, {"id": 5}, "node:dense/w"],
        "graph-steps.data": [[0, "x"], "abc", [1e308], [{"a": 1}]],
        "graph-step.value": [10**12, "3", -5],
        "graph-stat.value": ["nope", "value_norm"],
        "graph-numerics.data": [{"node": "dense/w", "step": "x"}, {"node": 5}, "x"],
        "graph-loaded.data": [{"run": DAMAGED}, {"run": NOHIST, "focus": "x"}],
        "hist-mode.value": ["heatmap", "nope"],
        "hp-metric-tags.value": [["weights/w"], ["no/tag"], ["loss/train", 5]],
        "hp-table.selectedRows": [[{"id": "ghost#1"}], [5], [{"x": 1}]],
        "hp-grid-meta.data": [{"runs": {"a#1": GHOST}}, {"runs": 5}, {"domains": {"hp:lr": 5}}],
        "hp-table.rowData": [[{"run": GHOST, "color": 5}], [5], [{"hp:lr": {"a": 1}}]],
        "hp-table.columnDefs": [[{"field": "hp:lr"}], [5], {"x": 1},
                                [{"children": [{"field": 5}]}]],  # fmt: skip
        "hp-color-by.value": ["hp:lr", "nope", 5],
        "hp-color-by.options": [[{"value": "hp:lr"}], [5]],
        "hp-metric-tags.options": [[{"value": 5}], "x"],
        "view-tabs.value": ["graph", "scalars", "histograms", "hparams", "images", "text",
                            "pr_curves", "nope"],
    }
    for key in sane:  # the hidden views' copies of the runs (tab_gate): the same values
        if key.startswith("runs-info-for-"):
            got[key] = got["runs-info.data"]
    return got


def combos() -> list[dict]:
    """Hostile values that only bite together with another control's value."""
    out = []
    for mode in ("regex", "hparam"):
        for key in [*GENERIC, *EVIL_PATTERNS, "lr"]:
            out.append({"sc-group-mode.value": mode, "sc-group-key.value": key})
    for zoom in [
        {"xaxis.range[0]": "2020-01-01 00:00:00", "xaxis.range[1]": "not a date"},
        {"xaxis.range[0]": 1e308, "xaxis.range[1]": 400},
        {"xaxis.range": [5]},
    ]:
        for xmode, logs in (("wall", []), ("step", ["logx"]), ("relative", ["logy"])):
            out.append({"sc-xaxis.value": xmode, "sc-log.value": logs, "sc-zoom.data": zoom})
    out.append({"sc-rank-mode.value": "mean", "sc-smoothing.value": 0.0})
    out.append({"graph-run.value": DAMAGED, "graph-selected.data": "dense/w",
                "focus.data": {"run": DAMAGED, "node": "dense/w", "step": 3}})  # fmt: skip
    return out


# pattern keys (tag, group, node, scope): what MATCH and ALL ids expand to in each request
SANE_KEYS = {"tag": ["loss/train", "loss/val"], "group": ["loss"], "node": ["dense/w"],
             "scope": ["dense"]}  # fmt: skip
HOSTILE_KEYS = [
    {"tag": [GHOST], "group": [GHOST], "node": [GHOST], "scope": [GHOST]},
    {"tag": ["weights/w", "loss/train"], "group": ["weights"], "node": ["loss"], "scope": ["loss"]},
    {"tag": [], "group": [], "node": [], "scope": []},
    {"tag": [HUGE], "group": [HUGE], "node": [HUGE], "scope": [HUGE]},
]


def fuzz_requests(app):
    """``(callback, description, body)`` for every server-side callback of the app: first its
    sane request, then each argument in turn given every hostile value, then every pattern
    id pointing at unknown, foreign, absent or huge keys."""
    sane = sane_values(app)
    special = specific_values(sane)
    for key, cb in app.callback_map.items():
        if cb.get("callback") is None:
            continue  # clientside: runs in the browser
        crafted = Crafted(key, cb)
        base = {**sane, "view-tabs.value": _view_of(key)}
        yield key, "sane", crafted.body(base, SANE_KEYS)
        for i in range(1, len(crafted.inputs)):  # each input in turn is what changed
            yield key, f"sane, input {i} changed", crafted.body(base, SANE_KEYS, i)
        for arg, index in crafted.positions():
            for value in [*GENERIC, *special.get(arg, [])]:
                what = f"{arg}={json.dumps(value)[:60]}"
                yield key, what, crafted.body({**base, arg: value}, SANE_KEYS, index or 0)
        if any(isinstance(c, dict) for c, _ in crafted.inputs + crafted.state):
            for keys in HOSTILE_KEYS:
                yield key, f"keys={json.dumps(keys)[:60]}", crafted.body(base, keys)
        args = {arg for arg, _ in crafted.positions()}
        for combo in combos():
            if args & set(combo):
                what = f"combo {json.dumps(combo)[:80]}"
                yield key, what, crafted.body({**base, **combo}, SANE_KEYS)
        nothing = dict.fromkeys(base)
        yield key, "all None", crafted.body(nothing, SANE_KEYS)
        yield key, "all damaged", crafted.body(
            {**base, **{k: [DAMAGED] for k in base if "runs" in k}, "graph-run.value": DAMAGED},
            SANE_KEYS,
        )


def _last_error(caplog) -> str:
    """Where the server's last logged exception was raised, for the failure message."""
    import traceback

    for record in reversed(caplog.records):
        if record.exc_info:
            frame = traceback.extract_tb(record.exc_info[2])[-1]
            exc = record.exc_info[1]
            where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
            return f"{type(exc).__name__}: {str(exc)[:120]} at {where}"
    return "(no traceback logged)"


def test_no_callback_answers_500_to_hostile_requests(server, caplog):
    """Every server-side callback, every argument, every hostile value: 200 or 204, never a
    server error (a 500 blanks what the callback draws, and a damaged run took the good runs'
    curves with it)."""
    url, app = server
    failures, counts, started = [], {}, time.perf_counter()
    for key, what, body in fuzz_requests(app):
        status, text = post(url, body)
        counts[key] = counts.get(key, 0) + 1
        if status not in (200, 204):
            failures.append(f"{status} {key[:50]} {what}: {_last_error(caplog)}")
        elif status == 200:
            json.loads(text)  # a real Dash response
    elapsed = time.perf_counter() - started
    print(f"{sum(counts.values())} requests to {len(counts)} callbacks in {elapsed:.1f} s")
    server_side = [k for k, cb in app.callback_map.items() if cb.get("callback") is not None]
    assert len(counts) == len(server_side) >= 20
    if failures and os.environ.get("HOSTILE_DUMP"):
        with open(os.environ["HOSTILE_DUMP"], "w") as f:
            f.write("\n".join(failures))
    assert not failures, f"{len(failures)} failed:\n" + "\n".join(failures[:25])


# the zoom route's body (dashboard/zoom_route.py): which sane value each part carries
ZOOM_CONTROLS = {"selected": "selected-runs.data", "weight": "sc-smoothing.value",
                 "xmode": "sc-xaxis.value", "logs": "sc-log.value",
                 "gmode": "sc-group-mode.value", "gkey": "sc-group-key.value",
                 "ranks": "sc-rank-mode.value", "zoom": "sc-zoom.data",
                 "visible": "sc-visible.data", "focus": "focus.data"}  # fmt: skip


def zoom_body(values: dict, tag="loss/train") -> dict:
    controls = {k: values.get(arg) for k, arg in ZOOM_CONTROLS.items()}
    return {"controls": controls, "id": {"type": "sc-graph", "tag": tag},
            "state": values.get("sc-state.data"), "info": values.get("runs-info.data")}  # fmt: skip


def zoom_requests(app):
    """``(description, body)``: the sane zoom, then each part given every hostile value,
    the combos, hostile chart ids and raw bodies that are not a request at all."""
    sane = sane_values(app)
    special = specific_values(sane)
    yield "sane", json.dumps(zoom_body(sane)).encode()
    args = [*ZOOM_CONTROLS.values(), "sc-state.data", "runs-info.data"]
    for arg in args:
        for value in [*GENERIC, *special.get(arg, [])]:
            body = zoom_body({**sane, arg: value})
            yield f"{arg}={json.dumps(value)[:60]}", json.dumps(body).encode()
    for combo in combos():
        if set(args) & set(combo):
            body = zoom_body({**sane, **combo})
            yield f"combo {json.dumps(combo)[:80]}", json.dumps(body).encode()
    for tag in (GHOST, "weights/w", HUGE, 5, None, ["loss/train"]):
        yield f"tag={str(tag)[:40]}", json.dumps(zoom_body(sane, tag)).encode()
    raws = (b"", b"{", b"[1, 2]", b'"x"', b"\xff\xfe", b'{"controls": 5, "id": [], "state": 7}')
    for raw in raws:
        yield f"raw {raw[:20]!r}", raw


def test_the_zoom_route_never_answers_500_to_hostile_requests(server, caplog):
    """The zoom route gets what the chart's callback got, as a plain POST: every part with
    every hostile value is 200 (a figure, maybe one naming the problem) or a 400 that says
    what is wrong with the body; never a server error."""
    url, app = server
    failures, n = [], 0
    for what, body in zoom_requests(app):
        n += 1
        status, text = post(url, body, path="_flowlog/scalars/zoom")
        if status == 200:
            got = json.loads(text)
            assert got.get("unchanged") or "figure" in got, what
        elif status != 400 or not text.startswith("body "):
            failures.append(f"{status} {what}: {text[:80]} {_last_error(caplog)}")
    assert n > 100
    assert not failures, f"{len(failures)} failed:\n" + "\n".join(failures[:25])


# ------------------------------------------------------------------------- regex filters
# (pattern, text, what the pattern means): stdlib re backtracks exponentially on each text
# (seconds at these lengths, 4x per 2 more characters for the first); RE2 answers in
# microseconds, with the same matches
PATHOLOGICAL = [
    ("(.|.)*!", "a" * 25, lambda t: "!" in t),
    ("(.|.)*!", "a" * 33, lambda t: "!" in t),
    ("(a+)+$", "a" * 25 + "!", lambda t: t.endswith("a")),
    ("(a|aa)*b", "a" * 33, lambda t: "b" in t),
    ("(x+x+)+y", "x" * 25, lambda t: "xxy" in t),
]
LIMIT_S = 0.1


@pytest.fixture(scope="module")
def long_names(tmp_path_factory):
    """Runs named like the pathological texts, each with a scalar and a histogram tag of the
    same name: what the run, tag, group and histogram filters match against."""
    d = tmp_path_factory.mktemp("patterns") / "runs"
    for _pattern, text, _means in PATHOLOGICAL:
        with SummaryWriter(logdir=d, run_name=text) as w:
            w.add_scalar(text, 1.0, 0)
            w.add_histogram(f"h/{text}", np.arange(10.0), 0)
    return d


def _timed(fn, *args):
    started = time.perf_counter()
    got = fn(*args)
    return got, time.perf_counter() - started


def test_pathological_patterns_match_in_linear_time_in_every_filter(long_names):
    """Each user-supplied regex goes through RE2: the patterns that take stdlib re seconds
    (minutes at 33 characters) answer within LIMIT_S in the run filter, the tag filter, the
    group-by regex and the histograms' tag filter."""
    from flowlog.backends import open_logdir
    from flowlog.dashboard import runs_panel
    from flowlog.dashboard.scalars_charts import group_runs
    from flowlog.dashboard.views import histograms
    from flowlog.dashboard.views.scalars import _filter_tags

    data = open_logdir(long_names)
    names = [r.name for r in data.runs()]
    assert sorted(names) == sorted({t for _, t, _m in PATHOLOGICAL})
    info = [{"name": n, "color": "#000000"} for n in names]
    histograms.collect(data, info, names, None)  # warm: reads the tags once
    for pattern, text, means in PATHOLOGICAL:
        rx, error = runs_panel.compile_filter(pattern)
        assert error is None
        match, took = _timed(rx.search, text)
        assert match is None and took <= LIMIT_S, (pattern, len(text), took)
        shown, took = _timed(_filter_tags, sorted(names), pattern)
        assert shown == [t for t in sorted(names) if means(t)] and took <= LIMIT_S, (pattern, took)
        groups, took = _timed(group_runs, [text], "regex", pattern, {})
        assert groups == {text: [text]} and took <= LIMIT_S, (pattern, took)
        (by_tag, _v), took = _timed(histograms.collect, data, info, names, pattern)
        assert set(by_tag) == {f"h/{t}" for t in names if means(f"h/{t}")}, pattern
        assert took <= LIMIT_S, (pattern, took)
    # the filters still match what they should, case-insensitively for runs only
    rx, _ = runs_panel.compile_filter("A{25}!")
    assert rx.search("a" * 25 + "!") and not rx.search("b")
    assert _filter_tags(["loss/train", "Loss/val"], "^loss") == ["loss/train"]
    assert group_runs(["cnn-seed1", "cnn-seed2", "mlp-seed1"], "regex", r"(.*)-seed\d+", {}) == {
        "cnn": ["cnn-seed1", "cnn-seed2"],
        "mlp": ["mlp-seed1"],
    }
    assert group_runs(["a"], "hparam", ["lr"], {"a": {"lr": 1}}) == {"a": ["a"]}  # a crafted key
    # an optional group that did not take part labels by the whole match (was a None label)
    assert group_runs(["ab", "a"], "regex", "a(b)?", {}) == {"b": ["ab"], "a": ["a"]}


UNSUPPORTED = [
    (r"(a)\1", r"\1 backreference"),
    ("(?=a)b", "(?= lookahead"),
    ("(?<!a)b", "(?<! negative lookbehind"),
    ("(?P<x>a)(?P=x)", "(?P= named backreference"),
]


def test_unsupported_patterns_say_why_in_every_filter(hostile):
    from flowlog.backends import open_logdir
    from flowlog.dashboard import runs_panel
    from flowlog.dashboard.patterns import SYNTAX_NOTE, PatternError
    from flowlog.dashboard.scalars_charts import compile_regex
    from flowlog.dashboard.views import histograms

    data = open_logdir(hostile)
    for pattern, construct in UNSUPPORTED:
        expected = f"pattern not supported: {construct} ({SYNTAX_NOTE})"
        _rx, error = runs_panel.compile_filter(pattern)
        assert expected in error and error.startswith("run filter regex")
        with pytest.raises(ValueError, match="tag filter regex") as e:
            compile_regex(pattern, "tag filter")
        assert expected in str(e.value)
        with pytest.raises(PatternError) as e:
            histograms.collect(data, [{"name": "alpha", "color": "#000"}], ["alpha"], pattern)
        assert expected in str(e.value)
    _rx, error = runs_panel.compile_filter("(")
    assert error == "bad run filter regex '(': missing ): ("
    _rx, error = runs_panel.compile_filter("x" * 5000)
    assert "too long" in error


def _response(text: str) -> dict:
    return json.loads(text)["response"]


def _select_body(app, info, pattern):
    """The runs panel's selection callback as the browser sends it when the filter changes."""
    key = next(k for k in app.callback_map if k.startswith("..selected-runs.data"))
    crafted = Crafted(key, app.callback_map[key])
    names = [r["name"] for r in info]
    values = {"runs-info.data": info, "runs-filter.value": pattern, "selected-runs.data": names,
              "runs-checked.data": names, "runs-known.data": names}  # fmt: skip
    index = [arg for arg, _ in crafted.positions()].index("runs-filter.value")
    return crafted.body(values, SANE_KEYS, index)


def test_run_filter_request_with_a_pathological_pattern_answers_promptly(server):
    """A real request to the callback endpoint: with stdlib re, ``(.|.)*!`` against these
    names would hold the server ~20 minutes; with RE2 it is one quick answer, and a pattern RE2
    cannot take says why in the filter's error line."""
    url, app = server
    info = [{"name": n, "color": "#336699", "status": "finished"} for n in ("a" * 33, "b" * 25)]
    started = time.perf_counter()
    status, text = post(url, _select_body(app, info, "(.|.)*!"))
    took = time.perf_counter() - started
    assert status == 200 and took < 2.0, took
    got = _response(text)
    assert got["runs-checklist"]["options"] == [] and got["runs-filter-error"]["children"] == ""
    status, text = post(url, _select_body(app, info, "A{33}"))  # case-insensitive
    assert status == 200
    assert [o["value"] for o in _response(text)["runs-checklist"]["options"]] == ["a" * 33]
    status, text = post(url, _select_body(app, info, r"(a)\1"))
    assert status == 200
    error = _response(text)["runs-filter-error"]["children"]
    assert r"pattern not supported: \1 backreference" in error and "RE2 syntax" in error


# ------------------------------------------------------------------- damaged and odd runs
def _chart_request(app, values, tag="loss/train", trigger="sc-visible.data"):
    key = next(k for k in app.callback_map if '"type":"sc-graph"}.figure' in k
               and k.startswith("..{"))  # fmt: skip
    crafted = Crafted(key, app.callback_map[key])
    index = [arg for arg, _ in crafted.positions()].index(trigger)
    keys = {**SANE_KEYS, "tag": [tag]}
    # no state yet: the card was just scrolled into view
    return crafted.body({**sane_values(app), "sc-state.data": None, **values}, keys, index)


def _chart_of(text: str) -> tuple[dict, dict]:
    """``(figure, state)`` of a chart callback's response."""
    (graph_id,) = [k for k in _response(text) if '"sc-graph"' in k]
    (state_id,) = [k for k in _response(text) if '"sc-state"' in k]
    return _response(text)[graph_id]["figure"], _response(text)[state_id]["data"]


def test_a_damaged_run_is_named_on_the_chart_and_the_good_runs_draw(server):
    url, app = server
    selected = [*GOOD, DAMAGED]
    status, text = post(url, _chart_request(app, {"selected-runs.data": selected}))
    assert status == 200
    fig, state = _chart_of(text)
    drawn = {t["meta"][0] for t in fig["data"] if t.get("meta")}
    assert drawn == set(GOOD)  # both good runs' curves, none of the damaged one
    assert sorted(state["runs"]) == sorted(GOOD)
    assert list(state["problems"]) == [DAMAGED] and DAMAGED_CHUNK in state["problems"][DAMAGED]
    note = fig["layout"]["annotations"][-1]["text"]
    assert DAMAGED in note and DAMAGED_CHUNK in note
    # the runs panel marks the run damaged with the reason on its next refresh
    key = next(k for k in app.callback_map if k.startswith("..runs-info.data"))
    crafted = Crafted(key, app.callback_map[key])
    status, text = post(url, crafted.body({"refresh.n_intervals": 1}, SANE_KEYS))
    assert status == 200
    info = {r["name"]: r for r in _response(text)["runs-info"]["data"]}
    assert DAMAGED_CHUNK in info[DAMAGED]["problem"] and "problem" not in info["alpha"]
    # only the damaged one selected: the chart says why it is empty, no 500
    status, text = post(url, _chart_request(app, {"selected-runs.data": [DAMAGED]}))
    fig, state = _chart_of(text)
    assert status == 200 and fig["data"] == [] and DAMAGED in state["problems"]


def test_the_runs_panel_lists_files_discovery_cannot_open_as_damaged(server):
    url, app = server
    with urllib.request.urlopen(url + "_dash-layout") as r:
        text = r.read().decode()
    layout = json.loads(text)

    def find(node, cid):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == cid:
                return node
            node = list(node.values())
        if isinstance(node, list):
            for child in node:
                got = find(child, cid)
                if got is not None:
                    return got
        return None

    rows = find(layout, "runs-damaged")["props"]["children"]
    assert len(rows) == 1
    flat = json.dumps(rows[0])
    assert GARBAGE in flat and "damaged" in flat and "not a readable SQLite database" in flat
    assert f"{GARBAGE}.flowlog.db" in rows[0]["props"]["title"]  # the file, in the tooltip


def _graph_request(app, output_start, values, trigger):
    key = next(k for k in app.callback_map if k.startswith(output_start))
    crafted = Crafted(key, app.callback_map[key])
    index = [arg for arg, _ in crafted.positions()].index(trigger)
    base = {**sane_values(app), "view-tabs.value": "graph"}
    return crafted.body({**base, **values}, SANE_KEYS, index)


def test_a_variable_of_a_run_watched_without_histograms_shows_its_statistics(server):
    """watch(sess, histograms_every=0): the node's curves draw, the histograms say none were
    logged (was a 500: KeyError, no tag 'watch/w/value')."""
    url, app = server
    body = _graph_request(app, "..graph-selected.data", {"graph-click.data":
                          {"id": "node:dense/w"}}, "graph-click.data")  # fmt: skip
    status, text = post(url, body)
    assert status == 200 and _response(text)["graph-selected"]["data"] == "dense/w"
    body = _graph_request(app, "graph-panel.children", {"graph-selected.data": "dense/w"},
                          "graph-selected.data")  # fmt: skip
    status, text = post(url, body)
    assert status == 200
    panel = json.dumps(_response(text)["graph-panel"]["children"])
    assert '"history"' in panel  # the curves of the node's statistics
    assert "no value histograms logged for this node" in panel
    assert "no grad histograms logged for this node" in panel


def test_unknown_runs_and_tags_get_a_clean_message(server):
    url, app = server
    body = _graph_request(app, "..graph-loaded.data", {"graph-run.value": GHOST},
                          "graph-run.value")  # fmt: skip
    status, text = post(url, body)
    assert status == 200
    assert f"no run named '{GHOST}'" in _response(text)["graph-message"]["children"]
    body = _graph_request(app, "..graph-loaded.data", {"graph-run.value": DAMAGED},
                          "graph-run.value")  # fmt: skip
    status, text = post(url, body)
    assert status == 200 and "logged no graph" in _response(text)["graph-message"]["children"]
    # a chart for a tag no run has, and a run that vanished, in the Scalars view
    status, text = post(url, _chart_request(app, {}, tag="no/such/tag"))
    fig, _state = _chart_of(text)
    assert status == 200
    assert "no selected run has this tag" in fig["layout"]["annotations"][0]["text"]
    info = [*sane_values(app)["runs-info.data"], {"name": GHOST, "color": "#000000"}]
    values = {"runs-info.data": info, "selected-runs.data": ["alpha", GHOST]}
    status, text = post(url, _chart_request(app, values))
    fig, state = _chart_of(text)
    assert status == 200 and list(state["runs"]) == ["alpha"]
    assert f"no run named '{GHOST}'" in state["problems"][GHOST]


def test_histograms_name_a_run_that_cannot_be_read_and_draw_the_others(server):
    from flowlog.dashboard.views import histograms

    url, app = server
    data = app.flowlog_context.data
    runs = {"alpha": ("#336699", None), GHOST: ("#993366", None)}
    group = histograms.tag_group(data, "weights/w", runs, "ridge")
    cards = group.children[1].children
    problem = [c for c in cards if "fl-problem-card" in (c.className or "")]
    assert len(problem) == 1
    assert f"no run named '{GHOST}'" in json.dumps(problem[0].to_plotly_json(), default=str)
    graphs = [c.children for c in cards if "fl-problem-card" not in (c.className or "")]
    percentiles, alpha = graphs[0].figure, graphs[1].figure
    assert {t.name for t in percentiles.data if t.name} == {"alpha"} and len(alpha.data) > 1
    # through the server: the view's message names the run, alpha's charts still come
    key = next(k for k in app.callback_map if k.startswith("..hist-charts.children"))
    crafted = Crafted(key, app.callback_map[key])
    info = [*sane_values(app)["runs-info.data"], {"name": GHOST, "color": "#000000"}]
    values = {"runs-info-for-histograms.data": info, "selected-runs.data": ["alpha", GHOST],
              "view-tabs.value": "histograms", "hist-mode.value": "ridge"}  # fmt: skip
    status, text = post(url, crafted.body(values, SANE_KEYS))
    assert status == 200
    shown = json.dumps(_response(text)["hist-charts"]["children"])
    assert f"no run named '{GHOST}'" in shown and "weights/w" in shown


def test_live_ticks_and_exports_go_on_beside_a_damaged_run(server):
    """A live tick does not rebuild a chart every interval for a run that stays damaged, and
    an export holds the good runs' points (the damaged run's cannot be read)."""
    import csv
    import io

    from flowlog.dashboard.views.scalars import export_file, live_update

    _url, app = server
    view = app.flowlog_context.extra["scalars"]
    info = sane_values(app)["runs-info.data"]
    selected = ["alpha", DAMAGED]
    _fig, state = view.build("loss/train", info, selected, 0.6, "step", [], "none", None, None)
    assert list(state["runs"]) == ["alpha"] and DAMAGED in state["problems"]
    assert live_update(view, state, info, selected, [], None) == (None, None, None)
    got = export_file(view, "csv", selected, ["loss/train"], 0.0, [state], info)
    rows = list(csv.DictReader(io.StringIO(got["content"])))
    assert {r["run"] for r in rows} == {"alpha"} and len(rows) == 3000
