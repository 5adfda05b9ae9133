"""Code a benchmark runs in a subprocess to load one checkout's flowlog (its root: sys.argv[1]).

The checkout's root goes first on sys.path; its ``dashboard/`` directory is what
``flowlog.dashboard`` means (pyproject's package-dir), loaded by path. After it, ``mod`` is that
checkout's ``flowlog.dashboard``. Used by benchmarks/dashboard_ab.py and benchmarks/scale.py.
"""

LOAD_CHECKOUT = """
import importlib.util, logging, sys
root = sys.argv[1]
sys.path.insert(0, root)
import flowlog
spec = importlib.util.spec_from_file_location(
    "flowlog.dashboard", root + "/dashboard/__init__.py",
    submodule_search_locations=[root + "/dashboard"])
mod = importlib.util.module_from_spec(spec)
sys.modules["flowlog.dashboard"] = mod
spec.loader.exec_module(mod)
"""
