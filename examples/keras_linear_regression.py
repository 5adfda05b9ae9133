"""The guide's linear regression as one Keras ``Dense(1)`` layer, logged with ``FlowLog``.

Same data and same optimisation as examples/linear_regression.py (500 samples, 3 features,
full-batch gradient descent, lr 0.1, 300 steps): one epoch is one full batch, so the learned
weights and bias equal that example's and ``np.linalg.lstsq``'s within 1e-4 (float32
weights). Usage:
python examples/keras_linear_regression.py [--epochs 300] [--lr 0.1] [--logdir runs]
"""

from __future__ import annotations

import argparse

import numpy as np

import flowlog as fl

keras = fl.keras
TOLERANCE = 1e-4  # max |keras - lstsq| over the weights and the bias


def make_data(n=500, d=3, seed=0):
    """examples/linear_regression.py's data: y = X w + 0.7 + noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    true_w = rng.normal(size=(d, 1))
    Y = X @ true_w + 0.7 + 0.1 * rng.normal(size=(n, 1))
    return X, Y


def lstsq(X, Y):
    coef = np.linalg.lstsq(np.hstack([X, np.ones((len(X), 1))]), Y, rcond=None)[0]
    return coef[:-1], coef[-1]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--logdir", default="runs", help="event log directory")
    parser.add_argument("--run-name", default=None, help="default: keras_linear_regression/lr=LR")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    X, Y = make_data()
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(X.shape[1],))])
    model.compile(keras.optimizers.SGD(args.lr), loss="mse")
    run_name = args.run_name or f"keras_linear_regression/lr={args.lr:g}"
    log = keras.callbacks.FlowLog(args.logdir, run_name=run_name, histogram_freq=10)
    hist = model.fit(X, Y, batch_size=len(X), epochs=args.epochs, shuffle=False, verbose=0,
                     callbacks=[log])  # fmt: skip
    kernel, bias = model.get_weights()
    w_ls, b_ls = lstsq(X, Y)
    error = float(max(np.abs(kernel - w_ls).max(), np.abs(bias - b_ls).max()))
    print(f"final loss {hist.history['loss'][-1]:.6f}")
    print("keras Dense(1): w =", np.round(kernel.ravel(), 4), " b =", np.round(bias, 4))
    print("least squares:  w =", np.round(w_ls.ravel(), 4), " b =", np.round(b_ls, 4))
    print(f"max |keras - lstsq| = {error:.2e} (tolerance {TOLERANCE:g})")
    print(f"wrote run {log.run_dir('train')!r}")
    return {
        "loss": hist.history["loss"][-1],
        "w": kernel,
        "b": bias,
        "w_lstsq": w_ls,
        "b_lstsq": b_ls,
        "error": error,
        "model": model,
    }


if __name__ == "__main__":
    main()
