"""add_graph for torch.nn.Module on real models: the description's names, scopes, variables and
edges, the fallback for data-dependent control flow, the model left untouched, storage through
the writer and rendering with the real ``dot``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

torch = pytest.importorskip("torch", reason="the torch graph capture needs PyTorch")
import torch_models as tm  # noqa: E402
from torch import nn  # noqa: E402

from flowlog import graphdesc  # noqa: E402
from flowlog.backends import open_logdir  # noqa: E402
from flowlog.torch_common import CaptureError, scope_of_module  # noqa: E402
from flowlog.torch_graph import describe_module  # noqa: E402
from flowlog.writer import SummaryWriter  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
EXPORTED = ["resnet", "transformer", "lstm", "dict_input", "tuple_input", "tied", "mlp"]
#: ops that make a tensor from nothing (the LSTM's zero initial states)
CREATION_OPS = {"zeros", "ones", "empty", "full", "arange", "scalar_tensor", "zeros_like"}

_CACHE: dict[str, tuple] = {}


def captured(kind: str):
    """``(model, input, description)`` of a model of torch_models, captured once per session
    (the capture is read-only, as the state test checks)."""
    if kind not in _CACHE:
        model, example = tm.MODELS[kind]()
        _CACHE[kind] = (model, example, describe_module(model, example))
    return _CACHE[kind]


def by_name(desc) -> dict[str, dict]:
    return {n["name"]: n for n in desc["nodes"]}


def consumers(desc) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {n["name"]: [] for n in desc["nodes"]}
    for n in desc["nodes"]:
        for src in n["inputs"]:
            out[src].append(n["name"])
    return out


def dtype_name(t) -> str:
    return str(t.dtype).removeprefix("torch.")


# --------------------------------------------------------------------------- every model
@pytest.mark.parametrize("kind", sorted(tm.MODELS))
def test_description_validates_and_names_nest_in_scopes(kind):
    model, _, desc = captured(kind)
    stored = graphdesc.validate(desc)
    assert stored["format"] == graphdesc.FORMAT
    module_scopes = {scope_of_module(path) for path, _ in model.named_modules()}
    for node in desc["nodes"]:
        # a node's scope is the path above its name: <scope>/<op>, <scope>/<param>
        assert node["name"].rpartition("/")[0] == node["scope"], node
        if node["kind"] in ("op", "variable"):
            assert node["scope"] in module_scopes, node
    ops = [n for n in desc["nodes"] if n["kind"] == "op"]
    assert ops
    for node in ops:
        assert node["inputs"] or node["op"] in CREATION_OPS, f"op with no inputs: {node}"
        assert node["shape"] is not None and node["dtype"] is not None, node


@pytest.mark.parametrize("kind", EXPORTED)
def test_every_parameter_is_one_variable_node_with_its_shape_and_dtype(kind):
    model, _, desc = captured(kind)
    assert desc["capture"] == "torch.export"
    assert "note" not in desc
    nodes = by_name(desc)
    params = {scope_of_module(path): p for path, p in model.named_parameters()}
    variables = {n["name"] for n in desc["nodes"] if n["op"] == "Parameter"}
    assert variables == set(params)
    for name, p in params.items():
        node = nodes[name]
        assert node["kind"] == "variable"
        assert node["shape"] == list(p.shape)
        assert node["dtype"] == dtype_name(p)
        assert node["scope"] == name.rpartition("/")[0]
    buffers = {scope_of_module(path) for path, _ in model.named_buffers()}
    assert {n["name"] for n in desc["nodes"] if n["op"] == "Buffer"} <= buffers


@pytest.mark.parametrize("kind", sorted(tm.MODELS))
def test_edges_connect_inputs_variables_and_ops(kind):
    model, example, desc = captured(kind)
    nodes = by_name(desc)
    used = consumers(desc)
    for node in desc["nodes"]:
        for src in node["inputs"]:
            assert src in nodes, (node["name"], src)
        if node["kind"] in ("variable", "placeholder"):
            assert used[node["name"]], f"{node['name']} feeds nothing"
    placeholders = [n["name"] for n in desc["nodes"] if n["kind"] == "placeholder"]
    if isinstance(example, dict):
        assert placeholders == list(example)
    else:
        assert len(placeholders) == (len(example) if isinstance(example, tuple) else 1)


@pytest.mark.parametrize("kind", sorted(tm.MODELS))
def test_trainable_lists_the_parameters_that_require_grad(kind):
    model, _, desc = captured(kind)
    expected = [scope_of_module(path) for path, p in model.named_parameters() if p.requires_grad]
    if kind == "branchy":  # only the branch this input takes is in the graph
        expected = [n for n in expected if not n.startswith("neg/")]
    assert sorted(desc["trainable"]) == sorted(expected)
    assert len(desc["trainable"]) == len(set(desc["trainable"]))


def test_frozen_parameters_stay_variables_but_are_not_trainable():
    model, x = tm.make_mlp()
    model.net[0].weight.requires_grad_(False)
    desc = describe_module(model, x)
    assert "net/0/weight" not in desc["trainable"]
    assert by_name(desc)["net/0/weight"]["op"] == "Parameter"
    assert sorted(desc["trainable"]) == ["net/0/bias", "net/2/bias", "net/2/weight"]


# --------------------------------------------------------------------------- per model
def test_resnet_scopes_residuals_and_downsample():
    _, _, desc = captured("resnet")
    nodes = by_name(desc)
    conv = nodes["layer1/0/conv1/conv2d"]
    assert conv["scope"] == "layer1/0/conv1"
    assert conv["op"] == "conv2d" and conv["attrs"]["module"] == "Conv2d"
    assert conv["inputs"] == ["maxpool/max_pool2d", "layer1/0/conv1/weight"]
    assert conv["shape"] == [2, 4, 8, 8]
    assert conv["attrs"]["padding"] == [1, 1]
    bn = nodes["layer1/0/bn1/batch_norm"]
    assert set(bn["inputs"]) == {
        "layer1/0/conv1/conv2d",
        "layer1/0/bn1/weight",
        "layer1/0/bn1/bias",
        "layer1/0/bn1/running_mean",
        "layer1/0/bn1/running_var",
    }
    # out += identity: block 0 of layer1 adds its input (the max-pool output) back
    assert nodes["layer1/0/add_"]["scope"] == "layer1/0"
    assert set(nodes["layer1/0/add_"]["inputs"]) == {
        "layer1/0/bn2/batch_norm",
        "maxpool/max_pool2d",
    }
    # layer2 block 0 adds the nested Sequential's downsample path
    down = nodes["layer2/0/downsample/0/conv2d"]
    assert down["scope"] == "layer2/0/downsample/0"
    assert down["inputs"] == ["layer1/1/relu/relu__1", "layer2/0/downsample/0/weight"]
    assert "layer2/0/downsample/1/batch_norm" in nodes["layer2/0/add_"]["inputs"]
    # one ReLU module called twice per block: two op nodes in its scope
    assert {"layer1/0/relu/relu_", "layer1/0/relu/relu__1"} <= set(nodes)
    for layer in ("layer1", "layer2", "layer3", "layer4"):
        for block in ("0", "1"):
            assert f"{layer}/{block}/conv2/conv2d" in nodes
    assert nodes["fc/linear"]["shape"] == [2, 10]
    assert nodes["x"]["kind"] == "placeholder" and nodes["x"]["shape"] == [2, 3, 32, 32]
    # BatchNorm's num_batches_tracked bookkeeping feeds no output and is left out
    assert not [n for n in nodes if n.endswith("num_batches_tracked")]


def test_transformer_encoder_layers_are_nested_scopes():
    _, _, desc = captured("transformer")
    nodes = by_name(desc)
    for i in ("0", "1"):
        attn = f"encoder/layers/{i}/self_attn"
        assert nodes[f"{attn}/linear"]["scope"] == attn
        assert nodes[f"{attn}/scaled_dot_product_attention"]["scope"] == attn
        assert f"{attn}/in_proj_weight" in nodes[f"{attn}/linear"]["inputs"]
        assert f"{attn}/out_proj/weight" in nodes[f"{attn}/linear_1"]["inputs"]
        assert nodes[f"encoder/layers/{i}/norm2/layer_norm"]["shape"] == [2, 5, 16]
    # layer 1 reads layer 0's output
    assert nodes["encoder/layers/1/self_attn/transpose"]["inputs"] == [
        "encoder/layers/0/norm2/layer_norm"
    ]
    assert nodes["head/linear"]["inputs"][0] == "encoder/layers/1/norm2/layer_norm"
    assert nodes["head/linear"]["shape"] == [2, 5, 4]


def test_lstm_op_takes_every_layer_weight():
    model, _, desc = captured("lstm")
    nodes = by_name(desc)
    lstm = nodes["lstm/lstm"]
    assert lstm["scope"] == "lstm" and lstm["attrs"]["module"] == "LSTM"
    weights = [f"lstm/{name}" for name, _ in model.lstm.named_parameters()]
    assert len(weights) == 8
    assert set(weights) <= set(lstm["inputs"])
    assert lstm["inputs"][0] == "x"
    assert lstm["attrs"]["num_layers"] == 2
    assert lstm["shape"] == [2, 6, 8]
    # the zero initial states are creation ops of the LSTM module, feeding the op
    zeros = [n for n in desc["nodes"] if n["op"] == "zeros"]
    assert zeros and all(z["scope"] == "lstm" and z["name"] in lstm["inputs"] for z in zeros)
    assert nodes["fc/linear"]["shape"] == [2, 3]


def test_tied_weight_is_one_node_feeding_both_consumers():
    model, _, desc = captured("tied")
    assert model.decoder.weight is model.embed.weight
    nodes = by_name(desc)
    assert "decoder/weight" not in nodes
    assert [n["name"] for n in desc["nodes"] if n["op"] == "Parameter"].count("embed/weight") == 1
    assert consumers(desc)["embed/weight"] == ["embed/embedding", "decoder/linear"]
    assert nodes["decoder/linear"]["scope"] == "decoder"
    assert nodes["decoder/linear"]["shape"] == [2, 3, 11]
    assert desc["trainable"].count("embed/weight") == 1
    assert "decoder/weight" not in desc["trainable"]
    assert nodes["tokens"]["dtype"] == "int64"


def test_dict_and_tuple_inputs_are_placeholders_named_after_forward_arguments():
    for kind in ("dict_input", "tuple_input"):
        _, _, desc = captured(kind)
        nodes = by_name(desc)
        assert nodes["image"]["kind"] == "placeholder" and nodes["image"]["shape"] == [2, 6]
        assert nodes["meta"]["kind"] == "placeholder" and nodes["meta"]["shape"] == [2, 3]
        assert nodes["image/linear"]["inputs"] == ["image", "image/weight", "image/bias"]
        assert nodes["meta/linear"]["inputs"] == ["meta", "meta/weight", "meta/bias"]
        add = next(n for n in desc["nodes"] if n["op"] == "add")
        assert set(add["inputs"]) == {"image/linear", "meta/linear"}


def test_data_dependent_control_flow_falls_back_to_module_level():
    model, _, desc = captured("branchy")
    assert desc["capture"] == "modules"
    assert "torch.export could not take the model whole" in desc["note"]
    assert "per module" in desc["note"]
    nodes = by_name(desc)
    # one op node per leaf module call, named <scope>/<module type>
    assert [n["name"] for n in desc["nodes"] if n["kind"] == "op"] == [
        "encode/Linear",
        "norm/BatchNorm1d",
        "drop/Dropout",
        "pos/Linear",
    ]
    assert nodes["encode/Linear"]["inputs"] == ["x", "encode/weight", "encode/bias"]
    assert nodes["norm/BatchNorm1d"]["inputs"][0] == "encode/Linear"
    assert {"norm/weight", "norm/bias", "norm/running_mean", "norm/running_var"} <= set(
        nodes["norm/BatchNorm1d"]["inputs"]
    )
    # torch.relu between modules carries provenance: dropout reads the BatchNorm's output
    assert nodes["drop/Dropout"]["inputs"] == ["norm/BatchNorm1d"]
    assert nodes["pos/Linear"]["inputs"] == ["drop/Dropout", "pos/weight", "pos/bias"]
    assert nodes["pos/Linear"]["shape"] == [4, 3]
    for name in ("encode/weight", "norm/weight", "pos/weight", "pos/bias"):
        p = model.get_parameter(name.replace("/", "."))
        assert nodes[name]["kind"] == "variable" and nodes[name]["op"] == "Parameter"
        assert nodes[name]["shape"] == list(p.shape)
        assert nodes[name]["dtype"] == dtype_name(p)
    assert nodes["norm/running_mean"]["op"] == "Buffer"
    graphdesc.validate(desc)


# --------------------------------------------------------------------------- side effects
def snapshot(model):
    return (
        {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()},
        [m.training for m in model.modules()],
        [p.grad for p in model.parameters()],
        [p.requires_grad for p in model.parameters()],
        torch.get_rng_state(),
    )


def assert_same_state(before, after):
    state0, modes0, grads0, req0, rng0 = before
    state1, modes1, grads1, req1, rng1 = after
    assert list(state0) == list(state1)
    for key in state0:
        assert torch.equal(state0[key], state1[key]), f"{key} changed"
    assert modes0 == modes1
    assert all(a is b for a, b in zip(grads0, grads1, strict=True))
    assert req0 == req1
    assert torch.equal(rng0, rng1), "the RNG state moved"


@pytest.mark.parametrize("kind", sorted(tm.MODELS))
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_capture_leaves_the_model_state_unchanged(kind, training):
    model, example = tm.MODELS[kind]()
    model.train(training)
    if kind == "resnet":  # non-default statistics, so a reset would show
        with torch.no_grad():
            model.bn1.running_mean.fill_(0.25)
            model.bn1.num_batches_tracked.fill_(7)
    before = snapshot(model)
    describe_module(model, example)
    assert_same_state(before, snapshot(model))
    if kind == "resnet":
        assert int(model.bn1.num_batches_tracked) == 7


def test_fallback_capture_restores_batchnorm_statistics_and_rng():
    model, x = tm.make_branchy()
    model.train()
    before = snapshot(model)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    desc = describe_module(model, x)
    assert desc["capture"] == "modules"
    assert torch.equal(torch.rand(3), expected)  # dropout's draws were given back
    state = snapshot(model)
    assert int(model.norm.num_batches_tracked) == 0
    assert torch.equal(state[0]["norm.running_mean"], before[0]["norm.running_mean"])
    assert state[1] == before[1]


def test_module_hooks_are_removed_after_a_fallback_capture():
    model, x = tm.make_branchy()
    counts = [(len(m._forward_pre_hooks), len(m._forward_hooks)) for m in model.modules()]
    describe_module(model, x)
    assert [(len(m._forward_pre_hooks), len(m._forward_hooks)) for m in model.modules()] == counts


# --------------------------------------------------------------------------- through the writer
@pytest.mark.parametrize("kind", ["mlp", "tuple_input", "dict_input"])
def test_add_graph_stores_the_description(tmp_path, kind):
    model, example = tm.MODELS[kind]()
    expected = graphdesc.validate(describe_module(model, example))
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        writer.add_graph(model, example)
        assert writer.graph_logged
    graph = open_logdir(tmp_path).graph("r")
    assert graph is not None
    assert graph["capture"] == "torch.export"
    assert [n["name"] for n in graph["nodes"]] == [n["name"] for n in expected["nodes"]]
    assert graph["nodes"] == expected["nodes"]
    assert graph["trainable"] == expected["trainable"]


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        raise RuntimeError("boom: this model cannot run")


def test_a_model_that_fails_gives_a_capture_error_and_the_writer_keeps_logging(tmp_path):
    writer = SummaryWriter(logdir=tmp_path, run_name="r")
    with pytest.raises(CaptureError) as info:
        writer.add_graph(Broken(), torch.randn(2, 3))
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "Broken" in message and "boom: this model cannot run" in message
    assert "no graph was logged" in message
    assert not writer.graph_logged
    for step in range(3):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.close()
    provider = open_logdir(tmp_path)
    assert provider.graph("r") is None
    series = provider.scalars("r", "loss")
    assert list(series.step) == [0, 1, 2]
    assert list(series.value) == pytest.approx([1.0, 0.5, 1 / 3])


def test_wrong_input_shape_is_a_capture_error():
    model, _ = tm.make_mlp()
    with pytest.raises(CaptureError, match="MLP could not run on the example input"):
        describe_module(model, torch.randn(4, 99))


def test_add_graph_without_input_is_a_clear_value_error(tmp_path):
    model, _ = tm.make_mlp()
    with SummaryWriter(logdir=tmp_path, run_name="r") as writer:
        with pytest.raises(ValueError, match="needs input_to_model"):
            writer.add_graph(model)
        with pytest.raises(ValueError, match="needs input_to_model"):
            writer.add_graph(model, None)
        writer.add_scalar("after", 2.0, 0)
    provider = open_logdir(tmp_path)
    assert provider.graph("r") is None
    assert list(provider.scalars("r", "after").value) == [2.0]


# --------------------------------------------------------------------------- rendering
def svg_ids(path) -> set[str]:
    root = ET.parse(path).getroot()
    return {g.get("id") for g in root.iter(SVG + "g") if g.get("id")}


@pytest.fixture(scope="module")
def resnet_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("resnet")
    model, x = tm.make_resnet()
    with SummaryWriter(logdir=logdir, run_name="resnet") as writer:
        writer.add_graph(model, x)
    return logdir


def export_graph(logdir, out, *extra):
    if shutil.which("dot") is None:
        pytest.fail("Graphviz `dot` is not installed (apt-get install graphviz)")
    exe = shutil.which("flowlog", path=os.path.dirname(sys.executable))
    assert exe, "the flowlog console script is not installed in this environment"
    proc = subprocess.run(
        [exe, "export-graph", str(logdir), "--run", "resnet", "-o", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_cli_default_folding_draws_the_resnet_by_module_scopes(resnet_logdir, tmp_path):
    out = tmp_path / "resnet.svg"
    err = export_graph(resnet_logdir, out)  # the CLI's own default folding
    assert "wrote" in err
    ids = svg_ids(out)
    for layer in ("layer1", "layer2", "layer3", "layer4"):
        assert f"cluster:{layer}" in ids or f"scope:{layer}" in ids, layer
    drawn = [i for i in ids if i.startswith(("node:", "scope:"))]
    if "folded to depth" in err:  # big for the default: fewer things drawn than nodes
        assert len(drawn) < len(open_logdir(resnet_logdir).graph("resnet")["nodes"])
        assert any(i.startswith("scope:") for i in ids)
    text = out.read_text()
    assert ">layer1<" in text  # the scope's label is drawn


def test_cli_draws_every_resnet_op_inside_its_module_cluster(resnet_logdir, tmp_path):
    out = tmp_path / "full.svg"
    err = export_graph(resnet_logdir, out, "--max-nodes", "0")
    assert "folded" not in err
    ids = svg_ids(out)
    for scope in ("layer1", "layer1/0", "layer1/0/conv1", "layer2/0/downsample/0", "layer4/1"):
        assert f"cluster:{scope}" in ids
    graph = open_logdir(resnet_logdir).graph("resnet")
    assert {f"node:{n['name']}" for n in graph["nodes"]} <= ids
    assert not [i for i in ids if i.startswith("scope:")]


def test_cli_folds_the_resnet_to_module_scopes_when_it_is_too_big(resnet_logdir, tmp_path):
    out = tmp_path / "folded.svg"
    err = export_graph(resnet_logdir, out, "--max-nodes", "100")
    assert "folded to depth 2" in err
    ids = svg_ids(out)
    # the blocks stay open; the modules inside them are drawn as folded scope nodes
    assert "cluster:layer1/0" in ids
    assert "scope:layer1/0/conv1" in ids
    assert "scope:layer2/0/downsample" in ids
    assert "node:layer1/0/conv1/conv2d" not in ids
    assert "node:layer1/0/add_" in ids  # the residual add is the block's own op
    drawn = [i for i in ids if i.startswith(("node:", "scope:"))]
    assert len(drawn) <= 100


class SameName(nn.Module):
    """A root parameter named like the forward argument; ``branch`` adds data-dependent control
    flow, so the capture is per module."""

    def __init__(self, branch: bool):
        super().__init__()
        self.x = nn.Parameter(torch.full((3,), 2.0))
        self.fc = nn.Linear(3, 2)
        self.branch = branch

    def forward(self, x):
        h = self.fc(x * self.x)
        if self.branch and h.sum() > 1e9:
            return -h
        return h


@pytest.mark.parametrize("branch", [False, True], ids=["export", "modules"])
def test_a_parameter_named_like_an_input_keeps_its_own_node(branch):
    model = SameName(branch)
    desc = graphdesc.validate(describe_module(model, torch.ones(4, 3)))
    assert desc["capture"] == ("modules" if branch else "torch.export")
    nodes = by_name(desc)
    assert nodes["x"]["op"] == "Parameter" and nodes["x"]["shape"] == [3]
    assert nodes["x_1"]["kind"] == "placeholder" and nodes["x_1"]["shape"] == [4, 3]
    assert sorted(desc["trainable"]) == ["fc/bias", "fc/weight", "x"]
    first = next(n for n in desc["nodes"] if n["kind"] == "op")
    assert {"x", "x_1"} <= set(first["inputs"])  # x * self.x reads both
