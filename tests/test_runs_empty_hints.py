"""Empty states say what to do, for the logdir being shown: the runs panel gives the exact
command that logs a run into it (its path shell-quoted), and HParams says how to log hparams
instead of drawing a header-only table."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import pytest

from flowlog.dashboard import create_app, runs_panel

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_hint_names_this_logdir_and_its_command_logs_there(tmp_path):
    d = tmp_path / "my runs"  # a space: the path must be quoted to paste into a shell
    d.mkdir()
    ctx = create_app(d).flowlog_context
    _info, _warnings, problem = runs_panel.discover(ctx, 0)
    command = problem.split("`")[1]
    assert command == f"python examples/linear_regression.py --logdir {shlex.quote(str(d))}"
    argv = shlex.split(command)[2:] + ["--steps", "3"]  # what the user would paste, shorter
    spec = importlib.util.spec_from_file_location("lr_example", EXAMPLES / "linear_regression.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(argv)
    info, _warnings, problem = runs_panel.discover(ctx, 0)
    assert problem is None and [r["name"] for r in info] == ["linear_regression/lr=0.1"]


@pytest.mark.browser
def test_hparams_of_an_empty_logdir_says_what_to_log(page, dash_server, tmp_path):
    page.goto(dash_server(tmp_path))
    page.locator(".fl-empty", has_text="--logdir").wait_for()
    page.locator(".tab", has_text="HParams").click()
    msg = page.locator("#hp-message")
    msg.filter(has_text="writer.add_hparams(").wait_for()
    assert "No runs yet" in msg.inner_text()
    assert not page.locator("#hp-table-card").is_visible()  # no header-only table
    assert not page.locator("#hp-parcoords-card").is_visible()
