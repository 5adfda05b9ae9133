"""flowlog.writer.SummaryWriter as a drop-in for torch.utils.tensorboard.SummaryWriter: the same
methods and parameters, values read from tensors as torch reads them, bad input refused without
harming the run, and torch never imported for a caller that does not use it."""

from __future__ import annotations

import inspect
import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the drop-in checks compare with PyTorch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402
from torch.utils.tensorboard import summary as torch_summary  # noqa: E402

from flowlog import writer as flowlog_writer  # noqa: E402
from flowlog.reader import Logdir  # noqa: E402
from flowlog.writer import SummaryWriter  # noqa: E402

# --- signatures -------------------------------------------------------------------------------

#: every public method of torch's SummaryWriter (plus the constructor) and what flowlog does
STATUS = {
    "__init__": "documented difference: max_queue/flush_secs default None = flowlog's 50,000 "
    "points / 5 s (torch: 10 events / 120 s); keyword-only logdir=, run_name=",
    "add_audio": "NotImplementedError (no audio view)",
    "add_custom_scalars": "same",
    "add_custom_scalars_marginchart": "same",
    "add_custom_scalars_multilinechart": "same",
    "add_embedding": "NotImplementedError (no projector)",
    "add_figure": "same",
    "add_graph": "documented difference: a torch.nn.Module is captured with torch.export "
    "(module scopes), not jit.trace; also flowlog Graphs and description dicts; keyword-only step=",
    "add_histogram": "documented difference: bins='tensorflow' means 30 equal-width bins; "
    "max_bins unused; NaN/Inf counted, not bucketed",
    "add_histogram_raw": "same",
    "add_hparams": "documented difference: one trial in the run, not a sub-run per call",
    "add_image": "same",
    "add_image_with_boxes": "documented difference: labels kept as metadata, not drawn; "
    "nearest-neighbour rescale",
    "add_images": "same",
    "add_mesh": "NotImplementedError (no 3-D view)",
    "add_onnx_graph": "NotImplementedError (no ONNX import)",
    "add_pr_curve": "documented difference: predictions/labels outside [0, 1] refused",
    "add_pr_curve_raw": "same",
    "add_scalar": "documented difference: global_step=None is previous + 1; float steps "
    "refused; new_style/double_precision accepted (values are float64)",
    "add_scalars": "documented difference: series main_tag\\x1fkey in the run, not sub-runs",
    "add_tensor": "NotImplementedError (TensorBoard has no view either)",
    "add_text": "documented difference: tag kept as given (torch appends /text_summary)",
    "add_video": "NotImplementedError (no video view)",
    "close": "same (keyword-only status=)",
    "flush": "same",
    "get_logdir": "same",
}
#: defaults that differ on purpose: (method, parameter) -> (torch's, flowlog's)
DEFAULT_DIFFERENCES = {
    ("__init__", "max_queue"): (10, None),
    ("__init__", "flush_secs"): (120, None),
}
#: keyword-only extras flowlog adds after torch's parameters
EXTRAS = {"__init__": ["logdir", "run_name"], "add_graph": ["step"], "close": ["status"]}


def torch_methods() -> list[str]:
    names = [n for n in dir(TorchWriter) if not n.startswith("_")]
    return ["__init__"] + sorted(n for n in names if callable(getattr(TorchWriter, n)))


def test_every_torch_method_has_a_documented_status():
    assert sorted(STATUS) == sorted(torch_methods())


@pytest.mark.parametrize("name", torch_methods())
def test_signature_matches_torch(name):
    ours = getattr(SummaryWriter, name, None)
    assert ours is not None, f"flowlog's SummaryWriter has no {name}"
    theirs = inspect.signature(getattr(TorchWriter, name)).parameters.values()
    params = list(inspect.signature(ours).parameters.values())
    positional = [p for p in params if p.kind is not p.KEYWORD_ONLY]
    assert [p.name for p in positional] == [p.name for p in theirs]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in positional)
    for mine, torch_param in zip(positional, theirs, strict=True):
        expected = DEFAULT_DIFFERENCES.get((name, mine.name), (torch_param.default,) * 2)
        assert torch_param.default == expected[0], f"torch's default of {name}({mine.name}) moved"
        assert mine.default == expected[1], f"{name}({mine.name}) default"
    assert [p.name for p in params if p.kind is p.KEYWORD_ONLY] == EXTRAS.get(name, [])


def test_context_manager_signature_matches_torch():
    for name in ("__enter__", "__exit__"):
        theirs = inspect.signature(getattr(TorchWriter, name)).parameters
        assert list(inspect.signature(getattr(SummaryWriter, name)).parameters) == list(theirs)


