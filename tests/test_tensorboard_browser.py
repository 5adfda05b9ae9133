"""The real dashboard on a TensorBoard logdir written by torch.utils.tensorboard: its runs are
listed and drawn, a file still being written shows new points within the reload interval, and
browsing every view leaves the logdir byte-identical."""

from __future__ import annotations

import pytest
from test_dashboard import trace, wait_traces
from test_tensorboard_backend import snapshot

pytestmark = pytest.mark.browser


def test_a_live_tensorboard_run_draws_and_grows_and_the_logdir_stays_untouched(
    page, dash_server, tmp_path
):
    import numpy as np
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "tb"
    done = SummaryWriter(str(logdir / "finished"))
    for step in range(100):
        done.add_scalar("loss/train", 1.0 / (step + 1), step)
    done.add_histogram("w", np.arange(50.0), 0)
    done.add_text("notes", "hello", 0)
    done.close()
    live = SummaryWriter(str(logdir / "live"))
    for step in range(100):
        live.add_scalar("loss/train", 2.0 / (step + 1), step)
    live.flush()
    try:
        page.goto(dash_server(logdir, reload_interval=0.5, cache_dir=str(tmp_path / "cache")))
        names = page.locator(".fl-runs-list .fl-run-name")
        names.first.wait_for()
        assert sorted(names.all_inner_texts()) == ["finished", "live"]
        wait_traces(page, "loss/train", 4)  # raw + smoothed per run
        for step in range(100, 130):
            live.add_scalar("loss/train", 0.5, step)
        live.flush()
        wait_traces(
            page, "loss/train", 4,
            "gd._fullData.some(t => t.x.length && t.x[t.x.length - 1] === 129)",
        )  # fmt: skip
        steps = [trace(page, "loss/train", i)["x"] for i in range(4)]
        assert any(x[-30:] == list(range(100, 130)) for x in steps)
    finally:
        live.close()
    before = snapshot(logdir)
    for tab in page.locator(".tab").all():
        tab.click()
        page.wait_for_timeout(600)
    page.locator(".tab").first.click()
    page.wait_for_timeout(1500)  # a few reload ticks on the finished logdir
    assert snapshot(logdir) == before
