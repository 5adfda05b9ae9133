"""flowlog.media against torch.utils.tensorboard's own outputs: pixels of the PNGs decoded with
PIL, PR curve tables, raw histograms as TensorBoard migrates them, custom-scalars layouts."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from flowlog import media

RNG = np.random.default_rng(7)


def _pil_pixels(png: bytes) -> tuple[str, np.ndarray]:
    image = pytest.importorskip("PIL.Image")
    with image.open(io.BytesIO(png)) as im:
        return im.mode, np.asarray(im)


def _torch_summary():
    pytest.importorskip("torch")
    pytest.importorskip("PIL")
    from torch.utils.tensorboard import summary

    return summary


def _torch_image(**kwargs) -> tuple[np.ndarray, object]:
    proto = _torch_summary().image("t", **kwargs).value[0].image
    return _pil_pixels(proto.encoded_image_string)[1], proto


def _zlib_decode(png: bytes) -> tuple[tuple, np.ndarray]:
    """A minimal PNG reader (filter type 0 only) that checks the signature and every CRC."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data)
        chunks.append((kind, data))
        pos += 12 + length
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    w, h, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[colour]
    raw = np.frombuffer(zlib.decompress(chunks[1][1]), np.uint8).reshape(h, w * channels + 1)
    assert (raw[:, 0] == 0).all()
    return (w, h, depth, colour), raw[:, 1:].reshape(h, w, channels)


# --- PNG --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("channels", "mode"), [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_encode_png_decodes_with_pil_and_zlib(channels, mode):
    pixels = RNG.integers(0, 256, (5, 7, channels), dtype=np.uint8)
    png = media.encode_png(pixels)
    header, decoded = _zlib_decode(png)
    assert header[:3] == (7, 5, 8)
    np.testing.assert_array_equal(decoded, pixels)
    got_mode, got = _pil_pixels(png)
    assert got_mode == mode
    np.testing.assert_array_equal(got.reshape(5, 7, channels), pixels)


# --- images vs torch --------------------------------------------------------------------------

IMAGE_CASES = {
    "uint8 CHW rgb": (RNG.integers(0, 256, (3, 6, 9), dtype=np.uint8), "CHW"),
    "float CHW grey": (RNG.random((1, 6, 9), dtype=np.float32), "CHW"),
    "float HWC rgba": (RNG.random((6, 9, 4), dtype=np.float32), "HWC"),
    "float64 out of range": (RNG.uniform(-0.5, 1.7, (3, 4, 5)), "CHW"),
    "float HW": (RNG.random((6, 9)), "HW"),
    "float WH": (RNG.random((9, 6)), "WH"),
    "uint8 HWC rgb": (RNG.integers(0, 256, (4, 3, 3), dtype=np.uint8), "HWC"),
    "int64 wide ints": (RNG.integers(-2, 3, (3, 4, 4)), "CHW"),
    "bool": (RNG.random((4, 5)) > 0.5, "HW"),
    "lower-case formats": (RNG.random((2, 3, 3), dtype=np.float32), "hwc"),
    "float16 WCH": (RNG.random((5, 3, 4)).astype(np.float16), "WCH"),
}


@pytest.mark.parametrize("name", list(IMAGE_CASES))
def test_image_png_matches_torch_pixel_for_pixel(name):
    arr, fmt = IMAGE_CASES[name]
    want, proto = _torch_image(tensor=arr, dataformats=fmt)
    png, h, w, c = media.image_png("t", arr, fmt)
    _, got = _pil_pixels(png)
    np.testing.assert_array_equal(got, want)
    assert (h, w, c) == (proto.height, proto.width, proto.colorspace)


def test_image_float_scaling_truncates_like_torch():
    arr = np.array([[0.5, 1 / 255, 0.999, 2.0]], np.float64)  # 127.5 -> 127, 254.7 -> 254
    png, *_ = media.image_png("t", arr, "HW")
    assert _pil_pixels(png)[1][0, :, 0].tolist() == [127, 1, 254, 255]


