"""Conv2D, MaxPool and dropout ops: forward values against plain loops (and PyTorch when
installed), gradients against central finite differences in float64, dropout's mask rules,
description round trips, bad-input errors, and a tiny conv net that learns."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import numeric_grads

import flowlog as fl
from flowlog.ops import make


# ====================================================================== references
def same_pads(size, k, s):
    """TensorFlow's SAME: output ceil(size / s), the odd padding row at the bottom/right."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def padded(x, k, s, padding, value=0.0):
    if padding == "VALID":
        return x
    (t, b), (l, r) = same_pads(x.shape[1], k[0], s[0]), same_pads(x.shape[2], k[1], s[1])
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def ref_conv(x, w, s, padding):
    """The definition, one output element at a time."""
    kh, kw, _, f = w.shape
    xp = padded(x, (kh, kw), s, padding)
    oh, ow = (xp.shape[1] - kh) // s[0] + 1, (xp.shape[2] - kw) // s[1] + 1
    y = np.zeros((x.shape[0], oh, ow, f))
    for n, i, j, o in np.ndindex(y.shape):
        patch = xp[n, i * s[0] : i * s[0] + kh, j * s[1] : j * s[1] + kw, :]
        y[n, i, j, o] = np.sum(patch * w[:, :, :, o])
    return y


def ref_max_pool(x, k, s, padding):
    xp = padded(x, k, s, padding, -np.inf)
    oh, ow = (xp.shape[1] - k[0]) // s[0] + 1, (xp.shape[2] - k[1]) // s[1] + 1
    y = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for n, i, j, c in np.ndindex(y.shape):
        y[n, i, j, c] = xp[n, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1], c].max()
    return y


def run(build, *values, dtype=np.float64):
    g = fl.Graph()
    with g.as_default():
        phs = [fl.placeholder(dtype, v.shape, name=f"in{i}") for i, v in enumerate(values)]
        out = build(*phs)
    feed = {p: np.asarray(v, dtype) for p, v in zip(phs, values, strict=True)}
    return fl.Session(graph=g).run(out, feed)


def check_grad(build, inputs, dynamic=False, rtol=1e-5, atol=1e-6):
    """fl.gradients of sum(build(*inputs) * R) against central differences, every input."""
    inputs = [np.asarray(a, np.float64) for a in inputs]
    shapes = [(None,) * a.ndim if dynamic else a.shape for a in inputs]
    analytic, numeric, _ = numeric_grads(build, inputs, shapes)
    for i, a in enumerate(inputs):
        assert analytic[i] is not None and np.shape(analytic[i]) == a.shape
        np.testing.assert_allclose(analytic[i], numeric[i], rtol=rtol, atol=atol, err_msg=str(i))


rng = np.random.default_rng(0)
CASES = [  # x shape, filter shape, strides, padding
    ((2, 7, 7, 3), (3, 3, 3, 4), (1, 1), "VALID"),
    ((2, 7, 7, 3), (3, 3, 3, 4), (1, 1), "SAME"),
    ((2, 9, 8, 2), (3, 2, 2, 3), (2, 2), "SAME"),
    ((1, 10, 7, 2), (4, 3, 2, 2), (2, 2), "VALID"),
    ((3, 5, 6, 1), (2, 5, 1, 2), (1, 2), "SAME"),
    ((1, 6, 6, 2), (1, 1, 2, 3), (3, 3), "VALID"),
]
IDS = [f"{p}-s{s[0]}{s[1]}-k{w[0]}x{w[1]}-{x[1]}x{x[2]}" for x, w, s, p in CASES]


