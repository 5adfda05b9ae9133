"""The rest of torch's ``SummaryWriter`` methods: images, figures, PR curves, raw histograms
and custom-scalar layouts, stored for the dashboard; the few kinds flowlog has no view for
raise ``NotImplementedError`` naming what flowlog offers instead.

A mixin of :class:`flowlog.writer.SummaryWriter`: each method converts and checks its input
with :mod:`flowlog.media` on the caller's thread (bad input raises before anything is
buffered) and hands one row to the writer's ``_add_record``.
"""

from __future__ import annotations

import json
import time

import numpy as np

from flowlog import media, records


def _not_supported(method: str, instead: str) -> NotImplementedError:
    return NotImplementedError(
        f"SummaryWriter.{method} is not supported by flowlog (nothing was logged); {instead}"
    )


class WriterMedia:
    """torch's image, PR-curve, raw-histogram and layout methods, with torch's signatures."""

    def _add_record(self, kind, tag, global_step, walltime, row):  # pragma: no cover
        raise NotImplementedError  # provided by SummaryWriter

    def _add_image_row(self, tag, png: tuple, global_step, walltime, meta=None) -> None:
        data, height, width, channels = png
        meta_json = None if meta is None else json.dumps(meta)
        row = (height, width, channels, data, meta_json)
        self._add_record("image", tag, global_step, walltime, row)

    # ------------------------------------------------------------------ images

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image (``CHW``, ``HWC`` or ``HW``), stored as a PNG. uint8 values are used as
        they are, every other dtype is scaled by 255 (torch's float 0–1 convention)."""
        records.check_tag(tag)
        png = media.image_png(tag, img_tensor, dataformats)
        self._add_image_row(tag, png, global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """A batch of images as one grid (8 per row, as torch)."""
        records.check_tag(tag)
        png = media.images_grid_png(tag, img_tensor, dataformats)
        self._add_image_row(tag, png, global_step, walltime)

    def add_image_with_boxes(
        self,
        tag,
        img_tensor,
        box_tensor,
        global_step=None,
        walltime=None,
        rescale=1,
        dataformats="CHW",
        labels=None,
    ):
        """An image with boxes ``[x1, y1, x2, y2]`` drawn in red; the labels are kept with the
        image (shown by the viewer) rather than drawn into its pixels."""
        records.check_tag(tag)
        if isinstance(labels, (list, tuple)):  # kept in meta even when media drops them
            records.check_strings(f"tag {tag!r}: label", labels)
        png = media.image_with_boxes_png(tag, img_tensor, box_tensor, dataformats, rescale, labels)
        meta = {"labels": list(labels)} if labels is not None else None
        self._add_image_row(tag, png, global_step, walltime, meta)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them, as a grid) rendered to PNG; matplotlib is
        only touched when a figure is passed."""
        records.check_tag(tag)
        png = media.figure_png(tag, figure, close)
        self._add_image_row(tag, png, global_step, walltime)

    # ------------------------------------------------------------------ PR curves

    def add_pr_curve(
        self,
        tag,
        labels,
        predictions,
        global_step=None,
        num_thresholds=127,
        weights=None,
        walltime=None,
    ):
        """The precision-recall table TensorBoard stores (TP, FP, TN, FN, precision, recall
        at ``min(num_thresholds, 127)`` thresholds). Predictions and labels outside [0, 1]
        (or NaN) are refused: torch silently drops or miscounts them."""
        records.check_tag(tag)
        table = media.pr_curve_table(tag, labels, predictions, num_thresholds, weights)
        self._add_pr_row(tag, table, global_step, walltime)

    def add_pr_curve_raw(
        self,
        tag,
        true_positive_counts,
        false_positive_counts,
        true_negative_counts,
        false_negative_counts,
        precision,
        recall,
        global_step=None,
        num_thresholds=127,
        weights=None,
        walltime=None,
    ):
        """A PR curve from precomputed counts (``weights`` is unused, as in torch)."""
        records.check_tag(tag)
        table = media.pr_curve_raw_table(
            tag,
            true_positive_counts,
            false_positive_counts,
            true_negative_counts,
            false_negative_counts,
            precision,
            recall,
            num_thresholds,
        )
        self._add_pr_row(tag, table, global_step, walltime)

    def _add_pr_row(self, tag, table: np.ndarray, global_step, walltime) -> None:
        data = np.ascontiguousarray(table, dtype=np.float64)
        self._add_record("pr_curve", tag, global_step, walltime, (data.shape[1], data.tobytes()))

    # ------------------------------------------------------------------ histograms, layouts

    def add_histogram_raw(
        self,
        tag,
        min,  # noqa: A002 - torch's parameter names
        max,  # noqa: A002
        num,
        sum,  # noqa: A002
        sum_squares,
        bucket_limits,
        bucket_counts,
        global_step=None,
        walltime=None,
    ):
        """A histogram from precomputed buckets (``bucket_limits`` are right edges)."""
        records.check_tag(tag)
        record = media.histogram_raw_record(
            tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts
        )
        self._add_record("histogram", tag, global_step, walltime, record)

    def add_custom_scalars(self, layout):
        """A custom-scalars layout ``{category: {chart title: [type, tags]}}`` (type
        "Multiline" or "Margin"); the latest one of the run is shown."""
        normalised = media.custom_scalars_layout(layout)
        with self._lock:
            self._ensure_open()
            self._layouts.append((time.time(), normalised))
            self._flush_locked()

    def add_custom_scalars_multilinechart(self, tags, category="default", title="untitled"):
        self.add_custom_scalars(media.multiline_layout(tags, category, title))

    def add_custom_scalars_marginchart(self, tags, category="default", title="untitled"):
        self.add_custom_scalars(media.margin_layout(tags, category, title))

    # ------------------------------------------------------------------ not supported

    def add_embedding(
        self,
        mat,
        metadata=None,
        label_img=None,
        global_step=None,
        tag="default",
        metadata_header=None,
    ):
        raise _not_supported(
            "add_embedding",
            "flowlog has no projector; log the points with add_histogram or an image of a 2-D "
            "projection with add_figure",
        )

    def add_audio(self, tag, snd_tensor, global_step=None, sample_rate=44100, walltime=None):
        raise _not_supported("add_audio", "flowlog has no audio view; log a spectrogram image")

    def add_video(self, tag, vid_tensor, global_step=None, fps=4, walltime=None):
        raise _not_supported("add_video", "flowlog has no video view; log frames with add_images")

    def add_mesh(
        self,
        tag,
        vertices,
        colors=None,
        faces=None,
        config_dict=None,
        global_step=None,
        walltime=None,
    ):
        raise _not_supported("add_mesh", "flowlog has no 3-D view; log a rendering with add_figure")

    def add_onnx_graph(self, prototxt):
        raise _not_supported(
            "add_onnx_graph", "flowlog draws graph description dicts passed to add_graph"
        )

    def add_tensor(self, tag, tensor, global_step=None, walltime=None):
        raise _not_supported(
            "add_tensor",
            "TensorBoard shows no view for it either; use add_histogram, add_scalar or add_text",
        )