def test_nan_pixels_become_black_and_inf_saturates():
    arr = np.array([[np.nan, np.inf, -np.inf, 0.2]])
    png, *_ = media.image_png("t", arr, "HW")
    assert _pil_pixels(png)[1][0, :, 0].tolist() == [0, 255, 0, 51]


@pytest.mark.parametrize(("n", "size"), [(5, (8, 50)), (10, (16, 80)), (8, (8, 80)), (1, (8, 10))])
def test_images_grid_matches_torch(n, size):
    batch = RNG.random((n, 3, 8, 10), dtype=np.float32)
    want, proto = _torch_image(tensor=batch, dataformats="NCHW")
    png, h, w, c = media.images_grid_png("t", batch)
    _, got = _pil_pixels(png)
    assert (h, w, c) == (*size, 3) == (proto.height, proto.width, proto.colorspace)
    np.testing.assert_array_equal(got, want)
    if n == 10:  # second row: two images, then six black cells
        assert got[8:, 20:].max() == 0 and got[8:, :20].max() > 0


def test_images_grid_grey_nhwc_uint8_matches_torch():
    batch = RNG.integers(0, 256, (3, 4, 5, 1), dtype=np.uint8)
    want, _ = _torch_image(tensor=batch, dataformats="NHWC")
    _, got = _pil_pixels(media.images_grid_png("t", batch, "NHWC")[0])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("shape", "fmt", "message"),
    [
        ((3, 4, 5), "HW", "has 3 dimensions but dataformats 'HW' names 2"),
        ((3, 4, 5), "CHH", "uses a letter twice"),
        ((3, 4, 5), "CHX", "must order the letters"),
        ((2, 4, 5, 6), "NHWC", "needs 1 or 3 channels, got C=6"),
        ((3, 0, 5), "CHW", "is empty"),
        ((4, 4, 5), "HWC", "has 5 channels"),
    ],
)
def test_bad_image_shapes_name_the_tag(shape, fmt, message):
    with pytest.raises(ValueError, match=message) as err:
        media.image_png("my/img", np.zeros(shape), fmt)
    assert "'my/img'" in str(err.value)


def test_rgba_batch_is_refused_like_torch():
    batch = np.zeros((2, 4, 5, 6), np.float32)
    with pytest.raises(AssertionError):
        _torch_summary().image("t", batch, dataformats="NCHW")
    with pytest.raises(ValueError, match="'b'.*1 or 3 channels, got C=4"):
        media.images_grid_png("b", batch)


# --- to_numpy ---------------------------------------------------------------------------------


def test_to_numpy_reads_torch_tensors_without_importing_torch_itself():
    torch = pytest.importorskip("torch")
    grad = torch.rand(2, 3, requires_grad=True)
    np.testing.assert_array_equal(media.to_numpy("t", grad), grad.detach().numpy())
    half = torch.rand(4, dtype=torch.float16)
    got = media.to_numpy("t", half)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, half.numpy())
    bf16 = (torch.rand(3, 4) * 3).to(torch.bfloat16).requires_grad_()
    got = media.to_numpy("t", bf16)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, bf16.detach().float().numpy())  # bf16 -> f32 is exact
    if torch.cuda.is_available():
        np.testing.assert_array_equal(media.to_numpy("t", half.cuda()), half.numpy())


def test_bfloat16_image_matches_torch():
    torch = pytest.importorskip("torch")
    img = torch.rand(3, 5, 6).to(torch.bfloat16)
    want, _ = _torch_image(tensor=img, dataformats="CHW")
    np.testing.assert_array_equal(_pil_pixels(media.image_png("t", img)[0])[1], want)


def test_to_numpy_accepts_sequences_and_scalars():
    assert media.to_numpy("t", [[1, 2], [3, 4]]).shape == (2, 2)
    assert media.to_numpy("t", 2.5).shape == ()


@pytest.mark.parametrize("value", ["abc", b"abc", None, np.array([object()]), np.array([1j])])
def test_to_numpy_refuses_non_numbers(value):
    with pytest.raises(TypeError, match="tag 'x'"):
        media.to_numpy("x", value)


