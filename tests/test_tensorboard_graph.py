"""TensorBoard GraphDef bytes → contract-1 description: graphs written by the real
torch.utils.tensorboard and tensorboardX writers and read back from their event files, a
hand-built TensorFlow-style GraphDef, hostile names and garbage bytes; rendering with the real
``dot``."""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("tensorboard", reason="reading TensorBoard graphs needs tensorboard")
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402
from tensorboard.compat.proto import (  # noqa: E402
    attr_value_pb2,
    graph_pb2,
    node_def_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
)

from flowlog import graphdesc  # noqa: E402
from flowlog.render import render  # noqa: E402
from flowlog.render_desc import parse  # noqa: E402
from flowlog.tensorboard_graph import graph_description  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def by_name(desc) -> dict[str, dict]:
    return {n["name"]: n for n in desc["nodes"]}


def svg_of(desc) -> tuple[str, set[str]]:
    if shutil.which("dot") is None:
        pytest.fail("Graphviz `dot` is not installed (apt-get install graphviz)")
    svg = render(desc, "svg").decode("utf-8")
    root = ET.fromstring(svg)
    return svg, {g.get("id") for g in root.iter(SVG + "g") if g.get("id")}


# --------------------------------------------------------------------------- torch writers
def _graph_def_from_writer(writer_cls, logdir) -> bytes:
    """Log a Linear → ReLU → Linear module with ``writer_cls.add_graph`` and read the
    ``graph_def`` bytes back from the event file it wrote."""
    torch = pytest.importorskip("torch", reason="logging a torch graph needs PyTorch")
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(3, 4)
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc2(self.relu(self.fc1(x)))

    writer = writer_cls(str(logdir))
    writer.add_graph(Net(), torch.zeros(2, 3))
    writer.close()
    files = sorted(logdir.glob("events.out.tfevents.*"))
    assert files, f"no event file in {logdir}"
    graphs = [
        ev.graph_def
        for path in files
        for ev in EventFileLoader(str(path)).Load()
        if ev.HasField("graph_def")
    ]
    assert len(graphs) == 1
    return graphs[0]


def _writer(which: str):
    if which == "torch":
        pytest.importorskip("torch", reason="torch.utils.tensorboard needs PyTorch")
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter
    tbx = pytest.importorskip("tensorboardX", reason="tensorboardX is not installed")
    return tbx.SummaryWriter


@pytest.fixture(scope="module", params=["torch", "tensorboardX"])
def torch_desc(request, tmp_path_factory):
    writer_cls = _writer(request.param)
    graph_def = _graph_def_from_writer(writer_cls, tmp_path_factory.mktemp(request.param))
    return graph_description(graph_def)


def _only(desc, pred) -> dict:
    found = [n for n in desc["nodes"] if pred(n)]
    assert len(found) == 1, [n["name"] for n in found]
    return found[0]


def test_torch_graph_validates_with_module_scopes(torch_desc):
    assert graphdesc.validate(torch_desc) == torch_desc
    json.dumps(torch_desc, allow_nan=False)  # strict JSON
    for node in torch_desc["nodes"]:
        assert node["scope"] == node["name"].rpartition("/")[0]
    scopes = {n["scope"] for n in torch_desc["nodes"]}
    for layer in ("Linear[fc1]", "ReLU[relu]", "Linear[fc2]"):
        assert f"Net/{layer}" in scopes, scopes


def test_torch_graph_kinds_and_shapes(torch_desc):
    x = _only(torch_desc, lambda n: n["scope"] == "input")
    assert x["kind"] == "placeholder" and x["op"] == "IO Node" and x["shape"] == [2, 3]
    out = _only(torch_desc, lambda n: n["scope"] == "output")
    assert out["kind"] == "op" and out["shape"] == [2, 2]
    variables = [n for n in torch_desc["nodes"] if n["kind"] == "variable"]
    assert sorted(n["scope"] for n in variables) == [
        "Net/Linear[fc1]/bias", "Net/Linear[fc1]/weight",
        "Net/Linear[fc2]/bias", "Net/Linear[fc2]/weight",
    ]  # fmt: skip
    assert all(n["op"] == "prim::GetAttr" and n["inputs"] == [] for n in variables)
    assert {n["attrs"]["attr"] for n in variables} == {"{ name :  weight }", "{ name :  bias }"}
    fc1 = _only(torch_desc, lambda n: n["scope"] == "Net/Linear[fc1]")
    assert fc1["op"] == "aten::linear" and fc1["shape"] == [2, 4] and fc1["attrs"] == {}


