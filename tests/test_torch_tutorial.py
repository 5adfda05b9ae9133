"""PyTorch's "Visualizing models, data, and training with TensorBoard" tutorial, ported with only
the import swapped (``from flowlog.writer import SummaryWriter``), on synthetic FashionMNIST-like
data (torchvision is not installed), then read back through the data provider and compared with
what torch.utils.tensorboard itself would store."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the tutorial needs PyTorch")
nn = torch.nn
F = torch.nn.functional

from flowlog.backends import open_logdir  # noqa: E402
from flowlog.writer import SummaryWriter  # noqa: E402  (the tutorial's one changed line)

CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle Boot",
)  # fmt: skip
BATCH = 4
BATCHES = 30  # per epoch
EVERY = 10  # the tutorial logs every 1000 mini-batches


class Net(nn.Module):
    """The tutorial's network."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 4 * 4)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def make_grid(images, nrow=8, padding=2):
    """torchvision.utils.make_grid for (N, 1|3, H, W): 1 channel repeated to 3, zero padding."""
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    n, c, h, w = images.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    hp, wp = h + padding, w + padding
    grid = images.new_zeros((c, rows * hp + padding, cols * wp + padding))
    for k in range(n):
        y, x = divmod(k, cols)
        top, left = y * hp + padding, x * wp + padding
        grid[:, top : top + h, left : left + w] = images[k]
    return grid


def loader(generator, batches):
    """FashionMNIST-like batches: normalised to [-1, 1] as the tutorial's transform does."""
    for _ in range(batches):
        images = torch.rand(BATCH, 1, 28, 28, generator=generator) * 2 - 1
        labels = torch.randint(0, 10, (BATCH,), generator=generator)
        yield images, labels


def matplotlib_imshow(img, one_channel=False):
    import matplotlib.pyplot as plt

    if one_channel:
        img = img.mean(dim=0)
    img = img / 2 + 0.5  # unnormalize
    npimg = img.numpy()
    if one_channel:
        plt.imshow(npimg, cmap="Greys")
    else:
        plt.imshow(np.transpose(npimg, (1, 2, 0)))


def images_to_probs(net, images):
    output = net(images)
    _, preds_tensor = torch.max(output, 1)
    preds = np.squeeze(preds_tensor.numpy())
    return preds, [F.softmax(el, dim=0)[i].item() for i, el in zip(preds, output, strict=True)]


def plot_classes_preds(net, images, labels):
    """The tutorial's figure (its figsize 12x48 shrunk to keep the test fast)."""
    import matplotlib.pyplot as plt

    preds, probs = images_to_probs(net, images)
    fig = plt.figure(figsize=(6, 2), dpi=50)
    for idx in np.arange(4):
        ax = fig.add_subplot(1, 4, idx + 1, xticks=[], yticks=[])
        matplotlib_imshow(images[idx], one_channel=True)
        ax.set_title(
            f"{CLASSES[preds[idx]]}, {probs[idx] * 100.0:.1f}%\n(label: {CLASSES[labels[idx]]})",
            color=("green" if preds[idx] == labels[idx].item() else "red"),
        )
    return fig


