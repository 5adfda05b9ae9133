#!/usr/bin/env bash
# Installs everything flowlog needs on a fresh Debian machine: Debian packages (graphviz's `dot`;
# chromium + chromedriver when --browser is given), then a venv with the package and test extras.
# Idempotent: re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
if [ "$want_browser" = 1 ]; then
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
    fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" != 0 ] && sudo="sudo"
    echo "setup: installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.stamp-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/constraints-ci.txt -nt "$stamp" ]; then
    .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
    # the torch extra runs the PyTorch drop-in tests; the constraints pick the CPU wheel
    .venv/bin/pip install -q -e '.[test,torch]' -c scripts/constraints-ci.txt 2>&1 \
        | grep -v '^WARNING: Location' || true
    .venv/bin/python -c "import flowlog, numpy, dash, plotly, dash_ag_grid"
    .venv/bin/python -c "import torch, matplotlib, PIL, tensorboard"
    touch "$stamp"
fi