# ====================================================================== conv forward
@pytest.mark.parametrize(("x_shape", "w_shape", "strides", "padding"), CASES, ids=IDS)
def test_conv2d_matches_the_plain_loop(x_shape, w_shape, strides, padding):
    x, w = rng.normal(size=x_shape), rng.normal(size=w_shape)
    got = run(lambda a, b: fl.nn.conv2d(a, b, strides, padding), x, w)
    want = ref_conv(x, w, strides, padding)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_same_padding_puts_the_extra_row_at_the_bottom_right():
    """4x4 input, 3x3 ones, stride 2: one padding row/column, after the data (TensorFlow)."""
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    got = run(lambda a, b: fl.nn.conv2d(a, b, 2, "SAME"), x, np.ones((3, 3, 1, 1)))
    np.testing.assert_array_equal(got[0, :, :, 0], [[45, 39], [66, 50]])


@pytest.mark.parametrize(("x_shape", "w_shape", "strides", "padding"), CASES, ids=IDS)
def test_conv2d_matches_torch(x_shape, w_shape, strides, padding):
    torch = pytest.importorskip("torch")
    x, w = rng.normal(size=x_shape), rng.normal(size=w_shape)
    xt = torch.from_numpy(padded(x, w_shape[:2], strides, padding).transpose(0, 3, 1, 2).copy())
    wt = torch.from_numpy(w.transpose(3, 2, 0, 1).copy())
    want = torch.nn.functional.conv2d(xt, wt, stride=strides)
    got = run(lambda a, b: fl.nn.conv2d(a, b, strides, padding), x, w)
    np.testing.assert_allclose(got, want.numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_session_runs_conv_and_pool_and_their_gradients_in_both_float_widths(dtype):
    x, w = rng.normal(size=(2, 6, 6, 2)), rng.normal(size=(3, 3, 2, 3))
    g = fl.Graph()
    with g.as_default():
        xp = fl.placeholder(dtype, (None, 6, 6, 2))
        wv = fl.Variable(w.astype(dtype), name="w")
        y = fl.nn.max_pool2d(fl.nn.conv2d(xp, wv, 1, "SAME"), 2, 2, "VALID")
        gx, gw = fl.gradients(fl.reduce_sum(y), [xp, wv])
    out = fl.Session(graph=g).run([y, gx, gw], {xp: x.astype(dtype)})
    assert [v.dtype for v in out] == [np.dtype(dtype)] * 3
    assert [v.shape for v in out] == [(2, 3, 3, 3), x.shape, w.shape]
    want = ref_max_pool(ref_conv(x, w, (1, 1), "SAME"), (2, 2), (2, 2), "VALID")
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out[0], want, rtol=tol, atol=tol)


def test_stride_and_window_forms_are_equivalent():
    """An int, one, two or four (TF's [1, s, s, 1]) entries, tuples as lists: one meaning."""
    x, w = rng.normal(size=(1, 7, 7, 2)), rng.normal(size=(3, 3, 2, 2))
    want = run(lambda a, b: fl.nn.conv2d(a, b, 2, "SAME"), x, w)
    for strides in ([2], (2, 2), [1, 2, 2, 1]):
        got = run(lambda a, b, s=strides: fl.nn.conv2d(a, b, s, "same"), x, w)
        np.testing.assert_array_equal(got, want)
    made = run(lambda a, b: make("Conv2D", [a, b], {"strides": (2, 2), "padding": "SAME"}), x, w)
    np.testing.assert_array_equal(made, want)


# ====================================================================== conv gradients
@pytest.mark.parametrize(("x_shape", "w_shape", "strides", "padding"), CASES, ids=IDS)
def test_conv2d_gradients_match_finite_differences(x_shape, w_shape, strides, padding):
    x, w = rng.normal(size=x_shape), rng.normal(size=w_shape)
    check_grad(lambda a, b: fl.nn.conv2d(a, b, strides, padding), [x, w])


def test_conv2d_gradients_with_unknown_dimensions():
    x, w = rng.normal(size=(2, 7, 6, 2)), rng.normal(size=(3, 2, 2, 3))
    check_grad(lambda a, b: fl.nn.conv2d(a, b, 2, "SAME"), [x, w], dynamic=True)


