"""SummaryWriter: round trips of every record kind, bad input, step policies, run lifecycle."""

from __future__ import annotations

import math
import os
import time
from fractions import Fraction

import numpy as np
import pytest
from conftest import assert_chunks_sound

from flowlog import schema
from flowlog.reader import Logdir
from flowlog.writer import SummaryWriter, validate_graph_description


class Itemish:
    """Stands in for a torch tensor: has .item() and .numel() but is not a number."""

    def __init__(self, value, n=1):
        self.value, self.n = value, n

    def item(self):
        if self.n != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.value

    def numel(self):
        return self.n

    def size(self):
        return (self.n,)


def read(logdir, name="r"):
    return Logdir(logdir).run(name)


def test_scalar_round_trip_of_every_accepted_value_type(tmp_path):
    values = [
        1.5,
        2,
        np.float32(0.25),
        np.float64(-3.0),
        np.int64(7),
        np.array(4.5),
        np.array([5.5]),
        Itemish(6.5),
        Fraction(1, 4),
        True,
    ]
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        for step, v in enumerate(values):
            w.add_scalar("loss", v, step)
    s = read(tmp_path).scalars("loss")
    assert s.step.dtype == np.int64 and s.value.dtype == np.float64
    np.testing.assert_array_equal(s.step, np.arange(len(values)))
    np.testing.assert_array_equal(s.value, [1.5, 2, 0.25, -3, 7, 4.5, 5.5, 6.5, 0.25, 1.0])


def test_nan_and_inf_are_stored_faithfully(tmp_path):
    vals = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e-308, 5e-324]
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        for step, v in enumerate(vals):
            w.add_scalar("x", v, step)
        w.add_scalar("x", np.float32("nan"), 8)
    s = read(tmp_path).scalars("x")
    assert np.isnan(s.value[0]) and np.isnan(s.value[8])
    assert s.value[1] == math.inf and s.value[2] == -math.inf
    np.testing.assert_array_equal(s.value[3:8], vals[3:8])
    # SQLite stores a REAL -0.0 as 0 (documented): only the sign of zero is not kept


