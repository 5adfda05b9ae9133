"""writer.watch on a real flowlog session: statistics keyed by node name, numerics findings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import linear_model as build

import flowlog as fl
from flowlog.reader import Logdir
from flowlog.watch import GRAD_STATS, VALUE_STATS
from flowlog.writer import SummaryWriter


def test_watch_logs_value_and_gradient_statistics_by_node(tmp_path):
    g, x, y, w, b, loss, train = build()
    rng = np.random.default_rng(0)
    bx, by = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    grad_w = g.gradient_of["dense/w"]
    sess = fl.Session(g)
    expected = {}
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        hook = writer.watch(sess, every=3, histograms_every=6)
        for step in range(12):
            before = sess.value(w)
            _, gw = sess.run([train, grad_w], feed_dict={x: bx, y: by})
            after = sess.value(w)
            expected[step] = (before, after, gw)
        sess.run(loss, feed_dict={x: bx, y: by})  # run 12: an eval run, due, no gradient
    assert hook.every == 3
    run = Logdir(tmp_path).run("r")
    assert run.watched_nodes() == ["dense/b", "dense/w"]
    stats = run.watch_stats("dense/w")
    assert set(stats) == set(VALUE_STATS) | set(GRAD_STATS) | {"update_ratio"}
    np.testing.assert_array_equal(stats["value_norm"].step, [0, 3, 6, 9, 12])
    np.testing.assert_array_equal(stats["grad_norm"].step, [0, 3, 6, 9])
    for i, step in enumerate([0, 3, 6, 9]):
        before, after, gw = expected[step]
        assert stats["value_norm"].value[i] == pytest.approx(np.linalg.norm(after))
        assert stats["value_mean"].value[i] == pytest.approx(after.mean())
        assert stats["value_std"].value[i] == pytest.approx(after.std())
        assert stats["value_min"].value[i] == after.min()
        assert stats["value_max"].value[i] == after.max()
        assert stats["grad_norm"].value[i] == pytest.approx(np.linalg.norm(gw))
        assert stats["grad_mean"].value[i] == pytest.approx(gw.mean())
        assert stats["grad_max"].value[i] == pytest.approx(gw.max())
        assert stats["grad_zero"].value[i] == 0 and stats["grad_nan"].value[i] == 0
        ratio = np.linalg.norm(after - before) / np.linalg.norm(before)
        assert stats["update_ratio"].value[i] == pytest.approx(ratio)
    # the bias starts at zero: its first update ratio is infinite, by definition
    assert run.watch_stats("dense/b")["update_ratio"].value[0] == math.inf
    hists = run.histograms("watch/dense/w/value")
    assert [h.step for h in hists] == [0, 6, 12]
    assert hists[0].count == 3 and hists[0].max == pytest.approx(expected[0][1].max())
    assert [h.step for h in run.histograms("watch/dense/w/grad")] == [0, 6]
    tags = {t.tag: t for t in run.tags()}
    assert tags["watch/dense/w/grad_norm"].node == "dense/w"
    assert tags["watch/dense/w/grad"].kind == "histogram"
    assert run.graph()["trainable"] == ["dense/w", "dense/b"]  # watch logged the graph


def test_numerics_findings_are_recorded_with_their_step(tmp_path):
    g, x, y, w, b, loss, train = build()
    sess = fl.Session(g, check_numerics=True)
    good = {x: np.ones((4, 3)), y: np.ones((4, 1))}
    bad = {x: np.full((4, 3), np.nan), y: np.ones((4, 1))}
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        writer.add_graph(g)
        writer.watch(sess, every=100, global_step=lambda: 1000 + sess.run_count)
        sess.run(train, feed_dict=good)
        sess.run(loss, feed_dict=bad)  # run 1: the forward pass meets NaN
        sess.run(loss, feed_dict=good)
    run = Logdir(tmp_path).run("r")
    (finding,) = run.numerics()
    assert finding["step"] == 1001 and finding["run_index"] == 1
    assert finding["kind"] == "nan" and finding["phase"] == "forward"
    assert finding["node"] == sess.numerics_findings[0].node
    assert finding["inputs"] == sess.numerics_findings[0].inputs
    assert run.watch_stats("dense/w")["value_norm"].step.tolist() == [1000]
    assert len(run.graph()["nodes"]) == len(g.nodes)  # logged once, by add_graph


def test_watch_rejects_bad_arguments(tmp_path):
    g, *_ = build()
    sess = fl.Session(g)
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        with pytest.raises(TypeError, match="Session"):
            writer.watch(object())
        with pytest.raises(ValueError, match="every"):
            writer.watch(sess, every=0)
        with pytest.raises(TypeError, match="every"):
            writer.watch(sess, every=2.5)
        with pytest.raises(ValueError, match="histograms_every"):
            writer.watch(sess, histograms_every=-1)
        with pytest.raises(TypeError, match="global_step"):
            writer.watch(sess, global_step=5)


def test_watch_stops_quietly_after_the_writer_closes(tmp_path):
    g, x, y, w, b, loss, train = build()
    sess = fl.Session(g)
    writer = SummaryWriter(logdir=tmp_path, run_name="r")
    writer.watch(sess, every=1)
    feed = {x: np.ones((2, 3)), y: np.ones((2, 1))}
    sess.run(train, feed_dict=feed)
    writer.close()
    sess.run(train, feed_dict=feed)  # training goes on; nothing is logged
    assert Logdir(tmp_path).run("r").watch_stats("dense/w")["value_norm"].step.tolist() == [0]
