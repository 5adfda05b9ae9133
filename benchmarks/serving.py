"""``flowlog serve`` latency and throughput against its two floors, in the same run.

Models: the linear regression of ``examples/serve_linear_regression.py`` (2 → 1) and an MLP
(64 → 256 relu → 256 relu → 10), one row per request, row format (``{"instances": [...]}``).
For each model, single client and ``--clients`` concurrent clients (separate processes,
one keep-alive connection each):

* **server**: ``flowlog serve`` (uvicorn; small models run on its event loop, see
  ``flowlog/serving/app.py``);
* **constant**: the floor of the stack: an ASGI app on uvicorn with ``flowlog serve``'s settings
  answering a fixed body of the same size, no JSON, no model; and the same answer from a WSGI
  app on waitress (the dashboard's server, the alternative considered);
* **in-process**: the model's floor: ``Loaded.run_checked`` on the same row, no HTTP, no JSON;
* **batching**: the server with ``--enable-batching`` (timeout 0 and 2 ms), concurrent only.

Clients write pre-built HTTP/1.1 requests on raw sockets and read the answer by its
Content-Length, so the client's own cost stays small and equal for all. Each line also gives
the server's CPU use (cores) and the whole machine's busy cores while it ran. Target: server p50
minus in-process p50 ≤ 1 ms for a single client; throughput scales with clients until the
cores are busy. Usage: ``python benchmarks/serving.py [--requests 2000] [--clients 8]
[--server-threads N]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import flowlog as fl  # noqa: E402

_PORT = re.compile(r"serving \S+ at http://[^:]+:(\d+)/")
CONSTANT_APP = """
import sys
body = sys.argv[2].encode()
headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
def wsgi(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [(k.decode(), v.decode()) for k, v in headers])
    return [body]
port, threads = int(sys.argv[1]), int(sys.argv[3])
if sys.argv[4] == "uvicorn":  # flowlog serve's own settings
    import uvicorn
    uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                lifespan="off", server_header=False)
