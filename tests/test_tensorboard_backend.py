"""TensorBoard logdirs read as they are: event files written by torch.utils.tensorboard,
tensorboardX and TensorFlow's tf.summary (a committed file, see tests/scripts/make_tf_events.py)
read back equal through the provider, converted once into a cache outside the logdir and
appended as they grow. The reference readings use TensorBoard's own EventFileLoader."""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flowlog import tensorboard_events as te
from flowlog.backends import open_logdir

ROOT = Path(__file__).resolve().parents[1]
TF2_FIXTURE = ROOT / "tests" / "data" / "tf2_summary"


def provider(logdir, tmp_path):
    return open_logdir(logdir, cache=False, cache_dir=str(tmp_path / "cache"))


def reference_values(run_dir) -> list[tuple]:
    """``(tag, step, wall, value proto)`` of every summary value, read by TensorBoard's own
    loader (not by flowlog's record reader)."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    out = []
    for path in sorted(glob.glob(os.path.join(run_dir, "*tfevents*"))):
        for event in LegacyEventFileLoader(path).Load():
            for value in event.summary.value:
                out.append((value.tag, event.step, event.wall_time, value))
    return out


def snapshot(root) -> dict:
    """Every entry under ``root`` with its bytes' hash, size and mtime: to show it unchanged."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = None
            if os.path.isfile(path):
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns, st.st_mode, digest)
    return out


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


# --------------------------------------------------------------------------- torch's writer


def write_torch_run(logdir):
    import torch
    from torch.utils.tensorboard import SummaryWriter

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    w = SummaryWriter(str(logdir / "torch"))
    for step in range(30):
        w.add_scalar("loss/train", float(np.exp(-step / 10)), step)
        w.add_scalars("acc", {"train": step / 30, "val": step / 40}, step)
    w.add_scalar("loss/train", float("nan"), 30)
    w.add_scalar("loss/train", float("inf"), 31)
    for step in (0, 10):
        w.add_histogram("fc1/weight", rng.normal(size=500) * (step + 1), step)
    w.add_image("inputs", rng.random((3, 4, 5)), 2)  # float CHW in [0, 1]
    w.add_image("mask", (rng.random((6, 7)) * 255).astype(np.uint8), 3, dataformats="HW")
    w.add_text("notes", "| a | b |\n|---|---|\n| 1 | 2 |", 4)
    w.add_pr_curve("pr", np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.6, 0.4]), 5)
    w.add_custom_scalars({"Losses": {"all": ["Multiline", ["loss/.*"]]}})
    w.add_hparams({"lr": 0.1, "opt": "adam"}, {"hparam/loss": 0.25})
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    w.add_graph(model, torch.zeros(2, 3))
    w.close()
    return logdir / "torch"