def test_to_numpy_refuses_ragged_lists():
    with pytest.raises(TypeError, match="tag 'x': cannot read list"):
        media.to_numpy("x", [[1, 2], [3]])


def test_import_pulls_in_no_heavy_or_sqlite_module():
    code = (
        "import sys, flowlog.media\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'matplotlib', 'PIL', 'sqlite3')]\n"
        "bad += [m for m in sys.modules if m.startswith('flowlog.') and m != 'flowlog.media']\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- boxes ------------------------------------------------------------------------------------

BOXES = np.array(
    [[2, 2, 7, 6], [1.7, 3.2, 3.9, 9.5], [5, 5, 5, 5], [8, 1, 8, 6], [10, 7, 4, 4], [-3, -2, 30, 9]]
)


@pytest.mark.parametrize(
    ("img", "fmt"),
    [
        (RNG.random((3, 10, 12), dtype=np.float32), "CHW"),
        (RNG.integers(0, 256, (10, 12, 4), dtype=np.uint8), "HWC"),
        (RNG.random((10, 12)), "HW"),
    ],
)
def test_image_with_boxes_matches_torch(img, fmt):
    proto = _torch_summary().image_boxes("t", img, BOXES, dataformats=fmt).value[0].image
    _, want = _pil_pixels(proto.encoded_image_string)
    png, h, w, c = media.image_with_boxes_png("t", img, BOXES, dataformats=fmt)
    _, got = _pil_pixels(png)
    assert (h, w, c) == (proto.height, proto.width, proto.colorspace)
    np.testing.assert_array_equal(got, want)
    red = (got[..., :3] == (255, 0, 0)).all(-1)
    assert red[2, 2:8].all() and red[1, 2:8].all()  # a 2-px top edge of the first box


def test_boxes_rescale_is_nearest_neighbour_of_the_drawn_image():
    img = RNG.random((3, 10, 12), dtype=np.float32)
    once = _pil_pixels(media.image_with_boxes_png("t", img, BOXES)[0])[1]
    png, h, w, c = media.image_with_boxes_png("t", img, BOXES, rescale=2)
    np.testing.assert_array_equal(_pil_pixels(png)[1], once.repeat(2, 0).repeat(2, 1))
    torch_png = _torch_summary().image_boxes("t", img, BOXES, rescale=2).value[0].image
    assert _pil_pixels(torch_png.encoded_image_string)[1].shape == (h, w, c) == (20, 24, 3)


def test_box_labels_are_checked_like_torch():
    img = np.zeros((3, 6, 6))
    plain = media.image_with_boxes_png("t", img, BOXES[:1])[0]
    assert media.image_with_boxes_png("t", img, BOXES[:1], labels="cat")[0] == plain
    assert media.image_with_boxes_png("t", img, BOXES[:1], labels=["a", "b"])[0] == plain
    with pytest.raises(TypeError, match="tag 't': labels must be a list of str"):
        media.image_with_boxes_png("t", img, BOXES[:1], labels=[3])


@pytest.mark.parametrize(
    ("boxes", "rescale", "error", "match"),
    [
        (np.zeros((2, 3)), 1, ValueError, r"boxes must be \(N, 4\)"),
        ([[0, 0, np.nan, 1]], 1, ValueError, "finite"),
        ([[0, 0, 1, 1]], 0, ValueError, "rescale must be a positive number"),
        ([[0, 0, 1, 1]], 0.01, ValueError, "to nothing"),
        ("box", 1, TypeError, "expected numbers"),
    ],
)
def test_bad_boxes_name_the_tag(boxes, rescale, error, match):
    with pytest.raises(error, match=f"tag 'bx'.*{match}"):
        media.image_with_boxes_png("bx", np.zeros((3, 6, 6)), boxes, rescale=rescale)


# --- figures ----------------------------------------------------------------------------------


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    yield pyplot
    pyplot.close("all")


def _solid_figure(plt, colour=(0.2, 0.4, 0.6)):
    fig = plt.figure(figsize=(2, 1), dpi=50, facecolor=colour)
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def test_figure_png_renders_rgb_and_closes(plt):
    fig = _solid_figure(plt)
    assert fig.number in plt.get_fignums()
    png, h, w, c = media.figure_png("fig", fig)
    assert (h, w, c) == (50, 100, 3)
    mode, pixels = _pil_pixels(png)
    assert mode == "RGB" and pixels[0, 0].tolist() == pixels[-1, -1].tolist() == [51, 102, 153]
    assert fig.number not in plt.get_fignums()


def test_figure_png_matches_torch_and_keeps_the_canvas_when_not_closing(plt):
    _torch_summary()
    from torch.utils.tensorboard._utils import figure_to_image

    fig = _solid_figure(plt)
    canvas = fig.canvas
    got = _pil_pixels(media.figure_png("fig", fig, close=False)[0])[1]
    assert fig.number in plt.get_fignums() and fig.canvas is canvas
    np.testing.assert_array_equal(got, figure_to_image(fig, close=True).transpose(1, 2, 0))


def test_figure_list_is_a_grid_like_torch(plt):
    _torch_summary()
    from torch.utils.tensorboard._utils import figure_to_image

    colours = [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
    want_chw = figure_to_image([_solid_figure(plt, c) for c in colours], close=True)
    want, _ = _torch_image(tensor=want_chw, dataformats="NCHW")
    figs = [_solid_figure(plt, c) for c in colours]
    png, h, w, c = media.figure_png("figs", figs)
    assert (h, w, c) == (50, 300, 3)
    np.testing.assert_array_equal(_pil_pixels(png)[1], want)
    assert not plt.get_fignums()


def test_figure_png_refuses_non_figures(plt):
    with pytest.raises(TypeError, match="tag 'fig': expected a matplotlib Figure"):
        media.figure_png("fig", np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="tag 'fig': the list of figures is empty"):
        media.figure_png("fig", [])
    figs = [plt.figure(figsize=(1, 1)), plt.figure(figsize=(2, 1))]
    with pytest.raises(ValueError, match="one size"):
        media.figure_png("fig", figs)


# --- PR curves --------------------------------------------------------------------------------


def _torch_pr(labels, predictions, **kwargs) -> np.ndarray:
    tensor = _torch_summary().pr_curve("t", labels, predictions, **kwargs).value[0].tensor
    return np.array(tensor.float_val).reshape(6, -1)


@pytest.mark.parametrize(
    ("dtype", "n", "weighted"),
    [
        (np.float32, 127, False),
        (np.float64, 10, False),
        (np.float32, 300, True),
        (np.float64, 2, True),
    ],
)
def test_pr_curve_table_matches_torch(dtype, n, weighted):
    labels = RNG.integers(0, 2, 500)
    predictions = RNG.random(500).astype(dtype)
    predictions[:4] = [0.0, 1.0, 0.5, 126 / 127]  # the edges of buckets
    weights = RNG.random(500) if weighted else None
    want = _torch_pr(labels, predictions, num_thresholds=n, weights=weights)
    got = media.pr_curve_table("t", labels, predictions, num_thresholds=n, weights=weights)
    assert got.dtype == np.float64 and got.shape == (6, min(n, 127))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-6)


def test_pr_curve_buckets_float32_predictions_in_float32_like_torch():
    # float32(0.515873) * 126 floors to 65 in float32 but to 64 in float64
    predictions = np.array([0.5158730149269104, 0.5317460298538208], np.float32)
    labels = np.array([1, 1])
    got = media.pr_curve_table("t", labels, predictions)
    np.testing.assert_array_equal(got[0], _torch_pr(labels, predictions)[0])
    assert got[0, 65] == 2 and got[0, 66] == 1


def test_pr_curve_table_reads_torch_tensors():
    torch = pytest.importorskip("torch")
    labels = torch.tensor([1, 0, 1, 1, 0])
    predictions = torch.tensor([0.9, 0.8, 0.3, 0.6, 0.1], requires_grad=True)
    table = media.pr_curve_table("t", labels, predictions, num_thresholds=3)
    # buckets floor(p * 2): the last threshold (1.0) holds only predictions equal to 1
    assert table[:4].tolist() == [[3, 2, 0], [2, 1, 0], [0, 1, 2], [0, 1, 3]]
    np.testing.assert_allclose(
        table, _torch_pr(labels.numpy(), predictions.detach().numpy(), num_thresholds=3), rtol=1e-6
    )


@pytest.mark.parametrize(
    ("labels", "predictions", "kwargs", "error", "match"),
    [
        ([1, 0], [0.5, 1.5], {}, ValueError, r"predictions must be in \[0, 1\].*1.5"),
        ([1, 0], [0.5, np.nan], {}, ValueError, "NaN refused"),
        ([1, 2], [0.5, 0.2], {}, ValueError, r"labels must be in \[0, 1\]"),
        ([1, 0, 1], [0.5, 0.2], {}, ValueError, "3 labels but 2 predictions"),
        ([1, 0], [0.5, 0.2], {"num_thresholds": 1}, ValueError, ">= 2"),
        ([1, 0], [0.5, 0.2], {"num_thresholds": 5.0}, TypeError, "must be an int"),
        ([1, 0], [0.5, 0.2], {"weights": [1, 2, 3]}, ValueError, "weights must be one number"),
        ([1, 0], [0.5, 0.2], {"weights": [1, -1]}, ValueError, ">= 0"),
    ],
)
def test_pr_curve_table_refuses_bad_input(labels, predictions, kwargs, error, match):
    with pytest.raises(error, match=f"tag 'pr'.*{match}"):
        media.pr_curve_table("pr", labels, predictions, **kwargs)


def test_pr_curve_raw_table_matches_torch():
    rows = [RNG.random(5) for _ in range(6)]
    tensor = _torch_summary().pr_curve_raw("t", *rows).value[0].tensor
    got = media.pr_curve_raw_table("t", *rows)
    assert got.shape == (6, 5)
    np.testing.assert_allclose(got, np.array(tensor.float_val).reshape(6, -1), rtol=1e-6)


def test_pr_curve_raw_table_names_the_input_of_another_length():
    rows = [np.ones(3)] * 6
    rows[1] = np.ones(2)
    with pytest.raises(ValueError, match="tag 'r'.*false_positive_counts has 2"):
        media.pr_curve_raw_table("r", *rows)
    with pytest.raises(ValueError, match="precision must be 1-D"):
        media.pr_curve_raw_table("r", *rows[:4], np.ones((3, 1)), rows[5])


# --- raw histograms ---------------------------------------------------------------------------


def test_histogram_raw_is_what_tensorboard_shows():
    _torch_summary()
    from tensorboard import data_compat
    from tensorboard.util import tensor_util

    values = np.array([i + 0.001 for i in range(50) for _ in range(i)])  # torch's doc example
    counts, limits = np.histogram(values, bins=np.arange(52))
    args = (values.min(), values.max(), len(values), values.sum(), values.dot(values))
    proto = _torch_summary().histogram_raw("t", *args, limits[1:].tolist(), counts.tolist())
    tb = data_compat.migrate_value(proto.value[0]).tensor
    buckets = tensor_util.make_ndarray(tb)  # [left, right, count] per bucket
    assert buckets.shape == (49, 3)
    record = media.histogram_raw_record("t", *args, limits[1:], counts)
    edges, got_counts = np.frombuffer(record[0]), np.frombuffer(record[1])
    np.testing.assert_allclose(edges[:-1], buckets[:, 0], rtol=1e-6)
    np.testing.assert_allclose(edges[1:], buckets[:, 1], rtol=1e-6)
    np.testing.assert_array_equal(got_counts, buckets[:, 2])
    assert record[2:] == (1.001, 49.001, args[3], args[4], 1225, 0, 0, 0)  # records' order


def test_histogram_raw_record_has_the_histogram_record_layout():
    from flowlog import records

    values = RNG.normal(size=1000)
    want = records.histogram_record("t", values, 20)
    edges, counts = np.frombuffer(want[0]), np.frombuffer(want[1])
    limits = np.r_[edges[1:-1], np.finfo(np.float64).max]  # tensorflow-style last limit
    got = media.histogram_raw_record(
        "t", values.min(), values.max(), 1000, values.sum(), values.dot(values), limits, counts
    )
    assert got[:2] == want[:2] and got[6:] == want[6:]
    np.testing.assert_allclose(got[2:6], want[2:6])


def test_histogram_raw_record_without_counts_is_empty():
    got = media.histogram_raw_record("t", 0, 0, 0, 0, 0, [1.0, 2.0], [0, 0])
    assert got == (b"", b"", None, None, 0.0, 0.0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 1, 2, 1, 1, [0.5, 1.0], [2]), r"len\(bucket_limits\) != len\(bucket_counts\)"),
        ((0, 1, 2, 1, 1, [0.5, 1.0], [1, -1]), "finite and >= 0"),
        ((0, 1, 2.5, 1, 1, [0.5, 1.0], [1, 1]), "whole number"),
        ((0.7, 1, 2, 1, 1, [0.5, 1.0], [1, 1]), "increasing"),
        ((0, 1, 2, [1, 2], 1, [0.5, 1.0], [1, 1]), "sum must be one number"),
    ],
)
def test_histogram_raw_record_refuses_bad_input(args, match):
    with pytest.raises(ValueError, match=f"tag 'h'.*{match}"):
        media.histogram_raw_record("h", *args)


