"""What an image, figure, PR curve, raw histogram or custom-scalars layout becomes: pure
functions (numpy and the standard library) that follow ``torch.utils.tensorboard`` pixel for
pixel and refuse bad input with errors naming the tag, before anything reaches the writer.

PNGs are encoded here with ``zlib`` so logging images needs neither PIL nor torch; matplotlib
is imported only inside :func:`figure_png`, for the figures it is given.
"""

from __future__ import annotations

import numbers
import struct
import zlib
from collections.abc import Mapping

import numpy as np

GRID_COLUMNS = 8  # torch's make_grid: ncols = min(N, 8)
MAX_PR_THRESHOLDS = 127  # torch caps num_thresholds (more "breaks protobuf")
_MIN_COUNT = 1e-7  # compute_curve's floor on precision/recall denominators
_LAYOUTS = {4: "NCHW", 3: "HWC", 2: "HW"}
_PNG_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # grey, grey+alpha, RGB, RGBA
_RED = {2: (76, 255), 3: (255, 0, 0), 4: (255, 0, 0, 255)}  # PIL's "Red" in LA, RGB, RGBA
_PR_ROWS = (
    "true_positive_counts", "false_positive_counts", "true_negative_counts",
    "false_negative_counts", "precision", "recall",
)  # fmt: skip


def check_chars(what: str, text: str) -> str:
    """Refuse NUL and lone surrogates before they are buffered: the one check of every string
    the writer stores (records uses it). A lone surrogate (what ``os.fsdecode`` makes of
    non-UTF-8 bytes) cannot be stored by SQLite, so every later flush would fail, and in JSON
    it would reach every reader as text it cannot encode; C strings, and so many readers, end
    at a NUL."""
    if "\0" in text:
        raise ValueError(f"{what} {text[:80]!r} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{what} {text[:80]!r} is not valid Unicode text ({exc.reason} at position "
            f"{exc.start}); decode file names with errors='replace'"
        ) from None
    return text


# --- arrays -----------------------------------------------------------------------------------


def to_numpy(tag: str, value: object) -> np.ndarray:
    """A numeric numpy array from arrays, sequences, scalars or tensors (duck-typed, so torch is
    never imported): detached, bfloat16 widened to float32 (exact; numpy has no bfloat16), moved
    to the CPU."""
    if value is None or isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"tag {tag!r}: expected numbers (an array or tensor), got {value!r:.80}")
    try:
        if not isinstance(value, np.ndarray) and hasattr(value, "detach"):
            value = value.detach()
            if str(getattr(value, "dtype", "")) == "torch.bfloat16":
                value = value.float()
            if hasattr(value, "cpu"):
                value = value.cpu()
            if hasattr(value, "numpy"):
                value = value.numpy()
        arr = np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        kind = type(value).__name__
        raise TypeError(f"tag {tag!r}: cannot read {kind} as a numeric array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"tag {tag!r}: expected numbers, got an array of dtype {arr.dtype}")
    return arr


def _vector(tag: str, what: str, value: object) -> np.ndarray:
    arr = to_numpy(tag, value)
    if arr.ndim != 1:
        raise ValueError(f"tag {tag!r}: {what} must be 1-D, got shape {arr.shape}")
    return arr.astype(np.float64)


# --- PNG --------------------------------------------------------------------------------------


def encode_png(pixels: np.ndarray) -> bytes:
    """An 8-bit PNG of an (H, W, C) uint8 array, C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
    Filter type 0 on every row: simple, and zlib still shrinks flat areas well."""
    h, w, c = pixels.shape
    rows = np.zeros((h, w * c + 1), np.uint8)  # column 0: each row's filter-type byte
    rows[:, 1:] = pixels.reshape(h, w * c)
    header = struct.pack(">IIBBBBB", w, h, 8, _PNG_COLOUR_TYPE[c], 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            _png_chunk(b"IEND", b""),
        ]
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_result(pixels: np.ndarray) -> tuple[bytes, int, int, int]:
    h, w, c = pixels.shape
    return encode_png(np.ascontiguousarray(pixels)), h, w, c


# --- images -----------------------------------------------------------------------------------


def _check_dataformats(tag: str, shape: tuple, dataformats: object) -> str:
    if not isinstance(dataformats, str):
        raise TypeError(f"tag {tag!r}: dataformats must be a str like 'CHW', got {dataformats!r}")
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt):
        raise ValueError(f"tag {tag!r}: dataformats {dataformats!r} uses a letter twice")
    if len(fmt) != len(shape):
        raise ValueError(
            f"tag {tag!r}: image of shape {tuple(shape)} has {len(shape)} dimensions but "
            f"dataformats {dataformats!r} names {len(fmt)}"
        )
    if set(fmt) != set(_LAYOUTS.get(len(fmt), "?")):
        raise ValueError(
            f"tag {tag!r}: dataformats {dataformats!r} must order the letters NCHW (4-D), "
            f"HWC (3-D) or HW (2-D); image shape {tuple(shape)}"
        )
    return fmt


