"""A chart's payload budget, whatever the number of runs: buckets per line shrink as lines grow.

A line draws each bucket's min and max point (``series.bucket_extremes``), so its points, and
the chart's figure JSON, grow with the buckets times the lines; a smoothed line that also draws
its raw line takes both series' extremes (``scalars_data.extract``): up to 4 points per bucket,
both traces drawn at each (measured: ~3.4 per bucket, ~61 kB per line at ``BUCKETS``, 20 lines
1.2 MB instead of 0.76 MB). Up to ``FULL_RES_LINES`` lines keep ``BUCKETS`` and their traces;
``line_buckets(..., raw_too=True)`` budgets those raw-and-smoothed lines too (20 lines: 179
buckets, 0.76 MB measured), for callers that pass it. Beyond, a smoothed chart leaves
out each line's faint raw line (hundreds of them are one grey mass, and at a coarse budget the
raw min/max points of a steep curve draw a sawtooth the data does not have; the smoothed line's
hover still tells each raw value) and draws the smoothed line through its own bucket extremes
(``scalars_data.extract``), and each line gets the buckets that keep the chart's
response near ``CHART_BYTES`` (300 runs smoothed: 26 buckets, 0.9 MB instead of 11.3 MB),
down to ``MIN_BUCKETS``. Zooming re-reads the visible range with the same buckets, so it still
reaches every point.

The per-point and per-line costs are measured on real charts (base64 arrays as Dash sends
them, a line's trace styles, names and hover template, and its live state). From ~580
smoothed lines on, lines are at MIN_BUCKETS and a chart grows ~1.6 kB per line (1,000 lines:
~1.6 MB): the budget holds for the run counts a chart can still show apart.
"""

from __future__ import annotations

BUCKETS = 300  # per visible range: min+max per bucket, ~1.2 points per pixel of a chart
MIN_BUCKETS = 8  # the coarsest line: its shape (rise, plateau, spikes) still shows
FULL_RES_LINES = 20  # lines a chart draws as before the budget (run_selection.MAX_DEFAULT_RUNS)
CHART_BYTES = 900_000  # a chart's figure + live state JSON (the target: <= 1 MB)
# (bytes per drawn point, bytes per line without its points) of the one trace a line draws
SMOOTHED_COST = (38, 950)  # x, smoothed y, hover step + raw value
RAW_COST = (22, 900)  # x, y, hover step
# (bytes per grid point, bytes per group) of a group's mean line (x, y, hover std and member
# count) and its ± std band (x and y there and back), measured on a 300-group chart
GROUP_COST = (90, 1100)


def draws_raw(lines: int, smoothing: bool) -> bool:
    """Whether each line of a chart of ``lines`` lines draws its raw series (a smoothed chart
    of many lines draws the smoothed lines only)."""
    return not smoothing or lines <= FULL_RES_LINES


def line_buckets(lines: int, smoothing: bool = True, raw_too: bool = False) -> int:
    """Buckets per line for a chart of ``lines`` lines (BUCKETS for up to FULL_RES_LINES).

    ``raw_too``: smoothed lines that also draw their raw line (``draws_raw``), each bucket up
    to 4 points (raw and smoothed extremes) in both traces: budgeted from the first line on,
    so up to FULL_RES_LINES lines may get fewer than BUCKETS (13 lines and more)."""
    if smoothing and raw_too:
        point, line = SMOOTHED_COST[0] + RAW_COST[0], SMOOTHED_COST[1] + RAW_COST[1]
        return _fit(lines, point * 4, line)
    if lines <= FULL_RES_LINES:
        return BUCKETS
    point, line = SMOOTHED_COST if smoothing else RAW_COST
    return _fit(lines, point * 2, line)


def _fit(lines: int, bucket_bytes: int, line_bytes: int) -> int:
    """The buckets that keep ``lines`` lines near CHART_BYTES, within MIN_BUCKETS..BUCKETS."""
    per_line = CHART_BYTES / max(lines, 1) - line_bytes
    return int(min(max(per_line / bucket_bytes, MIN_BUCKETS), BUCKETS))


def group_points(groups: int) -> int:
    """Grid points per group line for a grouped chart of ``groups`` lines (mean ± std); the
    band and the hover's std and member count make a grid point cost more than a line's."""
    if groups <= FULL_RES_LINES:
        return BUCKETS
    point, line = GROUP_COST
    return int(min(max((CHART_BYTES / groups - line) / point, MIN_BUCKETS), BUCKETS))


def draws_markers(points: int, buckets: int, per_bucket: int = 2) -> bool:
    """Whether a line of ``points`` drawn points gets markers: a line through a handful of
    points needs them to be seen, but a line thinned to a few points per bucket by the budget
    is a dense series (``per_bucket``: drawn points per bucket when dense, 2 for min+max)."""
    return points < 40 and points < buckets * per_bucket / 2
