"""SummaryWriter under torch.distributed: one run directory per job, one database per rank, read
back as one run.

The first tests launch a real DDP training (tests/scripts/ddp_train.py, gloo on CPU, 2 ranks)
with torchrun; the rest check flowlog.run_dir's rules in this process, with the environment and
(where a process group is needed) a stand-in for ``torch.distributed`` patched in.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest

from flowlog import run_dir
from flowlog.backends import open_logdir
from flowlog.reader import Logdir
from flowlog.writer import SummaryWriter

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "scripts" / "ddp_train.py"
LOCKED = "database is locked"  # never: each rank writes its own file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(tmp_path: Path, *args: str, standalone: bool = False, rc: int = 0):
    """Run the DDP script on 2 ranks with cwd ``tmp_path`` (so ``runs/`` lands there); return
    the ranks' records (``rank<R>.json``) and torchrun's output."""
    pytest.importorskip("torch", reason="torch is not installed: no torchrun to test under")
    rendezvous = (
        ["--standalone"]
        if standalone
        else ["--master-addr=127.0.0.1", f"--master-port={_free_port()}"]
    )
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2", "--max-restarts=0",
        *rendezvous, str(SCRIPT), "--out", str(tmp_path), *args,
    ]  # fmt: skip
    path = [str(ROOT), os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [str(ROOT)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(path))
    env.pop("TORCHELASTIC_RUN_ID", None)
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == rc, output
    assert LOCKED not in output
    records = {}
    for path in tmp_path.glob("rank*.json"):
        record = json.loads(path.read_text())
        assert not [w for w in record["warnings"] if LOCKED in w]
        records[record["rank"]] = record
    return records, output


def _run_dirs(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "runs").iterdir() if p.is_dir())


def _db_files(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.endswith(".db"))


def _check_one_run_of_two_ranks(tmp_path: Path, records: dict, name: str) -> None:
    """The shape every run of the script on 2 ranks that all log has."""
    assert _db_files(tmp_path / "runs" / name) == ["flowlog.rank0.db", "flowlog.rank1.db"]
    provider = open_logdir(tmp_path / "runs")  # the dashboard's way in (cached)
    try:
        (info,) = provider.runs()
        assert info.name == name and info.status == "finished"
        assert [(r.rank, r.status, r.pid) for r in info.ranks] == [
            (0, "finished", records[0]["pid"]),
            (1, "finished", records[1]["pid"]),
        ]
        for rank in (0, 1):
            loss = provider.scalars(name, "loss", rank=rank)
            assert loss.step.tolist() == list(range(30))
            assert loss.value.tolist() == records[rank]["losses"]  # exactly what it computed
            assert provider.scalars(name, "rank_id", rank=rank).value.tolist() == [rank] * 30
        assert records[0]["losses"] != records[1]["losses"]  # each rank had its own shard
        assert provider.scalars(name, "loss").value.tolist() == records[0]["losses"]
        hparams, metrics = provider.hparams(name)
        assert hparams == {"lr": 0.05, "world_size": 2}
        assert metrics == {"hparam/loss": records[0]["losses"][-1]}
        assert [t[3] for t in provider.texts(name, "notes")] == ["DDP on 2 ranks"]
    finally:
        provider.backend.close()


# ------------------------------------------------------------------ real torchrun, 2 ranks


def test_default_run_dir_is_shared_through_the_process_group(tmp_path):
    """Plain torchrun (TORCHELASTIC_RUN_ID is "none"), SummaryWriter() with no arguments after
    init_process_group(): rank 0 names the run, rank 1 joins it."""
    records, _ = torchrun(tmp_path)
    assert {r["run_id"] for r in records.values()} == {"none"}
    (run,) = _run_dirs(tmp_path)
    assert run.name.endswith("_" + socket.gethostname())
    assert records[0]["log_dir"] == records[1]["log_dir"] == f"runs/{run.name}"
    _check_one_run_of_two_ranks(tmp_path, records, run.name)


def test_explicit_log_dir_on_every_rank(tmp_path):
    records, _ = torchrun(tmp_path, "--log-dir", "runs/ddp")
    assert _run_dirs(tmp_path) == [tmp_path / "runs" / "ddp"]
    _check_one_run_of_two_ranks(tmp_path, records, "ddp")


def test_writer_before_init_joins_the_elastic_run_id(tmp_path):
    """torchrun --standalone, the writer made before init_process_group(): no store yet, so
    the run is named by TORCHELASTIC_RUN_ID (a uuid), the same on both ranks."""
    records, _ = torchrun(tmp_path, "--writer-before-init", standalone=True)
    run_id = records[0]["run_id"]
    assert run_id not in (None, "", "none") and records[1]["run_id"] == run_id
    assert _run_dirs(tmp_path) == [tmp_path / "runs" / run_id]
    _check_one_run_of_two_ranks(tmp_path, records, run_id)


def test_a_killed_rank_makes_the_run_crashed(tmp_path):
    records, output = torchrun(tmp_path, "--crash-rank", "1", rc=1)
    assert "SIGKILL" in output
    (run,) = _run_dirs(tmp_path)
    with Logdir(tmp_path / "runs") as logdir:
        (info,) = logdir.runs()
        assert info.status == "crashed"
        assert [(r.rank, r.status, r.last_step) for r in info.ranks] == [
            (0, "finished", 29),
            (1, "crashed", 29),
        ]
        ranked = logdir.run(run.name)
        # what the killed rank flushed before dying is all there
        assert ranked.part(1).scalars("loss").value.tolist() == records[1]["losses"]
        assert ranked.part(0).scalars("loss").value.tolist() == records[0]["losses"]


def test_writer_on_rank_0_only_does_not_hang(tmp_path):
    """The common ``if rank == 0: writer = SummaryWriter()``: rank 0 publishes the run name
    and never waits for the others."""
    records, _ = torchrun(tmp_path, "--writer-ranks", "0")
    assert records[1]["log_dir"] is None
    (run,) = _run_dirs(tmp_path)
    assert _db_files(run) == ["flowlog.rank0.db"]  # named by its rank, as every rank's file
    with Logdir(tmp_path / "runs") as logdir:
        (info,) = logdir.runs()
        assert info.status == "finished" and [r.rank for r in info.ranks] == [0]
        part = logdir.run(run.name).part()
        assert part.scalars("loss").value.tolist() == records[0]["losses"]


# ------------------------------------------------------------------ run_dir's rules, in process


@pytest.fixture
def ranks(monkeypatch, tmp_path):
    """Pretend to be rank R of 2 (``ranks(R)``), in ``tmp_path``, with no process group."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(run_dir, "_distributed", lambda: None)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")

    def become(rank: int) -> None:
        monkeypatch.setenv("RANK", str(rank))

    return become


