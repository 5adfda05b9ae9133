"""One TensorBoard ``Event`` → the flowlog writer calls that store the same values.

Both the classic summaries (``simple_value``, ``histo``, ``image``) and the tensor-summary form
TF2, newer TensorBoard APIs and tensorboardX's ``new_style`` write (a tensor plus plugin
metadata naming its kind: scalars, histograms, images, text, pr_curves, hparams,
custom_scalars) are read. TF2 writes a tag's plugin metadata with its first value only, so the
plugin of each tag is remembered in :attr:`EventConverter.state`, which the cache keeps between
incremental reads. A value the writer refuses is skipped and counted per tag, never fatal.
"""

from __future__ import annotations

import struct
from collections import Counter

import numpy as np

from flowlog import media

BULK_POINTS = 200_000  # scalars gathered before they go to the writer (bounds the memory)


class EventConverter:
    """Feeds events into ``writer`` (a :class:`flowlog.writer.SummaryWriter`)."""

    def __init__(self, writer, state: dict | None = None):
        self.writer = writer
        state = dict(state or {})
        self.state = {
            "plugins": dict(state.get("plugins", {})),  # tag -> plugin name
            "last": dict(state.get("last", {})),  # scalar tag -> last value (hparams metrics)
            "experiment": state.get("experiment"),  # {"hparams": {name: [values]}, "metrics"}
            "session": state.get("session"),  # {"hparams", "wall"} of session_start_info
            "trial_done": bool(state.get("trial_done", False)),
            "first_wall": state.get("first_wall"),
            "last_wall": state.get("last_wall"),
        }
        inf = float("inf")
        first, last = self.state["first_wall"], self.state["last_wall"]
        self._walls = [inf if first is None else first, -inf if last is None else last]
        self._points: dict[str, tuple[list, list, list]] = {}  # scalars not yet written
        self._pending = 0
        self.skipped: Counter = Counter()  # tag -> values skipped in this pass
        self.reasons: dict[str, str] = {}
        self.events = 0

    # ------------------------------------------------------------------ dispatch
    def add(self, record: bytes, event_cls) -> None:
        try:
            event = event_cls.FromString(record)
        except Exception as exc:  # protobuf's DecodeError: a damaged record, skipped
            self._skip("<event>", f"undecodable event ({type(exc).__name__})")
            return
        self.events += 1
        wall, step = event.wall_time, event.step
        if wall < self._walls[0]:
            self._walls[0] = wall
        if wall > self._walls[1]:
            self._walls[1] = wall
        what = event.WhichOneof("what")
        if what == "summary":
            for value in event.summary.value:
                if value.WhichOneof("value") == "simple_value":  # most of a long log
                    self._scalar(value.tag, value.simple_value, step, wall)
                else:
                    self._value(value, step, wall)
        elif what == "graph_def":
            self._graph(event.graph_def)
        elif what == "meta_graph_def":
            self._meta_graph(event.meta_graph_def)

    def _value(self, value, step: int, wall: float) -> None:
        tag = value.tag
        plugin = value.metadata.plugin_data.plugin_name if value.HasField("metadata") else ""
        if plugin:
            self.state["plugins"][tag] = plugin
        else:
            plugin = self.state["plugins"].get(tag, "")
        kind = value.WhichOneof("value")
        try:
            if plugin == "hparams":  # torch's carry no value, only the plugin's content
                self._hparams(value.metadata.plugin_data.content, wall)
            elif kind == "simple_value":
                self._scalar(tag, value.simple_value, step, wall)
            elif kind == "histo":
                self._histo(tag, value.histo, step, wall)
            elif kind == "image":
                self._image(tag, value.image, step, wall)
            elif kind == "tensor":
                self._tensor(tag, plugin, value, step, wall)
            elif kind is not None:
                self._skip(tag, f"{kind} summaries are not shown by flowlog")
        except (ValueError, TypeError, OverflowError) as exc:
            self._skip(tag, str(exc))

    def _skip(self, tag: str, reason: str) -> None:
        self.skipped[tag] += 1
        self.reasons.setdefault(tag, reason)

    # ------------------------------------------------------------------ kinds
    def _scalar(self, tag: str, value: float, step: int, wall: float) -> None:
        """Gathered per tag and written in bulk (most of a long log is scalars)."""
        points = self._points.get(tag)
        if points is None:
            points = self._points[tag] = ([], [], [])
        points[0].append(step)
        points[1].append(wall)
        points[2].append(value)
        self._pending += 1
        if self._pending >= BULK_POINTS:
            self.write_scalars()

    def write_scalars(self) -> None:
        for tag, (steps, walls, values) in self._points.items():
            try:
                self.writer._add_scalar_points(tag, steps, walls, values)
            except (ValueError, TypeError, OverflowError) as exc:
                self.skipped[tag] += len(steps)
                self.reasons.setdefault(tag, str(exc))
                continue
            self.state["last"][tag] = float(values[-1])
        self._points.clear()
        self._pending = 0

    def _histo(self, tag: str, h, step: int, wall: float) -> None:
        self.writer.add_histogram_raw(
            tag, h.min, h.max, h.num, h.sum, h.sum_squares, list(h.bucket_limit),
            list(h.bucket), step, walltime=wall,
        )  # fmt: skip

    def _image(self, tag: str, image, step: int, wall: float, meta=None) -> None:
        png = image.encoded_image_string
        height, width, channels = _png_size(png) if png[:8] == _PNG else _decoded_size(png)
        if png[:8] != _PNG:
            png = _to_png(tag, png)
        self.writer._add_image_row(tag, (png, height, width, channels), step, wall, meta)

    def _tensor(self, tag: str, plugin: str, value, step: int, wall: float) -> None:
        from tensorboard.util import tensor_util

        array = tensor_util.make_ndarray(value.tensor)
        if plugin == "scalars" or (not plugin and array.size == 1 and array.dtype.kind in "fiub"):
            self._scalar(tag, float(array.reshape(-1)[0]), step, wall)
        elif plugin == "histograms":
            self._tensor_histogram(tag, array, step, wall)
        elif plugin == "images":
            self._tensor_images(tag, array, step, wall)
        elif plugin == "text":
            self.writer.add_text(tag, _text_of(array), step, walltime=wall)
        elif plugin == "pr_curves":
            table = np.asarray(array, dtype=np.float64)
            if table.ndim != 2 or table.shape[0] != 6:
                raise ValueError(f"a PR curve tensor has shape (6, n), got {table.shape}")
            n = table.shape[1]
            self.writer.add_pr_curve_raw(tag, *table, step, num_thresholds=min(n, 127),
                                         walltime=wall)  # fmt: skip
        elif plugin == "custom_scalars":
            self.writer.add_custom_scalars(_layout_of(array))
        elif plugin in ("graph_run_metadata_graph", "graph_run_metadata"):
            self._run_metadata_graph(np.asarray(array, dtype=object).reshape(-1)[0])
        else:
            self._skip(tag, f"the {plugin or 'untyped tensor'} plugin's data is not shown")

    def _tensor_histogram(self, tag: str, array: np.ndarray, step: int, wall: float) -> None:
        """TF2 histograms: rows of (left edge, right edge, count); sums from the centres."""
        buckets = np.asarray(array, dtype=np.float64).reshape(-1, 3)
        if buckets.shape[0] == 0:
            raise ValueError("an empty histogram")
        left, right, counts = buckets.T
        centres = (left + right) / 2
        self.writer.add_histogram_raw(
            tag, left[0], right[-1], counts.sum(), (centres * counts).sum(),
            (centres**2 * counts).sum(), right, counts, step, walltime=wall,
        )  # fmt: skip

    def _tensor_images(self, tag: str, array: np.ndarray, step: int, wall: float) -> None:
        """TF2 images: a string tensor [width, height, image 1, image 2, …]."""
        from tensorboard.compat.proto import summary_pb2

        blobs = list(np.asarray(array).reshape(-1))[2:]
        for k, blob in enumerate(blobs):
            sample = summary_pb2.Summary.Image(encoded_image_string=bytes(blob))
            self._image(tag if k == 0 else f"{tag}/{k}", sample, step, wall)

    def _hparams(self, content: bytes, wall: float) -> None:
        from tensorboard.plugins.hparams import plugin_data_pb2

        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        which = data.WhichOneof("data")
        if which == "experiment":
            exp = data.experiment
            self.state["experiment"] = {
                "domains": {
                    h.name: [_hparam_value(v) for v in h.domain_discrete.values]
                    for h in exp.hparam_infos
                    if h.HasField("domain_discrete")
                },
                "metrics": [m.name.tag for m in exp.metric_infos],
            }
        elif which == "session_start_info":
            hp = {k: _hparam_value(v) for k, v in data.session_start_info.hparams.items()}
            self.state["session"] = {"hparams": hp, "wall": wall}
            self.state["trial_done"] = False

    def _graph(self, graph_def: bytes) -> None:
        from flowlog.tensorboard_graph import graph_description

        try:
            self.writer.add_graph(graph_description(graph_def))
        except (ValueError, TypeError) as exc:
            self._skip("<graph>", str(exc))

    def _meta_graph(self, meta_graph_def: bytes) -> None:
        from tensorboard.compat.proto import meta_graph_pb2

        try:
            meta = meta_graph_pb2.MetaGraphDef.FromString(meta_graph_def)
        except Exception as exc:  # DecodeError
            self._skip("<graph>", f"undecodable MetaGraphDef ({type(exc).__name__})")
            return
        if meta.HasField("graph_def"):
            self._graph(meta.graph_def.SerializeToString())

    def _run_metadata_graph(self, blob: bytes) -> None:
        """TF2's ``trace_export``: a RunMetadata whose function graphs hold the traced graph
        (TensorBoard's graph view draws their pre-optimisation graphs, merged)."""
        from tensorboard.compat.proto import config_pb2, graph_pb2

        meta = config_pb2.RunMetadata.FromString(bytes(blob))
        merged = graph_pb2.GraphDef()
        for function_graph in meta.function_graphs:
            merged.node.extend(function_graph.pre_optimization_graph.node)
        if not merged.node:
            raise ValueError("a traced graph with no nodes")
        self._graph(merged.SerializeToString())

    # ------------------------------------------------------------------ end of a pass
    def finish(self) -> None:
        """Store the hparams trial once its session and metrics have been read (torch writes
        the session, then the metrics as scalars of the same run)."""
        self.write_scalars()
        st = self.state
        if self.events:
            st["first_wall"], st["last_wall"] = self._walls
        session = st["session"]
        if session is None or st["trial_done"]:
            return
        experiment = st["experiment"] or {}
        names = experiment.get("metrics") or []
        metrics = {m: st["last"][m] for m in names if m in st["last"]}
        hp = {k: v for k, v in session["hparams"].items() if v is not None}
        domains = {
            k: v for k, v in (experiment.get("domains") or {}).items() if k in hp and v
        }
        try:
            self.writer._add_trial(hp, metrics, domains or None, walltime=session["wall"])
        except (ValueError, TypeError) as exc:
            self._skip("<hparams>", str(exc))
        st["trial_done"] = True