def test_documented_none_defaults_mean_flowlogs_own(tmp_path):
    with SummaryWriter(tmp_path / "r") as w:
        assert w.flush_secs == flowlog_writer.DEFAULT_FLUSH_SECS == 5.0
        assert w._flush_len == 4 * flowlog_writer.DEFAULT_MAX_QUEUE
    with SummaryWriter(tmp_path / "s", max_queue=10, flush_secs=120) as w:
        assert w.flush_secs == 120.0 and w._flush_len == 40


NOT_IMPLEMENTED = {
    "add_audio": lambda w: w.add_audio("a", torch.zeros(100), 0, sample_rate=8000),
    "add_embedding": lambda w: w.add_embedding(torch.rand(5, 3), metadata=list("abcde")),
    "add_mesh": lambda w: w.add_mesh("m", torch.rand(1, 3, 3)),
    "add_onnx_graph": lambda w: w.add_onnx_graph("model.onnx"),
    "add_tensor": lambda w: w.add_tensor("t", torch.rand(3)),
    "add_video": lambda w: w.add_video("v", torch.rand(1, 2, 3, 4, 4), 0),
}


def test_not_implemented_methods_raise_and_log_nothing(tmp_path):
    assert sorted(NOT_IMPLEMENTED) == sorted(
        n for n, s in STATUS.items() if s.startswith("NotImpl")
    )
    with SummaryWriter(tmp_path / "r") as w:
        w.add_scalar("kept", 1.0, 0)
        for name, call in NOT_IMPLEMENTED.items():
            with pytest.raises(NotImplementedError, match=f"SummaryWriter.{name} is not supported"):
                call(w)
        w.add_scalar("kept", 2.0, 1)
    run = Logdir(tmp_path).run("r")
    assert [t.tag for t in run.tags()] == ["kept"] and run.graph() is None
    assert run.scalars("kept").value.tolist() == [1.0, 2.0]


def test_get_logdir_is_what_torch_returns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    theirs = TorchWriter("runs/exp")
    with SummaryWriter("runs/exp2") as ours:
        assert ours.get_logdir() == "runs/exp2" and theirs.get_logdir() == "runs/exp"
    theirs.close()
    with SummaryWriter(comment="_lr0.1") as ours:
        logdir = ours.get_logdir()
    parent, name = os.path.split(logdir)
    assert parent == "runs" and name.endswith("_lr0.1")
    assert os.path.isfile(os.path.join(logdir, "flowlog.db"))


# --- values as torch gives them ---------------------------------------------------------------


def scalar_inputs():
    grad = torch.tensor(0.1, requires_grad=True) * 3  # a non-leaf that requires grad
    return [
        torch.tensor(1.5),
        torch.tensor([2.5]),
        torch.tensor([[3.25]]),
        grad,
        torch.nn.Parameter(torch.tensor([0.7])),
        torch.tensor(0.1, dtype=torch.float16),
        torch.tensor(0.1, dtype=torch.bfloat16),
        torch.tensor(0.1, dtype=torch.float64),
        torch.tensor(7),
        torch.tensor([-3], dtype=torch.int8),
        torch.tensor(True),
        torch.tensor(float("inf")),
        np.float32(0.1),
        np.float16(0.1),
        np.int64(9),
        np.bool_(True),
    ]


def read(tmp_path, name="r"):
    return Logdir(tmp_path).run(name)


def test_scalars_from_tensors_are_float_of_the_tensor(tmp_path):
    values = scalar_inputs()
    with SummaryWriter(tmp_path / "r") as w:
        for step, v in enumerate(values):
            w.add_scalar("s", v, step)
        w.add_scalar("nan", torch.tensor(float("nan")), torch.tensor(3))  # a tensor step too
        w.add_scalars("m", {"a": torch.tensor(0.25, dtype=torch.bfloat16), "b": np.float64(2)}, 0)
    run = read(tmp_path)
    expected = [float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for v in values]
    got = run.scalars("s")
    assert got.step.tolist() == list(range(len(values)))
    assert got.value.tolist() == expected  # exactly: float16/bfloat16 widen without rounding
    nan = run.scalars("nan")
    assert nan.step.tolist() == [3] and np.isnan(nan.value[0])
    assert run.scalars("m\x1fa").value.tolist() == [0.25]


