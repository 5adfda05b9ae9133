"""Statistics of parameters and gradients where they live, brought to the host in one copy.

On an accelerator each function returns float64 device tensors and queues no host sync;
:class:`Gather` joins what a watched step computed into one tensor, copies it once and splits
it again. On the CPU there is no device to sync with, and numpy computes on zero-copy views
(its ~1 µs call overhead against torch's ~3 µs is what counts on small parameters). Values
match :mod:`flowlog.watch` (population std, NaN-propagating reductions) and histograms match
``np.histogram(finite_values, bins=30)`` — the buckets ``add_histogram`` stores by default.
"""

from __future__ import annotations

import math

import numpy as np

from flowlog import records
from flowlog.records import CONST_REL_HALF, constant_span

HIST_BINS = 30  # add_histogram's default ("tensorflow" bins)


def _flat(t):
    import torch

    t = t.detach().reshape(-1)
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def _host_view(t) -> np.ndarray | None:
    """A CPU tensor as a flat numpy view (no copy for float32/64); None on an accelerator.

    On the CPU there is no device to sync with, and numpy's reductions cost ~1 µs of call
    overhead against torch's ~3 µs: most parameters are small, so that is what counts."""
    if t.device.type != "cpu":
        return None
    return _flat(t).numpy()


def _host_value_stats(v: np.ndarray) -> np.ndarray:
    if v.size == 0:
        return np.array([0.0] + [np.nan] * 4)
    with np.errstate(all="ignore"):  # NaN/Inf weights give NaN statistics, silently
        mean = float(np.add.reduce(v, dtype=np.float64)) / v.size  # v.mean without overhead
        centred = v - v.dtype.type(mean)
        std = math.sqrt(float(np.dot(centred, centred)) / v.size)
        norm = math.sqrt(float(np.dot(v, v)))
    return np.array([norm, mean, std, v.min(), v.max()], np.float64)


def value_stats(t):
    """``[norm, mean, std, min, max]`` (NaN weights give NaN statistics, as the curves must).

    std is two-pass (``sqrt(mean((v - mean)²))``): as exact as ``std(correction=0)`` and about
    twice as fast. A numpy array for a CPU tensor, else a device tensor."""
    import torch

    host = _host_view(t)
    if host is not None:
        return _host_value_stats(host)
    v = _flat(t)
    if v.numel() == 0:
        return torch.tensor([0.0] + [float("nan")] * 4, dtype=torch.float64, device=v.device)
    mean = v.mean()
    centred = v - mean
    std = torch.sqrt(torch.dot(centred, centred) / v.numel())
    low, high = torch.aminmax(v)
    return torch.stack([torch.linalg.vector_norm(v), mean, std, low, high]).double()


def grad_stats(g):
    """:func:`value_stats` plus NaN, Inf and zero counts (on the host, NaN/Inf are only
    counted when min or max is not finite: on almost every step they are)."""
    import torch

    host = _host_view(g)
    if host is not None:
        stats = _host_value_stats(host)
        if np.isfinite(stats[3:5]).all() or host.size == 0:
            nan = inf = 0
        else:
            nan, inf = np.count_nonzero(np.isnan(host)), np.count_nonzero(np.isinf(host))
        return np.concatenate([stats, [nan, inf, host.size - np.count_nonzero(host)]])
    v = _flat(g)
    counts = [torch.isnan(v).sum(), torch.isinf(v).sum(), v.numel() - torch.count_nonzero(v)]
    return torch.cat([value_stats(v), torch.stack(counts).double()])


def _ratio(norm, delta) -> float:
    if norm == 0:
        return 0.0 if delta == 0 else math.inf
    return delta / norm


def update_ratio(before, after):
    """``||after - before|| / ||before||`` as one element (0/0 → 0, x/0 → inf)."""
    import torch

    b, a = _host_view(before), _host_view(after)
    if b is not None and a is not None:
        with np.errstate(all="ignore"):
            d = a - b
            return np.array([_ratio(math.sqrt(np.dot(b, b)), math.sqrt(np.dot(d, d)))])
    b, a = _flat(before), _flat(after)
    norm, delta = torch.linalg.vector_norm(b), torch.linalg.vector_norm(a - b)
    ratio = torch.where(norm == 0, torch.where(delta == 0, 0.0, float("inf")), delta / norm)
    return ratio.double().reshape(1)