def test_conv2d_gradient_ops_are_named_as_tensorflow_names_them():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(1, 5, 5, 1))
        w = fl.Variable(np.ones((3, 3, 1, 2)))
        fl.gradients(fl.reduce_sum(fl.nn.conv2d(x, w, 1, "VALID")), [x, w])
    ops = {n.op for n in g.nodes}
    assert {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"} <= ops


# ====================================================================== max pooling
POOLS = [  # x shape, ksize, strides, padding
    ((2, 6, 6, 2), (2, 2), (2, 2), "VALID"),
    ((2, 7, 5, 2), (2, 2), (2, 2), "SAME"),
    ((1, 7, 7, 3), (3, 3), (2, 2), "SAME"),
    ((1, 6, 5, 1), (3, 2), (1, 1), "VALID"),
    ((1, 5, 5, 2), (3, 3), (1, 2), "SAME"),
]
POOL_IDS = [f"{p}-k{k[0]}{k[1]}-s{s[0]}{s[1]}-{x[1]}x{x[2]}" for x, k, s, p in POOLS]


@pytest.mark.parametrize(("x_shape", "ksize", "strides", "padding"), POOLS, ids=POOL_IDS)
def test_max_pool_matches_the_plain_loop_and_its_gradient_finite_differences(
    x_shape, ksize, strides, padding
):
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape) / 7.0  # distinct values: no ties
    got = run(lambda a: fl.nn.max_pool2d(a, ksize, strides, padding), x)
    np.testing.assert_array_equal(got, ref_max_pool(x, ksize, strides, padding))
    check_grad(lambda a: fl.nn.max_pool2d(a, ksize, strides, padding), [x])


def test_max_pool_matches_torch():
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(2, 7, 9, 3))
    want = torch.nn.functional.max_pool2d(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), 3, 2)
    got = run(lambda a: fl.nn.max_pool2d(a, 3, 2, "VALID"), x)
    np.testing.assert_array_equal(got, want.numpy().transpose(0, 2, 3, 1))


def _pool_grad(x, ksize, strides, padding, dy=None):
    g = fl.Graph()
    with g.as_default():
        xp = fl.placeholder(shape=x.shape)
        y = fl.nn.max_pool2d(xp, ksize, strides, padding)
        (gx,) = fl.gradients(y, [xp], grad_ys=dy)
    return fl.Session(graph=g).run(gx, {xp: x})