else:
    import logging
    from waitress import serve
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    serve(wsgi, host="127.0.0.1", port=port, threads=threads, channel_timeout=60, _quiet=True)
"""


def export_models(root: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    graph = fl.Graph()
    with graph.as_default():
        x = fl.placeholder(fl.float32, (None, 2), name="x")
        y = fl.matmul(x, fl.Variable(np.float32([[2.0], [-1.0]]), name="w")) + fl.Variable(
            np.float32([0.5]), name="b"
        )
    fl.saved_model.save(fl.Session(graph), root / "linreg" / "1", {"x": x}, {"y": y})
    graph = fl.Graph()
    with graph.as_default():
        h = x = fl.placeholder(fl.float32, (None, 64), name="x")
        for i, (n_in, n_out) in enumerate([(64, 256), (256, 256), (256, 10)]):
            w = fl.Variable(
                rng.normal(0, n_in**-0.5, (n_in, n_out)).astype(np.float32), name=f"w{i}"
            )
            b = fl.Variable(np.zeros(n_out, np.float32), name=f"b{i}")
            h = fl.matmul(h, w) + b
            h = fl.nn.relu(h) if i < 2 else h
    fl.saved_model.save(fl.Session(graph), root / "mlp" / "1", {"x": x}, {"y": h})
    return {"linreg": root / "linreg", "mlp": root / "mlp"}


def request_bytes(model: str, row: list) -> bytes:
    body = json.dumps({"instances": [row]}).encode()
    head = (
        f"POST /v1/models/{model}:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _read_answer(sock: socket.socket, buf: bytearray) -> bytes:
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(rest) < length:
        rest += sock.recv(65536)
    buf[:] = rest[length:]
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n")[0].decode())
    return rest[:length]


def client_run(port: int, payload: bytes, n: int, start_at: float, out) -> None:
    """n requests on one connection after a common start time; latencies to ``out``."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    for _ in range(20):  # warm-up
        sock.sendall(payload)
        _read_answer(sock, buf)
    time.sleep(max(0.0, start_at - time.time()))
    lat = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        sock.sendall(payload)
        _read_answer(sock, buf)
        lat[i] = time.perf_counter() - t
    sock.close()
    out.put(lat)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat, None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def measure(port: int, payload: bytes, clients: int, n: int, pid: int | None = None) -> dict:
    """Latency percentiles and throughput of ``clients`` processes sending ``n`` requests each;
    CPU use (the server's, the machine's) over the same window, after the clients' warm-up."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 0.5
    procs = [
        ctx.Process(target=client_run, args=(port, payload, n, start_at, out))
        for _ in range(clients)
    ]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu_before, machine_before, began = (
        cpu_seconds(pid) if pid else None,
        machine_busy(),
        time.time(),
    )
    lats = [out.get(timeout=600) for _ in procs]
    window = time.time() - began
    cpu_after, machine_after = cpu_seconds(pid) if pid else None, machine_busy()
    for p in procs:
        p.join()
    every = np.concatenate(lats) * 1e3
    busy = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / window
    all_busy = None
    if machine_before and machine_after:
        spent = machine_after[0] - machine_before[0]
        all_busy = (os.cpu_count() or 1) * spent / max(1, machine_after[1] - machine_before[1])
    return {
        "p50": float(np.percentile(every, 50)),
        "p99": float(np.percentile(every, 99)),
        "rps": every.size / max(lat.sum() for lat in lats),
        "cores": busy,  # server CPU seconds per second
        "machine": all_busy,  # busy cores of the whole machine (clients, server, others)
    }


def start_server(args: list[str]) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "flowlog.cli", "serve", "--port", "0", *args]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        found = _PORT.search(line)
        if found:
            return proc, int(found.group(1))
    raise RuntimeError("flowlog serve did not start")


def start_constant(body: bytes, threads: int, stack: str) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", CONSTANT_APP, str(port), body.decode(), str(threads), stack]
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("constant server did not start")


def in_process(path: Path, row: list, n: int) -> dict:
    loaded = fl.saved_model.load(path / "1")
    feed = loaded.check_inputs({"x": np.asarray([row], np.float32)})
    for _ in range(50):
        loaded.run_checked(feed)
    lat = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        loaded.run_checked(feed)
        lat[i] = time.perf_counter() - t
    ms = lat * 1e3
    return {"p50": float(np.median(ms)), "p99": float(np.percentile(ms, 99)), "rps": n / lat.sum()}


def _row(label: str, r: dict, base: dict | None = None) -> str:
    extra = f"  ({r['rps'] / base['rps']:.2f}x)" if base else ""
    if r.get("cores") is not None:
        extra += f"  server busy {r['cores']:.2f} cores"
    if r.get("machine") is not None:
        extra += f", machine {r['machine']:.2f}"
    figures = f"p50 {r['p50']:7.3f} ms  p99 {r['p99']:7.3f} ms  {r['rps']:8.0f} req/s"
    return f"  {label:<26} {figures}{extra}"


def bench_model(name: str, base: Path, config: Path, args, row: list) -> None:
    payload = request_bytes(name, row)
    threads = str(args.server_threads)
    config_args = ["--model-config-file", str(config), "--rest-api-num-threads", threads]
    server, port = start_server(config_args)
    body = _read_body(port, payload)
    constant, cport = start_constant(body, int(threads), "uvicorn")
    waitress, wport = start_constant(body, int(threads), "waitress")
    batch0, bport0 = start_server([*config_args, "--enable-batching"])
    params = config.parent / "batching.txt"
    params.write_text("max_batch_size { value: 64 } batch_timeout_micros { value: 2000 }\n")
    batch2, bport2 = start_server(
        [*config_args, "--enable-batching", "--batching-parameters-file", str(params)]
    )
    try:
        local = in_process(base, row, args.requests)
        print(f"\n{name}: one row per request, {args.requests} requests per client")
        print(_row("in-process (model floor)", local))
        for clients in sorted({1, 2, args.clients}):
            c = measure(cport, payload, clients, args.requests, constant.pid)
            wc = measure(wport, payload, clients, args.requests, waitress.pid)
            s = measure(port, payload, clients, args.requests, server.pid)
            print(f" {clients} client(s):")
            print(_row("constant (stack floor)", c))
            print(_row("constant on waitress", wc, c))
            print(_row("flowlog serve", s, c))
            if clients > 1:
                for label, proc, p in (
                    ("batching, timeout 0", batch0, bport0),
                    ("batching, timeout 2 ms", batch2, bport2),
                ):
                    r = measure(p, payload, clients, args.requests, proc.pid)
                    print(_row(label, r, s))
            else:
                print(
                    f"  server overhead over the model: {s['p50'] - local['p50']:.3f} ms at p50 "
                    f"(target <= 1 ms); over the stack floor: {s['p50'] - c['p50']:.3f} ms"
                )
    finally:
        for p in (server, constant, waitress, batch0, batch2):
            p.terminate()
            p.wait(timeout=30)


def _read_body(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(payload)
        return _read_answer(sock, bytearray())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per client")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--server-threads", type=int, default=4 * (os.cpu_count() or 1),
        help="request threads of each server (default: flowlog serve's, 4 per CPU)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        models = export_models(Path(tmp) / "models")
        rng = np.random.default_rng(1)
        rows = {"linreg": [1.0, 2.0], "mlp": rng.normal(size=64).round(3).tolist()}
        for name, base in models.items():
            config = Path(tmp) / f"{name}.config"
            config.write_text(
                f"model_config_list {{ config {{ name: '{name}' base_path: '{base}' }} }}\n"
            )
            bench_model(name, base, config, args, rows[name])
    print(f"\n{os.cpu_count()} CPUs; clients and servers share them.")


if __name__ == "__main__":
    main()
