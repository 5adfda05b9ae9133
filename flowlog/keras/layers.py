"""Keras layers built from engine ops, each under its own name scope (see
:mod:`flowlog.keras.engine`). Image layers use NHWC, as Keras' ``channels_last`` default.
"""

from __future__ import annotations

import math

from flowlog import api
from flowlog.keras import activations, initializers
from flowlog.keras.engine import Input, InputLayer, Layer, learning_phase, shape_error

__all__ = [
    "Layer",
    "InputLayer",
    "Input",
    "Dense",
    "Conv2D",
    "MaxPooling2D",
    "Flatten",
    "Dropout",
    "Activation",
    "LAYERS",
    "deserialize",
]


def _pair(value, what) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{what} must be an int or 2 ints, got {value!r}")
    return pair


def _padding(value) -> str:
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {value!r}")
    return value.lower()


class _KernelLayer(Layer):
    """What Dense and Conv2D share: a kernel, an optional bias, an activation after them."""

    def _init_weights(self, activation, use_bias, kernel_initializer, bias_initializer):
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None

    def _build_weights(self, kernel_shape: tuple, units: int) -> None:
        self.kernel = self.add_weight("kernel", kernel_shape, self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (units,), self.bias_initializer)

    def _finish(self, y):
        """``activation(y + bias)``."""
        if self.use_bias:
            y = api.add(y, self.bias)
        return self.activation(y)

    def _weights_config(self) -> dict:
        return {
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


class Dense(_KernelLayer):
    """``activation(x @ kernel + bias)`` on ``(batch, features)`` inputs."""

    input_ndim = 2

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        self.units = units
        self._init_weights(activation, use_bias, kernel_initializer, bias_initializer)

    def _rank_hint(self):
        return " (batch, features)"

    def _rank_advice(self):
        return "; put a Flatten layer before Dense for images"

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise shape_error(self, "a known last dimension (features)", input_shape)
        self._build_weights((features, self.units), self.units)

    def expected_shape(self):
        return (None, self.kernel.shape[0])

    def call(self, x, training=None):
        return self._finish(api.matmul(x, self.kernel))

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            **self._weights_config(),
        }


class Conv2D(_KernelLayer):
    """2-D convolution of NHWC images with an HWIO kernel (``fl.nn.conv2d``)."""

    input_ndim = 4

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Conv2D: filters must be a positive int, got {filters!r}")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self._init_weights(activation, use_bias, kernel_initializer, bias_initializer)

    def _rank_hint(self):
        return " (batch, height, width, channels)"

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise shape_error(self, "a known channel dimension (NHWC)", input_shape)
        self._build_weights((*self.kernel_size, channels, self.filters), self.filters)

    def expected_shape(self):
        return (None, None, None, self.kernel.shape[2])

    def call(self, x, training=None):
        try:
            y = api.conv2d(x, self.kernel, self.strides, self.padding.upper())
        except Exception as exc:  # e.g. an image smaller than the kernel
            raise ValueError(f'layer "{self.name}": {exc}') from None
        return self._finish(y)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            **self._weights_config(),
        }


class MaxPooling2D(Layer):
    """Max over ``pool_size`` windows of NHWC images; ``strides`` default to ``pool_size``."""

    input_ndim = 4

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, "strides")
        self.padding = _padding(padding)

    def _rank_hint(self):
        return " (batch, height, width, channels)"

    def call(self, x, training=None):
        try:
            return api.max_pool2d(x, self.pool_size, self.strides, self.padding.upper())
        except Exception as exc:
            raise ValueError(f'layer "{self.name}": {exc}') from None

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
        }


class Flatten(Layer):
    """``(batch, d1, d2, …)`` → ``(batch, d1*d2*…)``; the non-batch dims must be known."""

    def call(self, x, training=None):
        dims = x.shape[1:] if x.shape is not None else None
        if dims is None or any(d is None for d in dims):
            raise shape_error(self, "known non-batch dimensions", x.shape)
        return api.reshape(x, [-1, math.prod(dims)])


class Dropout(Layer):
    """Drops a fraction ``rate`` of its inputs while training (``fit``), the identity in
    ``predict``/``evaluate``: its switch is the graph's learning phase, which only ``fit``
    feeds ``True``. ``layer(x, training=True)`` forces it on."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a float in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else list(noise_shape)
        self.seed = seed

    def call(self, x, training=None):
        if training is None:
            training = learning_phase(x.graph)
        seed = self.seed
        if seed is None:
            seed = int(initializers.shared_rng().integers(2**31))
        return api.nn.dropout(
            x, self.rate, self.noise_shape, seed=seed, name=self.scope + "/", training=training
        )

    def get_config(self):
        config = {**super().get_config(), "rate": self.rate, "seed": self.seed}
        if self.noise_shape is not None:
            config["noise_shape"] = self.noise_shape
        return config


class Activation(Layer):
    """An activation as its own layer: ``Activation("relu")``."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, x, training=None):
        return self.activation(x)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


LAYERS = {cls.__name__: cls for cls in (Dense, Conv2D, MaxPooling2D, Flatten, Dropout, Activation)}


def deserialize(spec: dict) -> Layer:
    """A layer from ``{"class_name", "config"}`` (what ``Model.get_config`` stores)."""
    try:
        cls = LAYERS[spec["class_name"]]
    except KeyError:
        valid = ", ".join(LAYERS)
        raise ValueError(
            f"unknown layer class {spec.get('class_name')!r}; known: {valid}"
        ) from None
    return cls.from_config(dict(spec["config"]))


def serialize(layer: Layer) -> dict:
    if type(layer).__name__ not in LAYERS:
        raise ValueError(f"cannot save the custom layer {layer.name!r} ({type(layer).__name__})")
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


_ = Input  # re-exported: fl.keras.layers.Input
