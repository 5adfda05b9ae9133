"""flowlog.serving.rest: TF Serving's REST wire format (routes, Predict bodies, replies),
checked against the facts and messages of docs' reference (shared/reference/tf-serving-rest.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flowlog.serving.errors import ServingError
from flowlog.serving.rest import (
    PredictRequest,
    Route,
    _float_text,
    _float_tokens,
    error_body,
    format_metadata,
    format_predict,
    format_status,
    parse_predict,
    parse_route,
)


def spec(dtype="float32", shape=(None, 2), name="x"):
    return {"name": name, "dtype": dtype, "shape": None if shape is None else list(shape)}


def sig(**inputs):
    """A ``signature.json`` dict with the given input specs (one float output)."""
    return {
        "format": "flowlog.saved_model/1",
        "inputs": inputs or {"x": spec()},
        "outputs": {"y": spec(name="MatMul", shape=(None, 1))},
    }


def error(fn, *args) -> ServingError:
    with pytest.raises(ServingError) as info:
        fn(*args)
    return info.value


def bad(body, signature=None) -> str:
    """The 400 message ``body`` gets."""
    exc = error(
        parse_predict, body if isinstance(body, bytes) else body.encode(), signature or sig()
    )
    assert exc.http_status == 400 and not exc.plain
    return exc.message


# ====================================================================== routes
@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/v1/models/half", Route("status", "half")),
        ("GET", "/v1/models/half/versions/00123", Route("status", "half", 123)),
        ("GET", "/v1/models/half/labels/stable", Route("status", "half", label="stable")),
        ("GET", "/v1/models/half/metadata", Route("metadata", "half")),
        ("GET", "/v1/models/half/versions/7/metadata", Route("metadata", "half", 7)),
        (
            "GET",
            "/v1/models/half/labels/canary/metadata",
            Route("metadata", "half", None, "canary"),
        ),
        ("POST", "/v1/models/half:predict", Route("predict", "half")),
        ("POST", "/v1/models/half/versions/2:predict", Route("predict", "half", 2)),
        ("POST", "/v1/models/half/labels/stable:predict", Route("predict", "half", None, "stable")),
        # case-insensitive, the name kept as given
        ("GET", "/V1/Models/Half/VERSIONS/3/MetaData", Route("metadata", "Half", 3)),
        ("POST", "/V1/MODELS/Half:PREDICT", Route("predict", "Half")),
        # name and label are URL-decoded
        (
            "POST",
            "/v1/models/my%20model/labels/a%2Fb:predict",
            Route("predict", "my model", None, "a/b"),
        ),
    ],
)
def test_route_table(method, path, route):
    assert parse_route(method, path) == route


@pytest.mark.parametrize("verb", ["classify", "regress", "CLASSIFY"])
def test_classify_and_regress_are_501(verb):
    exc = error(parse_route, "POST", f"/v1/models/m/versions/1:{verb}")
    assert exc.http_status == 501
    assert exc.message == (
        "flowlog serve implements :predict only; :classify and :regress need tf.Example inputs"
    )


@pytest.mark.parametrize("path", ["/", "/v2/models/m", "/v1", "/models/m", "/healthz"])
def test_outside_v1_is_a_plain_404(path):
    exc = error(parse_route, "GET", path)
    assert (exc.http_status, exc.message, exc.plain) == (404, "Not Found", True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/models/foo/metadata"),  # wrong method
        ("GET", "/v1/models/foo:predict"),
        ("PUT", "/v1/models/foo"),
        ("GET", "/v1/models/foo/versions/x"),  # version must be digits
        ("GET", "/v1/models/foo/versions/-1"),
        ("GET", "/v1/models/foo/versions/1/labels/a"),  # version and label together
        ("POST", "/v1/models/foo/versions/1/labels/a:predict"),
        ("POST", "/v1/models/foo:explain"),
        ("GET", "/v1/models/foo/bar"),
        ("GET", "/V1/anything"),
    ],
)
def test_malformed_v1_paths_are_400_naming_method_and_path(method, path):
    exc = error(parse_route, method, path)
    assert (exc.http_status, exc.message) == (400, f"Malformed request: {method} {path}")


def test_model_name_is_required_and_versions_fit_int64():
    assert error(parse_route, "GET", "/v1/models").message == "Missing model name in request."
    big = "9" * 20
    exc = error(parse_route, "GET", f"/v1/models/m/versions/{big}")
    assert (exc.http_status, exc.message) == (400, f"Failed to convert version: {big} to numeric.")


# ====================================================================== predict: requests
def test_reference_row_example_becomes_a_float32_batch():
    req = parse_predict(b'{"instances": [[1.0,2.0],[3.0,4.0]]}', sig())
    assert isinstance(req, PredictRequest)
    assert (req.row_format, req.signature_name) == (True, "serving_default")
    x = req.feeds["x"]
    assert x.dtype == np.float32 and x.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_reference_columnar_example_is_the_tensor_itself():
    req = parse_predict(b'{"inputs": [3.0,4.0]}', sig(x=spec(shape=(None,))))
    assert req.row_format is False
    assert req.feeds["x"].tolist() == [3.0, 4.0] and req.feeds["x"].dtype == np.float32
    # ... or the one input by name
    req = parse_predict(b'{"inputs": {"x": [3.0,4.0]}}', sig(x=spec(shape=(None,))))
    assert req.feeds["x"].tolist() == [3.0, 4.0]


def test_float32_rounding_and_integers_accepted_for_floats():
    req = parse_predict(b'{"inputs": [1435774380, 0.1]}', sig(x=spec(shape=(2,))))
    assert req.feeds["x"].tolist() == [1435774336.0, float(np.float32(0.1))]


def test_named_rows_batch_each_input():
    signature = sig(a=spec(shape=(None, 2)), b=spec("int32", shape=(None,)))
    body = (
        b'{"signature_name": "serving_default",'
        b' "instances": [{"a": [1, 2], "b": 7}, {"b": 8, "a": [3, 4.5]}]}'
    )
    req = parse_predict(body, signature)
    assert req.feeds["a"].tolist() == [[1.0, 2.0], [3.0, 4.5]]
    assert req.feeds["b"].dtype == np.int32 and req.feeds["b"].tolist() == [7, 8]


def test_columnar_inputs_may_differ_in_dim0():
    signature = sig(a=spec(shape=(None, 2)), b=spec("bool", shape=(None,)))
    req = parse_predict(b'{"inputs": {"a": [[1, 2]], "b": [true, false, true]}}', signature)
    assert req.feeds["a"].shape == (1, 2)
    assert req.feeds["b"].dtype == np.bool_ and req.feeds["b"].tolist() == [True, False, True]


def test_unknown_rank_takes_any_shape_and_scalars():
    signature = sig(x=spec("float64", shape=None))
    assert parse_predict(b'{"inputs": 2.5}', signature).feeds["x"].shape == ()
    deep = parse_predict(b'{"instances": [[[1]], [[2]]]}', signature).feeds["x"]
    assert deep.shape == (2, 1, 1) and deep.dtype == np.float64


def test_nan_and_infinities_are_read():
    x = parse_predict(b'{"instances": [[NaN, Infinity], [-Infinity, 1]]}', sig()).feeds["x"]
    assert np.isnan(x[0, 0]) and x[0, 1] == np.inf and x[1, 0] == -np.inf


def test_json_parse_errors():
    assert bad(b"") == "JSON Parse error: The document is empty"
    assert bad(b"{") == "JSON Parse error: Missing a name for object member. at offset: 1"
    assert bad(b"nope") == "JSON Parse error: Invalid value. at offset: 0"
    assert bad(b'{"a": 1 "b": 2}') == (
        "JSON Parse error: Missing a comma or '}' after an object member. at offset: 8"
    )
    assert bad(b"[1 2]").startswith("JSON Parse error: Missing a comma or ']'")
    assert bad(b"{} {}").startswith("JSON Parse error: The document root must not be followed")
    assert bad(b"\xff\xfe{").startswith("JSON Parse error:")
    assert bad(b"[1]") == "JSON Value: [1] Is not object"


def test_signature_name_and_keys():
    assert bad(b'{"signature_name": "s", "instances": [1]}') == (
        'Serving signature name: "s" not found in signature def'
    )
    assert "'signature_name' key must be a string value" in bad(b'{"signature_name": 1}')
    assert bad(b'{"instance": [[1, 2]]}') == "Missing 'inputs' or 'instances' key"
    both = bad(b'{"instances": [[1, 2]], "inputs": [[1, 2]]}')
    assert "only one of 'inputs' or 'instances'" in both
    assert bad(b'{"instances": []}') == "No values in 'instances' array"
    assert "'instances' to be an list/array" in bad(b'{"instances": {"x": 1}}')


def test_row_object_keys_must_equal_the_input_names():
    signature = sig(a=spec(shape=(None,)), b=spec(shape=(None,)))
    message = bad('{"instances": [{"a": 1, "b": 2}, {"a": 1}]}', signature)
    assert message.startswith("Failed to process element: 1 of 'instances' list. JSON object:")
    assert message.endswith(" keys must be equal to: a,b")
    assert "does not have named input: c" in bad(
        '{"instances": [{"a": 1, "b": 2, "c": 3}]}', signature
    )
    assert bad('{"instances": [1, 2]}', signature).startswith("instances is a plain list, but")
    assert bad('{"instances": [{"a": 1, "b": 2}, [1]]}', signature) == (
        "Expecting object but got list at item 1 of input list"
    )
    single = sig(x=spec(shape=(None,)))
    assert bad('{"instances": [1, {"x": 2}]}', single) == (
        "Expecting value/list but got object at item 1 of input list"
    )


def test_columnar_missing_inputs_name_them_with_expected_shapes():
    signature = sig(a=spec(shape=(None, 3)), b=spec("int32", shape=(None,)), c=spec(shape=None))
    message = bad('{"inputs": {"a": [[1, 2, 3]]}}', signature)
    assert message.startswith("Missing named inputs: b, c in 'inputs' object.")
    assert (
        "input 'b' expects int32 [?]" in message and "input 'a' expects float32 [?, 3]" in message
    )
    assert "<unknown rank>" in message
    assert bad('{"inputs": [1]}', signature).startswith("inputs is a plain value/list, but")


def test_ragged_lists():
    message = bad(b'{"inputs": [[1, 2], [3]]}')
    assert message.startswith("Encountered list at unexpected size: 1 at level: 1 expected size: 2")
    assert "input 'x' expects float32 [?, 2]" in message
    rows = bad(b'{"instances": [[1, [2, 3]]]}')
    assert "Failed to process element: 0 of 'instances' list. Error: Encountered list" in rows
    assert "Expecting tensor size: 2 but got: 3" in bad(b'{"instances": [[1, 2], [1, 2, 3]]}')
    unknown = sig(x=spec(shape=None))
    assert "Expecting shape [2,1] but got: [1,2]" in bad(
        b'{"instances": [[[1],[2]], [[1,2]]]}', unknown
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [("1.0", "1.0"), ("2.5", "2.5"), ("true", "true"), ("3000000000", "3000000000")],
)
def test_int_inputs_take_integers_only(value, shown):
    signature = sig(x=spec("int32", shape=(None,)))
    message = bad(f'{{"inputs": [1, {value}]}}', signature)
    kind = "True" if value == "true" else "Number"
    assert message == (
        f"JSON Value: {shown} Type: {kind} is not of expected type: int32"
        " (input 'x' expects int32 [?])"
    )
    assert parse_predict(b'{"inputs": [1, -2]}', signature).feeds["x"].dtype == np.int32


def test_bool_inputs_take_true_false_only():
    signature = sig(x=spec("bool", shape=(None,)))
    assert "JSON Value: 1 Type: Number is not of expected type: bool" in bad(
        '{"inputs": [true, 1]}', signature
    )
    assert "JSON Value: 0 Type: Number" in bad('{"inputs": [0]}', signature)


def test_bool_mixed_into_floats_is_caught():
    # numpy would read [1.0, true] as [1.0, 1.0]
    assert "JSON Value: true Type: True is not of expected type: float" in bad(
        b'{"inputs": [[1.0, true]]}'
    )


def test_strings_and_b64_name_the_input_and_dtype():
    message = bad(b'{"inputs": [["a", "b"]]}')
    assert 'JSON Value: "a" Type: String is not of expected type: float' in message
    assert "input 'x' expects float32" in message
    b64 = bad(b'{"instances": [{"b64": "aGk="}]}', sig(x=spec("int64", shape=(None,))))
    assert "Type: Object is not of expected type: int64" in b64 and "input 'x' expects int64" in b64
    assert "Type: Null" in bad(b'{"inputs": [[1, null]]}')


def test_float32_overflow_is_lossy():
    message = bad(b'{"inputs": [[1e39, 1]]}')
    assert message.startswith(
        "Cannot convert JSON value: 1e+39 to float without loss of precision."
    )
    huge = "1" + "0" * 400  # an integer past float64
    assert "to double without loss of precision." in bad(
        f'{{"inputs": [[{huge}, 1]]}}', sig(x=spec("float64"))
    )
    # float64 holds 1e39; non-finite values are not an overflow
    assert (
        parse_predict(b'{"inputs": [[1e39, Infinity]]}', sig(x=spec("float64"))).feeds["x"][0, 0]
        == 1e39
    )


def test_shape_mismatch_names_input_dtype_and_shapes():
    assert bad(b'{"instances": [[1, 2, 3, 4], [5, 6, 7, 8]]}', sig(x=spec(shape=(None, 3)))) == (
        "input 'x' expects float32 [?, 3], got shape [2, 4]"
    )
    assert bad(b'{"inputs": 1}') == "input 'x' expects float32 [?, 2], got shape []"


# ====================================================================== predict: replies
def test_reference_replies():
    y = np.array([[2.5, 3.0], [3.5, 4.0]], dtype=np.float32)
    assert format_predict({"y": y}, True) == b'{"predictions":[[2.5,3.0],[3.5,4.0]]}'
    col = np.array([3.5, 4.0], dtype=np.float32)
    assert format_predict({"y": col}, False) == b'{"outputs":[3.5,4.0]}'


@pytest.mark.parametrize(
    ("value", "dtype", "text"),
    [
        (0.1, np.float32, "0.1"),
        (0.1, np.float64, "0.1"),
        (1.0, np.float32, "1.0"),
        (-0.0, np.float32, "-0.0"),
        (9e6, np.float32, "9e+06"),
        (3e-05, np.float64, "3e-05"),
        (999999.0, np.float32, "999999.0"),
        (1234567.0, np.float32, "1234567.0"),
        (0.7341234, np.float32, "0.734123409"),
        (0.7341234, np.float64, "0.73412339999999998"),
        (1 / 3, np.float64, "0.33333333333333331"),
        (16777217.0, np.float64, "16777217.0"),
        (np.nan, np.float32, "NaN"),
        (np.inf, np.float64, "Infinity"),
        (-np.inf, np.float32, "-Infinity"),
        (0.1, np.float16, "0.0999755859"),
    ],
)
def test_float_encoding_matches_tf(value, dtype, text):
    out = format_predict({"y": np.array([value], dtype=dtype)}, False)
    assert out == b'{"outputs":[' + text.encode() + b"]}"


def test_vectorised_floats_equal_the_scalar_rule():
    """Past a few values the encoder works on whole arrays; it must agree value by value."""
    rng = np.random.default_rng(7)
    mixed = np.concatenate(
        [
            rng.standard_normal(300),
            np.round(rng.standard_normal(300) * 1e3, 1),
            rng.integers(-(2**31), 2**31, 300).astype(float),
            10.0 ** rng.integers(-30, 30, 300) * rng.standard_normal(300),
            [np.nan, np.inf, -np.inf, 0.0, -0.0, 9e6, 1e6, 999999.0, 1e9, 1e17, 1e16],
        ]
    )
    for dtype in (np.float32, np.float64):
        arr = mixed.astype(dtype)
        single = dtype == np.float32
        assert _float_tokens(arr) == [_float_text(x, single) for x in arr.tolist()]
    whole = np.arange(-50, 50, dtype=np.float32)  # mostly the %g branch
    assert _float_tokens(whole) == [f"{int(x)}.0" for x in whole.tolist()]


def test_nan_and_infinity_out_in_a_large_tensor():
    arr = np.full((4, 10), 0.5, dtype=np.float32)
    arr[1, 2], arr[2, 3], arr[3, 4] = np.nan, np.inf, -np.inf
    out = format_predict({"y": arr}, True)
    assert b"NaN" in out and b",Infinity," in out and b"-Infinity" in out
    back = json.loads(out)["predictions"]
    assert np.isnan(back[1][2]) and back[2][3] == np.inf and back[0] == [0.5] * 10


def test_int_and_bool_outputs():
    outputs = {
        "ids": np.array([[1, -2], [3, 2**40]], dtype=np.int64),
        "ok": np.array([True, False]),
    }
    assert format_predict(outputs, True) == (
        b'{"predictions":[{"ids":[1,-2],"ok":true},{"ids":[3,1099511627776],"ok":false}]}'
    )
    assert format_predict(outputs, False) == (
        b'{"outputs":{"ids":[[1,-2],[3,1099511627776]],"ok":[true,false]}}'
    )
    assert format_predict({"u": np.array([255], dtype=np.uint8)}, False) == b'{"outputs":[255]}'


def test_row_outputs_share_dim0():
    outputs = {"a": np.zeros((2, 1), np.float32), "y": np.zeros((3,), np.float32)}
    exc = error(format_predict, outputs, True)
    assert (exc.http_status, exc.message) == (
        400,
        "Tensor name: y has inconsistent batch size: 3 expecting: 2",
    )
    # columnar replies do not batch
    assert json.loads(format_predict(outputs, False))["outputs"]["y"] == [0.0, 0.0, 0.0]
    scalar = error(format_predict, {"y": np.float32(1.0)}, True)
    assert "Tensor name: y has no shape information" in scalar.message


def test_scalar_and_empty_outputs():
    assert format_predict({"y": np.float64(2.0)}, False) == b'{"outputs":2.0}'
    assert format_predict({"y": np.zeros((0, 3), np.float32)}, True) == b'{"predictions":[]}'
    many = format_predict({"a": np.zeros((0, 2)), "b": np.zeros(0, bool)}, True)
    assert many == b'{"predictions":[]}'


def test_multi_output_rows_keep_each_rows_values():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((50, 2, 3)).astype(np.float32)
    b = np.arange(50, dtype=np.int32)
    rows = json.loads(format_predict({"a": a, "b": b}, True))["predictions"]
    assert len(rows) == 50 and [r["b"] for r in rows] == b.tolist()
    assert np.array_equal(np.array([r["a"] for r in rows], dtype=np.float32), a)


# ====================================================================== status, metadata, errors
def test_status_matches_the_reference_shape_newest_first():
    body = format_status([(1, "END", "UNKNOWN", "failed"), (123, "AVAILABLE", "OK", "")])
    assert json.loads(body) == {
        "model_version_status": [
            {
                "version": "123",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            },
            {
                "version": "1",
                "state": "END",
                "status": {"error_code": "UNKNOWN", "error_message": "failed"},
            },
        ]
    }


def test_metadata_matches_the_reference_form():
    signature = {
        "format": "flowlog.saved_model/1",
        "inputs": {"x": {"name": "x", "dtype": "float32", "shape": [None, 1]}},
        "outputs": {
            "y": {"name": "MatMul", "dtype": "float64", "shape": [None, 1]},
            "ids": {"name": "ArgMax", "dtype": "int64", "shape": None},
            "ok": {"name": "Less", "dtype": "bool", "shape": []},
        },
    }
    meta = json.loads(format_metadata("m", 123, signature))
    assert meta["model_spec"] == {"name": "m", "signature_name": "", "version": "123"}
    sd = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sd["method_name"] == "tensorflow/serving/predict" and sd["defaults"] == {}
    assert sd["inputs"]["x"] == {
        "dtype": "DT_FLOAT",
        "name": "x:0",
        "tensor_shape": {
            "dim": [{"size": "-1", "name": ""}, {"size": "1", "name": ""}],
            "unknown_rank": False,
        },
    }
    assert sd["outputs"]["y"]["dtype"] == "DT_DOUBLE" and sd["outputs"]["y"]["name"] == "MatMul:0"
    assert sd["outputs"]["ids"] == {
        "dtype": "DT_INT64",
        "name": "ArgMax:0",
        "tensor_shape": {"unknown_rank": True},
    }
    assert sd["outputs"]["ok"]["tensor_shape"] == {"dim": [], "unknown_rank": False}
    assert sd["outputs"]["ok"]["dtype"] == "DT_BOOL"


@pytest.mark.parametrize(
    ("dtype", "tf"),
    [("float16", "DT_HALF"), ("int8", "DT_INT8"), ("int16", "DT_INT16"),
     ("int32", "DT_INT32"), ("uint8", "DT_UINT8"), ("uint16", "DT_UINT16"),
     ("uint32", "DT_UINT32"), ("uint64", "DT_UINT64")],
)  # fmt: skip
def test_metadata_dtype_names(dtype, tf):
    signature = {"inputs": {"x": spec(dtype)}, "outputs": {}}
    meta = json.loads(format_metadata("m", 1, signature))
    assert (
        meta["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]["x"][
            "dtype"
        ]
        == tf
    )


def test_error_body():
    assert error_body("Servable not found for request: Latest(half)") == (
        b'{"error":"Servable not found for request: Latest(half)"}'
    )
    assert json.loads(error_body('a "quoted"\nline')) == {"error": 'a "quoted"\nline'}
