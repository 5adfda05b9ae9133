"""Time graph description → SVG for generated graphs of 100 / 1,000 / 10,000 nodes.

Graphs are nested three scopes deep (block/layer/unit, 10 nodes per unit) with variables,
constants, skip connections and a gradient + optimizer half like a real training graph. Each
case is rendered fully expanded and folded to depth 0, 1, 2; ``to_dot`` (Python) and ``dot``
(Graphviz) are timed separately. Ratios are against the first row (100 nodes, all expanded),
so the figures say how time grows with size on whatever machine runs this. Times are CPU
seconds (``to_dot`` in this process, ``dot`` from its rusage), so other load on a shared
machine does not inflate them; a layout past ``--timeout`` wall seconds shows as ``inf``.

    .venv/bin/python benchmarks/render.py [--sizes 100 1000 10000] [--settings]

``--settings`` also times the expanded 1,000-node graph under individual dot layout settings
(each alone, then all of FAST_LAYOUT) against the default layout.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import time

from flowlog.render import count_visible, to_dot


def make_graph(n: int) -> dict:
    """A training-like description of about ``n`` nodes.

    Model: blocks of 5 layers of 5 parallel units (10 nodes each: weights, bias, constant,
    MatMul, Add with a cross-unit input, activations, a skip Add), so depth grows with layers
    as in a real network. Then one gradient node per model node (reverse mode: inputs are its
    consumers' gradients and the forward input) and one optimizer update per variable."""
    units = max(1, round(n / 22))  # 10 model + 10 gradient + 2 update nodes per unit
    nodes: list[dict] = [
        {
            "name": "input/x",
            "op": "Placeholder",
            "inputs": [],
            "scope": "input",
            "kind": "placeholder",
            "shape": [None, 784],
        }
    ]
    layer_in = ["input/x"] * 5
    for u in range(units):
        layer, idx = divmod(u, 5)
        scope = f"block{layer // 5}/layer{layer % 5}/unit{idx}"
        x, x2 = layer_in[idx], layer_in[(idx + 1) % 5]
        spec = [
            ("w", "Variable", "variable", [], [64, 64]),
            ("b", "Variable", "variable", [], [64]),
            ("c", "Const", "constant", [], []),
            ("MatMul", "MatMul", "op", [x, "w"], [None, 64]),
            ("Add", "Add", "op", ["MatMul", "b", x2], [None, 64]),
            ("Relu", "Relu", "op", ["Add"], [None, 64]),
            ("Mul", "Mul", "op", ["Relu", "c"], [None, 64]),
            ("Tanh", "Tanh", "op", ["Mul"], [None, 64]),
            ("Skip", "Add", "op", ["Tanh", "Relu"], [None, 64]),
            ("out", "Identity", "op", ["Skip"], [None, 64]),
        ]
        local = {short for short, *_ in spec}
        for short, op, kind, inputs, shape in spec:
            full = [f"{scope}/{i}" if i in local else i for i in inputs]
            nodes.append(
                {
                    "name": f"{scope}/{short}",
                    "op": op,
                    "inputs": full,
                    "scope": scope,
                    "kind": kind,
                    "shape": shape,
                }
            )
        if idx == 4 or u == units - 1:
            base = u - idx
            layer_in = [
                f"{nodes[-1]['scope'].rsplit('/', 1)[0]}/unit{(k if base + k <= u else 0)}/out"
                for k in range(5)
            ]
    model = list(nodes)
    consumers: dict[str, list[str]] = {}
    for nd in model:
        for i in nd["inputs"]:
            consumers.setdefault(i, []).append(nd["name"])
    grad: dict[str, str] = {}
    for nd in reversed(model):
        if nd["kind"] == "constant":
            continue
        scope = "gradients/" + nd["scope"]
        gname = f"{scope}/{nd['name'].rpartition('/')[2]}_grad"
        inputs = [grad[c] for c in consumers.get(nd["name"], []) if c in grad]
        inputs += nd["inputs"][:1]
        nodes.append(
            {
                "name": gname,
                "op": nd["op"] + "Grad",
                "inputs": sorted(set(inputs)),
                "scope": scope,
                "kind": "gradient",
                "shape": nd["shape"],
            }
        )
        grad[nd["name"]] = gname
    for nd in model:
        if nd["kind"] == "variable":
            scope = "GradientDescent/" + nd["scope"].replace("/", "_")
            nodes.append(
                {
                    "name": f"{scope}/update_{nd['name'].rpartition('/')[2]}",
                    "op": "AssignSub",
                    "inputs": [nd["name"], grad[nd["name"]]],
                    "scope": scope,
                    "kind": "optimizer",
                    "shape": nd["shape"],
                }
            )
    return {"format": "flowlog.graph/1", "nodes": nodes}


def timed(fn, *args, **kw):
    """(result, CPU seconds of this process): robust to other load on a shared machine."""
    t = time.process_time()
    out = fn(*args, **kw)
    return out, time.process_time() - t


def time_dot(text: str, timeout: float) -> float:
    """CPU seconds ``dot -Tsvg`` used (its rusage); ``inf`` past ``timeout`` wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        subprocess.run(
            ["dot", "-Tsvg", "-o", os.devnull],
            input=text.encode(),
            check=True,
            timeout=timeout,
            capture_output=True,
        )
    except subprocess.TimeoutExpired:
        return math.inf
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--settings", action="store_true", help="also compare dot layout settings")
    ap.add_argument(
        "--max-drawn", type=int, default=5000, help="skip layouts drawing more nodes than this"
    )
    ap.add_argument("--settings-size", type=int, default=300)
    ap.add_argument("--timeout", type=float, default=60.0, help="give up on dot after this")
    args = ap.parse_args(argv)

    cases = [
        ("expanded+grads", {"show_gradients": True}),
        ("expanded", {}),
        ("depth 2", {"depth": 2}),
        ("depth 1", {"depth": 1}),
        ("depth 0", {"depth": 0}),
    ]
    base = None
    print(
        f"{'nodes':>6} {'layout':<15} {'drawn':>6} {'to_dot s':>9} {'dot s':>8} {'total s':>8}"
        f" {'× base':>7}"
    )
    for n in args.sizes:
        desc = make_graph(n)
        for label, kw in cases:
            drawn = count_visible(desc, **kw)
            if drawn > args.max_drawn:
                print(f"{n:>6} {label:<15} {drawn:>6}  skipped (> --max-drawn)")
                continue
            text, t_py = timed(to_dot, desc, **kw)
            t_dot = time_dot(text, args.timeout)
            total = t_py + t_dot
            if base is None:
                base = total
            print(
                f"{n:>6} {label:<15} {drawn:>6} {t_py:>9.3f} {t_dot:>8.3f} {total:>8.3f}"
                f" {total / base:>7.1f}"
            )
            sys.stdout.flush()

    if args.settings:
        variants = [
            ("nslimit=0.2", {"nslimit": 0.2}),
            ("mclimit=0.5", {"mclimit": 0.5}),
            ("remincross=false", {"remincross": "false"}),
            ("splines=line", {"splines": "line"}),
            ("nslimit=0.2 splines=line", {"nslimit": 0.2, "splines": "line"}),
        ]
        for title, desc, kw in [
            (
                "fully expanded (with gradients)",
                make_graph(args.settings_size),
                {"show_gradients": True},
            ),
            ("folded to depth 2", make_graph(10000), {"depth": 2}),
        ]:
            ref_text = to_dot(desc, fast=False, **kw)
            ref = time_dot(ref_text, args.timeout)
            drawn = count_visible(desc, **kw)
            print(f"\n{len(desc['nodes'])}-node graph {title}, {drawn} drawn; dot settings:")
            print(f"  {'default':<32} {ref:>7.3f} s  1.00×")
            for label, extra in variants:
                attrs = " ".join(f"{k}={v}" for k, v in extra.items())
                text = ref_text.replace("  graph [", f"  graph [{attrs} ", 1)
                t = time_dot(text, args.timeout)
                print(f"  {label:<32} {t:>7.3f} s  {t / ref:.2f}×")
            t = time_dot(to_dot(desc, fast=False, edge_labels=False, **kw), args.timeout)
            print(f"  {'no edge labels':<32} {t:>7.3f} s  {t / ref:.2f}×")
        desc = make_graph(1000)
        print("\n1,000-node graph, gradients folded: hub bundling (max_fan) on/off")
        on = time_dot(to_dot(desc), args.timeout)
        off = time_dot(to_dot(desc, max_fan=None), args.timeout)
        print(f"  bundled {on:.3f} s, unbundled {off:.3f} s ({off / on:.1f}× slower unbundled)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