def test_every_kind_torch_writes_reads_back_equal(tmp_path):
    logdir = tmp_path / "logs"
    run_dir = write_torch_run(logdir)
    before = snapshot(logdir)
    p = provider(logdir, tmp_path)
    runs = {r.name: r for r in p.runs()}
    hparams_run = next(n for n in runs if n.startswith("torch/") and "acc" not in n)
    assert set(runs) == {"torch", "torch/acc_train", "torch/acc_val", hparams_run}
    assert all(r.flowlog_version == "tensorboard" for r in runs.values())
    assert runs["torch"].path == str(run_dir)
    ref = reference_values(run_dir)

    scalars = [(s, w, v.simple_value) for t, s, w, v in ref if t == "loss/train"]
    got = p.scalars("torch", "loss/train")
    assert got.step.tolist() == [s for s, _, _ in scalars]
    assert got.wall.tolist() == [w for _, w, _ in scalars]
    np.testing.assert_array_equal(got.value, np.array([v for *_, v in scalars], np.float32))
    assert np.isnan(got.value[30]) and got.value[31] == np.inf
    assert p.scalars("torch/acc_val", "acc").value[-1] == np.float32(29 / 40)

    hists = p.histograms("torch", "fc1/weight")
    ref_h = [v.histo for t, _, _, v in ref if t == "fc1/weight"]
    assert [h.step for h in hists] == [0, 10]
    for h, r in zip(hists, ref_h, strict=True):
        assert (h.count, h.min, h.max, h.sum) == (r.num, r.min, r.max, r.sum)
        assert h.counts.sum() == sum(r.bucket) == 500

    for tag in ("inputs", "mask"):
        (info,) = p.images("torch", tag)
        (original,) = [v.image for t, _, _, v in ref if t == tag]
        assert (info.height, info.width) == (original.height, original.width)
        np.testing.assert_array_equal(
            pixels(p.image_png("torch", tag, info.step)), pixels(original.encoded_image_string)
        )

    assert p.texts("torch") == [
        ("notes/text_summary", 4, next(w for t, _, w, _ in ref if t.startswith("notes")),
         "| a | b |\n|---|---|\n| 1 | 2 |"),
    ]  # fmt: skip
    (curve,) = p.pr_curves("torch", "pr")
    ref_pr = next(v.tensor for t, _, _, v in ref if t == "pr")
    expected = np.array(ref_pr.float_val, dtype=np.float32).reshape(6, -1)
    np.testing.assert_array_equal(curve.table, expected)
    assert p.custom_scalars("torch")["categories"][0]["title"] == "Losses"

    (trial,) = p.trials(hparams_run)
    assert trial.hparams == {"lr": 0.1, "opt": "adam"}
    assert trial.metrics == {"hparam/loss": 0.25}

    graph = p.graph("torch")
    kinds = {n["kind"] for n in graph["nodes"]}
    assert {"placeholder", "variable", "op"} <= kinds
    assert any("Linear[0]" in (n["scope"] or "") for n in graph["nodes"])
    assert p.warnings() == []
    assert snapshot(logdir) == before  # nothing was written into the logdir


# --------------------------------------------------------------------------- tensorboardX


def test_tensorboardx_summaries(tmp_path):
    from tensorboardX import SummaryWriter

    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir / "tbx"))
    for step in range(10):
        w.add_scalar("classic", step * 0.5, step)
        w.add_scalar("described", step * 0.25, step, display_name="D", summary_description="d")
    w.add_histogram("h", np.arange(100.0), 1)
    w.add_image("img", np.full((3, 2, 3), 0.5), 1)
    w.add_text("t", "hello *tbx*", 2)
    w.close()
    p = provider(logdir, tmp_path)
    assert [r.name for r in p.runs()] == ["tbx"]
    assert p.scalars("tbx", "classic").value.tolist() == [s * 0.5 for s in range(10)]
    assert p.scalars("tbx", "described").value.tolist() == [s * 0.25 for s in range(10)]
    (h,) = p.histograms("tbx", "h")
    assert (h.count, h.min, h.max, h.sum) == (100, 0.0, 99.0, 4950.0)
    (img,) = p.images("tbx", "img")
    assert pixels(p.image_png("tbx", "img", 1)).shape == (2, 3, 3)
    assert [t[3] for t in p.texts("tbx")] == ["hello *tbx*"]


# --------------------------------------------------------------------------- TensorFlow 2


def check_tf2_run(p, run):
    """What tests/scripts/make_tf_events.py logged, read from its event file."""
    loss = p.scalars(run, "loss")
    assert loss.step.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(loss.value, np.float32([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5]))
    hists = p.histograms(run, "weights")
    assert [h.step for h in hists] == [0, 1, 2, 3, 4]
    assert all(h.counts.sum() == 101 for h in hists)
    assert hists[4].min == -5.0 and hists[4].max == 5.0
    images = p.images(run, "sample")
    assert [(i.step, i.height, i.width) for i in images][-1] == (4, 4, 6)
    px = pixels(p.image_png(run, "sample", 3))
    assert (px[..., 0] == 150).all() and px[0, :, 1].tolist() == [0, 40, 80, 120, 160, 200]
    texts = p.texts(run, "notes")
    assert texts[2][3] == "step **2**\n\n| a | b |\n|---|---|\n| 2 | x |"
    (curve,) = p.pr_curves(run, "pr/pr_curves")
    # labels [0,1,1,0], predictions [.1,.9,.6,.4], thresholds 0, .25, .5, .75, 1
    np.testing.assert_allclose(curve.table[0], [2, 2, 2, 1, 0])  # TP
    np.testing.assert_allclose(curve.table[1], [2, 1, 0, 0, 0])  # FP
    np.testing.assert_allclose(curve.table[5], [1, 1, 1, 0.5, 0])  # recall
    (trial,) = p.trials(run)
    assert trial.hparams == {"lr": 0.01, "optimizer": "adam"}
    names = {n["name"] for n in p.graph(run)["nodes"]}
    assert {"dense/MatMul", "dense/add"} <= names


