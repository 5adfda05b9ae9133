"""The guide's first graph: (5*3) + (5+3), built as nodes and then run in a session.

Usage: python examples/computation_graph.py
"""

from __future__ import annotations

import argparse

import flowlog as fl


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
    parser.parse_args(argv)

    graph, e = build()
    with fl.Session(graph=graph) as sess:
        value = sess.run(e)
    print(float(value))
    print("nodes:")
    for node in graph.nodes:
        inputs = ", ".join(i.name for i in node.inputs) or "-"
        print(f"  {node.name:3s} {node.op:6s} inputs: {inputs}")
    return {"value": float(value), "nodes": [n.name for n in graph.nodes], "graph": graph}


if __name__ == "__main__":
    main()
