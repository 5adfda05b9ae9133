# The two set-up commands of the README: `make demo` (main job) and `make test` (tests).
PY := .venv/bin/python
LOGDIR ?= runs
PORT ?= 8050
# multi-threaded OpenBLAS on 2 contended cores is 7-12x slower for these small models
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: setup setup-browser demo examples dashboard serve test lint bench

setup:
	bash scripts/setup.sh

setup-browser:
	bash scripts/setup.sh --browser

# Main job: train the examples into $(LOGDIR)/, then serve the dashboard on them.
demo: setup examples
	.venv/bin/flowlog-dashboard --logdir $(LOGDIR) --port $(PORT)

examples: setup
	$(PY) examples/computation_graph.py --logdir $(LOGDIR)
	$(PY) examples/linear_regression.py --logdir $(LOGDIR) --lr 0.1
	$(PY) examples/linear_regression.py --logdir $(LOGDIR) --lr 0.02
	$(PY) examples/logistic_regression.py --logdir $(LOGDIR)
	$(PY) examples/mlp.py --logdir $(LOGDIR)
	$(PY) examples/nan_debugging.py --logdir $(LOGDIR)
	$(PY) examples/keras_linear_regression.py --logdir $(LOGDIR)
	$(PY) examples/keras_mnist_like.py --logdir $(LOGDIR)
	$(PY) examples/serve_linear_regression.py --logdir $(LOGDIR) --model-dir models --demo-traffic
	@if $(PY) -c "import torch" 2>/dev/null; then \
		echo "$(PY) examples/torch_mlp.py --logdir $(LOGDIR)"; \
		$(PY) examples/torch_mlp.py --logdir $(LOGDIR) || exit 1; \
		echo "$(PY) examples/torch_nan.py --logdir $(LOGDIR)"; \
		$(PY) examples/torch_nan.py --logdir $(LOGDIR) || exit 1; \
		echo "$(PY) examples/tensorboard_run.py --logdir $(LOGDIR)"; \
		$(PY) examples/tensorboard_run.py --logdir $(LOGDIR) || exit 1; \
	else echo "torch is not installed: skipping examples/torch_mlp.py, torch_nan.py, tensorboard_run.py"; fi

# Serve the example's models (make examples exports them) on http://127.0.0.1:8501/
serve: setup
	.venv/bin/flowlog serve --model-name linreg --model-base-path models/linreg --logdir $(LOGDIR)

test: setup-browser
	.venv/bin/ruff check .
	$(PY) -m pytest -q

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check . || true

bench: setup
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/writer.py
	$(PY) benchmarks/render.py
	$(PY) benchmarks/dashboard.py
	$(PY) benchmarks/tb_logdir.py
	$(PY) benchmarks/serving.py