# --- custom scalars ---------------------------------------------------------------------------

LAYOUT = {
    "Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
    "USA": {"dow": ["Margin", ["dow/avg", "dow/lo", "dow/hi"]], "nasdaq": ["Multiline", ["nq.*"]]},
}


def test_custom_scalars_layout_matches_torch_layout_proto():
    _torch_summary()
    from tensorboard.plugins.custom_scalar import layout_pb2

    proto = _torch_summary().custom_scalars(LAYOUT).value[0].tensor.string_val[0]
    want = layout_pb2.Layout.FromString(proto)
    got = media.custom_scalars_layout(LAYOUT)
    json.dumps(got)
    assert [c["title"] for c in got["categories"]] == [c.title for c in want.category]
    for cat, pcat in zip(got["categories"], want.category, strict=True):
        for chart, pchart in zip(cat["charts"], pcat.chart, strict=True):
            assert chart["title"] == pchart.title
            if chart["kind"] == "margin":
                s = pchart.margin.series[0]
                assert chart["tags"] == [s.value, s.lower, s.upper]
            else:
                assert chart["kind"] == "multiline"
                assert chart["tags"] == list(pchart.multiline.tag)


def test_chart_helpers_give_torchs_input_form():
    assert media.multiline_layout(("a", "b")) == {
        "default": {"untitled": ["Multiline", ["a", "b"]]}
    }
    assert media.margin_layout(["v", "l", "u"], "c", "t") == {
        "c": {"t": ["Margin", ["v", "l", "u"]]}
    }


@pytest.mark.parametrize(
    ("layout", "error", "match"),
    [
        ({"c": {"t": ["Margin", ["a", "b"]]}}, ValueError, "'c' / 't'.*exactly 3 tags.*got 2"),
        ({"c": {"t": ["Bars", ["a"]]}}, ValueError, "'Multiline' or 'Margin'"),
        ({"c": {"t": ["Multiline", "a"]}}, TypeError, "list of str"),
        ({"c": {"t": ["Multiline"]}}, ValueError, r"expected \[type, tags\]"),
        ({"c": ["Multiline", ["a"]]}, TypeError, "dict of charts"),
        ([1], TypeError, "must be a dict"),
    ],
)
def test_custom_scalars_layout_refuses_bad_layouts(layout, error, match):
    with pytest.raises(error, match=match):
        media.custom_scalars_layout(layout)


def test_margin_helper_needs_three_tags():
    with pytest.raises(ValueError, match="exactly 3 tags"):
        media.margin_layout(["a", "b"])
