"""``flowlog serve``: the command line, start-up and shutdown of the model server.

Why waitress (already the dashboard's server): the server is one process with a thread pool,
so every request shares one set of loaded versions, one swap state, one batching queue and one
metrics writer; a pre-forking server (gunicorn) would load every version once per worker and
swap them independently, so two requests could see different "latest" versions during a swap.
It is pure Python (no compiler, any platform), and an ASGI server (uvicorn) would buy nothing
for a CPU-bound model call but a hop from the event loop to a worker thread. The figures for
its overhead are in ``benchmarks/serving.py``.

Flags follow TensorFlow Serving's (``--rest_api_port`` becomes ``--port``, which serves REST;
the underscore spellings are accepted too).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from flowlog.serving.config import (
    BatchingParameters,
    ConfigError,
    model_config_from_flags,
    read_batching_parameters,
    read_model_config,
)

DEFAULT_PORT = 8501


def _flag(parser, name: str, **kw) -> None:
    """``--a-b`` plus TF Serving's ``--a_b`` spelling."""
    spelled = "--" + name[2:].replace("-", "_")
    parser.add_argument(*dict.fromkeys((name, spelled)), **kw)


def add_arguments(p: argparse.ArgumentParser) -> None:
    _flag(p, "--model-name", default="default", help="the model's name in URLs (default: default)")
    _flag(p, "--model-base-path", help="directory holding the model's version directories 1/, 2/…")
    _flag(
        p, "--model-config-file", help="TF Serving model_config_list file (several models; "
        "replaces --model-name/--model-base-path)"
    )  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    _flag(p, "--port", type=int, default=DEFAULT_PORT, help=f"REST port (default {DEFAULT_PORT})")
    _flag(
        p, "--rest-api-port", type=int, dest="port", default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )  # fmt: skip
    p.add_argument("--logdir", help="write the server's traffic as a flowlog run under this logdir")
    _flag(p, "--metrics-interval-s", type=float, default=1.0, help="seconds per metrics step")
    _flag(
        p, "--file-system-poll-wait-seconds", type=float, default=1.0,
        help="how often to look for new versions (0: only at start; default 1)",
    )  # fmt: skip
    _flag(p, "--enable-batching", action="store_true", help="merge concurrent requests")
    _flag(p, "--batching-parameters-file", help="TF Serving batching parameters (text format)")
    _flag(
        p, "--rest-api-num-threads", type=int, default=4 * (os.cpu_count() or 1),
        help="request threads (default 4 per CPU, as TF Serving)",
    )  # fmt: skip
    _flag(
        p, "--max-request-bytes", type=int, default=64 * 2**20,
        help="largest request body accepted, after gunzip (default 64 MiB)",
    )  # fmt: skip


def _configs(args):
    if args.model_config_file:
        return read_model_config(args.model_config_file)
    if not args.model_base_path:
        raise ConfigError("give --model-base-path (or --model-config-file)")
    if Path(args.model_base_path).is_file():
        raise ConfigError(f"--model-base-path {args.model_base_path} is a file, not a directory")
    return [model_config_from_flags(args.model_name, args.model_base_path)]


def _batching(args) -> BatchingParameters | None:
    if args.batching_parameters_file:
        params = read_batching_parameters(args.batching_parameters_file)
        return params if args.enable_batching else None
    return BatchingParameters() if args.enable_batching else None


def _say(text: str) -> None:
    sys.stderr.write(f"flowlog serve: {text}\n")
    sys.stderr.flush()


class Server:
    """Everything one ``flowlog serve`` runs: models, metrics, batcher, HTTP server."""

    def __init__(self, args):
        from flowlog.serving.models import ModelManager

        self.args = args
        self.configs = _configs(args)
        params = _batching(args)
        self.metrics = None
        self.manager = ModelManager(
            self.configs, self._event, warm_sessions=min(args.rest_api_num_threads, 4)
        )
        self.batcher = self._make_batcher(params)
        self.http = None

    def _make_batcher(self, params):
        if params is None:
            return None
        from flowlog.serving.batching import Batcher

        for warning in params.warnings:
            _say(f"batching parameters: {warning}")
        return Batcher.from_parameters(params)

    def _event(self, model, version, state, message) -> None:
        where = f"{model} version {version}" if version is not None else model
        _say(f"{where}: {state}: {message}")
        if self.metrics is not None:
            self.metrics.event(model, version, state, message)

    def _start_metrics(self) -> None:
        if not self.args.logdir:
            return
        from flowlog.serving.metrics import ServingMetrics
        from flowlog.writer import SummaryWriter

        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"serve-{stamp}-pid{os.getpid()}"  # a restart is a new run, as in training
        writer = SummaryWriter(logdir=self.args.logdir, run_name=name, flush_secs=1)
        serving = self.manager.models
        newest = lambda m: (serving[m].serving_versions() or [None])[-1]  # noqa: E731
        self.metrics = ServingMetrics(writer, serving, self.args.metrics_interval_s, newest)
        self.metrics.start()
        _say(f"traffic logged to {writer.log_dir}")

    def load_initial(self) -> None:
        """Load every model's wanted versions; any failure stops the start (as TF Serving)."""
        errors = self.manager.poll_once()
        if errors:
            raise ConfigError(
                f"{len(errors)} model(s) did not become available: {{{'; '.join(errors)}}}"
            )
        for name, model in self.manager.models.items():
            if not model.serving_versions():
                _say(
                    f"{name}: no versions under {model.config.base_path} yet. Did you forget "
                    "to name your leaf directory as a number (eg. '/1/')? Waiting for one."
                )

    def listen(self):
        from waitress import create_server

        from flowlog.serving.app import ServingApp

        app = ServingApp(
            self.manager,
            metrics=self.metrics,
            batcher=self.batcher,
            max_body_bytes=self.args.max_request_bytes,
        )
        try:
            self.http = create_server(
                app,
                host=self.args.host,
                port=self.args.port,
                threads=self.args.rest_api_num_threads,
                ident="flowlog-serve",
                channel_timeout=60,
                max_request_body_size=self.args.max_request_bytes + 2**20,
                clear_untrusted_proxy_headers=True,
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {self.args.host}:{self.args.port}: {exc}"
            ) from None
        return self.http

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
        self.manager.stop()
        if self.batcher is not None:
            self.batcher.close()
        if self.metrics is not None:
            self.metrics.close()


def _stop_on_sigterm() -> None:
    def handler(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handler)


def run(args) -> int:
    """Start, serve until SIGINT/SIGTERM, shut down cleanly (metrics run closed finished)."""
    import logging

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = Server(args)
    try:
        server._start_metrics()
        server.load_initial()
        http = server.listen()
        server.manager.start_polling(args.file_system_poll_wait_seconds)
        for name in server.manager.models:
            base = f"http://{args.host}:{http.effective_port}/v1/models/{name}"
            _say(f"serving {name} at {base} (POST {base}:predict)")
        _stop_on_sigterm()
        http.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
