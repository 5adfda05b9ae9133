"""``flowlog serve``: the command line, start-up and shutdown of the model server.

Why uvicorn (with httptools and uvloop): the server is one process, so every request shares
one set of loaded versions, one swap state, one batching queue and one metrics writer (a
pre-forking server such as gunicorn would load every version once per worker and swap each on
its own, so two requests could see different "latest" versions during a swap). In one Python
process the GIL makes the HTTP stack's own CPU cost per request the limit, and there uvicorn's
compiled parser and event loop cost a third of waitress' threads: on the same constant answer
``benchmarks/serving.py`` measured 14,400 vs 6,400 requests/s from one client and 25,700 vs
4,300 from 8 (waitress, the dashboard's server, loses to thread hand-offs and GIL contention).
Small models run on the event loop itself, larger ones on a thread pool (``app.py``).

Flags follow TensorFlow Serving's (``--rest_api_port`` becomes ``--port``, which serves REST;
the underscore spellings are accepted too).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import socket
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
BACKLOG = 2048
UNLOAD_WAIT_S = 30  # as long as a request may hold an unloading version


def _flag(parser, name: str, **kw) -> None:
    """``--a-b`` plus TF Serving's ``--a_b`` spelling."""
    spelled = "--" + name[2:].replace("-", "_")
    parser.add_argument(*dict.fromkeys((name, spelled)), **kw)


def add_arguments(p: argparse.ArgumentParser) -> None:
    _flag(
        p,
        "--model-name",
        metavar="NAME",
        default="default",
        help="the model's name in URLs (default: default)",
    )
    _flag(
        p,
        "--model-base-path",
        metavar="DIR",
        help="directory holding the model's version directories 1/, 2/…",
    )
    _flag(
        p, "--model-config-file", metavar="FILE",
        help="TF Serving model_config_list file (several models; replaces --model-name and "
        "--model-base-path)",
    )  # fmt: skip
    _flag(
        p, "--model-config-file-poll-wait-seconds", metavar="S", type=float, default=0.0,
        help="re-read --model-config-file this often: new models load, removed ones unload "
        "(default 0: read once, as TF Serving)",
    )  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    _flag(p, "--port", type=int, default=DEFAULT_PORT, help=f"REST port (default {DEFAULT_PORT})")
    _flag(
        p, "--rest-api-port", type=int, dest="port", default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )  # fmt: skip
    p.add_argument(
        "--logdir",
        metavar="DIR",
        help="write the server's traffic as a flowlog run under this logdir",
    )
    _flag(
        p,
        "--metrics-interval-s",
        metavar="S",
        type=float,
        default=1.0,
        help="seconds per metrics step",
    )
    _flag(
        p, "--file-system-poll-wait-seconds", metavar="S", type=float, default=1.0,
        help="how often to look for new versions (0: only at start; default 1)",
    )  # fmt: skip
    _flag(p, "--enable-batching", action="store_true", help="merge concurrent requests")
    _flag(
        p,
        "--batching-parameters-file",
        metavar="FILE",
        help="TF Serving batching parameters (text format)",
    )
    _flag(
        p, "--rest-api-num-threads", metavar="N", type=int, default=4 * (os.cpu_count() or 1),
        help="request threads (default 4 per CPU, as TF Serving)",
    )  # fmt: skip
    _flag(
        p, "--max-request-bytes", metavar="BYTES", type=int, default=64 * 2**20,
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
        self.app = self.sock = None

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

    def start_metrics(self) -> None:
        if not self.args.logdir:
            return
        from flowlog.serving.metrics import ServingMetrics
        from flowlog.writer import SummaryWriter

        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"serve-{stamp}-pid{os.getpid()}"  # a restart is a new run, as in training
        writer = SummaryWriter(logdir=self.args.logdir, run_name=name, flush_secs=1)
        self.metrics = ServingMetrics(
            writer, lambda: list(self.manager.models), self.args.metrics_interval_s, self._newest
        )
        self.metrics.start()
        _say(f"traffic logged to {writer.log_dir}")

    def _newest(self, name: str) -> int | None:
        model = self.manager.models.get(name)
        versions = model.serving_versions() if model is not None else []
        return versions[-1] if versions else None

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

    def listen(self) -> int:
        """Bind and listen (so connections queue from here on); returns the bound port."""
        from flowlog.serving.app import ServingApp

        host, port = self.args.host, self.args.port
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, port))
            self.sock.listen(BACKLOG)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
        self.app = ServingApp(
            self.manager,
            metrics=self.metrics,
            batcher=self.batcher,
            max_body_bytes=self.args.max_request_bytes,
            threads=self.args.rest_api_num_threads,
        )
        return self.sock.getsockname()[1]

    def serve(self) -> None:
        """Serve until SIGINT/SIGTERM (uvicorn's graceful shutdown: running requests finish)."""
        import uvicorn

        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_keep_alive=60,
            timeout_graceful_shutdown=UNLOAD_WAIT_S,
            backlog=BACKLOG,
        )
        uvicorn.Server(config).run(sockets=[self.sock])

    def close(self) -> None:
        self.manager.stop()
        if self.app is not None:
            self.app.close()
        if self.batcher is not None:
            self.batcher.close()
        if self.metrics is not None:
            self.metrics.close()
        if self.sock is not None:
            self.sock.close()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _stop_on_sigterm() -> None:
    """SIGTERM as SystemExit, so shutdown runs the ``finally`` (uvicorn re-raises the signal
    it caught once it has stopped serving)."""

    def handler(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handler)


def run(args) -> int:
    """Start, serve until SIGINT/SIGTERM, shut down cleanly (metrics run closed finished)."""
    server = Server(args)
    try:
        server.start_metrics()
        server.load_initial()
        port = server.listen()
        server.manager.start_polling(args.file_system_poll_wait_seconds)
        if args.model_config_file:
            server.manager.start_config_polling(
                lambda: _configs(args), args.model_config_file_poll_wait_seconds
            )
        for name in server.manager.models:
            base = f"http://{args.host}:{port}/v1/models/{name}"
            _say(f"serving {name} at {base} (POST {base}:predict)")
        if not _is_loopback(args.host):
            _say(
                f"listening on {args.host}: anyone who can reach this address can query the "
                "models (TF Serving's REST API has no authentication; put a proxy in front)"
            )
        _stop_on_sigterm()
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
