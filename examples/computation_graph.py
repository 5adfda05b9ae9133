"""The guide's first graph: (5*3) + (5+3), built as nodes and then run in a session.

Usage: python examples/computation_graph.py [--logdir runs] [--run-name computation_graph]

Writes the run LOGDIR/RUN_NAME with the graph and the value of e, to see in the dashboard's
Graph tab (`flowlog-dashboard --logdir runs`).
"""

from __future__ import annotations

import argparse
import os

import flowlog as fl
from flowlog.writer import SummaryWriter


def build():
    """The graph and its output node; nothing is computed yet."""
    g = fl.Graph()
    with g.as_default():
        a = fl.constant(5.0, name="a")
        b = fl.constant(3.0, name="b")
        c = fl.multiply(a, b, name="c")
        d = fl.add(a, b, name="d")
        e = fl.add(c, d, name="e")
    return g, e


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1, help="accepted for uniformity; unused")
    parser.add_argument("--logdir", default="runs", help="event log directory")
    parser.add_argument("--run-name", default="computation_graph", help="run name")
    args = parser.parse_args(argv)

    graph, e = build()
    with fl.Session(graph=graph) as sess:
        value = sess.run(e)
    run_dir = os.path.join(args.logdir, args.run_name)
    with SummaryWriter(run_dir, purge_step=0) as log:
        log.add_graph(graph)
        log.add_scalar("e", float(value), 0)
    print(float(value))
    print("nodes:")
    for node in graph.nodes:
        inputs = ", ".join(i.name for i in node.inputs) or "-"
        print(f"  {node.name:3s} {node.op:6s} inputs: {inputs}")
    print(f"wrote run {args.run_name!r} to {args.logdir} (see its Graph tab)")
    return {
        "value": float(value),
        "nodes": [n.name for n in graph.nodes],
        "graph": graph,
        "run_dir": run_dir,
    }


if __name__ == "__main__":
    main()
