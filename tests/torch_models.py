"""Small real torch models the torch graph/watch tests share (import them; no tests here).

Each ``make_*`` returns ``(model, example_input)`` where the input is what ``add_graph`` takes:
a tensor, a tuple of positional inputs or a dict of keyword inputs. Sizes are tiny so a CPU
capture takes well under a second.
"""

from __future__ import annotations

import torch
from torch import nn


# --------------------------------------------------------------------------- ResNet-18 style
class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock: two 3x3 convs, residual ``out += identity``."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    """ResNet-18's layout (stem, layer1..layer4 of two BasicBlocks, avgpool, fc) at narrow
    widths: the module tree and op pattern of the real one, a fraction of its size."""

    def __init__(self, widths=(4, 8, 8, 16), num_classes: int = 10):
        super().__init__()
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(widths[0], 1)
        self.layer2 = self._make_layer(widths[1], 2)
        self.layer3 = self._make_layer(widths[2], 2)
        self.layer4 = self._make_layer(widths[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3], num_classes)

    def _make_layer(self, planes: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        blocks = [BasicBlock(self.inplanes, planes, stride, downsample), BasicBlock(planes, planes)]
        self.inplanes = planes
        return nn.Sequential(*blocks)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def make_resnet():
    torch.manual_seed(0)
    return ResNet18(), torch.randn(2, 3, 32, 32)


# --------------------------------------------------------------------------- transformer
class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            d_model=16, nhead=2, dim_feedforward=32, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        return self.head(self.encoder(x))


def make_transformer():
    torch.manual_seed(0)
    return Encoder(), torch.randn(2, 5, 16)


# --------------------------------------------------------------------------- LSTM
class LSTMModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=4, hidden_size=8, num_layers=2, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def make_lstm():
    torch.manual_seed(0)
    return LSTMModel(), torch.randn(2, 6, 4)


# --------------------------------------------------------------------------- keyword inputs
class DictInputModel(nn.Module):
    """Two named inputs, given to ``add_graph`` as a dict of keyword inputs."""

    def __init__(self):
        super().__init__()
        self.image = nn.Linear(6, 4)
        self.meta = nn.Linear(3, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, image, meta):
        return self.out(torch.relu(self.image(image) + self.meta(meta)))


def make_dict_input():
    torch.manual_seed(0)
    return DictInputModel(), {"image": torch.randn(2, 6), "meta": torch.randn(2, 3)}


class TwoInputModel(DictInputModel):
    """The same model, given a tuple of positional inputs."""


def make_tuple_input():
    torch.manual_seed(0)
    return TwoInputModel(), (torch.randn(2, 6), torch.randn(2, 3))


# --------------------------------------------------------------------------- tied weights
class TiedLM(nn.Module):
    """A language-model head whose output projection shares the embedding matrix."""

    def __init__(self, vocab: int = 11, dim: int = 6):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.proj = nn.Linear(dim, dim)
        self.decoder = nn.Linear(dim, vocab, bias=False)
        self.decoder.weight = self.embed.weight

    def forward(self, tokens):
        return self.decoder(torch.tanh(self.proj(self.embed(tokens))))


def make_tied():
    torch.manual_seed(0)
    return TiedLM(), torch.tensor([[1, 2, 3], [4, 5, 6]])


# --------------------------------------------------------------------------- control flow
class BranchyModel(nn.Module):
    """Data-dependent control flow: which branch runs depends on the values, so torch.export
    cannot take it whole and the capture falls back to module level (an eager run: the
    BatchNorm statistics and the dropout RNG it touches must be restored)."""

    def __init__(self):
        super().__init__()
        self.encode = nn.Linear(4, 8)
        self.norm = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.5)
        self.pos = nn.Linear(8, 3)
        self.neg = nn.Linear(8, 3)

    def forward(self, x):
        h = self.drop(torch.relu(self.norm(self.encode(x))))
        if h.sum() > 0:
            return self.pos(h)
        return self.neg(h)


def make_branchy():
    torch.manual_seed(0)
    return BranchyModel(), torch.randn(4, 4)


# --------------------------------------------------------------------------- MLP
class MLP(nn.Module):
    def __init__(self, sizes=(5, 7, 3)):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(sizes[0], sizes[1]), nn.ReLU(), nn.Linear(sizes[1], sizes[2])
        )

    def forward(self, x):
        return self.net(x)


def make_mlp():
    torch.manual_seed(0)
    return MLP(), torch.randn(4, 5)


MODELS = {
    "resnet": make_resnet,
    "transformer": make_transformer,
    "lstm": make_lstm,
    "dict_input": make_dict_input,
    "tuple_input": make_tuple_input,
    "tied": make_tied,
    "branchy": make_branchy,
    "mlp": make_mlp,
}
