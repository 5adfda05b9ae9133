"""writer.watch(model) on real torch training loops: every statistic recomputed from the
parameters the test itself recorded, histograms against numpy, the step rules, hook removal,
graph logging and check_numerics findings on the logged graph's nodes."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="watching torch models needs PyTorch")
import torch_models as tm  # noqa: E402
from torch import nn  # noqa: E402

from flowlog.backends import open_logdir  # noqa: E402
from flowlog.torch_common import scope_of_module  # noqa: E402
from flowlog.watch import GRAD_STATS, VALUE_STATS  # noqa: E402
from flowlog.writer import SummaryWriter  # noqa: E402

BINS = 30


def provider(logdir):
    return open_logdir(logdir, cache=False)


def node_names(model) -> list[str]:
    return [scope_of_module(path) for path, _ in model.named_parameters()]


def params_of(model) -> dict[str, np.ndarray]:
    return {
        scope_of_module(path): p.detach().double().numpy().copy()
        for path, p in model.named_parameters()
    }


def grads_of(model) -> dict[str, np.ndarray]:
    return {
        scope_of_module(path): p.grad.detach().double().numpy().copy()
        for path, p in model.named_parameters()
        if p.grad is not None
    }


def expected_values(w: np.ndarray) -> dict[str, float]:
    w = w.ravel()
    return {
        "value_norm": math.sqrt(float(np.sum(w * w))),
        "value_mean": float(np.mean(w)),
        "value_std": float(np.std(w)),  # population std
        "value_min": float(np.min(w)),
        "value_max": float(np.max(w)),
    }


def expected_grads(g: np.ndarray) -> dict[str, float]:
    g = g.ravel()
    out = {k.replace("value_", "grad_"): v for k, v in expected_values(g).items()}
    out["grad_nan"] = float(np.isnan(g).sum())
    out["grad_inf"] = float(np.isinf(g).sum())
    out["grad_zero"] = float((g == 0).sum())
    return out


def assert_stat(actual: float, expected: float, what: str) -> None:
    if math.isnan(expected):
        assert math.isnan(actual), f"{what}: {actual} (expected NaN)"
    else:
        assert actual == pytest.approx(expected, rel=1e-5, abs=1e-7), what


def assert_histogram(h, values: np.ndarray, what: str) -> None:
    """A stored histogram against np.histogram of the finite values (30 buckets)."""
    v = values.ravel().astype(np.float64)
    finite = v[np.isfinite(v)]
    counts, edges = np.histogram(finite, bins=BINS)
    np.testing.assert_array_equal(h.counts, counts, err_msg=what)
    np.testing.assert_allclose(h.edges, edges, rtol=0, atol=1e-12, err_msg=what)
    assert h.count == v.size
    assert h.nan == int(np.isnan(v).sum())
    assert h.posinf == int(np.isposinf(v).sum())
    assert h.neginf == int(np.isneginf(v).sum())
    assert h.min == finite.min() and h.max == finite.max()
    assert h.sum == pytest.approx(finite.sum(), abs=1e-9)
    assert h.sum_squares == pytest.approx(np.dot(finite, finite), abs=1e-9)


def batch(n=8, d=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, 3, generator=g)


# --------------------------------------------------------------------------- with an optimizer
def train_with_optimizer(tmp_path, every, histograms_every, steps, momentum=0.9):
    model, _ = tm.make_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
    x, y = batch()
    record = []
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        handle = writer.watch(model, every=every, histograms_every=histograms_every, optimizer=opt)
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            before, grads = params_of(model), grads_of(model)
            opt.step()
            record.append((before, grads, params_of(model)))
    return model, handle, record


def test_statistics_with_an_optimizer_equal_the_parameters_at_each_optimizer_step(tmp_path):
    model, handle, record = train_with_optimizer(tmp_path, every=2, histograms_every=4, steps=7)
    assert handle.every == 2 and handle.histograms_every == 4
    p = provider(tmp_path)
    names = node_names(model)
    assert p.watched_nodes("r") == sorted(names)
    for name in names:
        stats = p.watch_stats("r", name)
        assert set(stats) == set(VALUE_STATS) | set(GRAD_STATS) | {"update_ratio"}
        for stat, series in stats.items():
            assert list(series.step) == [0, 2, 4, 6], (name, stat)
        for i, step in enumerate([0, 2, 4, 6]):
            before, grads, after = (r[name] for r in record[step])
            # values after the update of optimizer step `step`, gradients it used
            for stat, value in expected_values(after).items():
                assert_stat(stats[stat].value[i], value, f"{name} {stat} @{step}")
            for stat, value in expected_grads(grads).items():
                assert_stat(stats[stat].value[i], value, f"{name} {stat} @{step}")
            ratio = np.linalg.norm(after - before) / np.linalg.norm(before)
            assert_stat(stats["update_ratio"].value[i], ratio, f"{name} update_ratio @{step}")
            assert stats["update_ratio"].value[i] > 0


def test_histograms_equal_numpy_buckets_at_their_steps(tmp_path):
    model, _, record = train_with_optimizer(tmp_path, every=2, histograms_every=4, steps=7)
    p = provider(tmp_path)
    for name in node_names(model):
        values = p.histograms("r", f"watch/{name}/value")
        grads = p.histograms("r", f"watch/{name}/grad")
        assert [h.step for h in values] == [0, 4]
        assert [h.step for h in grads] == [0, 4]
        for h in values:
            assert_histogram(h, record[h.step][2][name], f"{name} value @{h.step}")
        for h in grads:
            assert_histogram(h, record[h.step][1][name], f"{name} grad @{h.step}")


def test_tags_belong_to_the_graph_variable_nodes(tmp_path):
    model, _, _ = train_with_optimizer(tmp_path, every=3, histograms_every=0, steps=4)
    p = provider(tmp_path)
    graph = p.graph("r")  # logged on the first forward (log_graph defaults to True)
    assert graph is not None and graph["capture"] == "torch.export"
    variables = sorted(n["name"] for n in graph["nodes"] if n["op"] == "Parameter")
    assert p.watched_nodes("r") == variables
    tags = p.tags("r")
    for name in variables:
        for stat in VALUE_STATS + GRAD_STATS + ("update_ratio",):
            info = tags[f"watch/{name}/{stat}"]
            assert info.node == name and info.kind == "scalar"
            assert (info.first_step, info.last_step, info.count) == (0, 3, 2)
    assert not [t for t in tags if t.endswith(("/value", "/grad"))]  # histograms_every=0


def test_frozen_parameters_get_value_statistics_only(tmp_path):
    model, _ = tm.make_mlp()
    model.net[0].weight.requires_grad_(False)
    opt = torch.optim.SGD([q for q in model.parameters() if q.requires_grad], lr=0.1)
    x, y = batch()
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        writer.watch(model, every=1, optimizer=opt)
        for _ in range(2):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    frozen = model.net[0].weight.detach().double().numpy()
    stats = provider(tmp_path).watch_stats("r", "net/0/weight")
    assert set(stats) == set(VALUE_STATS)
    assert list(stats["value_norm"].step) == [0, 1]
    assert_stat(stats["value_norm"].value[1], float(np.linalg.norm(frozen)), "frozen norm")
    assert "update_ratio" in provider(tmp_path).watch_stats("r", "net/0/bias")


# --------------------------------------------------------------------------- without optimizer
def test_without_an_optimizer_a_step_is_a_training_forward(tmp_path):
    model, _ = tm.make_mlp()
    x, y = batch()
    record = {}
    writer = SummaryWriter(logdir=tmp_path, run_name="r")
    writer.watch(model, every=2, histograms_every=2)
    for step in range(5):
        values = params_of(model)  # what the step's forward reads
        model.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        record[step] = (values, grads_of(model))
        with torch.no_grad():  # a hand-written update: no optimizer to hook
            for q in model.parameters():
                q -= 0.1 * q.grad
        model.eval()  # evaluation forwards are not steps
        with torch.no_grad():
            model(x)
        model.train()
    writer.flush()
    pending = provider(tmp_path).watch_stats("r", "net/0/weight")
    assert list(pending["value_norm"].step) == [0, 2]  # step 4 waits for the next forward
    writer.close()  # ... or the writer's close
    p = provider(tmp_path)
    for name in node_names(model):
        stats = p.watch_stats("r", name)
        assert set(stats) == set(VALUE_STATS) | set(GRAD_STATS)  # no update_ratio
        for i, step in enumerate([0, 2, 4]):
            values, grads = record[step]
            assert stats["value_norm"].step[i] == step
            for stat, value in expected_values(values[name]).items():
                assert_stat(stats[stat].value[i], value, f"{name} {stat} @{step}")
            for stat, value in expected_grads(grads[name]).items():
                assert_stat(stats[stat].value[i], value, f"{name} {stat} @{step}")
        hists = p.histograms("r", f"watch/{name}/value")
        assert [h.step for h in hists] == [0, 2, 4]
        for h in hists:
            assert_histogram(h, record[h.step][0][name], f"{name} value @{h.step}")
        for h in p.histograms("r", f"watch/{name}/grad"):
            assert_histogram(h, record[h.step][1][name], f"{name} grad @{h.step}")


class Probe(nn.Module):
    """Parameters chosen to hit histogram edge cases, and a gradient with NaN/Inf/zeros."""

    def __init__(self):
        super().__init__()
        self.edges = nn.Parameter(torch.linspace(-1.0, 2.0, 31))  # values on bucket edges
        self.const = nn.Parameter(torch.full((4,), 0.75))  # one value: ±0.5 around it
        self.odd = nn.Parameter(torch.tensor([0.1, 0.2, 0.3, 0.7, 0.3, 1e-3, -0.9]))
        # float64 values exactly on numpy's edges and one ulp below them, where
        # (x - lo) * 30 / (hi - lo) rounds into the neighbouring bucket for several of them:
        # numpy's edge correction decides, both ways
        edges = np.linspace(0.1, 0.7, BINS + 1)
        exact = np.concatenate([edges, np.nextafter(edges[1:-1], -np.inf)])
        self.exact = nn.Parameter(torch.tensor(exact, dtype=torch.float64))
        self.register_buffer("c", torch.tensor([1.0, math.inf, math.nan, 0.0, -2.0, 0.0, 3.0]))

    def forward(self, x):
        out = (self.edges * x).sum() + self.const.sum() * x + (self.odd * self.c).sum()
        return out + (self.exact * self.exact * x).sum()


def test_histograms_match_numpy_on_edges_constants_and_non_finite_gradients(tmp_path):
    model = Probe()
    x = torch.tensor(1.5)
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        writer.watch(model, every=1, histograms_every=1, log_graph=False)
        model(x).backward()
    p = provider(tmp_path)
    assert p.graph("r") is None  # log_graph=False
    values = model.exact.detach().numpy()
    edges = np.histogram(values, BINS)[1]
    raw = np.floor((values - 0.1) * (BINS / (0.7 - 0.1))).clip(0, BINS - 1)
    right = (np.searchsorted(edges, values, side="right") - 1).clip(0, BINS - 1)
    assert (raw > right).any() and (raw < right).any()  # the plain formula is wrong both ways
    for name in ("edges", "const", "odd", "exact"):
        q = getattr(model, name)
        (h,) = p.histograms("r", f"watch/{name}/value")
        assert_histogram(h, q.detach().double().numpy(), f"{name} value")
        (g,) = p.histograms("r", f"watch/{name}/grad")
        assert_histogram(g, q.grad.double().numpy(), f"{name} grad")
    (g,) = p.histograms("r", "watch/odd/grad")
    assert (g.count, g.nan, g.posinf, g.neginf) == (7, 1, 1, 0)
    stats = p.watch_stats("r", "odd")
    expected = expected_grads(model.odd.grad.double().numpy())
    assert expected["grad_zero"] == 2 and math.isnan(expected["grad_norm"])
    for stat, value in expected.items():
        assert_stat(stats[stat].value[0], value, f"odd {stat}")
    assert stats["grad_nan"].value[0] == 1 and stats["grad_inf"].value[0] == 1


class Diverged(nn.Module):
    """What a diverging run leaves: a constant too large for numpy's ±0.5 around it (in
    float64 ``1e20 ± 0.5 == 1e20``: np.histogram raises), and weights that are all NaN."""

    def __init__(self):
        super().__init__()
        self.big = nn.Parameter(torch.full((3,), 1e20))
        self.gone = nn.Parameter(torch.full((4,), math.nan))

    def forward(self, x):
        return (self.big * x).sum() + (self.gone * 0.0).sum()


def test_histograms_of_diverged_parameters_do_not_stop_training(tmp_path):
    model = Diverged()
    with pytest.raises(ValueError, match="Too many bins"):
        np.histogram(model.big.detach().double().numpy(), bins=BINS)
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        writer.watch(model, every=1, histograms_every=1, log_graph=False)
        for _ in range(2):
            model.zero_grad()
            model(torch.tensor(1e20)).backward()  # big's gradient: 1e20, three times
    p = provider(tmp_path)
    big = float(model.big.detach()[0])
    for tag in ("watch/big/value", "watch/big/grad"):
        hists = p.histograms("r", tag)
        assert [h.step for h in hists] == [0, 1]
        for h in hists:
            assert (h.count, h.nan, h.min, h.max) == (3, 0, big, big)
            assert h.counts.sum() == 3 and h.counts[BINS // 2] == 3  # the middle, as numpy's
            assert len(h.edges) == BINS + 1 and np.all(np.diff(h.edges) > 0)
            assert h.edges[0] < big < h.edges[-1]
    for h in p.histograms("r", "watch/gone/value"):
        assert (h.count, h.nan, h.edges.size, h.counts.size) == (4, 4, 0, 0)
        assert math.isnan(h.min) and math.isnan(h.max)
    g = p.histograms("r", "watch/gone/grad")[0]
    assert_histogram(g, np.zeros(4), "gone grad")  # 0 * anything finite: zeros
    stats = p.watch_stats("r", "gone")
    assert math.isnan(stats["value_norm"].value[0]) and stats["grad_zero"].value[0] == 4


# --------------------------------------------------------------------------- hooks and graph
def hook_counts(model, opt):
    modules = [(len(m._forward_pre_hooks), len(m._forward_hooks)) for m in model.modules()]
    params = [len(q._post_accumulate_grad_hooks or {}) for q in model.parameters()]
    optim = (len(opt._optimizer_step_pre_hooks), len(opt._optimizer_step_post_hooks))
    from torch.nn.modules import module as module_mod

    global_hooks = (
        len(module_mod._global_forward_pre_hooks),
        len(module_mod._global_forward_hooks),
    )
    return modules, params, optim, global_hooks


@pytest.mark.parametrize("with_optimizer", [True, False], ids=["optimizer", "no-optimizer"])
def test_remove_takes_every_hook_off_and_stops_logging(tmp_path, with_optimizer):
    model, _ = tm.make_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = batch()
    baseline = hook_counts(model, opt)
    writer = SummaryWriter(logdir=tmp_path, run_name="r")
    handle = writer.watch(
        model, every=1, optimizer=opt if with_optimizer else None, check_numerics=True
    )
    assert hook_counts(model, opt) != baseline
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    handle.remove()
    assert hook_counts(model, opt) == baseline
    assert handle.flush not in writer._before_close
    handle.remove()  # idempotent
    for _ in range(3):  # unwatched now
        opt.zero_grad()
        nn.functional.mse_loss(model(x), torch.full_like(y, math.nan)).backward()
        opt.step()
    writer.close()
    p = provider(tmp_path)
    for name in node_names(model):
        steps = list(p.watch_stats("r", name)["value_norm"].step)
        assert steps == [0, 1, 2], name  # remove() logged the last step, nothing after
    assert p.numerics("r") == []  # the NaN loss after remove() was not checked


def test_context_manager_removes_the_watch(tmp_path):
    model, _ = tm.make_mlp()
    x, _ = batch()
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        pre = len(model._forward_pre_hooks)
        with writer.watch(model, every=1, log_graph=False):
            model(x).sum().backward()
        assert len(model._forward_pre_hooks) == pre
        assert all(not q._post_accumulate_grad_hooks for q in model.parameters())
    assert list(provider(tmp_path).watch_stats("r", "net/2/bias")["grad_norm"].step) == [0]


def test_log_graph_captures_on_the_first_forward_without_disturbing_training(tmp_path):
    def run(watch):
        model, x = tm.make_branchy()  # BatchNorm statistics and dropout draws
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        torch.manual_seed(5)
        outs = []
        with SummaryWriter(logdir=tmp_path, run_name=f"r{int(watch)}") as writer:
            if watch:
                writer.watch(model, every=1, optimizer=opt)
            for _ in range(3):
                opt.zero_grad()
                out = model(x)
                out.sum().backward()
                opt.step()
                outs.append(out.detach())
        return model, outs

    watched, outs = run(True)
    plain, expected = run(False)
    for a, b in zip(outs, expected, strict=True):
        assert torch.equal(a, b)
    assert int(watched.norm.num_batches_tracked) == 3
    for key, value in plain.state_dict().items():
        assert torch.equal(watched.state_dict()[key], value), key
    p = provider(tmp_path)
    assert p.graph("r0") is None
    graph = p.graph("r1")
    assert graph is not None and graph["capture"] == "modules"
    assert "drop/Dropout" in {n["name"] for n in graph["nodes"]}
    assert list(p.watch_stats("r1", "encode/weight")["value_norm"].step) == [0, 1, 2]


@pytest.mark.parametrize("order", ["graph-then-watch", "watch-then-graph"])
def test_watch_keeps_a_graph_the_writer_already_logged(tmp_path, order):
    model, x = tm.make_mlp()
    mine = {"nodes": [{"name": "mine", "op": "Custom", "inputs": []}]}
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        if order == "graph-then-watch":
            writer.add_graph(mine)
        writer.watch(model, every=1)
        if order == "watch-then-graph":  # still before the first forward
            writer.add_graph(mine)
        model(x).sum().backward()
    graph = provider(tmp_path).graph("r")
    assert [n["name"] for n in graph["nodes"]] == ["mine"]


def test_histograms_default_to_ten_times_less_often_than_statistics(tmp_path):
    model, _ = tm.make_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = batch()
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        handle = writer.watch(model, every=1, optimizer=opt, log_graph=False)
        for _ in range(12):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    assert handle.histograms_every == 10
    p = provider(tmp_path)
    assert [h.step for h in p.histograms("r", "watch/net/0/weight/value")] == [0, 10]
    assert list(p.watch_stats("r", "net/0/weight")["grad_norm"].step) == list(range(12))


def test_tied_weight_is_watched_once_under_its_first_name(tmp_path):
    model, tokens = tm.make_tied()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        writer.watch(model, every=1, histograms_every=1, optimizer=opt)
        opt.zero_grad()
        model(tokens).logsumexp(-1).sum().backward()
        grad = model.embed.weight.grad.double().numpy().copy()  # both uses, summed
        opt.step()
    p = provider(tmp_path)
    assert p.watched_nodes("r") == ["embed/weight", "proj/bias", "proj/weight"]
    graph_vars = {n["name"] for n in p.graph("r")["nodes"] if n["op"] == "Parameter"}
    assert graph_vars == set(p.watched_nodes("r"))
    stats = p.watch_stats("r", "embed/weight")
    assert len(stats["grad_norm"].step) == 1
    assert_stat(stats["grad_norm"].value[0], float(np.linalg.norm(grad)), "tied grad_norm")
    weight = model.embed.weight.detach().double().numpy()
    assert_stat(stats["value_norm"].value[0], float(np.linalg.norm(weight)), "tied value_norm")
    assert len(p.histograms("r", "watch/embed/weight/grad")) == 1
    assert not [t for t in p.tags("r") if t.startswith("watch/decoder/")]


# --------------------------------------------------------------------------- check_numerics
class ScaledLog(nn.Module):
    """log of its input, between two harmless ops: the finding must name the log."""

    def forward(self, x):
        return torch.log(x * 2.0) + 1.0


class Reciprocal(nn.Module):
    """``1 / x``: torch runs it as reciprocal then mul, as the graph shows it."""

    def forward(self, x):
        return (1.0 / x) * 3.0


class ScaledSqrt(nn.Module):
    """sqrt of its input: finite at 0, but its gradient there is infinite."""

    def forward(self, x):
        return torch.sqrt(x)


class Numerics(nn.Module):
    """``fc`` → ReLU → ``part``; with fc's weight 0, fc's bias decides relu's output exactly:
    1 while the bias is 1, exactly 0 once the test sets it to -1."""

    def __init__(self, part):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.act = nn.ReLU()
        self.part = part
        self.head = nn.Linear(3, 1)
        with torch.no_grad():
            self.fc.weight.zero_()
            self.fc.bias.fill_(1.0)
            self.head.weight.fill_(0.5)

    def forward(self, x):
        return self.head(self.part(self.act(self.fc(x))))


class BranchyNumerics(Numerics):
    def forward(self, x):
        h = self.part(self.act(self.fc(x)))
        if h.abs().sum() > 0:  # data-dependent: captured per module
            return self.head(h)
        return h.sum(-1, keepdim=True)


def poison(model):
    with torch.no_grad():
        model.fc.bias.fill_(-1.0)


@pytest.mark.parametrize(
    "part, ops, bad",
    [
        (ScaledLog, ["part/mul", "part/log", "part/add"], "log"),
        (Reciprocal, ["part/reciprocal", "part/mul", "part/mul_1"], "reciprocal"),
    ],
    ids=["log", "reciprocal"],
)
def test_forward_finding_names_the_op_at_the_step_it_happened(tmp_path, part, ops, bad):
    model = Numerics(part())
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: nothing but the test moves fc
    x = torch.randn(4, 3)
    k = 3
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        writer.watch(model, every=1, optimizer=opt, check_numerics=True)
        for step in range(k + 2):
            if step == k:
                poison(model)
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
            if step < k:
                writer.flush()
                assert provider(tmp_path).numerics("r") == [], step
    p = provider(tmp_path)
    graph_ops = [n["name"] for n in p.graph("r")["nodes"] if n.get("scope") == "part"]
    assert graph_ops == ops
    findings = p.numerics("r")
    assert [f["step"] for f in findings] == [k, k + 1]
    first = findings[0]
    assert first["node"] == f"part/{bad}"
    assert first["op"] == bad
    assert first["phase"] == "forward"
    assert first["kind"] == "inf"  # log(0) = -inf, 1 / 0 = inf
    assert first["run_index"] == k
    (given,) = first["inputs"]
    assert (given["min"], given["max"], given["shape"]) == (0.0, 0.0, [4, 3])


def test_backward_only_non_finite_is_a_backward_finding(tmp_path):
    model = Numerics(ScaledSqrt())
    x = torch.randn(4, 3)
    k = 2
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        writer.watch(model, every=1, check_numerics=True)  # steps: training forwards
        for step in range(k + 1):
            if step == k:
                poison(model)
            model.zero_grad()
            out = model(x)
            assert torch.isfinite(out).all()  # sqrt(0) = 0: the forward stays finite
            out.sum().backward()
    findings = provider(tmp_path).numerics("r")
    assert len(findings) == 1
    (f,) = findings
    assert f["step"] == k
    assert f["phase"] == "backward"
    assert f["kind"] == "inf"
    assert f["node"] == "part/sqrt"  # the op of the module whose input gradient blew up


def test_numerics_on_a_module_level_graph_names_the_module_node(tmp_path):
    model = BranchyNumerics(ScaledLog())
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    x = torch.randn(4, 3)
    k = 1
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        writer.watch(model, every=1, optimizer=opt, check_numerics=True)
        for step in range(k + 1):
            if step == k:
                poison(model)
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
    p = provider(tmp_path)
    graph = p.graph("r")
    assert graph["capture"] == "modules"
    nodes = {n["name"]: n for n in graph["nodes"]}
    assert nodes["part/ScaledLog"]["inputs"] == ["act/ReLU"]
    (f,) = p.numerics("r")
    assert f["node"] == "part/ScaledLog"
    assert (f["phase"], f["kind"], f["step"]) == ("forward", "inf", k)


@pytest.mark.parametrize(
    "weight, node", [("in_proj_weight", "linear"), ("out_proj.weight", "linear_1")]
)
def test_a_finding_inside_attention_names_the_projection_that_went_nan(tmp_path, weight, node):
    model, x = tm.make_transformer()
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        writer.watch(model, every=1, check_numerics=True)
        model(x).sum().backward()
        with torch.no_grad():
            model.encoder.layers[1].self_attn.get_parameter(weight).fill_(math.nan)
        model(x).sum().backward()
    p = provider(tmp_path)
    (f,) = p.numerics("r")
    scope = "encoder/layers/1/self_attn"
    assert f["node"] == f"{scope}/{node}"
    assert f["node"] in {n["name"] for n in p.graph("r")["nodes"]}
    assert (f["op"], f["phase"], f["kind"], f["step"]) == ("linear", "forward", "nan", 1)
    assert [i["nan"] > 0 for i in f["inputs"]] == [False, True, False]  # x, weight, bias