def run_tutorial():
    """The tutorial's calls; returns what it logged, for the checks."""
    import matplotlib

    matplotlib.use("Agg")
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

    writer = SummaryWriter("runs/fashion_mnist_experiment_1")
    images, labels = next(loader(g, 1))
    img_grid = make_grid(images)
    matplotlib_imshow(img_grid, one_channel=True)
    writer.add_image("four_fashion_mnist_images", img_grid)
    writer.add_graph(net, images)

    logged_loss, figure_steps = {}, []
    running_loss = 0.0
    for epoch in range(1):
        for i, data in enumerate(loader(g, BATCHES), 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % EVERY == EVERY - 1:
                step = epoch * BATCHES + i
                writer.add_scalar("training loss", running_loss / EVERY, step)
                logged_loss[step] = running_loss / EVERY
                writer.add_figure(
                    "predictions vs. actuals",
                    plot_classes_preds(net, inputs, labels),
                    global_step=step,
                )
                figure_steps.append(step)
                running_loss = 0.0
    writer.close()

    class_probs, class_label = [], []
    with torch.no_grad():
        for images, labels in loader(g, 5):
            output = net(images)
            class_probs.append([F.softmax(el, dim=0) for el in output])
            class_label.append(labels)
    test_probs = torch.cat([torch.stack(batch) for batch in class_probs])
    test_label = torch.cat(class_label)

    def add_pr_curve_tensorboard(class_index, test_probs, test_label, global_step=0):
        tensorboard_truth = test_label == class_index
        tensorboard_probs = test_probs[:, class_index]
        writer.add_pr_curve(
            CLASSES[class_index], tensorboard_truth, tensorboard_probs, global_step=global_step
        )
        writer.close()  # the tutorial closes after each curve: every next call reopens

    for i in range(len(CLASSES)):
        add_pr_curve_tensorboard(i, test_probs, test_label)
    return img_grid, logged_loss, figure_steps, test_probs, test_label


def torch_png(tag, img, dataformats="CHW"):
    """The PNG torch.utils.tensorboard would store for ``img``."""
    from torch.utils.tensorboard import summary

    return summary.image(tag, img, dataformats=dataformats).value[0].image.encoded_image_string


def pixels(png):
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def test_tutorial_runs_unchanged_and_reads_back_as_torch_stores_it(tmp_path, monkeypatch):
    from torch.utils.tensorboard._convert_np import make_np
    from torch.utils.tensorboard.summary import pr_curve

    monkeypatch.chdir(tmp_path)
    img_grid, logged_loss, figure_steps, test_probs, test_label = run_tutorial()

    provider = open_logdir("runs")
    run = "fashion_mnist_experiment_1"
    assert [r.name for r in provider.runs()] == [run]
    assert provider.run_info(run).status == "finished"
    assert set(provider.tags(run)) == {
        "four_fashion_mnist_images",
        "training loss",
        "predictions vs. actuals",
        *CLASSES,
    }
    graph = provider.graph(run)  # the tutorial's add_graph: module scopes, parameters as variables
    names = {n["name"]: n for n in graph["nodes"]}
    assert (
        names["conv1/weight"]["shape"] == [6, 1, 5, 5]
        and names["conv1/weight"]["kind"] == "variable"
    )
    assert names["conv1/conv2d"]["scope"] == "conv1"
    assert "conv1/weight" in names["conv1/conv2d"]["inputs"]
    assert graph["trainable"] == [n.replace(".", "/") for n, _ in Net().named_parameters()]

    series = provider.scalars(run, "training loss")
    assert series.step.tolist() == list(logged_loss)
    np.testing.assert_array_equal(series.value, list(logged_loss.values()))

    (grid,) = provider.images(run, "four_fashion_mnist_images")
    assert (grid.step, grid.height, grid.width, grid.channels) == (0, 32, 122, 3)
    ours = pixels(provider.image_png(run, "four_fashion_mnist_images", 0))
    assert ours.shape == (32, 122, 3)
    np.testing.assert_array_equal(ours, pixels(torch_png("grid", img_grid)))

    figures = provider.images(run, "predictions vs. actuals")
    assert [f.step for f in figures] == figure_steps == [9, 19, 29]
    for f in figures:
        png = pixels(provider.image_png(run, "predictions vs. actuals", f.step))
        assert png.shape == (100, 300, 3) == (f.height, f.width, 3)
        assert png.std() > 0  # something was drawn

    for i, name in enumerate(CLASSES):
        (curve,) = provider.pr_curves(run, name)
        assert curve.step == 0 and curve.num_thresholds == 127
        truth, probs = make_np(test_label == i), make_np(test_probs[:, i])
        tensor = pr_curve(name, truth, probs).value[0].tensor
        expected = np.array(tensor.float_val, np.float32).reshape(6, -1)
        np.testing.assert_allclose(curve.table, expected, rtol=1e-6, atol=1e-6)
        assert curve.table[0, 0] == (test_label == i).sum().item()  # every positive at t=0