def histogram_inputs():
    g = torch.Generator().manual_seed(3)
    base = torch.randn(1000, generator=g)
    special = torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), float("nan"), -2.0])
    return {
        "bfloat16": base.to(torch.bfloat16),
        "float16": base.half(),
        "requires_grad": (base * 2).requires_grad_(),
        "parameter": torch.nn.Parameter(base[:100].clone()),
        "int": torch.randint(-50, 50, (300,), generator=g),
        "bool": base > 0,
        "special": special,
        "all_nan": torch.full((4,), float("nan")),
        "special_f16": special.half(),
    }


def test_histograms_of_tensors_count_every_value(tmp_path):
    inputs = histogram_inputs()
    with SummaryWriter(tmp_path / "r") as w:
        for tag, t in inputs.items():
            w.add_histogram(tag, t, 0)
    run = read(tmp_path)
    for tag, t in inputs.items():
        (h,) = run.histograms(tag)
        arr = t.detach().float().numpy().astype(np.float64).ravel()  # every dtype widens exactly
        finite = arr[np.isfinite(arr)]
        assert h.count == arr.size, tag
        assert (h.nan, h.posinf, h.neginf) == (
            int(np.isnan(arr).sum()), int(np.isposinf(arr).sum()), int(np.isneginf(arr).sum())
        ), tag  # fmt: skip
        assert h.counts.sum() == finite.size, tag
        if finite.size:
            assert (h.min, h.max) == (finite.min(), finite.max()), tag
            assert h.sum == pytest.approx(finite.sum(), rel=1e-12, abs=1e-9), tag
            assert h.edges[0] == finite.min() and h.edges[-1] == finite.max(), tag
        else:
            assert np.isnan(h.min) and h.edges.size == 0, tag


def torch_pixels(img, dataformats):
    from PIL import Image

    png = torch_summary.image("t", img, dataformats=dataformats).value[0].image
    with Image.open(io.BytesIO(png.encoded_image_string)) as im:
        return np.asarray(im)


def pil_pixels(png):
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def image_inputs():
    g = torch.Generator().manual_seed(5)
    f = torch.rand(3, 6, 7, generator=g)
    u8 = torch.randint(0, 256, (3, 6, 7), dtype=torch.uint8, generator=g)
    return {
        "float_chw": (f, "CHW"),
        "float_hwc": (f.permute(1, 2, 0), "HWC"),
        "float_hw": (f[0], "HW"),
        "float_grey_chw": (f[:1], "CHW"),
        "uint8_chw": (u8, "CHW"),
        "uint8_hwc": (u8.permute(1, 2, 0).contiguous(), "HWC"),
        "uint8_hw": (u8[0], "HW"),
        "requires_grad": (f.clone().requires_grad_(), "CHW"),
        "float16": (f.half(), "CHW"),
        "bfloat16": (f.bfloat16(), "CHW"),
        "float64": (f.double(), "CHW"),
        "out_of_range": (f * 3 - 1, "CHW"),
    }


def test_images_decode_to_torchs_pixels(tmp_path):
    inputs = image_inputs()
    with SummaryWriter(tmp_path / "r") as w:
        for tag, (img, fmt) in inputs.items():
            w.add_image(tag, img, 0, dataformats=fmt)
        w.add_images("batch", torch.rand(5, 1, 6, 7), 0)
    run = read(tmp_path)
    for tag, (img, fmt) in inputs.items():
        (info,) = run.images(tag)
        ours = pil_pixels(run.image_png(tag, 0))
        assert (info.height, info.width) == ours.shape[:2] == (6, 7), tag
        np.testing.assert_array_equal(ours, torch_pixels(img.detach(), fmt), err_msg=tag)
    assert pil_pixels(run.image_png("batch", 0)).shape == (6, 35, 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none here)")
def test_cuda_tensors_are_read_like_their_cpu_copies(tmp_path):
    cpu = torch.rand(3, 6, 7)
    gpu = cpu.cuda()
    labels = (torch.rand(50) > 0.5).cuda()
    with SummaryWriter(tmp_path / "r") as w:
        w.add_scalar("s", gpu[0, 0, 0], 0)
        w.add_scalar("s", gpu.sum().requires_grad_(), 1)
        w.add_scalar("s", gpu[0, 0, :1].bfloat16(), 2)
        w.add_histogram("h", gpu.half(), 0)
        w.add_image("i", gpu, torch.tensor(0).cuda())
        w.add_pr_curve("p", labels, gpu.flatten()[:50], 0)
    run = read(tmp_path)
    assert run.scalars("s").value.tolist() == [
        float(cpu[0, 0, 0]), float(cpu.sum()), float(cpu[0, 0, :1].bfloat16())
    ]  # fmt: skip
    assert run.histograms("h")[0].count == cpu.numel()
    np.testing.assert_array_equal(pil_pixels(run.image_png("i", 0)), torch_pixels(cpu, "CHW"))
    (curve,) = run.pr_curves("p")
    want = torch_summary.pr_curve("p", labels.cpu().numpy(), cpu.flatten()[:50].numpy())
    np.testing.assert_allclose(
        curve.table.ravel(), want.value[0].tensor.float_val, rtol=1e-6, atol=1e-6
    )