def _to_hwc(tag: str, img: object, dataformats: object) -> np.ndarray:
    """torch's convert_to_HWC: 4-D becomes a grid, C=1 and 2-D grey become RGB."""
    arr = to_numpy(tag, img)
    fmt = _check_dataformats(tag, arr.shape, dataformats)
    if arr.size == 0:
        raise ValueError(f"tag {tag!r}: image of shape {arr.shape} is empty")
    if len(fmt) == 4:
        return _grid(tag, arr.transpose([fmt.index(c) for c in "NCHW"])).transpose(1, 2, 0)
    if len(fmt) == 2:
        grey = arr.transpose([fmt.index(c) for c in "HW"])
        return np.stack([grey, grey, grey], axis=2)
    hwc = arr.transpose([fmt.index(c) for c in "HWC"])
    if hwc.shape[2] == 1:
        return np.repeat(hwc, 3, axis=2)
    if hwc.shape[2] > 4:
        raise ValueError(
            f"tag {tag!r}: image of shape {arr.shape} ({dataformats!r}) has {hwc.shape[2]} "
            "channels; 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) are supported"
        )
    return hwc


def _grid(tag: str, nchw: np.ndarray) -> np.ndarray:
    """torch's make_grid: up to 8 columns, no padding, empty cells black; (3, H*rows, W*cols)."""
    if nchw.shape[1] == 1:
        nchw = np.repeat(nchw, 3, axis=1)
    n, c, h, w = nchw.shape
    if c != 3:
        raise ValueError(
            f"tag {tag!r}: a batch of images needs 1 or 3 channels, got C={c} (shape "
            f"{nchw.shape} as NCHW); log RGBA images one at a time with add_image"
        )
    cols = min(n, GRID_COLUMNS)
    rows = -(-n // cols)
    cells = np.zeros((rows * cols, 3, h, w), dtype=nchw.dtype)
    cells[:n] = nchw
    return cells.reshape(rows, cols, 3, h, w).transpose(2, 0, 3, 1, 4).reshape(3, rows * h, -1)


def _to_uint8(hwc: np.ndarray) -> np.ndarray:
    """uint8 as is; anything else x255 in float32, clipped, truncated (torch's image()).
    NaN becomes 0 (black): torch leaves it to an undefined float-to-uint8 cast."""
    if hwc.dtype == np.uint8:
        return hwc
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = hwc.astype(np.float32) * np.float32(255)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return scaled.clip(0, 255).astype(np.uint8)


def image_png(tag: str, img: object, dataformats: str = "CHW") -> tuple[bytes, int, int, int]:
    """``(png, height, width, channels)`` of torch's add_image; a 4-letter ``dataformats``
    makes a grid as add_images does."""
    return _png_result(_to_uint8(_to_hwc(tag, img, dataformats)))


def images_grid_png(
    tag: str, imgs: object, dataformats: str = "NCHW"
) -> tuple[bytes, int, int, int]:
    """torch's add_images: the batch as one grid of min(N, 8) columns (same rules as
    :func:`image_png`, which add_images shares in torch)."""
    return image_png(tag, imgs, dataformats)


# --- boxes ------------------------------------------------------------------------------------


def _check_boxes(tag: str, boxes: object) -> np.ndarray:
    arr = to_numpy(tag, boxes)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(
            f"tag {tag!r}: boxes must be (N, 4) rows [x1, y1, x2, y2], got {arr.shape}"
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"tag {tag!r}: box coordinates must be finite")
    return arr


def _check_labels(tag: str, labels: object, count: int) -> list[str] | None:
    """torch's rule: a str is one label; a count other than the box count drops them all."""
    if labels is None:
        return None
    if isinstance(labels, str):
        labels = [labels]
    try:
        labels = list(labels)
    except TypeError:
        raise TypeError(f"tag {tag!r}: labels must be a list of str, got {labels!r}") from None
    if len(labels) != count:
        return None
    if not all(isinstance(label, str) for label in labels):
        raise TypeError(f"tag {tag!r}: labels must be a list of str, got {labels!r}")
    for label in labels:
        check_chars(f"tag {tag!r}: label", label)
    return labels


def _draw_box(pixels: np.ndarray, box: np.ndarray, colour: tuple) -> None:
    """PIL's ``line(width=2)`` around the box's corners, as torch draws it: coordinates
    truncated to int, each side 2 px thick on the side PIL puts it (checked pixel-exact)."""
    x1, y1, x2, y2 = (int(v) for v in box)
    corners = [(x1, y1), (x1, y2), (x2, y2), (x2, y1), (x1, y1)]
    for (xa, ya), (xb, yb) in zip(corners, corners[1:], strict=False):
        if xa == xb and ya == yb:
            _fill(pixels, xa, xa, ya, ya, colour)
        elif xa == xb:  # vertical: the 2nd column lies on the right going down, left going up
            _fill(pixels, xa, xa + (1 if yb > ya else -1), ya, yb, colour)
        else:  # horizontal: the 2nd row lies below going right, above going left
            _fill(pixels, xa, xb, ya, ya + (1 if xb > xa else -1), colour)


def _fill(pixels: np.ndarray, xa: int, xb: int, ya: int, yb: int, colour: tuple) -> None:
    (x0, x1), (y0, y1) = sorted((xa, xb)), sorted((ya, yb))
    if x1 >= 0 and y1 >= 0:
        pixels[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1] = colour


def _resize_nearest(tag: str, pixels: np.ndarray, rescale: object) -> np.ndarray:
    if isinstance(rescale, bool) or not isinstance(rescale, numbers.Real) or not rescale > 0:
        raise ValueError(f"tag {tag!r}: rescale must be a positive number, got {rescale!r}")
    h, w = pixels.shape[:2]
    new_h, new_w = int(h * rescale), int(w * rescale)
    if new_h < 1 or new_w < 1:
        raise ValueError(f"tag {tag!r}: rescale={rescale} shrinks the {h}x{w} image to nothing")
    if (new_h, new_w) == (h, w):
        return pixels
    rows = np.minimum(((np.arange(new_h) + 0.5) * h / new_h).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(new_w) + 0.5) * w / new_w).astype(np.int64), w - 1)
    return pixels[rows[:, None], cols[None, :]]


