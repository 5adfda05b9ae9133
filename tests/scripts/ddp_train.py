"""A small real DistributedDataParallel training run that logs with flowlog, for
tests/test_torch_distributed.py. Run it under torchrun (gloo, CPU), e.g.

    torchrun --nproc_per_node=2 tests/scripts/ddp_train.py --out OUT

Every rank trains the same model on its own data shard (so the losses differ per rank), logs
``loss`` and ``rank_id`` each step, and dumps what it computed to ``OUT/rank<R>.json`` (its
losses, its writer's run directory and file, and any flowlog warning) for the test to compare.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from flowlog.writer import SummaryWriter


class _Collect(logging.Handler):
    """Keeps flowlog's warnings (a 'database is locked' flush failure would be one)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _args():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=".", help="where rank<R>.json goes")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--log-dir", help="SummaryWriter(log_dir) on every rank (default: no args)")
    p.add_argument("--writer-ranks", choices=("all", "0"), default="all",
                   help="'0': only rank 0 creates a writer (the common pattern)")  # fmt: skip
    p.add_argument("--writer-before-init", action="store_true",
                   help="create the writer before init_process_group()")  # fmt: skip
    p.add_argument("--crash-rank", type=int, help="this rank SIGKILLs itself after flushing")
    return p.parse_args()


def _writer(args, rank: int) -> SummaryWriter | None:
    if args.writer_ranks == "0" and rank != 0:
        return None
    return SummaryWriter(args.log_dir) if args.log_dir else SummaryWriter()


def main() -> None:
    args = _args()
    collect = _Collect()
    logging.getLogger("flowlog").addHandler(collect)
    env_rank = int(os.environ["RANK"])
    writer = _writer(args, env_rank) if args.writer_before_init else None
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if not args.writer_before_init:
        writer = _writer(args, rank)

    torch.manual_seed(0)  # DDP broadcasts rank 0's parameters anyway
    model = DistributedDataParallel(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(1000 + rank)  # this rank's shard
    x = torch.randn(32, 4, generator=gen)
    y = x.sum(dim=1, keepdim=True) * (rank + 1)

    losses = []
    for step in range(args.steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()  # DDP all-reduces the gradients
        opt.step()
        losses.append(loss.item())
        if writer is not None:
            writer.add_scalar("loss", losses[-1], step)
            writer.add_scalar("rank_id", rank, step)
    if writer is not None and rank == 0:
        writer.add_hparams({"lr": 0.05, "world_size": world}, {"hparam/loss": losses[-1]})
        writer.add_text("notes", f"DDP on {world} ranks", 0)

    if writer is not None:
        writer.flush()
    record = {
        "rank": rank, "world": world, "losses": losses, "pid": os.getpid(),
        "log_dir": None if writer is None else os.fspath(writer.get_logdir()),
        "path": None if writer is None else writer.path,
        "warnings": collect.messages,
        "run_id": os.environ.get("TORCHELASTIC_RUN_ID"),
    }  # fmt: skip
    with open(os.path.join(args.out, f"rank{rank}.json"), "w") as f:
        json.dump(record, f)

    if args.crash_rank is not None:
        dist.barrier()  # every rank has flushed and written its record
        if rank != args.crash_rank and writer is not None:
            writer.close()
        dist.barrier()  # the survivors have closed: the agent may now tear them down
        if rank == args.crash_rank:
            os.kill(os.getpid(), signal.SIGKILL)
    if writer is not None:
        writer.close()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
