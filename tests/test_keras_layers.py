"""fl.keras layers on the real engine: output shapes, parameter counts, Keras' auto names as
name scopes with ``kernel``/``bias`` variables inside, values against numpy, and errors that
name the layer and both shapes."""

from __future__ import annotations

import numpy as np
import pytest

import flowlog as fl
from flowlog.keras import initializers, layers


@pytest.fixture
def graph():
    fl.keras.utils.set_random_seed(0)
    g = fl.Graph()
    with g.as_default():
        yield g


def _params(layer):
    return sum(int(np.prod(v.shape)) for v in layer.weights)


def test_dense_shape_params_names_and_value(graph):
    x = fl.placeholder(fl.float32, shape=(None, 3))
    dense = layers.Dense(4, activation="relu")
    y = dense(x)
    assert y.shape == (None, 4) and y.dtype == np.float32
    assert dense.name == dense.scope == "dense"
    assert [v.name for v in dense.weights] == ["dense/kernel", "dense/bias"]
    assert dense.count_params() == _params(dense) == 3 * 4 + 4
    assert y.name.startswith("dense/")
    x_val = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    sess = fl.Session(graph)
    w, b = sess.value(dense.kernel), sess.value(dense.bias)
    np.testing.assert_allclose(sess.run(y, {x: x_val}), np.maximum(x_val @ w + b, 0), rtol=1e-6)


def test_auto_names_are_unique_per_graph(graph):
    x = fl.keras.Input((3,))
    names = [layer.name for layer in (layers.Dense(2), layers.Dense(2), layers.Flatten())]
    assert names == ["dense", "dense", "flatten"]  # provisional until built
    built = [layers.Dense(2), layers.Dense(2), layers.Dropout(0.1), layers.Dropout(0.1)]
    for layer in built:
        layer(x)
    assert [lay.name for lay in built] == ["dense", "dense_1", "dropout", "dropout_1"]
    assert graph.get_tensor_by_name("dense_1/kernel").shape == (3, 2)
    with fl.Graph().as_default():
        fresh = layers.Dense(1)
        fresh(fl.keras.Input((2,)))
    assert fresh.name == "dense"


def test_given_name_and_shared_layer_reuse_the_variables(graph):
    x = fl.keras.Input((3,))
    shared = layers.Dense(3, name="tower")
    y1 = shared(x)
    y2 = shared(y1)
    assert [v.name for v in shared.weights] == ["tower/kernel", "tower/bias"]
    assert y2.name.startswith("tower/") and y2 is not y1
    assert len(graph.trainable_variables()) == 2


@pytest.mark.parametrize(
    ("kwargs", "out_shape", "params"),
    [
        ({"filters": 4, "kernel_size": 3}, (None, 7, 7, 4), 3 * 3 * 3 * 4 + 4),
        ({"filters": 4, "kernel_size": 3, "padding": "same"}, (None, 9, 9, 4), 112),
        ({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (None, 5, 5, 4), 112),
        (
            {"filters": 2, "kernel_size": (3, 2), "strides": (2, 1)},
            (None, 4, 8, 2),
            3 * 2 * 3 * 2 + 2,
        ),
        ({"filters": 4, "kernel_size": 1, "use_bias": False}, (None, 9, 9, 4), 12),
    ],
)
def test_conv2d_shapes_and_params(graph, kwargs, out_shape, params):
    conv = layers.Conv2D(**kwargs)
    y = conv(fl.keras.Input((9, 9, 3)))
    assert y.shape == out_shape
    assert conv.count_params() == params
    assert conv.kernel.name == "conv2d/kernel"
    assert conv.kernel.shape == (*conv.kernel_size, 3, kwargs["filters"])


def test_conv2d_value_matches_a_direct_sum(graph):
    x = fl.keras.Input((4, 4, 2))
    conv = layers.Conv2D(3, 2, activation="linear", bias_initializer="ones")
    y = conv(x)
    x_val = np.random.default_rng(2).normal(size=(2, 4, 4, 2)).astype(np.float32)
    sess = fl.Session(graph)
    w = sess.value(conv.kernel)
    expected = np.ones((2, 3, 3, 3), np.float32)
    for i in range(3):
        for j in range(3):
            patch = x_val[:, i : i + 2, j : j + 2, :]
            expected[:, i, j, :] += np.einsum("nhwc,hwco->no", patch, w)
    np.testing.assert_allclose(sess.run(y, {x: x_val}), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "size", "out"),
    [({}, 8, 4), ({"padding": "same"}, 7, 4), ({}, 7, 3), ({"pool_size": 3, "strides": 2}, 7, 3)],
)
def test_max_pooling_shapes(graph, kwargs, size, out):
    pool = layers.MaxPooling2D(**kwargs)
    y = pool(fl.keras.Input((size, size, 4)))
    assert y.shape == (None, out, out, 4)
    assert pool.name == "max_pooling2d" and pool.weights == []