def test_tensorflow_tensor_summaries_read_back(tmp_path):
    logdir = tmp_path / "tf"
    shutil.copytree(TF2_FIXTURE, logdir)
    p = provider(logdir, tmp_path)
    assert [r.name for r in p.runs()] == ["train"]
    check_tf2_run(p, "train")


def test_tensorflow_written_now_reads_back(tmp_path):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (the committed "
                        "file written by it is read in the test above)")  # fmt: skip
    logdir = tmp_path / "tf"
    subprocess.run([sys.executable, str(ROOT / "tests/scripts/make_tf_events.py"),
                    str(logdir)], check=True)  # fmt: skip
    check_tf2_run(provider(logdir, tmp_path), "train")


def test_tf2_metadata_only_on_a_tags_first_value(tmp_path):
    """TF2 writes a tag's plugin metadata with its first value only: later values (plain
    tensors) keep the plugin, also across incremental reads."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.histogram import metadata as hist_meta
    from tensorboard.plugins.scalar import metadata as scalar_meta
    from tensorboard.util.tensor_util import make_tensor_proto

    run = tmp_path / "logs" / "tf"
    run.mkdir(parents=True)
    path = run / "events.out.tfevents.1.host"

    def value(tag, meta, array, first):
        out = summary_pb2.Summary.Value(tag=tag, tensor=make_tensor_proto(array))
        if first:  # as TF2: the metadata with the tag's first value only
            out.metadata.CopyFrom(meta.create_summary_metadata(display_name=tag, description=""))
        return out

    def write(steps, mode):
        with open(path, mode) as fh:
            for step in steps:
                buckets = np.array([[0, 1, 2], [1, 2, step]], dtype=np.float64)  # left, right, n
                summary = summary_pb2.Summary(value=[
                    value("acc", scalar_meta, np.float32(step / 10), step == 0),
                    value("w", hist_meta, buckets, step == 0),
                ])  # fmt: skip
                event = event_pb2.Event(step=step, wall_time=100.0 + step, summary=summary)
                fh.write(te.frame(event.SerializeToString()))

    write(range(3), "wb")
    p = provider(tmp_path / "logs", tmp_path)
    p.runs()
    write(range(3, 6), "ab")
    p.runs()
    acc = p.scalars("tf", "acc")
    assert acc.step.tolist() == list(range(6))
    np.testing.assert_array_equal(acc.value, np.float32(np.arange(6) / 10))
    assert acc.wall.tolist() == [100.0 + s for s in range(6)]
    hists = p.histograms("tf", "w")
    assert [h.step for h in hists] == list(range(6))
    assert [h.count for h in hists] == [2 + s for s in range(6)]
    assert hists[3].edges.tolist() == [0, 1, 2] and hists[3].counts.tolist() == [2, 3]


# --------------------------------------------------------------------------- following files


def test_a_growing_file_is_appended_not_converted_again(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir / "live"))
    for step in range(100):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.flush()
    p = provider(logdir, tmp_path)
    (info,) = p.runs()
    assert info.status == "running"  # written moments ago by this (live) process
    token = p.change_token("live")
    assert p.tags("live")["loss"].count == 100
    for step in range(100, 150):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.flush()
    p.runs()
    assert p.change_token("live") != token
    got = p.scalars("live", "loss")
    assert got.step.tolist() == list(range(150))  # nothing twice, nothing lost
    cache = p.parts[1][0].cache.cache_dir
    manifest = json.loads((Path(cache) / "live" / "tensorboard.json").read_text())
    (entry,) = manifest["files"].values()
    assert entry["offset"] == os.path.getsize(glob.glob(str(logdir / "live" / "*tfevents*"))[0])
    w.close()
    unchanged = p.change_token("live")
    p.runs()
    p.runs()
    assert p.change_token("live") == unchanged  # no new bytes: not touched


def test_a_record_cut_short_waits_for_the_rest(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    run = tmp_path / "logs" / "r"
    run.mkdir(parents=True)
    path = run / "events.out.tfevents.1.host"
    records = [
        te.frame(event_pb2.Event(step=s, wall_time=1.0 + s, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag="x", simple_value=float(s))])).SerializeToString())
        for s in range(3)
    ]  # fmt: skip
    path.write_bytes(records[0] + records[1] + records[2][:7])  # a writer mid-write
    p = provider(tmp_path / "logs", tmp_path)
    p.runs()
    assert p.scalars("r", "x").step.tolist() == [0, 1]
    with open(path, "ab") as fh:
        fh.write(records[2][7:])
    p.runs()
    assert p.scalars("r", "x").step.tolist() == [0, 1, 2]


def test_a_replaced_file_is_converted_again(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir / "r"))
    for step in range(20):
        w.add_scalar("loss", 1.0, step)
    w.close()
    p = provider(logdir, tmp_path)
    p.runs()
    shutil.rmtree(logdir / "r")
    w = SummaryWriter(str(logdir / "r"))
    for step in range(5):
        w.add_scalar("loss", 2.0, step)
    w.close()
    p.runs()
    assert p.scalars("r", "loss").value.tolist() == [2.0] * 5


def test_a_damaged_file_keeps_what_came_before_and_the_other_runs(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "logs"
    for name in ("good", "bad"):
        w = SummaryWriter(str(logdir / name))
        for step in range(50):
            w.add_scalar("loss", float(step), step)
        w.close()
    (bad,) = glob.glob(str(logdir / "bad" / "*tfevents*"))
    data = bytearray(Path(bad).read_bytes())
    cut = len(data) // 2
    data[cut : cut + 64] = b"\xff" * 64
    Path(bad).write_bytes(bytes(data))
    (logdir / "foreign").mkdir()
    (logdir / "foreign" / "events.out.tfevents.0.x").write_bytes(b"not an event file at all")
    p = provider(logdir, tmp_path)
    names = [r.name for r in p.runs()]
    assert "good" in names and "bad" in names
    assert p.scalars("good", "loss").step.tolist() == list(range(50))
    kept = p.scalars("bad", "loss").step.tolist()
    assert 10 < len(kept) < 50 and kept == list(range(len(kept)))
    assert any("length checksum mismatch" in w for w in p.warnings())


def test_flowlog_and_tensorboard_runs_side_by_side_and_a_shared_name(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from flowlog.writer import SummaryWriter as FlowlogWriter

    logdir = tmp_path / "logs"
    with FlowlogWriter(str(logdir / "both")) as fw:
        fw.add_scalar("flowlog_tag", 1.0, 0)
    w = SummaryWriter(str(logdir / "both"))
    w.add_scalar("tb_tag", 2.0, 0)
    w.close()
    p = provider(logdir, tmp_path)
    assert [r.name for r in p.runs()] == ["both", "both (tensorboard)"]
    assert list(p.tags("both")) == ["flowlog_tag"]
    assert list(p.tags("both (tensorboard)")) == ["tb_tag"]


# --------------------------------------------------------------------------- the cache


def test_the_cache_is_never_inside_the_logdir(tmp_path, monkeypatch):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    with pytest.raises(ValueError, match="inside the logdir"):
        open_logdir(logdir, cache_dir=str(logdir / "cache"))
    # a default (env / ~/.cache) inside the logdir gives way to the temporary directory
    monkeypatch.setenv("FLOWLOG_CACHE_DIR", str(logdir / ".cache"))
    from flowlog.tensorboard_cache import cache_dir_for

    assert not cache_dir_for(str(logdir)).startswith(str(logdir))


def test_without_the_tensorboard_package_the_runs_are_named_with_what_to_install(tmp_path):
    write_torch_run(tmp_path / "logs")
    code = (
        "import sys; sys.modules['tensorboard'] = None\n"
        "from flowlog.backends import open_logdir\n"
        "from flowlog.dashboard.runs_panel import empty_logdir_message\n"
        f"p = open_logdir({str(tmp_path / 'logs')!r}, cache=False)\n"
        "assert p.runs() == []\n"
        "print(empty_logdir_message('LOGDIR', p.unreadable()))\n"
        "print(sorted(u.name for u in p.unreadable()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()  # fmt: skip
    assert "Found TensorBoard event files in 4 run(s)" in out[0]
    assert "pip install 'flowlog[tensorboard]'" in out[0]
    assert out[1].startswith("['torch', 'torch/")


def test_import_tensorboard_converts_permanently_and_appends_on_rerun(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    src = tmp_path / "tb"
    w = SummaryWriter(str(src / "exp"))
    for step in range(10):
        w.add_scalar("loss", float(step), step)
    w.flush()
    dst = tmp_path / "flowlog"
    cli = [sys.executable, "-m", "flowlog.cli"]
    before = snapshot(src)
    out = subprocess.run([*cli, "import-tensorboard", str(src), str(dst)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert "imported 1 run(s)" in out
    assert snapshot(src) == before
    for step in range(10, 15):
        w.add_scalar("loss", float(step), step)
    w.close()
    subprocess.run([*cli, "import-tensorboard", str(src), str(dst)], check=True,
                   capture_output=True)  # fmt: skip
    listed = json.loads(subprocess.run([*cli, "runs", str(dst), "--json"], capture_output=True,
                                       text=True, check=True).stdout)  # fmt: skip
    assert [(r["run"], r["steps"], r["last_step"]) for r in listed] == [("exp", 15, 14)]
    inside = subprocess.run([*cli, "import-tensorboard", str(src), str(src / "x")],
                            capture_output=True, text=True)  # fmt: skip
    assert inside.returncode == 1 and "never written into" in inside.stderr
    assert not (src / "x").exists()


def test_import_never_replaces_a_flowlog_run_of_the_same_name(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from flowlog.writer import SummaryWriter as FlowlogWriter

    src, dst = tmp_path / "tb", tmp_path / "flowlog"
    w = SummaryWriter(str(src / "exp"))
    w.add_scalar("loss", 1.0, 0)
    w.close()
    with FlowlogWriter(str(dst / "exp")) as fw:
        fw.add_scalar("mine", 3.0, 0)
    result = subprocess.run([sys.executable, "-m", "flowlog.cli", "import-tensorboard",
                             str(src), str(dst)], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1 and "not a conversion" in result.stderr
    assert list(open_logdir(dst, cache=False).tags("exp")) == ["mine"]


def test_the_tensorboard_example_is_read_with_every_kind_it_logs(tmp_path):
    script = str(ROOT / "examples/tensorboard_run.py")
    args = ["--steps", "60", "--logdir", str(tmp_path / "runs")]
    subprocess.run([sys.executable, script, *args], check=True, capture_output=True)
    p = provider(tmp_path / "runs", tmp_path)
    assert [r.name for r in p.runs()] == ["tensorboard_logreg"]
    kinds = {t.label: t.kind for t in p.tags("tensorboard_logreg").values()}
    assert kinds == {
        "loss/train": "scalar", "accuracy/train": "scalar", "linear/weight": "histogram",
        "decision_boundary": "image", "pr/test": "pr_curve", "summary/text_summary": "text",
    }  # fmt: skip
    loss = p.scalars("tensorboard_logreg", "loss/train").value
    assert len(loss) == 60 and loss[-1] < loss[0]
    assert p.graph("tensorboard_logreg") is not None