def test_walltime_and_add_scalars(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        w.add_scalar("a", 1.0, 0, walltime=1000.5)
        w.add_scalar("loss/train", 9.0, 3)  # the same spelling as a series: no collision
        w.add_scalars("loss", {"train": 0.5, "val": np.float64(0.75)}, 3, walltime=2000.0)
    run = read(tmp_path)
    assert run.scalars("a").wall.tolist() == [1000.5]
    assert run.scalars("loss/train").value.tolist() == [9.0]
    assert run.scalars("loss\x1ftrain").value.tolist() == [0.5]
    assert run.scalars("loss\x1fval").value.tolist() == [0.75]
    assert run.scalars("loss\x1fval").step.tolist() == [3]
    assert run.scalars("loss\x1fval").wall.tolist() == [2000.0]
    series = {t.tag: (t.chart, t.series, t.label) for t in run.tags()}
    assert series["loss\x1fval"] == ("loss", "val", "loss/val")
    assert series["loss/train"] == ("loss/train", None, "loss/train")
    with pytest.raises(ValueError, match="U\\+001F"):
        SummaryWriter(logdir=tmp_path, run_name="s").add_scalar("a\x1fb", 1.0)


def test_add_scalars_validates_everything_before_logging(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        with pytest.raises(TypeError, match="loss/bad"):
            w.add_scalars("loss", {"good": 1.0, "bad": "x"}, 0)
        w.add_scalar("other", 1.0, 0)
    assert [t.tag for t in read(tmp_path).tags()] == ["other"]


def test_histogram_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    vals = rng.normal(size=(50, 20))
    bad = np.array([1.0, np.nan, np.inf, -np.inf, np.inf, 2.0, 3.0])
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        w.add_histogram("w", vals, 5, bins=16)
        w.add_histogram("w", vals * 2, 6, bins=[-10, 0, 10])
        w.add_histogram("bad", bad, 0, bins=2)
        w.add_histogram("tf", vals, 0)  # torch's default bins="tensorflow"
        w.add_histogram("auto", np.arange(100), 0, bins="auto")
        w.add_histogram("allnan", [np.nan, np.inf], 0)
    run = read(tmp_path)
    h5, h6 = run.histograms("w")
    counts, edges = np.histogram(vals, bins=16)
    assert (h5.step, h6.step) == (5, 6)
    np.testing.assert_array_equal(h5.counts, counts)
    np.testing.assert_array_equal(h5.edges, edges)
    np.testing.assert_array_equal(h6.edges, [-10, 0, 10])
    assert h6.counts.sum() == vals.size
    assert h5.min == vals.min() and h5.max == vals.max() and h5.count == vals.size
    assert h5.sum == pytest.approx(vals.sum()) and h5.sum_squares == pytest.approx((vals**2).sum())
    (hb,) = run.histograms("bad")
    assert (hb.count, hb.nan, hb.posinf, hb.neginf) == (7, 1, 2, 1)
    assert hb.counts.sum() == 3 and (hb.min, hb.max, hb.sum) == (1.0, 3.0, 6.0)
    assert len(run.histograms("tf")[0].counts) == 30
    assert run.histograms("auto")[0].counts.sum() == 100
    (ha,) = run.histograms("allnan")
    assert ha.counts.size == 0 and math.isnan(ha.min) and (ha.nan, ha.posinf) == (1, 1)


def test_text_hparams_graph_round_trip(tmp_path):
    desc = {
        "nodes": [
            {"name": "x", "op": "Placeholder", "inputs": []},
            {"name": "dense/y", "op": "Relu", "inputs": ["x"], "kind": "op", "scope": "dense"},
        ]
    }
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        w.add_text("notes", "# hello\n*markdown* ünïcode", 0)
        w.add_text("notes", "second", 4)
        w.add_text("other", "x", 1)
        w.add_hparams({"lr": 0.1, "opt": "adam", "layers": np.int64(3), "wd": None}, {"acc": 0.9})
        w.add_hparams({"lr": 0.2}, {"acc": np.float32(0.5)})  # replaces
        w.add_graph(desc)
    run = read(tmp_path)
    texts = run.texts("notes")
    assert [(t[0], t[1], t[3]) for t in texts] == [
        ("notes", 0, "# hello\n*markdown* ünïcode"),
        ("notes", 4, "second"),
    ]
    assert [t[0] for t in run.texts()] == ["notes", "notes", "other"]
    assert run.hparams() == ({"lr": 0.2}, {"acc": 0.5})
    assert run.graph() == {"format": "flowlog.graph/1", **desc}


def test_hparams_types_kept(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        w.add_hparams({"lr": 0.1, "opt": "adam", "layers": np.int64(3), "wd": None, "b": True}, {})
    hp, metrics = read(tmp_path).hparams()
    assert hp == {"lr": 0.1, "opt": "adam", "layers": 3, "b": True}  # None skipped, as torch
    assert metrics == {}


def test_add_graph_from_a_flowlog_graph(tmp_path):
    import flowlog as fl
    from flowlog.describe import describe_graph

    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(fl.float64, shape=[None, 2], name="x")
        w = fl.Variable(np.ones((2, 1)), name="w")
        loss = fl.reduce_mean(fl.square(fl.matmul(x, w)), name="loss")
        fl.train.GradientDescentOptimizer(0.1).minimize(loss)
    with SummaryWriter(logdir=tmp_path, run_name="r") as w_:
        w_.add_graph(g)
    logged = read(tmp_path).graph()
    assert logged == describe_graph(g)
    assert "w" in logged["gradient_of"]


@pytest.mark.parametrize(
    "desc, match",
    [
        ([], "dict"),
        ({"nodes": "x"}, "'nodes' list"),
        ({"format": "other/2", "nodes": []}, "format"),
        ({"nodes": [{"name": "", "op": "A", "inputs": []}]}, "#0"),
        ({"nodes": [{"name": "a", "inputs": []}]}, "'a'.*op"),
        ({"nodes": [{"name": "a", "op": "A", "inputs": ["zz"]}]}, "'a'.*'zz'"),
        ({"nodes": [{"name": "a", "op": "A", "inputs": [], "kind": "weird"}]}, "'a'.*kind"),
        ({"nodes": [{"name": "a", "op": "A", "inputs": [], "shape": [1.5]}]}, "'a'.*shape"),
        ({"nodes": [{"name": "a", "op": "A"}, {"name": "a", "op": "B"}]}, "'a'.*duplicate"),
        ({"nodes": [{"name": "a", "op": "A", "attrs": {"f": object()}}]}, "JSON"),
        ({"nodes": [{"name": "a", "op": "A"}], "trainable": ["b"]}, "trainable"),
    ],
)
def test_bad_graph_descriptions_name_the_problem(tmp_path, desc, match):
    with pytest.raises((TypeError, ValueError), match=match):
        validate_graph_description(desc)
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        with pytest.raises((TypeError, ValueError), match=match):
            w.add_graph(desc)
    assert read(tmp_path).graph() is None


def test_add_graph_rejects_other_objects(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w, pytest.raises(TypeError, match="Graph"):
        w.add_graph(object())


BAD_SCALARS = [
    (None, TypeError, "None"),
    ("1.0", TypeError, "string"),
    (b"1", TypeError, "string"),
    (np.array([1.0, 2.0]), ValueError, "single number"),
    (np.zeros((2, 2)), ValueError, "single number"),
    (Itemish(1.0, n=3), ValueError, "single number"),
    (1 + 2j, TypeError, "number"),
    (np.complex128(1), TypeError, "number"),
    (object(), TypeError, "number"),
    ([1.0], TypeError, "number"),
    (10**400, ValueError, "too large"),
]


@pytest.mark.parametrize("value, exc, match", BAD_SCALARS)
def test_bad_values_raise_naming_the_tag_and_lose_nothing(tmp_path, value, exc, match):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        w.add_scalar("train/loss", 1.0, 0)
        with pytest.raises(exc, match=match) as info:
            w.add_scalar("train/loss", value, 1)
        assert "'train/loss'" in str(info.value)
        w.add_scalar("train/loss", 3.0, 2)
    s = read(tmp_path).scalars("train/loss")
    assert s.step.tolist() == [0, 2] and s.value.tolist() == [1.0, 3.0]


@pytest.mark.parametrize(
    "step, exc, match",
    [
        (1.5, TypeError, "global_step must be an int"),
        (2.0, TypeError, "global_step must be an int"),
        ("3", TypeError, "global_step must be an int"),
        (True, TypeError, "global_step must be an int"),
        (-1, ValueError, r"\[0, 2\*\*53\)"),
        (2**53, ValueError, r"\[0, 2\*\*53\)"),
        (np.float64(1), TypeError, "global_step must be an int"),
    ],
)
def test_bad_steps(tmp_path, step, exc, match):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        w.add_scalar("acc", 1.0, 0)
        with pytest.raises(exc, match=match) as info:
            w.add_scalar("acc", 1.0, step)
        assert "'acc'" in str(info.value)
        with pytest.raises(exc, match=match):
            w.add_histogram("h", [1.0], step)
        with pytest.raises(exc, match=match):
            w.add_text("t", "x", step)
    assert read(tmp_path).scalars("acc").step.tolist() == [0]


def test_numpy_and_item_steps_are_accepted(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        w.add_scalar("a", 1.0, np.int32(4))
        w.add_scalar("a", 1.0, Itemish(9))
        w.add_scalar("a", 1.0, 2**53 - 1)
    assert read(tmp_path).scalars("a").step.tolist() == [4, 9, 2**53 - 1]


@pytest.mark.parametrize(
    "tag, exc", [("", ValueError), ("   ", ValueError), (3, TypeError), (None, TypeError)]
)
def test_bad_tags(tmp_path, tag, exc):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        with pytest.raises(exc, match="tag"):
            w.add_scalar(tag, 1.0, 0)
        with pytest.raises(exc, match="tag"):
            w.add_histogram(tag, [1.0], 0)
        with pytest.raises(exc, match="tag"):
            w.add_text(tag, "x", 0)
    assert read(tmp_path).tags() == []


def test_bad_walltime_text_hparams_histogram(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        with pytest.raises(TypeError, match="'a'.*walltime"):
            w.add_scalar("a", 1.0, 0, walltime="now")
        with pytest.raises(ValueError, match="'a'.*walltime"):
            w.add_scalar("a", 1.0, 0, walltime=math.nan)
        with pytest.raises(TypeError, match="'t'.*str"):
            w.add_text("t", 5, 0)
        with pytest.raises(TypeError, match="hparam 'x'"):
            w.add_hparams({"x": [1, 2]}, {})
        with pytest.raises(TypeError, match="keys"):
            w.add_hparams({1: 2}, {})
        with pytest.raises(TypeError, match="'m'"):
            w.add_hparams({}, {"m": "high"})
        with pytest.raises(ValueError, match="'h'.*empty"):
            w.add_histogram("h", [], 0)
        with pytest.raises(TypeError, match="'h'.*numeric"):
            w.add_histogram("h", ["a", "b"], 0)
        with pytest.raises(ValueError, match="'h'.*bins"):
            w.add_histogram("h", [1.0], 0, bins="nope")
        with pytest.raises(ValueError, match="'h'.*edges"):
            w.add_histogram("h", [1.0], 0, bins=[3, 2, 1])
        with pytest.raises(ValueError, match="'h'.*bins"):
            w.add_histogram("h", [1.0], 0, bins=0)
    run = read(tmp_path)
    assert run.tags() == [] and run.hparams() == ({}, {})


def test_one_tag_one_kind(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        w.add_scalar("x", 1.0, 0)
        with pytest.raises(ValueError, match="'x' is a scalar tag"):
            w.add_histogram("x", [1.0], 0)
        with pytest.raises(ValueError, match="'x' is a scalar tag"):
            w.add_text("x", "t", 0)
    run = read(tmp_path)
    with pytest.raises(ValueError, match="'x' is a scalar tag"):
        run.histograms("x")


def test_writing_after_close_reopens_the_run_as_torch_does(tmp_path):
    w = SummaryWriter(logdir=tmp_path, run_name="r")
    w.add_scalar("loss", 1.0, 0)
    w.close()
    w.close()  # idempotent
    w.flush()  # a no-op once closed, as torch
    assert w.closed and read(tmp_path).info.status == "finished"
    w.add_scalar("loss", 2.0)  # reopens: the step continues after the stored ones
    assert not w.closed and read(tmp_path).info.status == "running"
    w.add_scalar("new", 3.0, 5)
    w.add_histogram("h", [1.0], 0)
    w.close()
    run = read(tmp_path)
    assert run.scalars("loss").value.tolist() == [1.0, 2.0]
    assert run.scalars("loss").step.tolist() == [0, 1]
    assert run.scalars("new").step.tolist() == [5]
    assert len(run.histograms("h")) == 1 and run.info.status == "finished"
    assert [f for f in os.listdir(tmp_path / "r") if f.endswith(".db")] == ["flowlog.db"]


def test_default_step_is_previous_plus_one_per_tag(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        for _ in range(3):
            w.add_scalar("a", 1.0)
        w.add_scalar("b", 1.0)
        w.add_scalar("a", 1.0, 10)
        w.add_scalar("a", 1.0)
        w.add_text("t", "x")
        w.add_text("t", "y")
        w.add_histogram("h", [1.0], 5)
        w.add_histogram("h", [1.0])
    run = read(tmp_path)
    assert run.scalars("a").step.tolist() == [0, 1, 2, 10, 11]
    assert run.scalars("b").step.tolist() == [0]
    assert [t[1] for t in run.texts("t")] == [0, 1]
    assert [h.step for h in run.histograms("h")] == [5, 6]
    with SummaryWriter(
        logdir=tmp_path, run_name="r"
    ) as w:  # resumed: continues after the stored steps
        w.add_scalar("a", 1.0)
    assert read(tmp_path).scalars("a").step.tolist() == [0, 1, 2, 10, 11, 12]


def test_backwards_steps_last_write_wins_and_chunks_stay_sound(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r", max_queue=37) as w:
        for step in range(200):
            w.add_scalar("x", float(step), step)
        for step in range(50, 60):  # a resumed job rewrites steps 50..59
            w.add_scalar("x", -1.0, step)
        w.add_scalar("x", 1000.0, 120)  # a single rewrite in the middle
        w.add_scalar("x", 5.0)  # default step after a rewrite: previous (120) + 1
    run = read(tmp_path)
    s = run.scalars("x")
    expected = np.arange(200, dtype=float)
    expected[50:60] = -1
    expected[120] = 1000
    expected[121] = 5
    np.testing.assert_array_equal(s.step, np.arange(200))
    np.testing.assert_array_equal(s.value, expected)
    assert run.tags()[0].count == 200
    b = run.scalars_downsampled("x", 4)
    assert b.max.max() == 1000 and b.min.min() == -1 and b.count.sum() == 200
    assert_chunks_sound(os.path.join(tmp_path, "r", "flowlog.db"))


def test_purge_step_drops_later_records(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        for step in range(100):
            w.add_scalar("x", float(step), step)
        w.add_text("t", "early", 10)
        w.add_text("t", "late", 70)
        w.add_histogram("h", [1.0], 80)
    with SummaryWriter(logdir=tmp_path, run_name="r", purge_step=50) as w:
        w.add_scalar("x", 7.0)
    run = read(tmp_path)
    s = run.scalars("x")
    assert s.step.tolist() == list(range(51)) and s.value[-1] == 7.0
    assert [t[3] for t in run.texts()] == ["early"] and run.histograms("h") == []
    tag = run.tags("scalar")[0]
    assert (tag.count, tag.first_step, tag.last_step) == (51, 0, 50)
    assert_chunks_sound(os.path.join(tmp_path, "r", "flowlog.db"))


def test_resumed_run_keeps_start_time_and_becomes_running_again(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        w.add_scalar("x", 1.0, 0)
    first = Logdir(tmp_path).runs()[0]
    assert first.status == "finished" and first.end_time is not None
    w = SummaryWriter(logdir=tmp_path, run_name="r")
    info = Logdir(tmp_path).runs()[0]
    assert info.status == "running" and info.end_time is None
    assert info.start_time == first.start_time
    w.close()


def test_run_names_paths_and_aliases(tmp_path):
    with SummaryWriter(log_dir=str(tmp_path / "exp1")) as w:
        w.add_scalar("x", 1.0, 0)
    with SummaryWriter(logdir=tmp_path, run_name="sweep/lr0.1") as w:
        w.add_scalar("x", 1.0, 0)
    assert os.path.exists(tmp_path / "exp1" / "flowlog.db")
    assert os.path.exists(tmp_path / "sweep" / "lr0.1" / "flowlog.db")
    assert [r.name for r in Logdir(tmp_path).runs()] == ["exp1", "sweep/lr0.1"]
    assert w.get_logdir() == w.log_dir == str(tmp_path / "sweep" / "lr0.1")
    with pytest.raises(ValueError, match="log_dir.*not both"):
        SummaryWriter(log_dir=str(tmp_path / "a"), run_name="b")
    with pytest.raises(ValueError, match="log_dir.*not both"):
        SummaryWriter(str(tmp_path / "a"), logdir=tmp_path)
    for bad in ["../escape", "/abs/path", "a/../b", "", "a//b"]:
        with pytest.raises(ValueError, match="run_name"):
            SummaryWriter(logdir=tmp_path, run_name=bad)


def test_default_run_names_are_unique(tmp_path):
    writers = [SummaryWriter(logdir=tmp_path, comment="_exp") for _ in range(3)]
    names = {w.run_name for w in writers}
    for w in writers:
        w.close()
    assert len(names) == 3 and all("_exp" in n for n in names)
    assert len(Logdir(tmp_path).runs()) == 3


def test_a_run_open_for_writing_cannot_be_opened_twice(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r"):
        with pytest.raises(ValueError, match="already open"):
            SummaryWriter(logdir=tmp_path, run_name="r")
    SummaryWriter(logdir=tmp_path, run_name="r").close()  # fine once closed


def test_constructor_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="flush_secs"):
        SummaryWriter(logdir=tmp_path, run_name="r", flush_secs=0)
    with pytest.raises(TypeError, match="max_queue"):
        SummaryWriter(logdir=tmp_path, run_name="r", max_queue=1.5)
    with pytest.raises(ValueError, match="max_queue"):
        SummaryWriter(logdir=tmp_path, run_name="r", max_queue=0)
    with pytest.raises(ValueError, match="purge_step"):
        SummaryWriter(logdir=tmp_path, run_name="r", purge_step=-3)
    (tmp_path / "f.flowlog.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(schema.LogFileError, match="f.flowlog.db"):
        SummaryWriter(logdir=tmp_path, run_name="f")


def test_context_manager_status(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="ok") as w:
        w.add_scalar("x", 1.0, 0)
    with pytest.raises(RuntimeError), SummaryWriter(logdir=tmp_path, run_name="bad") as w:
        w.add_scalar("x", 1.0, 0)
        raise RuntimeError("training diverged")
    status = {r.name: r.status for r in Logdir(tmp_path).runs()}
    assert status == {"ok": "finished", "bad": "crashed"}
    assert read(tmp_path, "bad").scalars("x").value.tolist() == [1.0]


def test_buffer_flushes_on_size_and_on_time(tmp_path):
    w = SummaryWriter(logdir=tmp_path, run_name="size", max_queue=10)
    for step in range(25):
        w.add_scalar("x", 1.0, step)
    run = read(tmp_path, "size")
    assert len(run.scalars("x").step) == 20  # two full buffers, five points still buffered
    w.close()
    assert len(run.scalars("x").step) == 25

    w = SummaryWriter(logdir=tmp_path, run_name="time", flush_secs=0.1)
    w.add_scalar("x", 1.0, 0)
    run = read(tmp_path, "time")
    deadline = time.monotonic() + 10
    while not run.tags() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(run.scalars("x").step) == 1  # written by the background flush, no close
    w.close()


def test_many_tags_round_trip_exactly(tmp_path):
    """10 tags x 100k points, one call each, read back exactly."""
    steps = 100_000
    rng = np.random.default_rng(1)
    values = rng.normal(size=(10, steps))
    values[3, ::997] = np.nan
    values[4, ::1009] = np.inf
    tags = [f"t{i}" for i in range(10)]
    with SummaryWriter(logdir=tmp_path, run_name="big") as w:
        add = w.add_scalar
        cols = values.T.tolist()
        for step in range(steps):
            row = cols[step]
            for i in range(10):
                add(tags[i], row[i], step)
    run = read(tmp_path, "big")
    for i, tag in enumerate(tags):
        s = run.scalars(tag)
        np.testing.assert_array_equal(s.step, np.arange(steps))
        np.testing.assert_array_equal(s.value, values[i])  # NaN == NaN here
    infos = {t.tag: t for t in run.tags()}
    assert all(infos[t].count == steps and infos[t].last_step == steps - 1 for t in tags)


# --- lone surrogates and NUL: refused at every string-taking entry point ------------------

GRAPH_WITH = {"nodes": [{"name": "x", "op": "Placeholder", "inputs": []}]}


def _pr(w, s):
    w.add_pr_curve(s, np.array([0, 1]), np.array([0.2, 0.9]), 5)


STRING_CALLS = [
    (lambda w, s: w.add_scalar(f"loss/{s}", 1.0, 5), "tag"),
    (lambda w, s: w.add_scalars(f"m/{s}", {"a": 1.0}, 5), "tag"),
    (lambda w, s: w.add_scalars("m", {f"a{s}": 1.0}, 5), "tag"),
    (lambda w, s: w.add_text(f"note/{s}", "x", 5), "tag"),
    (lambda w, s: w.add_text("note", f"body {s}", 5), "'note': text"),
    (lambda w, s: w.add_histogram(f"h/{s}", [1.0], 5), "tag"),
    (lambda w, s: w.add_image(f"i/{s}", np.zeros((3, 4, 4)), 5), "tag"),
    (lambda w, s: _pr(w, f"pr/{s}"), "tag"),
    (lambda w, s: w.add_hparams({f"lr{s}": 0.1}, {"m": 1.0}), "hparam_dict key"),
    (lambda w, s: w.add_hparams({"lr": 0.1}, {f"m{s}": 1.0}), "metric_dict key"),
    (lambda w, s: w.add_hparams({"opt": f"sgd{s}"}, {}), "hparam 'opt': value"),
    (lambda w, s: w.add_hparams({"lr": 0.1}, {}, run_name=f"t{s}"), "run_name"),
    (lambda w, s: w.add_hparams({"o": "a"}, {}, hparam_domain_discrete={"o": ["a", f"b{s}"]}),
     "hparam_domain_discrete"),
    (lambda w, s: w.add_graph({"nodes": [{"name": f"x{s}", "op": "Placeholder", "inputs": []}]}),
     "graph description"),
    (lambda w, s: w.add_graph({**GRAPH_WITH, "note": f"d{s}"}), "graph description"),
    (lambda w, s: w.add_image_with_boxes("b", np.zeros((3, 8, 8)), np.array([[0, 0, 4, 4]]),
                                         labels=[f"cat{s}"]), "'b': label"),
    (lambda w, s: w.add_custom_scalars({f"c{s}": {"t": ["Multiline", ["loss"]]}}),
     "custom.scalars"),
    (lambda w, s: w.add_custom_scalars_multilinechart([f"loss{s}"]), "custom.scalars"),
]  # fmt: skip


@pytest.mark.parametrize("bad", ["\udcff", "\0"], ids=["surrogate", "nul"])
def test_surrogates_and_nul_are_refused_everywhere_and_lose_nothing(tmp_path, bad):
    w = SummaryWriter(tmp_path / "r", flush_secs=0.05)
    w.add_scalar("loss", 0.0, 0)
    w.add_text("note", "before", 0)
    w.flush()
    for i, (call, what) in enumerate(STRING_CALLS, start=1):
        with pytest.raises(ValueError, match=what) as info:
            call(w, bad)
        assert "NUL" in str(info.value) if bad == "\0" else "not valid Unicode" in str(info.value)
        w.add_scalar("loss", float(i), i)  # the writer keeps logging and flushing
        w.flush()
    w.close()
    run = read(tmp_path)
    assert run.info.status == "finished" and run.info.dropped == {}
    assert run.scalars("loss").value.tolist() == [float(i) for i in range(len(STRING_CALLS) + 1)]
    assert sorted(t.tag for t in run.tags()) == ["loss", "note"]
    assert [t[3] for t in run.texts("note")] == ["before"]
    assert run.trials() == [] and run.graph() is None and run.custom_scalars() is None


@pytest.mark.parametrize("bad", ["\udcff", "\0"], ids=["surrogate", "nul"])
def test_run_directory_names_with_surrogates_or_nul_are_refused(tmp_path, bad):
    for kwargs, what in [
        ({"log_dir": str(tmp_path / f"r{bad}")}, "log_dir"),
        ({"log_dir": tmp_path / f"r{bad}"}, "log_dir"),
        ({"logdir": str(tmp_path / f"l{bad}"), "run_name": "r"}, "logdir"),
        ({"logdir": tmp_path, "run_name": f"r{bad}"}, "run_name"),
        ({"logdir": tmp_path, "comment": f"_c{bad}"}, "comment"),
    ]:
        with pytest.raises(ValueError, match=what):
            SummaryWriter(**kwargs)
    assert os.listdir(tmp_path) == []  # refused before any directory was made
