"""A run logged with TensorBoard's own writer (``torch.utils.tensorboard``), which flowlog reads
as it is: the event files land in ``<logdir>/tensorboard_logreg``, and ``flowlog-dashboard
--logdir runs`` shows the run beside the flowlog ones (converted once into a cache outside the
logdir; nothing is written into it).

Logistic regression in PyTorch on two noisy Gaussian blobs, logging what TensorBoard users log:
loss and accuracy (``add_scalar``), weight histograms, the decision boundary as an image every
50 steps, a PR curve of the test set, a Markdown summary and the graph of the model.

    python examples/tensorboard_run.py [--steps 300] [--logdir runs]
"""

from __future__ import annotations

import argparse
import os
import shutil

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter


def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen).float()
    x = torch.randn(n, 2, generator=gen) * 1.2 + (y[:, None] * 2 - 1) * torch.tensor([1.0, 0.6])
    return x, y


def boundary_image(model: torch.nn.Module, size: int = 64) -> np.ndarray:
    """P(class 1) over [-4, 4]², as an RGB image (blue = 0, red = 1)."""
    grid = torch.linspace(-4, 4, size)
    xx, yy = torch.meshgrid(grid, grid.flip(0), indexing="xy")
    with torch.no_grad():
        p = torch.sigmoid(model(torch.stack([xx.ravel(), yy.ravel()], 1))).reshape(size, size)
    return torch.stack([p, 0.2 * torch.ones_like(p), 1 - p]).numpy()  # CHW, floats in [0, 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--logdir", default="runs")
    args = parser.parse_args()
    torch.manual_seed(0)
    x, y = blobs(1000, seed=1)
    x_test, y_test = blobs(400, seed=2)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    run_dir = os.path.join(args.logdir, "tensorboard_logreg")
    shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run each time, as the other examples
    writer = SummaryWriter(run_dir)
    writer.add_graph(model, x[:4])
    for step in range(args.steps):
        logits = model(x).squeeze(1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        accuracy = ((logits > 0).float() == y).float().mean()
        writer.add_scalar("loss/train", loss.item(), step)
        writer.add_scalar("accuracy/train", accuracy.item(), step)
        if step % 50 == 0 or step == args.steps - 1:
            writer.add_histogram("linear/weight", model.weight.detach(), step)
            writer.add_image("decision_boundary", boundary_image(model), step)
            with torch.no_grad():
                p_test = torch.sigmoid(model(x_test).squeeze(1))
            writer.add_pr_curve("pr/test", y_test.int(), p_test, step)
    test_acc = ((p_test > 0.5).float() == y_test).float().mean().item()
    writer.add_text(
        "summary",
        f"| metric | value |\n|---|---|\n| train loss | {loss.item():.4f} |\n"
        f"| test accuracy | {test_acc:.3f} |",
        args.steps,
    )
    writer.close()
    print(f"TensorBoard run in {run_dir}: loss {loss.item():.4f}, test accuracy {test_acc:.3f}")


if __name__ == "__main__":
    main()