# --------------------------------------------------------------------------- payloads
_PNG = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # IHDR colour type -> channels


def _png_size(png: bytes) -> tuple[int, int, int]:
    if len(png) < 26 or png[12:16] != b"IHDR":
        raise ValueError("a damaged PNG (no IHDR header)")
    width, height = struct.unpack(">II", png[16:24])
    return height, width, _PNG_CHANNELS.get(png[25], 3)


def _decoded_size(blob: bytes) -> tuple[int, int, int]:
    image = _open_image(blob)
    return image.height, image.width, len(image.getbands())


def _open_image(blob: bytes):
    try:
        import io

        from PIL import Image
    except ImportError:
        raise ValueError("an image that is not a PNG (JPEG/GIF) needs Pillow to convert") from None
    try:
        return Image.open(io.BytesIO(blob))
    except Exception as exc:  # PIL's UnidentifiedImageError and friends
        raise ValueError(f"an undecodable image ({exc})") from None


def _to_png(tag: str, blob: bytes) -> bytes:
    import io

    out = io.BytesIO()
    _open_image(blob).save(out, format="PNG")
    return out.getvalue()


def _text_of(array: np.ndarray) -> str:
    """TensorBoard's text plugin: a string, a list (lines) or a table (a Markdown table)."""
    cells = np.vectorize(_decode, otypes=[object])(np.asarray(array, dtype=object))
    if cells.ndim == 0:
        return cells.item()
    if cells.ndim == 1:
        return "\n\n".join(cells.tolist())
    rows = cells.reshape(cells.shape[0], -1).tolist()
    head = "| " + " | ".join(" " for _ in rows[0]) + " |"
    rule = "|" + "|".join("---" for _ in rows[0]) + "|"
    body = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def _decode(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _layout_of(array: np.ndarray) -> dict:
    """A serialized custom-scalars ``Layout`` proto → torch's layout dict."""
    from tensorboard.plugins.custom_scalar import layout_pb2

    blob = np.asarray(array, dtype=object).reshape(-1)[0]
    layout = layout_pb2.Layout.FromString(bytes(blob))
    out: dict = {}
    for category in layout.category:
        charts = out.setdefault(category.title or "default", {})
        for chart in category.chart:
            if chart.HasField("margin") and chart.margin.series:
                s = chart.margin.series[0]
                charts[chart.title] = ["Margin", [s.value, s.lower, s.upper]]
            else:
                charts[chart.title] = ["Multiline", list(chart.multiline.tag)]
    media.custom_scalars_layout(out)  # the writer's check, so a bad layout is a skip
    return out


def _hparam_value(value):
    """A ``google.protobuf.Value`` of an hparam → bool, float, str or None."""
    which = value.WhichOneof("kind")
    if which == "number_value":
        number = value.number_value
        return int(number) if float(number).is_integer() and abs(number) < 2**53 else number
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return value.bool_value
    return None