def test_max_pool_ties_send_the_gradient_to_the_first_max_in_row_major_order():
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 2.0, 2.0]]).reshape(1, 3, 3, 1)
    gx = _pool_grad(x, 2, 1, "VALID")[0, :, :, 0]
    # windows: (0,0) max 3 first at [0,1]; (0,1) first at [0,1]; (1,0) at [1,0]; (1,1) at [1,2]
    np.testing.assert_array_equal(gx, [[0, 2, 0], [1, 0, 1], [0, 0, 0]])
    flat = _pool_grad(np.ones((1, 4, 4, 1)), 2, 2, "VALID")[0, :, :, 0]
    np.testing.assert_array_equal(flat, [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


def test_max_pool_same_padding_never_picks_the_padding():
    """-inf padding: an all-negative edge window still pools (and routes to) real values."""
    x = -1.0 - rng.permutation(25).reshape(1, 5, 5, 1)
    y = run(lambda a: fl.nn.max_pool2d(a, 2, 2, "SAME"), x)
    assert y.shape == (1, 3, 3, 1) and np.all(y < 0)
    np.testing.assert_array_equal(y[0, 2, 2, 0], x[0, 4, 4, 0])
    gx = _pool_grad(x, 2, 2, "SAME")
    assert gx.sum() == 9 and set(np.unique(gx)) == {0.0, 1.0}


# ====================================================================== dropout
def _dropout_graph(shape, rate, seed=None, dtype=np.float64, training="switch", **kw):
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(dtype, shape, name="x")
        tr = (
            fl.placeholder_with_default(False, (), name="training")
            if training == "switch"
            else training
        )
        d = fl.nn.dropout(x, rate, seed=seed, training=tr, **kw)
        (gx,) = fl.gradients(fl.reduce_sum(d), [x])
    return g, x, tr, d, gx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_keeps_one_minus_rate_and_scales_the_kept(dtype):
    g, x, tr, d, _ = _dropout_graph((1000, 1000), 0.3, dtype=dtype)
    out = fl.Session(graph=g).run(d, {x: np.ones((1000, 1000), dtype), tr: True})
    kept = out != 0
    assert out.dtype == dtype
    assert abs(kept.mean() - 0.7) < 0.005  # 1e6 draws: the sd of the fraction is 0.0005
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)


def test_dropout_is_the_identity_unless_training():
    xv = rng.normal(size=(50, 40))
    g, x, tr, d, gx = _dropout_graph((None, 40), 0.5)
    sess = fl.Session(graph=g)
    out, grad = sess.run([d, gx], {x: xv})  # the switch's default: False
    np.testing.assert_array_equal(out, xv)
    np.testing.assert_array_equal(grad, np.ones_like(xv))
    trained = sess.run(d, {x: xv, tr: True})
    assert 0.3 < np.mean(trained == 0) < 0.7
    g, x, _, d, _ = _dropout_graph((None, 40), 0.5, training=False)
    np.testing.assert_array_equal(fl.Session(graph=g).run(d, {x: xv}), xv)


def test_dropout_forward_and_gradient_share_one_mask_per_run_and_redraw_next_run():
    xv = rng.uniform(1, 2, size=(200, 50))
    g, x, _, d, gx = _dropout_graph(xv.shape, 0.5, training=None)
    for sess in (fl.Session(graph=g), fl.Session(graph=g, check_numerics=True)):  # both runners
        out1, grad1 = sess.run([d, gx], {x: xv})
        np.testing.assert_array_equal(out1, xv * grad1)  # d(sum(x * mask))/dx = mask
        assert set(np.unique(grad1)) == {0.0, 2.0}
        out2, grad2 = sess.run([d, gx], {x: xv})
        np.testing.assert_array_equal(out2, xv * grad2)
        assert not np.array_equal(grad1, grad2)


def test_dropout_seed_replays_the_mask_sequence_in_every_new_session():
    xv = np.ones((100, 100))

    def masks(seed):
        g, x, _, d, _ = _dropout_graph(xv.shape, 0.4, seed=seed, training=True)
        sess = fl.Session(graph=g)
        return [sess.run(d, {x: xv}) for _ in range(3)]

    first, again, other = masks(7), masks(7), masks(8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(masks(None)[0], masks(None)[0])


def test_dropout_noise_shape_shares_the_mask_along_broadcast_axes():
    g, x, _, d, _ = _dropout_graph((None, 6, 6, 8), 0.5, training=True, noise_shape=[None, 1, 1, 8])
    out = fl.Session(graph=g).run(d, {x: np.ones((4, 6, 6, 8))})
    assert out.shape == (4, 6, 6, 8)
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1, :1, :], out.shape))


def test_placeholder_with_default_runs_with_its_default_or_the_fed_value():
    g = fl.Graph()
    with g.as_default():
        p = fl.placeholder_with_default(np.array([1.0, 2.0]), (None,), name="p")
        y = p * 3.0
    sess = fl.Session(graph=g)
    np.testing.assert_array_equal(sess.run(y), [3.0, 6.0])
    np.testing.assert_array_equal(sess.run(y, {p: [1.0, 1.0, 1.0]}), [3.0, 3.0, 3.0])
    fetched = sess.run(p)
    fetched[0] = 99.0  # a copy: the default stays
    np.testing.assert_array_equal(sess.run(p), [1.0, 2.0])
    with pytest.raises(fl.FeedError, match="expects shape"):
        sess.run(y, {p: np.ones((2, 2))})
    with pytest.raises(ValueError, match=r"default of shape \(2,\) does not fit shape \(3,\)"):
        fl.placeholder_with_default([1.0, 2.0], (3,))