def test_torch_graph_edges_follow_the_data_flow(torch_desc):
    fc1 = _only(torch_desc, lambda n: n["scope"] == "Net/Linear[fc1]")
    relu = _only(torch_desc, lambda n: n["scope"] == "Net/ReLU[relu]")
    fc2 = _only(torch_desc, lambda n: n["scope"] == "Net/Linear[fc2]")
    out = _only(torch_desc, lambda n: n["scope"] == "output")
    nodes = by_name(torch_desc)
    assert fc1["inputs"][0] == "input/x"
    assert {nodes[i]["scope"] for i in fc1["inputs"][1:]} == {
        "Net/Linear[fc1]/weight",
        "Net/Linear[fc1]/bias",
    }
    assert relu["inputs"] == [fc1["name"]]
    assert fc2["inputs"][0] == relu["name"]
    assert out["inputs"] == [fc2["name"]]


def test_torch_graph_renders_with_its_scopes(torch_desc):
    svg, ids = svg_of(torch_desc)
    for scope in ("Net", "Net/Linear[fc1]", "Net/ReLU[relu]", "Net/Linear[fc2]"):
        assert f"cluster:{scope}" in ids, sorted(ids)
    assert ">Net/Linear[fc1]<" in svg and ">Net/ReLU[relu]<" in svg  # cluster labels
    assert {"node:input/x", "node:Net/Linear[fc1]/weight/weight.1"} <= ids


# --------------------------------------------------------------------------- TF-style GraphDef
def _shape(*dims):
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims]
    )


def _node(name, op, inputs=(), **attrs) -> node_def_pb2.NodeDef:
    nd = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        nd.attr[key].CopyFrom(value)
    return nd


def _type(t):
    return attr_value_pb2.AttrValue(type=t)


def _out_shapes(*shapes):
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(shape=list(shapes)))


def _tf_graph() -> bytes:
    f32 = types_pb2.DT_FLOAT
    axes = tensor_pb2.TensorProto(dtype=types_pb2.DT_INT32, tensor_shape=_shape(2), int_val=[0, 1])
    nodes = [
        _node("x", "Placeholder", dtype=_type(f32),
              shape=attr_value_pb2.AttrValue(shape=_shape(-1, 3))),
        _node("dense/kernel", "VariableV2", dtype=_type(f32),
              shape=attr_value_pb2.AttrValue(shape=_shape(3, 2))),
        _node("dense/MatMul", "MatMul", ["x", "dense/kernel"], T=_type(f32),
              transpose_a=attr_value_pb2.AttrValue(b=False),
              _output_shapes=_out_shapes(_shape(-1, 2))),
        _node("dense/bias", "VariableV2", dtype=_type(types_pb2.DT_FLOAT_REF),
              shape=attr_value_pb2.AttrValue(shape=_shape(2))),
        _node("dense/BiasAdd", "BiasAdd", ["dense/MatMul:0", "dense/bias"], T=_type(f32),
              data_format=attr_value_pb2.AttrValue(s=b"NHWC")),
        _node("loss/Const", "Const", dtype=_type(types_pb2.DT_INT32),
              value=attr_value_pb2.AttrValue(tensor=axes)),
        _node("loss/Mean", "Mean", ["dense/BiasAdd:0", "loss/Const", "^dense/BiasAdd", "^x",
                                    "missing/node", "^also_missing"],
              T=_type(f32), Tidx=_type(types_pb2.DT_INT32),
              keep_dims=attr_value_pb2.AttrValue(b=False),
              _output_shapes=_out_shapes(attr_value_pb2.AttrValue().shape)),
        _node("handle", "VarHandleOp", dtype=_type(types_pb2.DT_RESOURCE),
              note=attr_value_pb2.AttrValue(s=b"y" * 500)),
    ]  # fmt: skip
    nodes[-2].attr["_output_shapes"].list.shape[0].unknown_rank = True
    return graph_pb2.GraphDef(node=nodes).SerializeToString()


def test_tf_graph_kinds_scopes_shapes_and_dtypes():
    desc = graph_description(_tf_graph())
    assert graphdesc.validate(desc) == desc
    nodes = by_name(desc)
    assert list(nodes) == ["x", "dense/kernel", "dense/MatMul", "dense/bias", "dense/BiasAdd",
                           "loss/Const", "loss/Mean", "handle"]  # fmt: skip
    kinds = {n: d["kind"] for n, d in nodes.items()}
    assert kinds == {"x": "placeholder", "dense/kernel": "variable", "dense/MatMul": "op",
                     "dense/bias": "variable", "dense/BiasAdd": "op", "loss/Const": "constant",
                     "loss/Mean": "op", "handle": "variable"}  # fmt: skip
    assert [nodes[n]["scope"] for n in nodes] == ["", "dense", "dense", "dense", "dense",
                                                  "loss", "loss", ""]  # fmt: skip
    assert nodes["x"]["shape"] == [None, 3] and nodes["x"]["dtype"] == "float32"
    assert nodes["dense/kernel"]["shape"] == [3, 2]
    assert nodes["dense/MatMul"]["shape"] == [None, 2]
    assert nodes["dense/MatMul"]["dtype"] == "float32"
    assert nodes["dense/bias"]["dtype"] == "float32"  # DT_FLOAT_REF is read as float32
    assert nodes["dense/BiasAdd"]["shape"] is None  # no shape written
    assert nodes["loss/Mean"]["shape"] is None  # unknown rank
    assert nodes["handle"]["dtype"] is None and nodes["handle"]["attrs"]["dtype"] == "resource"


