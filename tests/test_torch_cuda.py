"""The PyTorch graph debugger on a CUDA model: graph capture, on-device statistics and the
numerics check. Skipped without a CUDA device (CI has none; run on a GPU machine)."""

from __future__ import annotations

import numpy as np
import pytest

from flowlog.backends import open_logdir
from flowlog.writer import SummaryWriter

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class LogHead(torch.nn.Module):
    def forward(self, x):
        return torch.log(torch.relu(x))


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), LogHead(), torch.nn.Linear(8, 1)).cuda()


def test_cuda_model_graph_watch_and_numerics(tmp_path):
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.rand(16, 6, device="cuda")
    with torch.no_grad():
        model[0].bias.fill_(1.0)
        model[0].weight.mul_(0.01)
    seen = {}
    with SummaryWriter(tmp_path / "cuda") as writer:
        writer.watch(model, every=1, histograms_every=1, optimizer=opt, check_numerics=True)
        for step in range(4):
            if step == 2:
                with torch.no_grad():
                    model[0].bias[0] = -5.0
            opt.zero_grad()
            model(x).mean().backward()
            seen[step] = model[0].weight.grad.detach().cpu().double().numpy().copy()
            opt.step()
    p = open_logdir(tmp_path)
    desc = p.graph("cuda")
    devices = {n["attrs"].get("device") for n in desc["nodes"] if n.get("attrs")}
    assert any(d.startswith("cuda") for d in devices)
    assert {"0/weight", "2/weight"} <= {n["name"] for n in desc["nodes"]}
    norms = p.watch_stats("cuda", "0/weight")["grad_norm"]
    assert norms.step.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(norms.value[0], np.linalg.norm(seen[0]), rtol=1e-5)
    first = p.numerics("cuda")[0]
    assert (first["node"], first["step"], first["phase"]) == ("1/log", 2, "forward")