# --- bad input never poisons the writer -------------------------------------------------------


class ItemGivesStr:
    """Duck-types a tensor whose .item() is not a number."""

    def item(self):
        return "0.5"

    def numel(self):
        return 1


BAD_CALLS = [
    (lambda w: w.add_scalar("loss", ItemGivesStr(), 5), TypeError, r"'loss'.*item\(\) gave str"),
    (lambda w: w.add_scalar("loss", torch.tensor([1.0, 2.0]), 5), ValueError, r"'loss'.*\(2,\)"),
    (lambda w: w.add_scalar("loss", torch.zeros(2, 3), 5), ValueError, r"'loss'.*\(2, 3\)"),
    (lambda w: w.add_scalar(["loss"], 1.0, 5), TypeError, "tag must be a str"),
    (lambda w: w.add_scalars("m", {"a": 1.0, "b": torch.ones(2)}, 5), ValueError, "'m/b'"),
    (lambda w: w.add_image("img", torch.rand(3, 4, 5), 5, dataformats="HWC"), ValueError,
     "'img'.*channels"),
    (lambda w: w.add_image("img", torch.rand(3, 4, 4), 5, dataformats="NCHW"), ValueError,
     "'img'.*3 dimensions"),
    (lambda w: w.add_image("img", torch.rand(3, 4, 4), 5, dataformats="CHH"), ValueError,
     "'img'.*twice"),
    (lambda w: w.add_images("img", torch.rand(2, 4, 4, 4), 5), ValueError, "'img'.*C=4"),
    (lambda w: w.add_pr_curve("pr", torch.tensor([0, 1]), torch.tensor([0.2, 1.5]), 5),
     ValueError, r"'pr'.*\[0, 1\].*1.5"),
    (lambda w: w.add_pr_curve("pr", torch.tensor([0, 1]), torch.tensor([-0.1, 0.5]), 5),
     ValueError, r"'pr'.*\[0, 1\]"),
    (lambda w: w.add_pr_curve("pr", [0, 1], [float("nan"), 0.5], 5), ValueError, "'pr'.*NaN"),
    (lambda w: w.add_scalar("loss/\udcff", 1.0, 5), ValueError, "not valid Unicode"),
    (lambda w: w.add_scalars("loss", {"a\udcff": 1.0}, 5), ValueError, "not valid Unicode"),
    (lambda w: w.add_text("note", "bad \udcff", 5), ValueError, "'note'.*not valid Unicode"),
    (lambda w: w.add_text("note/\udcff", "x", 5), ValueError, "not valid Unicode"),
    (lambda w: w.add_histogram("h/\udcff", [1.0], 5), ValueError, "not valid Unicode"),
    (lambda w: w.add_image("i/\udcff", torch.rand(3, 4, 4), 5), ValueError, "not valid Unicode"),
    (lambda w: w.add_hparams({"lr/\udcff": 0.1}, {"m": 1.0}), ValueError, "hparam_dict key"),
    (lambda w: w.add_hparams({"lr": 0.1}, {"m/\udcff": 1.0}), ValueError, "metric_dict key"),
    (lambda w: w.add_hparams({"opt": "\udcff"}, {"m": 1.0}), ValueError, "hparam 'opt'"),
    (lambda w: w.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name="t\udcff"), ValueError,
     "run_name"),
    (lambda w: w.add_hparams({"o": "a"}, {}, hparam_domain_discrete={"o": ["a", "\udcff"]}),
     ValueError, "hparam_domain_discrete"),
    (lambda w: w.add_custom_scalars({"c\udcff": {"t": ["Multiline", ["loss"]]}}), ValueError,
     "not valid Unicode"),
    (lambda w: w.add_custom_scalars_multilinechart(["loss\udcff"]), ValueError,
     "not valid Unicode"),
    (lambda w: w.add_image_with_boxes("b", torch.rand(3, 8, 8), torch.tensor([[0, 0, 4, 4]]),
                                      labels=["\udcff"]), ValueError, "'b': label"),
    (lambda w: w.add_graph({"nodes": [{"name": "x\udcff", "op": "Placeholder", "inputs": []}]}),
     ValueError, "not valid Unicode"),
    (lambda w: w.add_scalar("lo\0ss", 1.0, 5), ValueError, "NUL"),
    (lambda w: w.add_scalars("loss", {"a\0": 1.0}, 5), ValueError, "NUL"),
    (lambda w: w.add_text("note", "bad \0", 5), ValueError, "'note'.*NUL"),
    (lambda w: w.add_hparams({"lr\0": 0.1}, {"m": 1.0}), ValueError, "hparam_dict key.*NUL"),
    (lambda w: w.add_hparams({"opt": "\0"}, {"m": 1.0}), ValueError, "hparam 'opt'.*NUL"),
    (lambda w: w.add_image_with_boxes("b", torch.rand(3, 8, 8), torch.tensor([[0, 0, 4, 4]]),
                                      labels=["c\0"]), ValueError, "'b': label.*NUL"),
    (lambda w: w.add_custom_scalars({"c\0": {"t": ["Multiline", ["loss"]]}}), ValueError,
     "custom_scalars.*NUL"),
    (lambda w: w.watch(module_named("conv\udcff")), ValueError, "watch: module name"),
    (lambda w: w.watch(module_named("conv\0")), ValueError, "watch: module name.*NUL"),
    (lambda w: w.add_graph(module_named("conv\0"), torch.ones(1, 2)), ValueError,
     "graph description.*NUL"),
]  # fmt: skip


