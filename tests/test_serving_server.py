"""``flowlog serve`` on loopback: TensorFlow Serving's REST API answered by a real server
process, bad requests refused with clear 4xx answers, the server unaffected by them."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from serving_support import Served, export_linear, linear_answer

import flowlog as fl

W, B = [1.5, -2.0], 0.25


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    export_linear(root / "linreg", 1, W, B)
    _export_two_inputs(root / "pair" / "7")
    return root


def _export_two_inputs(path):
    """outputs {"sum": a + b, "count": int32 [n]} of inputs a [?, 2] float32, n [?] int32."""
    graph = fl.Graph()
    with graph.as_default():
        a = fl.placeholder(fl.float32, shape=(None, 2), name="a")
        b = fl.placeholder(fl.float32, shape=(None, 2), name="b")
        n = fl.placeholder(fl.int32, shape=(None,), name="n")
        total = fl.add(a, b, name="total")
        doubled = fl.add(n, n, name="doubled")
    fl.saved_model.save(
        fl.Session(graph), path, {"a": a, "b": b, "n": n}, {"sum": total, "count": doubled}
    )


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    config = tmp_path_factory.mktemp("config") / "models.config"
    config.write_text(
        "model_config_list {\n"
        f"  config {{ name: 'linreg' base_path: '{models / 'linreg'}' }}\n"
        f"  config {{ name: 'pair' base_path: '{models / 'pair'}' }}\n"
        "}\n"
    )
    served = Served("--model-config-file", str(config), "--max-request-bytes", "100000")
    yield served
    assert served.stop() == 0


@pytest.fixture
def client(server):
    c = server.client()
    yield c
    c.close()


def test_row_and_columnar_predictions_match_the_engine(client):
    rows = [[1.0, 2.0], [3.0, -4.0], [0.5, 0.125]]
    expected = linear_answer(rows, W, B)
    code, body = client.predict("linreg", {"instances": rows})
    assert code == 200
    assert np.array_equal(np.asarray(body["predictions"], np.float32), expected)
    code, body = client.predict("linreg", {"inputs": {"x": rows}}, version=1)
    assert code == 200 and np.array_equal(np.asarray(body["outputs"], np.float32), expected)


def test_named_inputs_and_several_outputs(client):
    rows = [{"a": [1.0, 2.0], "b": [0.5, 0.5], "n": 3}, {"a": [0, 0], "b": [1, 1], "n": -1}]
    code, body = client.predict("pair", {"instances": rows})
    assert code == 200
    assert body["predictions"] == [
        {"sum": [1.5, 2.5], "count": 6},
        {"sum": [1.0, 1.0], "count": -2},
    ]
    columns = {"inputs": {"a": [[1, 1]], "b": [[2, 2]], "n": [5, 6]}}
    code, body = client.predict("pair", columns)  # dimension 0 may differ in columnar form
    assert code == 200 and body["outputs"] == {"sum": [[3.0, 3.0]], "count": [10, 12]}


def test_status_and_metadata(client):
    code, body = client.status("linreg")
    assert code == 200
    assert body == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE",
             "status": {"error_code": "OK", "error_message": ""}}
        ]
    }  # fmt: skip
    code, meta = client.request("GET", "/v1/models/linreg/metadata")
    assert code == 200 and meta["model_spec"] == {
        "name": "linreg", "signature_name": "", "version": "1"
    }  # fmt: skip
    signature = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    x = signature["inputs"]["x"]
    assert x["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in x["tensor_shape"]["dim"]] == ["-1", "2"]
    assert client.request("GET", "/v1/models/pair/versions/7")[0] == 200


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"{not json", 400, "JSON Parse error"),
        (b"", 400, "The document is empty"),
        (b'{"rows": [[1, 2]]}', 400, "Missing 'inputs' or 'instances' key"),
        (b'{"instances": []}', 400, "No values in 'instances' array"),
        (b'{"instances": [[1, 2, 3]]}', 400, "'x'"),
        (b'{"instances": [[1, 2], [3]]}', 400, "Expecting tensor size: 2 but got: 1"),
        (b'{"inputs": [[1, 2], [3]]}', 400, "Encountered list at unexpected size"),
        (b'{"instances": [["a", "b"]]}', 400, "'x'"),
    ],
)
def test_bad_requests_get_a_clear_400(client, body, code, words):
    got, answer = client.request("POST", "/v1/models/linreg:predict", body)
    assert got == code and words in answer["error"], answer


def test_shape_errors_name_the_input_and_the_expected_shape(client):
    got, answer = client.predict("linreg", {"instances": [[1, 2, 3]]})
    assert got == 400 and "[?, 2]" in answer["error"] and "float32" in answer["error"]
    got, answer = client.predict("pair", {"inputs": {"a": [[1, 1]], "b": [[2, 2]]}})
    assert got == 400 and "'n'" in answer["error"]
    got, answer = client.predict("pair", {"inputs": {"a": [[1, 1]], "b": [[2, 2]], "n": [1.5]}})
    assert got == 400 and "int32" in answer["error"]


def test_unknown_models_versions_and_paths(client):
    got, answer = client.predict("nope", {"instances": [[1, 2]]})
    assert got == 404 and answer == {"error": "Servable not found for request: Latest(nope)"}
    got, answer = client.predict("linreg", {"instances": [[1, 2]]}, version=9)
    assert got == 404 and "Specific(linreg, 9)" in answer["error"]
    assert client.status("nope") == (404, {"error": "Could not find any versions of model nope"})
    assert client.request("GET", "/v2/models/linreg")[0] == 404
    got, answer = client.request("POST", "/v1/models/linreg/metadata", b"{}")
    assert got == 400 and answer["error"].startswith("Malformed request: POST")


def test_huge_payloads_and_gzip_bombs_are_refused_by_size(client):
    big = json.dumps({"instances": [[1.0, 2.0]] * 20000}).encode()
    got, answer = client.request("POST", "/v1/models/linreg:predict", big)
    assert got == 413 and "100000" in answer["error"]
    bomb = gzip.compress(b" " * 5_000_000)  # 5 KB that inflates to 5 MB
    got, answer = client.request(
        "POST", "/v1/models/linreg:predict", bomb, {"Content-Encoding": "gzip"}
    )
    assert got == 413 and "gzip" in answer["error"]
    small = gzip.compress(json.dumps({"instances": [[1.0, 1.0]]}).encode())
    got, answer = client.request(
        "POST", "/v1/models/linreg:predict", small, {"Content-Encoding": "gzip"}
    )
    assert got == 200 and answer["predictions"] == [[-0.25]]


def test_the_server_still_answers_after_every_bad_request(server, client):
    for body in (b"\xff\xfe", b"[1, 2]", b'{"instances": [[NaN, Infinity]]}', b"null"):
        client.request("POST", "/v1/models/linreg:predict", body)
    fresh = server.client()
    code, body = fresh.predict("linreg", {"instances": [[2.0, 1.0]]})
    fresh.close()
    assert code == 200 and body["predictions"] == [[1.25]]
    assert server.proc.poll() is None


def test_non_finite_values_travel_both_ways(client):
    code, raw = client.request(
        "POST", "/v1/models/linreg:predict", b'{"instances": [[NaN, 0], [Infinity, 0]]}'
    )
    assert code == 200
    values = [row[0] for row in raw["predictions"]]
    assert np.isnan(values[0]) and values[1] == float("inf")


def test_start_up_errors_are_one_clear_line(tmp_path, capsys):
    from flowlog.cli import main

    assert main(["serve"]) == 1
    assert "give --model-base-path" in capsys.readouterr().err
    config = tmp_path / "bad.config"
    config.write_text("model_config_list { config { name: 'm' base_path: 3 } }\n")
    assert main(["serve", "--model-config-file", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{config}:1:" in err and "base_path" in err
    broken = export_linear(tmp_path / "m", 1, W, B)
    (broken / "graph.json").write_text("{")
    assert main(["serve", "--model-base-path", str(tmp_path / "m"), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "1 model(s) did not become available" in err and "graph.json" in err


def test_a_port_in_use_is_named(server, tmp_path, capsys):
    from flowlog.cli import main

    export_linear(tmp_path / "m", 1, W, B)
    args = ["serve", "--model-base-path", str(tmp_path / "m"), "--port", str(server.port)]
    assert main(args) == 1
    assert f"cannot listen on 127.0.0.1:{server.port}" in capsys.readouterr().err
