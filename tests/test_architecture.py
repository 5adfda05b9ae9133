"""The architecture's rules (docs/architecture.md), checked on the source: data flows one way,
engine / torch → writer → SQLite event log → provider → dashboard / CLI.

Every import counts, also those inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"flowlog": ROOT / "flowlog", "flowlog.dashboard": ROOT / "dashboard"}

# fl.keras's core is engine; its package façade (flowlog/keras/__init__.py) loads the write-side
# flowlog.keras.callbacks (FlowLog) lazily, so it is listed like the flowlog façade: not here
ENGINE = (
    "flowlog.graph", "flowlog.ops", "flowlog.api", "flowlog.gradients", "flowlog.session",
    "flowlog.train", "flowlog.describe", "flowlog.errors", "flowlog.saved_model",
    "flowlog.keras.activations", "flowlog.keras.callbacks_base", "flowlog.keras.engine",
    "flowlog.keras.initializers", "flowlog.keras.layers", "flowlog.keras.losses",
    "flowlog.keras.metrics", "flowlog.keras.models", "flowlog.keras.optimizers",
    "flowlog.keras.progbar", "flowlog.keras.saving", "flowlog.keras.summary",
    "flowlog.keras.training", "flowlog.keras.utils",
)  # fmt: skip
# the modules that touch SQLite
LOG = (
    "flowlog.schema", "flowlog.schema_records", "flowlog.schema_chunks", "flowlog.schema_legacy",
    "flowlog.reader", "flowlog.writer",
)  # fmt: skip
WRITE_SIDE = (
    "flowlog.writer",
    "flowlog.writer_flush",
    "flowlog.writer_media",
    "flowlog.watch",
    "flowlog.run_dir",
    "flowlog.torch_common",
    "flowlog.torch_graph",
    "flowlog.torch_graph_modules",
    "flowlog.torch_numerics",
    "flowlog.torch_stats",
    "flowlog.torch_watch",
    "flowlog.keras.callbacks",
)


def _module_name(path: Path) -> str:
    for package, folder in PACKAGES.items():
        if folder in path.parents or path.parent == folder:
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            return ".".join([package, *parts])
    raise ValueError(path)


def _sources() -> dict[str, Path]:
    found = {}
    for folder in PACKAGES.values():
        for path in sorted(folder.rglob("*.py")):
            if "vendor" not in path.parts:
                found[_module_name(path)] = path
    return found


SOURCES = _sources()
RENDER = tuple(m for m in SOURCES if m == "flowlog.render" or m.startswith("flowlog.render_"))
READ_SIDE = (
    "flowlog.reader", "flowlog.reader_ranks", "flowlog.reader_discovery", "flowlog.reader_open",
    "flowlog.reader_status", "flowlog.schema_records", "flowlog.schema_chunks",
    "flowlog.schema_legacy", "flowlog.provider",
    "flowlog.provider_cache", "flowlog.provider_merge", "flowlog.backends", "flowlog.export",
    "flowlog.graphdesc", *RENDER,
)  # fmt: skip
# TensorBoard event files → the writer → a cache of flowlog runs → the reader: another producer
# of logs (write side) whose provider reads the cache like any logdir
TENSORBOARD = tuple(m for m in SOURCES if m.startswith("flowlog.tensorboard_"))


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of every module ``name`` imports (``from a import b`` gives ``a.b`` when
    that is a module of ours, else ``a``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if full in SOURCES else base)
    return out


IMPORTS = {name: _imports(name, path) for name, path in SOURCES.items()}


def _in(module: str, groups) -> bool:
    return any(module == g or module.startswith(g + ".") for g in groups)


def _violations(sources, forbidden) -> list[str]:
    return sorted(
        f"{mod} imports {imp}"
        for mod, imps in IMPORTS.items()
        if _in(mod, sources)
        for imp in imps
        if _in(imp, forbidden)
    )


def test_the_sources_were_found():
    assert {"flowlog.writer", "flowlog.reader", "flowlog.dashboard.app"} <= set(SOURCES)
    assert any(m.startswith("flowlog.dashboard.views.") for m in SOURCES)


def test_engine_imports_nothing_of_the_log_render_or_dashboard():
    # graphdesc is the description contract both sides share; it imports nothing of ours
    facades = ("flowlog", "flowlog.keras", "flowlog.graphdesc")
    others = [m for m in SOURCES if not _in(m, ENGINE) and m not in facades]
    assert _violations(ENGINE, others) == []
    assert IMPORTS["flowlog.graphdesc"] & set(SOURCES) == set()


def test_dashboard_reads_only_through_the_provider():
    readers = ["flowlog.reader_ranks", "flowlog.reader_discovery", "flowlog.reader_open"]
    forbidden = [*WRITE_SIDE, *LOG, *readers, "sqlite3", "sqlite_utils", *ENGINE]
    assert _violations(["flowlog.dashboard"], forbidden) == []


def test_only_the_log_modules_import_sqlite():
    others = [m for m in SOURCES if not _in(m, LOG) and m != "flowlog"]
    assert _violations(others, ["sqlite3", "sqlite_utils"]) == []


def test_reader_provider_and_renderer_never_import_the_engine():
    assert _violations(READ_SIDE, [*ENGINE, *WRITE_SIDE]) == []


def test_tensorboard_import_is_a_producer_the_dashboard_never_sees():
    assert {"flowlog.tensorboard_events", "flowlog.tensorboard_cache"} <= set(TENSORBOARD)
    assert _violations(TENSORBOARD, [*ENGINE, "flowlog.dashboard", "sqlite3"]) == []
    assert _violations(["flowlog.dashboard"], TENSORBOARD) == []
    # only the cache converts (through the writer); the event reader and payload decoders
    # know nothing of storage
    writers = {m for m in TENSORBOARD if _violations([m], WRITE_SIDE)}
    assert writers == {"flowlog.tensorboard_cache"}


SERVING = tuple(m for m in SOURCES if m.startswith("flowlog.serving"))


def test_the_server_is_a_producer_nothing_on_the_read_side_imports():
    """flowlog.serving loads exports (engine) and logs its traffic (writer), like a training
    script; its wire protocol and config modules stay free of both, and nothing that reads
    logs imports the server."""
    assert {"flowlog.serving.rest", "flowlog.serving.models"} <= set(SERVING)
    assert _violations([*READ_SIDE, "flowlog.dashboard"], SERVING) == []
    pure = ["flowlog.serving.rest", "flowlog.serving.config", "flowlog.serving.errors"]
    assert _violations(pure, [*ENGINE, *WRITE_SIDE, *LOG, *READ_SIDE]) == []
    assert _violations(SERVING, [*READ_SIDE, "flowlog.dashboard"]) == []
    writers = {m for m in SERVING if any(_in(i, WRITE_SIDE) for i in IMPORTS[m])}
    assert writers == {"flowlog.serving.metrics", "flowlog.serving.server"}


def test_cli_reads_through_the_provider():
    readers = ["flowlog.reader", "flowlog.reader_ranks", "flowlog.reader_discovery",
               "flowlog.reader_open", "flowlog.reader_status"]  # fmt: skip
    forbidden = [*readers, "flowlog.schema", *ENGINE]
    assert _violations(["flowlog.cli"], [*forbidden, "flowlog.schema_records"]) == []


def _cycle() -> list[str] | None:
    """One import cycle among our modules (the ``flowlog`` package facade excluded), or None."""
    graph = {m: {i for i in imps if i in SOURCES and i != "flowlog"} for m, imps in IMPORTS.items()}
    graph.pop("flowlog", None)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [node, nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_no_import_cycles():
    assert _cycle() is None


MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 120


def test_modules_and_functions_stay_short():
    long = []
    for name, path in SOURCES.items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {size} lines")
    assert long == []


def test_every_package_is_installed():
    """pyproject lists packages by hand (dashboard/ installs as flowlog.dashboard): a package
    missing there would be left out of a non-editable install."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {m for m, path in SOURCES.items() if path.name == "__init__.py"}
    assert found == listed
