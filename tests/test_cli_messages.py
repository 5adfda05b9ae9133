"""The `flowlog` CLI says what it should, once: ``--version``, the closest tags to a mistyped
``--tag`` (not every tag of the runs), and the user's tags before ``watch/*`` in ``flowlog runs``.
Real runs written by SummaryWriter. (The corrupt-file wording: tests/test_dashboard.py.)"""

from __future__ import annotations

import json

import pytest

import flowlog
from flowlog.cli import main
from flowlog.writer import SummaryWriter

N_WATCH = 90  # about what writer.watch logs for a small model


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    with SummaryWriter(logdir=d, run_name="exp") as w:
        for i in range(N_WATCH):  # watch/* sorts before most names the user picks
            w.add_scalar(f"watch/layer{i:02d}/grad_norm", 1.0, 0)
        for tag in ("loss/train", "loss/val", "zeta"):
            w.add_scalar(tag, 0.5, 0)
    return d


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"flowlog {flowlog.__version__}"


def test_a_mistyped_tag_gets_the_closest_few(capsys, logdir):
    code, _out, err = run(capsys, "export-scalars", logdir, "--tag", "loss/trian", "-o", "-")
    assert code == 1
    assert "no scalar tag 'loss/trian'" in err and "did you mean 'loss/train'" in err
    assert "watch/layer5" not in err and len(err) < 200, err  # it listed all 93 tags
    code, _out, err = run(capsys, "export-scalars", logdir, "--tag", "qqqqqq", "-o", "-")
    assert code == 1 and "93 tags" in err and "flowlog runs" in err and "watch/" not in err


def test_runs_lists_the_users_tags_before_watch_tags(capsys, logdir):
    code, out, _err = run(capsys, "runs", logdir)
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("exp"))
    assert row.split("93: ", 1)[1].startswith("loss/train, loss/val, zeta, watch/")
    code, out, _err = run(capsys, "runs", logdir, "--json")
    tags = json.loads(out)[0]["tags"]
    assert tags[:3] == ["loss/train", "loss/val", "zeta"] and len(tags) == 93