def image_with_boxes_png(
    tag: str,
    img: object,
    boxes: object,
    dataformats: str = "CHW",
    rescale: float = 1,
    labels: object = None,
) -> tuple[bytes, int, int, int]:
    """torch's add_image_with_boxes: red [x1, y1, x2, y2] outlines drawn on the image, then the
    image scaled by ``rescale``. Differences: labels are checked but not drawn (torch draws
    them with PIL's font), rescaling is nearest-neighbour, not Lanczos, and the height and width
    returned are the PNG's (torch's Summary.Image header keeps the size before rescaling)."""
    pixels = _to_uint8(_to_hwc(tag, img, dataformats)).copy()
    box_array = _check_boxes(tag, boxes)
    _check_labels(tag, labels, len(box_array))
    colour = _RED[pixels.shape[2]]
    for box in box_array:
        _draw_box(pixels, box, colour)
    return _png_result(_resize_nearest(tag, pixels, rescale))


# --- figures ----------------------------------------------------------------------------------


def _render_figure(tag: str, figure: object, close: bool) -> np.ndarray:
    """RGB (H, W, 3) uint8 of a figure drawn by a fresh Agg canvas, as torch's figure_to_image;
    the figure's own canvas is put back afterwards, so a GUI window keeps working."""
    from matplotlib.figure import Figure

    if not isinstance(figure, Figure):
        raise TypeError(
            f"tag {tag!r}: expected a matplotlib Figure (or a list of them), got "
            f"{type(figure).__name__}"
        )
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    original = figure.canvas
    try:
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[:, :, :3].copy()
    finally:
        figure.set_canvas(original)
    if close:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return rgb