def histogram(t, bins: int = HIST_BINS):
    """``[n_finite, min, max, sum, sum_sq, nan, +inf, -inf, counts…]`` of ``t`` on its device
    (of a CPU tensor: the writer's histogram row itself, by ``records.histogram_record``).

    Buckets as ``np.histogram``: equal widths over the finite range (±0.5 around a constant),
    the last bucket closed, with numpy's correction for values rounding across an edge.
    """
    import torch

    v = t.detach().reshape(-1).double()
    if v.device.type == "cpu":  # no sync to avoid: the writer's own record, by np.histogram
        return records.histogram_record("watch", v.numpy(), bins)
    finite = torch.isfinite(v)
    inf = torch.tensor(float("inf"), dtype=v.dtype, device=v.device)
    lo = torch.where(finite, v, inf).amin()
    hi = torch.where(finite, v, -inf).amax()
    none = ~finite.any()  # no finite value: any range will do, every count is 0
    lo, hi = torch.where(none, 0.0, lo), torch.where(none, 1.0, hi)
    same = lo == hi
    half = torch.clamp(lo.abs() * CONST_REL_HALF, min=0.5)
    lo, hi = torch.where(same, lo - half, lo), torch.where(same, hi + half, hi)
    edges = lo + torch.arange(bins + 1, dtype=v.dtype, device=v.device) * ((hi - lo) / bins)
    edges[-1] = hi
    x = torch.where(finite, v, lo)
    idx = ((x - lo) * (bins / (hi - lo))).floor().clamp(0, bins - 1).long()
    idx = idx - (x < edges[idx]).long()
    idx = idx + ((x >= edges[idx + 1]) & (idx != bins - 1)).long()
    counts = torch.zeros(bins, dtype=v.dtype, device=v.device)
    counts.index_add_(0, idx, finite.to(v.dtype))
    kept = torch.where(finite, v, 0.0)
    head = torch.stack([
        finite.sum().to(v.dtype), lo + half * same, hi - half * same, kept.sum(), kept.dot(kept),
        torch.isnan(v).sum().to(v.dtype), torch.isposinf(v).sum().to(v.dtype),
        torch.isneginf(v).sum().to(v.dtype),
    ])  # fmt: skip
    return torch.cat([head, counts])


def histogram_record(host, size: int, bins: int = HIST_BINS) -> tuple:
    """A :func:`histogram` vector, copied to the host, as the writer's histogram row (a row
    computed on the host already is returned as it is)."""
    if isinstance(host, tuple):
        return host
    n_finite, vmin, vmax, total, squares, nan, posinf, neginf = host[:8]
    counts = host[8 : 8 + bins]
    if n_finite == 0:
        edges, counts, vmin, vmax, total, squares = np.zeros(0), np.zeros(0), None, None, 0.0, 0.0
    else:
        lo, hi = constant_span(float(vmin)) if vmin == vmax else (vmin, vmax)
        edges = np.linspace(lo, hi, bins + 1)
        vmin, vmax = float(vmin), float(vmax)
    return (
        np.asarray(edges, np.float64).tobytes(),
        np.asarray(counts, np.float64).tobytes(),
        vmin,
        vmax,
        float(total),
        float(squares),
        int(size),
        int(nan),
        int(posinf),
        int(neginf),
    )


class Gather:
    """Device tensors queued under keys, copied to the host together in :meth:`fetch`
    (values computed on the host already are kept as they are)."""

    def __init__(self):
        self.keys: list = []
        self.parts: list = []

    def add(self, key, tensor) -> None:
        self.keys.append(key)
        self.parts.append(tensor)

    def __len__(self) -> int:
        return len(self.parts)

    def fetch(self) -> dict:
        """``{key: numpy array}`` after one device→host copy."""
        import torch

        pairs = list(zip(self.keys, self.parts, strict=True))
        out = {k: p for k, p in pairs if not isinstance(p, torch.Tensor)}
        queued = [(k, p) for k, p in pairs if k not in out]
        self.keys, self.parts = [], []
        if not queued:
            return out
        device = queued[0][1].device
        joined = torch.cat([p.reshape(-1).to(device, torch.float64) for _, p in queued])
        host = joined.cpu().numpy()
        at = 0
        for key, part in queued:
            out[key] = host[at : at + part.numel()]
            at += part.numel()
        return out