def test_tf_graph_inputs_indices_and_control_inputs():
    nodes = by_name(graph_description(_tf_graph()))
    assert nodes["dense/MatMul"]["inputs"] == ["x", "dense/kernel"]
    assert nodes["dense/BiasAdd"]["inputs"] == ["dense/MatMul", "dense/bias"]
    mean = nodes["loss/Mean"]
    # ``:0`` stripped, nodes not in the graph dropped; control inputs are no data edges
    assert mean["inputs"] == ["dense/BiasAdd", "loss/Const"]
    assert mean["attrs"]["control_inputs"] == ["dense/BiasAdd", "x"]


def test_tf_graph_attrs_are_small_json_values():
    nodes = by_name(graph_description(_tf_graph()))
    assert nodes["dense/MatMul"]["attrs"] == {"transpose_a": False}
    assert nodes["dense/BiasAdd"]["attrs"] == {"data_format": "NHWC"}
    assert nodes["loss/Const"]["attrs"] == {"value": [0, 1]}
    assert nodes["loss/Const"]["dtype"] == "int32"
    mean = nodes["loss/Mean"]["attrs"]
    assert mean["keep_dims"] is False and mean["Tidx"] == "int32"
    note = nodes["handle"]["attrs"]["note"]
    assert note.startswith("yyy") and len(note) <= 80


def test_tf_graph_renders():
    svg, ids = svg_of(graph_description(_tf_graph()))
    assert {"cluster:dense", "cluster:loss", "node:dense/MatMul", "node:x"} <= ids


# --------------------------------------------------------------------------- hostile input
def test_unusual_names_stay_valid_and_render():
    odd = ['a "quoted" <b>/x & y', "spaced name/é ü 名前", "a//b/", "/lead", "", "dup", "dup",
           "back\\slash/n:1", "loop/a", "loop/b"]  # fmt: skip
    nodes = [_node(n, "Op") for n in odd]
    nodes[1].input.append('a "quoted" <b>/x & y')
    nodes[6].input.extend(["dup", "spaced name/é ü 名前:0"])
    nodes[8].input.append("loop/b")  # a while-loop-like cycle is kept
    nodes[9].input.append("loop/a")
    nodes[4].op = ""
    nodes[0].attr["alpha"].f = float("nan")
    nodes[0].attr["_class"].list.s.extend([b"loc:@x", b"\xff not utf-8"])
    desc = graph_description(graph_pb2.GraphDef(node=nodes).SerializeToString())
    names = [n["name"] for n in desc["nodes"]]
    assert names == ['a "quoted" <b>/x & y', "spaced name/é ü 名前", "a/b", "lead", "node_4",
                     "dup", "dup_1", "back\\slash/n:1", "loop/a", "loop/b"]  # fmt: skip
    assert desc["nodes"][4]["op"] == "Unknown"
    assert desc["nodes"][0]["attrs"] == {"_class": ["loc:@x", "\ufffd not utf-8"], "alpha": "NaN"}
    json.dumps(desc, allow_nan=False)
    assert desc["nodes"][1]["inputs"] == ['a "quoted" <b>/x & y']
    assert desc["nodes"][6]["inputs"] == ["dup", "spaced name/é ü 名前"]
    assert desc["nodes"][8]["inputs"] == ["loop/b"] and desc["nodes"][9]["inputs"] == ["loop/a"]
    parse(desc)  # the renderer's own reading
    _, ids = svg_of(desc)
    assert "node:spaced name/é ü 名前" in ids and 'node:a "quoted" <b>/x & y' in ids


@pytest.mark.parametrize(
    "data, why",
    [
        (b"", "empty"),
        (b"\xff\xff\xff\xff", "corrupt"),
        (b"hello world", "corrupt"),
        (b"\x78\x01", "no node"),
        (b"\x0a\x03\x0a\x01\xff", "parsing"),  # a node whose name is not UTF-8
    ],
)
def test_garbage_bytes_raise_value_error(data, why):
    with pytest.raises(ValueError, match="not a TensorBoard GraphDef") as info:
        graph_description(data)
    assert why in str(info.value)


def test_without_tensorboard_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto", None)
    with pytest.raises(ImportError, match=r"pip install 'flowlog\[tensorboard\]'"):
        graph_description(_tf_graph())


def test_non_bytes_raise_type_error():
    with pytest.raises(TypeError, match="bytes"):
        graph_description("a string")  # type: ignore[arg-type]
