"""The Graph view in headless Chromium on a PyTorch run: the NaN origin inside a module, and a
parameter node's curves, exactly as for the flowlog engine's runs."""

from __future__ import annotations

import pytest
from test_graph_view_browser import CLICK, graph_page, panel_name

from flowlog.backends import open_logdir
from flowlog.writer import SummaryWriter

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = pytest.mark.browser
BAD_STEP = 6


class LogFeatures(nn.Module):
    """log of ReLU features: -inf as soon as a feature is exactly 0."""

    def forward(self, x):
        return torch.log(torch.relu(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 8), LogFeatures())
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.encoder(x))


@pytest.fixture(scope="module")
def torch_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("torch") / "runs"
    torch.manual_seed(0)
    model = Net()
    with torch.no_grad():  # positive features until BAD_STEP
        model.encoder[0].weight.mul_(0.01)
        model.encoder[0].bias.fill_(1.0)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x, y = torch.rand(32, 4), torch.rand(32, 1)
    with SummaryWriter(logdir / "torch_nan") as writer:
        writer.watch(model, every=2, histograms_every=2, optimizer=opt, check_numerics=True)
        for step in range(10):
            if step == BAD_STEP:
                with torch.no_grad():
                    model.encoder[0].bias[3] = -10.0  # feature 3 is 0 for every input
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            writer.add_scalar("loss", loss.item(), step)
    return logdir


@pytest.fixture(scope="module")
def page(browser, torch_logdir):
    yield from graph_page(browser, torch_logdir)


def test_the_run_records_the_log_op_as_the_origin(torch_logdir):
    p = open_logdir(torch_logdir)
    first = p.numerics("torch_nan")[0]
    assert (first["node"], first["phase"], first["step"]) == ("encoder/1/log", "forward", BAD_STEP)
    assert first["kind"] == "inf"


def test_banner_names_the_op_inside_the_module_and_marks_it(page):
    banner = page.locator("#graph-banner")
    banner.wait_for(state="visible")
    text = banner.inner_text()
    assert "node encoder/1/log" in text and f"at step {BAD_STEP}" in text
    classes = page.evaluate(
        "id => document.getElementById(id).getAttribute('class')", "node:encoder/1/log"
    )
    assert "fl-marked" in classes
    panel_name(page, "encoder/1/log")


def test_clicking_a_parameter_node_shows_its_curves(page):
    page.evaluate(CLICK, "node:encoder/0/weight")
    panel_name(page, "encoder/0/weight")
    panel = page.locator("#graph-panel")
    assert "8×4" in panel.inner_text()
    page.wait_for_function(
        "() => document.querySelectorAll('#graph-panel .fl-graph-curve .main-svg').length >= 5"
    )
    lines = page.locator("#graph-panel .fl-graph-curve .scatterlayer .trace").count()
    assert lines >= 4
