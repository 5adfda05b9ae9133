"""Keras optimizer objects over the engine's ``fl.train`` optimizers: ``SGD`` (plain or with
momentum) and ``Adam``. ``compile`` also takes an ``fl.train`` optimizer as it is.
"""

from __future__ import annotations

from flowlog import train


class Optimizer:
    """Base: ``engine()`` makes the ``fl.train`` optimizer that adds the update ops."""

    def get_config(self) -> dict:
        return dict(self._config)


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD"):
        self._config = {
            "learning_rate": float(learning_rate),
            "momentum": float(momentum),
            "nesterov": bool(nesterov),
            "name": name,
        }
        self.learning_rate, self.momentum, self.nesterov = (
            float(learning_rate),
            float(momentum),
            bool(nesterov),
        )
        self.name = name
        self.engine()  # validate the arguments now, as Keras does

    def engine(self) -> train.Optimizer:
        if self.momentum:
            return train.MomentumOptimizer(
                self.learning_rate, self.momentum, use_nesterov=self.nesterov, name=self.name
            )
        return train.GradientDescentOptimizer(self.learning_rate, name=self.name)


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="Adam"):
        self._config = {
            "learning_rate": float(learning_rate),
            "beta_1": float(beta_1),
            "beta_2": float(beta_2),
            "epsilon": float(epsilon),
            "name": name,
        }
        self.learning_rate = float(learning_rate)
        self.name = name
        self.engine()

    def engine(self) -> train.Optimizer:
        c = self._config
        return train.AdamOptimizer(
            c["learning_rate"], c["beta_1"], c["beta_2"], c["epsilon"], name=c["name"]
        )


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
_CLASSES = {"SGD": SGD, "Adam": Adam}


def get(identifier):
    """An ``Optimizer`` (or an ``fl.train`` one, kept as is) from a name, object or dict."""
    if isinstance(identifier, (Optimizer, train.Optimizer)):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    valid = ", ".join(repr(n) for n in OPTIMIZERS)
    raise ValueError(
        f"unknown optimizer {identifier!r}; valid names: {valid} (or an optimizer object: "
        "fl.keras.optimizers.SGD / Adam, or an fl.train optimizer)"
    )


def engine_optimizer(opt) -> train.Optimizer:
    return opt if isinstance(opt, train.Optimizer) else opt.engine()


def serialize(opt) -> dict | None:
    """What ``save`` stores; ``fl.train`` optimizers map to their Keras equivalent."""
    if isinstance(opt, Optimizer):
        return {"class_name": type(opt).__name__, "config": opt.get_config()}
    if isinstance(opt, train.MomentumOptimizer):
        config = {
            "learning_rate": opt.learning_rate,
            "momentum": opt.momentum,
            "nesterov": opt.use_nesterov,
        }
        return {"class_name": "SGD", "config": config}
    if isinstance(opt, train.GradientDescentOptimizer):
        return {"class_name": "SGD", "config": {"learning_rate": opt.learning_rate}}
    if isinstance(opt, train.AdamOptimizer):
        config = {
            "learning_rate": opt.learning_rate,
            "beta_1": opt.beta1,
            "beta_2": opt.beta2,
            "epsilon": opt.epsilon,
        }
        return {"class_name": "Adam", "config": config}
    return None