# ====================================================================== descriptions
def test_description_round_trips_the_new_ops_and_their_attributes():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(fl.float32, (None, 12, 12, 1), name="images")
        w = fl.Variable(np.zeros((5, 5, 1, 6), np.float32), name="w")
        tr = fl.placeholder_with_default(False, (), name="training")
        y = fl.nn.conv2d(x, w, [1, 2, 2, 1], "SAME", name="conv")
        y = fl.nn.max_pool2d(y, 2, (2, 1), "VALID", name="pool")
        y = fl.nn.dropout(y, 0.25, seed=3, training=tr)
        fl.gradients(fl.reduce_sum(y), [w])
    desc = json.loads(json.dumps(fl.describe_graph(g)))
    by_op = {n["op"]: n for n in desc["nodes"]}
    assert by_op["Conv2D"]["attrs"] == {"padding": "SAME", "strides": [2, 2]}
    assert by_op["Conv2D"]["shape"] == [None, 6, 6, 6]
    assert by_op["MaxPool"]["attrs"] == {"ksize": [2, 2], "padding": "VALID", "strides": [2, 1]}
    assert by_op["DropoutMask"]["attrs"] == {"noise_shape": None, "rate": 0.25, "seed": 3}
    assert by_op["PlaceholderWithDefault"]["kind"] == "placeholder"
    assert by_op["PlaceholderWithDefault"]["attrs"] == {"default": False}
    assert {"MaxPoolGrad", "Conv2DBackpropFilter", "Dropout", "Mul"} <= set(by_op)
    rebuilt = fl.graph_from_description(desc)
    assert fl.describe_graph(rebuilt) == desc


# ====================================================================== errors
def _build(x_shape, w_shape, *args, **kw):
    g = fl.Graph()
    with g.as_default():
        return fl.nn.conv2d(
            fl.placeholder(shape=x_shape), fl.placeholder(shape=w_shape), *args, **kw
        )


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (((2, 5, 5, 3), (3, 3, 4, 2), 1, "SAME"), fl.ShapeError,
         r"input channels 3 \(input shape \(2, 5, 5, 3\)\) do not match the filters' input "
         r"channels 4 \(filter shape \(3, 3, 4, 2\)\)"),
        (((2, 5, 5, 3), (3, 3, 3, 2), 1, "FULL"), fl.GraphError,
         r"conv2d: padding must be one of 'SAME', 'VALID', got 'FULL'"),
        (((2, 4, 9, 3), (5, 5, 3, 2), 1, "VALID"), fl.ShapeError,
         r"window 5 is larger than the input height 4 \(padding 'VALID'\)"),
        (((5, 5, 3), (3, 3, 3, 2), 1, "SAME"), fl.ShapeError, r"must have rank 4 \(NHWC"),
        (((2, 5, 5, 3), (3, 3, 3, 2), 0, "SAME"), fl.GraphError,
         r"strides must be positive, got 0"),
        (((2, 5, 5, 3), (3, 3, 3, 2), [2, 2, 2, 2], "SAME"), fl.GraphError,
         r"batch and channel entries \(first, last\) must be 1"),
        (((2, 5, 5, 3), (3, 3, 3, 2), [1, 2, 3], "SAME"), fl.GraphError,
         r"an int or a list of 1, 2 or 4 ints, got \[1, 2, 3\]"),
    ],
    ids=["channels", "padding", "window", "rank", "stride0", "stride4", "stride3"],
)  # fmt: skip
def test_conv2d_bad_inputs_raise_flowlog_errors_that_say_why(args, error, message):
    with pytest.raises(error, match=message):
        _build(*args)


def test_conv2d_rejects_layouts_and_dilations_it_does_not_implement():
    with pytest.raises(fl.GraphError, match="only data_format 'NHWC'"):
        _build((1, 5, 5, 1), (3, 3, 1, 1), 1, "SAME", data_format="NCHW")
    with pytest.raises(fl.GraphError, match="dilations other than 1"):
        _build((1, 5, 5, 1), (3, 3, 1, 1), 1, "SAME", dilations=2)