def module_named(name):
    model = torch.nn.Sequential()
    model.add_module(name, torch.nn.Linear(2, 2))
    return model


def test_refused_calls_leave_the_writer_logging_and_the_run_intact(tmp_path):
    # no background flush: the poisoned row below must reach the flush inside pytest.warns
    w = SummaryWriter(tmp_path / "r", flush_secs=3600)
    w.add_scalar("loss", 0.5, 0)
    w.add_text("note", "before", 0)
    w.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name="first")
    w.add_image("img", torch.rand(3, 4, 4), 0)
    w.flush()
    for i, (call, exc, match) in enumerate(BAD_CALLS, start=1):
        with pytest.raises(exc, match=match):
            call(w)
        w.add_scalar("loss", float(i), i)  # still logs and flushes
        w.flush()
    # a flush-time fault: a row no check caught, put straight into the buffer
    w._pending["text"].append((w._tags["note"][0], 7, 0.0, "unstorable \udcff"))
    w.add_text("note", "after", 1)
    with pytest.warns(RuntimeWarning, match="dropped 1 item.*'note'.*UnicodeEncodeError"):
        w.flush()
    w.add_scalar("loss", float(i + 1), i + 1)
    w.close()
    run = read(tmp_path)
    assert run.info.status == "finished" and run.info.dropped == {"note": 1}
    assert run.scalars("loss").value.tolist() == [0.5] + [float(k) for k in range(1, i + 2)]
    assert sorted(t.tag for t in run.tags()) == ["img", "loss", "note"]
    assert [t[3] for t in run.texts("note")] == ["before", "after"]
    assert [(t.name, t.hparams) for t in run.trials()] == [("first", {"lr": 0.1})]
    assert [im.step for im in run.images("img")] == [0]
    assert run.custom_scalars() is None and run.graph() is None


# --- torch stays unimported --------------------------------------------------------------------


def test_writer_never_imports_torch_for_numpy_callers(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from flowlog.writer import SummaryWriter
        w = SummaryWriter(sys.argv[1])
        rng = np.random.default_rng(0)
        for step in range(20):
            w.add_scalar("loss", float(np.exp(-step / 10)), step)
            w.add_scalar("np", np.float32(step), step)
        w.add_scalars("m", {"a": 1.0, "b": np.int64(2)}, 0)
        w.add_histogram("h", rng.normal(size=100), 0)
        w.add_hparams({"lr": 0.1, "opt": "sgd"}, {"acc": np.float64(0.9)})
        w.add_text("note", "hi", 0)
        w.add_image("img", rng.random((3, 4, 5)), 0)
        w.add_images("imgs", rng.random((2, 3, 4, 5)), 0)
        w.add_pr_curve("pr", rng.random(50) > 0.5, rng.random(50), 0)
        w.close()
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
        """
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "r")],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    run = read(tmp_path)
    assert len(run.scalars("loss").step) == 20 and run.info.status == "finished"
    assert len(run.pr_curves("pr")) == 1 and len(run.images("imgs")) == 1