def test_max_pooling_and_flatten_values(graph):
    x = fl.keras.Input((4, 4, 1))
    y = layers.Flatten()(layers.MaxPooling2D()(x))
    assert y.shape == (None, 4) and y.name.startswith("flatten/")
    x_val = np.arange(32, dtype=np.float32).reshape(2, 4, 4, 1)
    out = fl.Session(graph).run(y, {x: x_val})
    np.testing.assert_array_equal(out[0], [5, 7, 13, 15])
    np.testing.assert_array_equal(out[1], [21, 23, 29, 31])


def test_activation_layer(graph):
    x = fl.placeholder(fl.float32, shape=(None, 3))
    act = layers.Activation("softmax")
    y = act(x)
    assert act.name == "activation" and y.op == "Softmax"
    out = fl.Session(graph).run(y, {x: np.array([[1, 2, 3]], np.float32)})
    np.testing.assert_allclose(out.sum(), 1.0, rtol=1e-6)
    for name, fn in (("sigmoid", lambda v: 1 / (1 + np.exp(-v))), ("tanh", np.tanh)):
        z = layers.Activation(name)(x)
        v = np.array([[-1.0, 0.0, 2.0]], np.float32)
        np.testing.assert_allclose(fl.Session(graph).run(z, {x: v}), fn(v), rtol=1e-6)


def test_dropout_is_off_unless_the_learning_phase_is_fed(graph):
    x = fl.keras.Input((1000,))
    y = layers.Dropout(0.5, seed=3)(x)
    phase = graph.get_tensor_by_name("keras_learning_phase")
    ones = np.ones((2, 1000), np.float32)
    sess = fl.Session(graph)
    np.testing.assert_array_equal(sess.run(y, {x: ones}), ones)
    dropped = sess.run(y, {x: ones, phase: True})
    assert set(np.unique(dropped)) == {0.0, 2.0}
    assert 0.4 < (dropped == 0).mean() < 0.6


def test_wrong_input_shape_names_layer_and_both_shapes(graph):
    dense = layers.Dense(4)
    dense(fl.placeholder(fl.float32, shape=(None, 3)))
    with pytest.raises(ValueError, match=r'layer "dense".*\(None, 3\).*\(None, 5\)'):
        dense(fl.placeholder(fl.float32, shape=(None, 5)))
    with pytest.raises(ValueError, match=r'layer "conv2d".*ndim=4.*ndim=2.*\(None, 5\)'):
        layers.Conv2D(2, 3)(fl.placeholder(fl.float32, shape=(None, 5)))
    with pytest.raises(
        ValueError, match=r'layer "dense".*ndim=2.*ndim=4.*\(None, 4, 4, 1\); put a Flatten'
    ):
        layers.Dense(2)(fl.keras.Input((4, 4, 1)))
    with pytest.raises(
        ValueError, match=r'layer "conv2d".*\(None, None, None, 3\).*\(None, 5, 5, 1\)'
    ):
        conv = layers.Conv2D(2, 3)
        conv(fl.keras.Input((5, 5, 3)))
        conv(fl.keras.Input((5, 5, 1)))


def test_bad_arguments_list_the_valid_names(graph):
    with pytest.raises(ValueError, match=r"unknown activation 'swishy'.*'relu'.*'softmax'"):
        layers.Dense(2, activation="swishy")
    with pytest.raises(ValueError, match=r"unknown initializer 'nope'.*'glorot_uniform'"):
        layers.Dense(2, kernel_initializer="nope")
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        layers.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.5)
    with pytest.raises(TypeError, match='layer "dense" must be called on a graph tensor'):
        layers.Dense(2)(np.ones((2, 3)))


def test_initializers():
    glorot = initializers.get("glorot_uniform")((100, 50))  # limit sqrt(6 / 150) = 0.2
    assert glorot.dtype == np.float32 and np.abs(glorot).max() <= 0.2 + 1e-7
    assert np.abs(glorot).max() > 0.19
    he = initializers.HeNormal(seed=1)((400, 300))
    std = np.sqrt(2 / 400) / 0.87962566103423978
    assert np.abs(he).max() <= 2 * std + 1e-7
    assert abs(he.std() - np.sqrt(2 / 400)) < 0.005
    np.testing.assert_array_equal(he, initializers.HeNormal(seed=1)((400, 300)))
    normal = initializers.RandomNormal(stddev=0.5, seed=4)((2000,))
    assert abs(normal.std() - 0.5) < 0.03
    assert (
        initializers.get("zeros")((2, 2)).sum() == 0 and initializers.get("ones")((3,)).sum() == 3
    )
    fl.keras.utils.set_random_seed(7)
    a = initializers.get("glorot_uniform")((3, 3))
    fl.keras.utils.set_random_seed(7)
    np.testing.assert_array_equal(a, initializers.get("glorot_uniform")((3, 3)))