def test_a_filter_too_large_for_the_fed_input_fails_at_run_time_naming_the_node():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, None, None, 1))
        y = fl.nn.conv2d(x, np.ones((3, 3, 1, 1)), 1, "VALID", name="conv")
    with pytest.raises(fl.OpError, match=r"Conv2D node 'conv' failed.*window 3 is larger"):
        fl.Session(graph=g).run(y, {x: np.ones((1, 2, 5, 1))})


def test_pool_and_dropout_bad_arguments():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(2, 4, 4, 3))
        with pytest.raises(fl.GraphError, match=r"max_pool2d: ksize must be positive, got -1"):
            fl.nn.max_pool2d(x, -1, 1, "VALID")
        with pytest.raises(fl.ShapeError, match="window 5 is larger than the input height 4"):
            fl.nn.max_pool2d(x, 5, 1, "VALID")
        for rate, message in [(1.0, "got 1.0"), (-0.1, "got -0.1"), ("0.5", "got '0.5'")]:
            with pytest.raises(fl.GraphError, match=rf"dropout: rate must .*{message}"):
                fl.nn.dropout(x, rate)
        with pytest.raises(fl.GraphError, match="seed must be an int"):
            fl.nn.dropout(x, 0.5, seed=1.5)
        with pytest.raises(fl.ShapeError, match="training must be a boolean scalar"):
            fl.nn.dropout(x, 0.5, training=fl.placeholder(shape=()))
        with pytest.raises(fl.ShapeError, match=r"noise_shape \[2, 3, 4, 3\] does not broadcast"):
            fl.nn.dropout(x, 0.5, noise_shape=[2, 3, 4, 3])


# ====================================================================== end to end
def bars(n, seed):
    """8x8 images of one vertical (class 0) or horizontal (class 1) bar, plus noise."""
    r = np.random.default_rng(seed)
    labels = r.integers(0, 2, n)
    images = r.normal(0, 0.1, size=(n, 8, 8, 1))
    for k, (cls, at) in enumerate(zip(labels, r.integers(0, 8, n), strict=True)):
        if cls:
            images[k, at, :, 0] += 1.0
        else:
            images[k, :, at, 0] += 1.0
    return images, np.eye(2)[labels]


def test_a_tiny_conv_net_learns_bars():
    """conv -> relu -> max_pool -> dropout -> reshape -> matmul -> softmax cross-entropy."""
    images, labels = bars(64, seed=1)
    r = np.random.default_rng(2)
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, 8, 8, 1))
        y = fl.placeholder(shape=(None, 2))
        tr = fl.placeholder_with_default(False, ())
        w1 = fl.Variable(r.normal(0, 0.5, size=(3, 3, 1, 4)), name="w1")
        w2 = fl.Variable(r.normal(0, 0.3, size=(36, 2)), name="w2")
        h = fl.nn.max_pool2d(fl.nn.relu(fl.nn.conv2d(x, w1, 1, "VALID")), 2, 2, "SAME")
        h = fl.nn.dropout(h, 0.1, seed=0, training=tr)
        logits = fl.matmul(fl.reshape(h, [-1, 36]), w2)
        loss = fl.reduce_mean(fl.nn.softmax_cross_entropy_with_logits(y, logits))
        step = fl.train.GradientDescentOptimizer(0.5).minimize(loss)
    sess = fl.Session(graph=g)
    before = sess.run(loss, {x: images, y: labels})
    for _ in range(60):
        sess.run(step, {x: images, y: labels, tr: True})
    after = sess.run(loss, {x: images, y: labels})
    assert after < before / 10, (before, after)  # measured: 0.76 -> 0.014
    test_images, test_labels = bars(64, seed=3)
    pred = sess.run(fl.argmax(logits, 1), {x: test_images})
    assert np.mean(pred == test_labels.argmax(1)) > 0.9
