"""flowlog.render's stages on their own (fold → style → emit) and its `dot` runner's errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flowlog import render, render_fold, render_style


def node(name, op, inputs=(), kind=None):
    nd = {"name": name, "op": op, "inputs": list(inputs)}
    if kind is not None:
        nd["kind"] = kind
    return nd


def hub_desc():
    nodes = [node(f"b{blk}/n{i}", "Relu") for blk in range(3) for i in range(4)]
    nodes.append(node("gradients/g", "G", [nd["name"] for nd in nodes], "gradient"))
    nodes.append(node("gradients/h", "H", ["gradients/g"], "gradient"))
    return {"nodes": nodes}


# --------------------------------------------------------------------------- fold


def test_plan_layout_and_edges_of_a_folded_hub():
    plan = render_fold.make_plan(hub_desc())
    assert plan.folded == ["gradients"]
    assert plan.visible_of("gradients/g") == ("scope", "gradients")
    lay = render_fold.layout(plan)
    assert lay.members[""] == [("scope", "gradients")]
    assert lay.children[""] == ["b0", "b1", "b2"]
    assert lay.visible_count == 13
    bundled = render_fold.edges(plan, max_fan=2)
    assert [(e.ltail, len(e.tensors), e.merged) for e in bundled] == [
        ("b0", 4, True),
        ("b1", 4, True),
        ("b2", 4, True),
    ]
    plain = render_fold.edges(plan, max_fan=None)
    assert len(plain) == 12 and all(e.ltail is None and e.merged for e in plain)


def test_gradient_to_gradient_edges_are_reversed():
    plan = render_fold.make_plan(hub_desc(), show_gradients=True)
    (e,) = [e for e in render_fold.edges(plan, None) if e.dst == ("node", "gradients/h")]
    assert e.reverse and not e.merged
    text = render.to_dot(hub_desc(), show_gradients=True)
    assert '"gradients/h" -> "gradients/g" [class="fl-edge" dir="back"];' in text


def test_scope_named_like_a_node_gets_a_distinct_dot_name():
    plan = render_fold.make_plan(
        {"nodes": [node("loss", "P"), node("loss/Mean", "Mean", ["loss"])]}, collapse=["loss"]
    )
    assert render_fold.layout(plan).dot_name(("scope", "loss")) == "loss/"


# --------------------------------------------------------------------------- style


def test_overlay_gives_a_folded_scope_its_non_finite_value():
    plan = render_fold.make_plan(hub_desc())
    ov = render_style.overlay({"gradients/g": 1.0, "gradients/h": float("inf")}, plan)
    assert ov.scope_values == {"gradients": float("inf")}
    assert render_style.overlay(None, plan).scale is None
    with pytest.raises(TypeError, match="values must map"):
        render_style.overlay([1.0], plan)


def test_marks_touch_only_the_outline_and_class():
    plan = render_fold.make_plan(hub_desc())
    marks = render_style.Marks({("node", "b0/n0")}, set())
    a = render_style.element_attrs(("node", "b0/n0"), plan, render_style.NO_OVERLAY, marks)
    assert a["class"] == "fl-node fl-kind-op fl-marked"
    assert a["color"] == render.MARK_COLOR and a["fillcolor"] == "#e8eef8"


# --------------------------------------------------------------------------- running dot


def fake_dot(tmp_path, monkeypatch, script: str) -> None:
    """Put a `dot` that runs ``script`` (sh) first on PATH."""
    exe = tmp_path / "dot"
    exe.write_text("#!/bin/sh\n" + script + "\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")


def test_dot_failure_carries_its_stderr():
    with pytest.raises(render.DotError, match="dot failed: .*syntax error"):
        render.run_dot("digraph { a -> }")


def test_dot_failure_without_stderr_gives_the_exit_status(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, "exit 3")
    with pytest.raises(render.DotError, match="dot failed: exit status 3"):
        render.render({"nodes": [node("a", "Relu")]})


def test_dot_past_the_timeout_is_a_dot_error(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, "exec sleep 30")
    with pytest.raises(render.DotError, match="no result after 0.3 s"):
        render.run_dot("digraph {}", timeout=0.3)
    monkeypatch.setattr(render, "DOT_TIMEOUT", 0.3)
    with pytest.raises(render.DotError, match="no result after 0.3 s"):
        render.render({"nodes": [node("a", "Relu")]})


def test_rendering_needs_no_graphviz_python_package():
    code = (
        "import sys\n"
        "sys.modules['graphviz'] = None  # importing it now fails\n"
        "from flowlog import render\n"
        "svg = render.render({'nodes': [{'name': 'a', 'op': 'Relu', 'inputs': []}]})\n"
        "print(b'node:a' in svg)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