def figure_png(tag: str, figure: object, close: bool = True) -> tuple[bytes, int, int, int]:
    """torch's add_figure: one figure as an RGB image; a list (or tuple) of same-sized figures
    as a grid like add_images. ``close`` closes each figure with ``pyplot.close``."""
    if not isinstance(figure, (list, tuple)):
        return image_png(tag, _render_figure(tag, figure, close), "HWC")
    if not figure:
        raise ValueError(f"tag {tag!r}: the list of figures is empty")
    frames = [_render_figure(tag, f, close) for f in figure]
    sizes = sorted({f.shape[:2] for f in frames})
    if len(sizes) > 1:
        raise ValueError(f"tag {tag!r}: figures in one grid must have one size, got {sizes}")
    return image_png(tag, np.stack(frames), "NHWC")


# --- PR curves --------------------------------------------------------------------------------


def _check_thresholds(tag: str, num_thresholds: object) -> int:
    if isinstance(num_thresholds, (bool, np.bool_)) or not isinstance(
        num_thresholds, numbers.Integral
    ):
        raise TypeError(f"tag {tag!r}: num_thresholds must be an int, got {num_thresholds!r}")
    if num_thresholds < 2:
        raise ValueError(f"tag {tag!r}: num_thresholds must be >= 2, got {num_thresholds}")
    return int(num_thresholds)


def _in_unit_interval(tag: str, what: str, arr: np.ndarray) -> None:
    bad = ~((arr >= 0) & (arr <= 1))
    if bad.any():
        raise ValueError(
            f"tag {tag!r}: {what} must be in [0, 1] (NaN refused), got {arr[bad][0]} "
            f"({int(bad.sum())} such values)"
        )


def _pr_weights(tag: str, weights: object, size: int) -> np.ndarray | float:
    if weights is None:
        return 1.0
    w = to_numpy(tag, weights).astype(np.float64).ravel()
    if w.size not in (1, size):
        raise ValueError(
            f"tag {tag!r}: weights must be one number or one per prediction ({size}), got {w.size}"
        )
    if not (np.isfinite(w) & (w >= 0)).all():
        raise ValueError(f"tag {tag!r}: weights must be finite and >= 0")
    return w