def test_elastic_run_id_names_the_shared_run(ranks, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job42")
    writers = []
    for rank in (1, 0):  # rank 1 first: nothing waits for rank 0
        ranks(rank)
        writers.append(SummaryWriter(comment="_lr0.1"))
        writers[-1].add_scalar("rank_id", rank, 0)
    for w in writers:
        w.close()
    assert [w.get_logdir() for w in writers] == [os.path.join("runs", "job42_lr0.1")] * 2
    assert _db_files(tmp_path / "runs" / "job42_lr0.1") == [
        "flowlog.rank0.db",
        "flowlog.rank1.db",
    ]
    with Logdir(tmp_path / "runs") as logdir:
        (info,) = logdir.runs()
        assert info.name == "job42_lr0.1" and [r.rank for r in info.ranks] == [0, 1]


@pytest.mark.parametrize(
    ("run_id", "expected"), [("a/b", "a_b"), ("..", "_.."), (" x\\y ", "x_y"), ("none", None)]
)
def test_elastic_run_id_is_one_safe_path_component(monkeypatch, run_id, expected):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", run_id)
    assert run_dir._elastic_run_id() == expected


@pytest.mark.parametrize("run_id", [None, "none", ""])
def test_without_group_or_run_id_each_rank_warns_and_has_its_own_run(
    ranks, monkeypatch, tmp_path, caplog, run_id
):
    if run_id is not None:
        monkeypatch.setenv("TORCHELASTIC_RUN_ID", run_id)
    dirs = []
    for rank in (0, 1):
        ranks(rank)
        with caplog.at_level(logging.WARNING, logger="flowlog"):
            with SummaryWriter() as w:
                dirs.append(w.get_logdir())
                assert w.path.endswith(f"flowlog.rank{rank}.db")
        assert f"rank {rank} of 2 has no process group and no TORCHELASTIC_RUN_ID" in caplog.text
        caplog.clear()
    assert len(set(dirs)) == 2  # the second took the same second's name with _2, or a new one


def test_outside_a_distributed_job_there_is_no_rank(monkeypatch):
    monkeypatch.setattr(run_dir, "_distributed", lambda: None)
    envs = [
        {},
        {"WORLD_SIZE": "1", "RANK": "0"},
        {"WORLD_SIZE": "x"},
        {"WORLD_SIZE": "2", "RANK": "2"},
    ]
    for env in envs:
        monkeypatch.delenv("WORLD_SIZE", raising=False)
        monkeypatch.delenv("RANK", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert run_dir.distributed_rank() is None


class _Store:
    """The part of a c10d Store that run_dir uses (torch's HashStore when torch is here)."""

    def __init__(self):
        self.data: dict[str, bytes] = {}
        self.waited: list[str] = []

    def set(self, key, value):
        self.data[key] = value.encode() if isinstance(value, str) else value

    def get(self, key):
        return self.data[key]

    def wait(self, keys, timeout):
        self.waited += keys
        if not all(k in self.data for k in keys):
            raise RuntimeError(f"Wait timeout after {timeout}")  # as torch's DistStoreError


def _fake_group(monkeypatch, store, rank: int, world: int = 2):
    """An initialised default process group of ``world`` ranks in which this process is
    ``rank``: a stand-in ``torch.distributed`` in ``sys.modules['torch']``."""
    dist = types.SimpleNamespace(
        is_available=lambda: True,
        is_initialized=lambda: True,
        get_rank=lambda: rank,
        get_world_size=lambda: world,
        distributed_c10d=types.SimpleNamespace(_get_default_store=lambda: store),
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(distributed=dist))


def test_process_group_rank_wins_over_the_environment(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    _fake_group(monkeypatch, _Store(), rank=1)
    assert run_dir.distributed_rank() == (1, 2)
    _fake_group(monkeypatch, _Store(), rank=0, world=1)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert run_dir.distributed_rank() is None  # a group of one: not distributed


def test_store_rule_rank_0_publishes_and_never_waits(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "ignored-when-a-group-exists")
    store = _Store()
    _fake_group(monkeypatch, store, rank=0)
    w0 = SummaryWriter()
    assert store.waited == []
    (key,) = store.data
    assert store.data[key].decode() == w0.get_logdir()
    assert "ignored" not in w0.get_logdir()
    _fake_group(monkeypatch, store, rank=1)
    monkeypatch.setattr(run_dir, "_default_names", iter([int(key.rsplit("/", 1)[1])]))
    w1 = SummaryWriter()
    assert store.waited == [key]
    assert w1.get_logdir() == w0.get_logdir()
    assert w1.path != w0.path
    w0.close()
    w1.close()


def test_store_rule_rank_1_times_out_with_advice(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(run_dir, "AGREE_TIMEOUT_SECS", 0.1)
    store = _Store()
    try:
        import torch.distributed as dist

        store = dist.HashStore()  # the real thing: wait() raises DistStoreError
    except ImportError:
        pass
    _fake_group(monkeypatch, store, rank=1)
    with pytest.raises(RuntimeError, match="did not publish the default run directory"):
        SummaryWriter()
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_rank_file_appearing_later_joins_the_run(tmp_path):
    """Ranks start at different times: a reader that saw only rank 0 sees rank 1 once its
    file appears, without a new listing of the runs."""
    run = tmp_path / "job"
    with SummaryWriter(run) as w:
        w.add_scalar("loss", 1.0, 0)
    os.rename(run / "flowlog.db", run / "flowlog.rank0.db")
    with Logdir(tmp_path) as logdir:
        assert [r.rank for r in logdir.runs()[0].ranks] == [0]
        assert [r for r, _ in logdir.run("job").parts] == [0]
        with SummaryWriter(tmp_path / "other") as w:
            w.add_scalar("loss", 2.0, 0)
        os.rename(tmp_path / "other" / "flowlog.db", run / "flowlog.rank1.db")
        (run / "flowlog.rank01.db").write_bytes((run / "flowlog.rank1.db").read_bytes())
        ranked = logdir.run("job")
        assert [r for r, _ in ranked.parts] == [0, 1]  # rank01 is no writer's name
        assert ranked.part(1).scalars("loss").value.tolist() == [2.0]


def test_wait_uses_a_timedelta():
    """torch's Store.wait takes a datetime.timedelta (a float is refused)."""
    store = _Store()
    store.set("k", "runs/x")
    seen = []
    store.wait = lambda keys, timeout: seen.append(timeout)
    assert run_dir._wait_for(store, "k") == "runs/x"
    assert isinstance(seen[0], datetime.timedelta)