def pr_curve_table(
    tag: str,
    labels: object,
    predictions: object,
    num_thresholds: int = 127,
    weights: object = None,
) -> np.ndarray:
    """torch's compute_curve: float64 (6, n), n = min(num_thresholds, 127), rows TP, FP, TN, FN,
    precision, recall at thresholds i/(n-1). Predictions stay in their float dtype while being
    bucketed, as in torch, so bucket edges match. Unlike torch, which silently drops them,
    predictions outside [0, 1] or NaN are refused."""
    n = min(_check_thresholds(tag, num_thresholds), MAX_PR_THRESHOLDS)
    truth = to_numpy(tag, labels).ravel()
    scores = to_numpy(tag, predictions).ravel()
    if truth.size != scores.size:
        raise ValueError(f"tag {tag!r}: {truth.size} labels but {scores.size} predictions")
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    truth = truth.astype(np.float64)
    _in_unit_interval(tag, "predictions", scores)
    _in_unit_interval(tag, "labels", truth)
    w = _pr_weights(tag, weights, scores.size)
    buckets = np.floor(scores * (n - 1)).astype(np.int32)
    positive, _ = np.histogram(buckets, bins=n, range=(0, n - 1), weights=truth * w)
    negative, _ = np.histogram(buckets, bins=n, range=(0, n - 1), weights=(1.0 - truth) * w)
    tp = np.cumsum(positive[::-1])[::-1]
    fp = np.cumsum(negative[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(_MIN_COUNT, tp + fp)
    recall = tp / np.maximum(_MIN_COUNT, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall)).astype(np.float64)


def pr_curve_raw_table(
    tag: str,
    tp: object,
    fp: object,
    tn: object,
    fn: object,
    precision: object,
    recall: object,
    num_thresholds: int = 127,
) -> np.ndarray:
    """torch's add_pr_curve_raw: the six 1-D inputs stacked, float64 (6, n). As in torch,
    ``num_thresholds`` (capped at 127) describes the curve; the table keeps the given length."""
    _check_thresholds(tag, num_thresholds)
    given = (tp, fp, tn, fn, precision, recall)
    rows = [_vector(tag, name, v) for name, v in zip(_PR_ROWS, given, strict=True)]
    for name, row in zip(_PR_ROWS[1:], rows[1:], strict=True):
        if row.size != rows[0].size:
            raise ValueError(
                f"tag {tag!r}: the six PR curve inputs must have one length; "
                f"{_PR_ROWS[0]} has {rows[0].size}, {name} has {row.size}"
            )
    if rows[0].size == 0:
        raise ValueError(f"tag {tag!r}: the PR curve inputs are empty")
    return np.stack(rows)


# --- raw histograms ---------------------------------------------------------------------------


def _number(tag: str, what: str, value: object) -> float:
    """One real number (also a 0-d/1-element array or tensor); records.to_float's rules, without
    importing records (which brings in the SQLite schema)."""
    arr = to_numpy(tag, value)
    if arr.size != 1:
        raise ValueError(f"tag {tag!r}: {what} must be one number, got shape {arr.shape}")
    return float(arr.reshape(()))


def _check_count(tag: str, num: object) -> int:
    value = _number(tag, "num", num)
    if not (value >= 0 and value.is_integer()):
        raise ValueError(f"tag {tag!r}: num must be a whole number >= 0, got {num!r}")
    return int(value)


def histogram_raw_record(
    tag: str,
    min: object,
    max: object,
    num: object,
    sum: object,
    sum_squares: object,
    bucket_limits: object,
    bucket_counts: object,
) -> tuple:
    """torch's add_histogram_raw as :func:`flowlog.records.histogram_record`'s tuple
    ``(edges, counts, min, max, sum, sum_squares, n, 0, 0, 0)``.

    ``bucket_limits`` are right edges. As TensorBoard's data_compat does, empty buckets at
    both ends are dropped and ``min``/``max`` become the outer edges (torch-style limits often
    end at +-DBL_MAX); no non-empty bucket gives no edges and min = max = None.
    """
    limits = _vector(tag, "bucket_limits", bucket_limits)
    counts = _vector(tag, "bucket_counts", bucket_counts)
    if limits.size != counts.size:
        raise ValueError(
            f"tag {tag!r}: len(bucket_limits) != len(bucket_counts) "
            f"({limits.size} != {counts.size}); each limit is one bucket's right edge"
        )
    if not (np.isfinite(counts) & (counts >= 0)).all():
        raise ValueError(f"tag {tag!r}: bucket_counts must be finite and >= 0")
    vmin, vmax = _number(tag, "min", min), _number(tag, "max", max)
    total, squares = _number(tag, "sum", sum), _number(tag, "sum_squares", sum_squares)
    n = _check_count(tag, num)
    used = np.flatnonzero(counts > 0)
    if used.size == 0:
        edges = counts = np.zeros(0)
        vmin = vmax = None
    else:
        start, end = used[0], used[-1]
        edges = np.concatenate([[vmin], limits[start:end], [vmax]])
        counts = counts[start : end + 1]
        if not (np.isfinite(edges).all() and (np.diff(edges) >= 0).all()):
            raise ValueError(
                f"tag {tag!r}: min ({vmin}), the bucket_limits of non-empty buckets and max "
                f"({vmax}) must be finite and increasing"
            )
    return (edges.tobytes(), counts.tobytes(), vmin, vmax, total, squares, n, 0, 0, 0)


# --- custom scalars ---------------------------------------------------------------------------


def _check_title(where: str, title: object) -> str:
    if not isinstance(title, str):
        raise TypeError(f"{where}: titles must be str, got {type(title).__name__} ({title!r})")
    return check_chars(f"{where}: title", title)


def _check_chart_tags(where: str, tags: object) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
        raise TypeError(f"{where}: tags must be a list of str, got {tags!r}")
    for t in tags:
        if not isinstance(t, str) or not t:
            raise TypeError(f"{where}: tags must be non-empty strings, got {t!r}")
        check_chars(f"{where}: tag", t)
    return list(tags)


def _chart(category: str, title: object, spec: object) -> dict:
    where = f"custom scalars chart {category!r} / {title!r}"
    title = _check_title(where, title)
    if not isinstance(spec, (list, tuple)) or len(spec) != 2:
        raise ValueError(f"{where}: expected [type, tags], got {spec!r}")
    kind, tags = spec
    kind = kind.lower() if isinstance(kind, str) else kind
    if kind not in ("multiline", "margin"):
        raise ValueError(f"{where}: chart type must be 'Multiline' or 'Margin', got {spec[0]!r}")
    tags = _check_chart_tags(where, tags)
    if kind == "margin" and len(tags) != 3:
        raise ValueError(
            f"{where}: a Margin chart needs exactly 3 tags [value, lower, upper], got {len(tags)}"
        )
    return {"title": title, "kind": kind, "tags": tags}


def custom_scalars_layout(layout: object) -> dict:
    """torch's ``{category: {chart_title: [type, tags]}}`` checked and made JSON-able:
    ``{"categories": [{"title", "charts": [{"title", "kind", "tags"}]}]}``. Multiline tags are
    regular expressions (TensorBoard matches them), kept as strings; Margin tags are
    [value, lower, upper]. Unlike torch, a type other than Multiline/Margin (any case) is refused
    instead of meaning Multiline."""
    if not isinstance(layout, Mapping):
        raise TypeError(f"custom scalars layout must be a dict, got {type(layout).__name__}")
    categories = []
    for category, charts in layout.items():
        category = _check_title("add_custom_scalars: layout", category)
        if not isinstance(charts, Mapping):
            raise TypeError(
                f"custom scalars category {category!r}: expected a dict of charts, "
                f"got {type(charts).__name__}"
            )
        rows = [_chart(category, title, spec) for title, spec in charts.items()]
        categories.append({"title": category, "charts": rows})
    return {"categories": categories}


def multiline_layout(tags: object, category: str = "default", title: str = "untitled") -> dict:
    """add_custom_scalars_multilinechart's layout, in torch's input form."""
    layout = {category: {title: ["Multiline", tags]}}
    custom_scalars_layout(layout)
    return {category: {title: ["Multiline", list(tags)]}}


def margin_layout(tags: object, category: str = "default", title: str = "untitled") -> dict:
    """add_custom_scalars_marginchart's layout, in torch's input form; needs exactly 3 tags."""
    layout = {category: {title: ["Margin", tags]}}
    custom_scalars_layout(layout)
    return {category: {title: ["Margin", list(tags)]}}
