"""Overhead of the Toxiproxy-compatible proxy: direct vs embedded (vs real ``toxiproxy-server``).

Run: ``uv run python -m benchmarks.proxy_overhead`` (or as a script). Prints, in
one run and side by side: small-message round-trip p50/p99 (echo server), bulk
throughput on one connection, ``pgbench -S`` TPS against a throwaway
PostgreSQL, then the accuracy of a 100 ms latency toxic and of a bandwidth
toxic, and the ratios against the goals (Go Toxiproxy on a 2-core machine:
0.47x direct TPS, 613 MB/s bulk, ~0.10 ms added round-trip).

Every proxy under test runs as its own process (the way the local stack runs
it), and so do the echo and sink servers, so no GIL is shared with the client.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from stack.ports import LOOPBACK, free_port, is_listening
from stack.postgres import PostgresCluster, pg_binary
from stack.toxiproxy.picker import ToxiproxyProcess, real_binary

GOAL_TPS_RATIO = 0.5
GOAL_BULK_MBPS = 650.0
GOAL_ADDED_P50_MS = 0.10
GO_TOXIPROXY = {"tps_ratio": 0.47, "bulk_mbps": 613.0, "added_p50_ms": 0.10}

ECHO_ROUNDS = 4000
BULK_BYTES = 2 * 1024 * 1024 * 1024
BULK_CHUNK = 1024 * 1024
PGBENCH_SECONDS = 10


# -- helper servers (run as child processes of this module) ----------------------------


def _serve(port: int, handler_name: str) -> None:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((LOOPBACK, port))
    srv.listen(64)
    handler = _echo if handler_name == "echo" else _sink
    while True:
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def _sink(conn: socket.socket) -> None:
    """Read an 8-byte length, then that many bytes, then answer one byte."""
    with conn:
        header = conn.recv(8, socket.MSG_WAITALL)
        if len(header) < 8:
            return
        remaining = int.from_bytes(header, "big")
        buf = bytearray(4 * 1024 * 1024)
        view = memoryview(buf)
        while remaining > 0:
            got = conn.recv_into(view, min(len(buf), remaining))
            if got == 0:
                return
            remaining -= got
        conn.sendall(b"!")


@contextmanager
def helper_server(kind: str) -> Iterator[int]:
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.proxy_overhead", f"--serve-{kind}", str(port)]
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(argv, cwd=root, env=env)
    try:
        deadline = time.monotonic() + 10
        while not is_listening(port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{kind} server did not start")
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# -- measurements -------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    bulk_mbps: float = float("nan")
    tps: float = float("nan")
    notes: list[str] = field(default_factory=list)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trips(port: int, rounds: int, size: int = 64) -> list[float]:
    """Round-trip times in ms for ``size``-byte messages through an echo server."""
    payload = os.urandom(size)
    times: list[float] = []
    with _connect(port) as sock:
        for _ in range(50):  # warm-up
            sock.sendall(payload)
            sock.recv(size, socket.MSG_WAITALL)
        for _ in range(rounds):
            started = time.perf_counter()
            sock.sendall(payload)
            got = sock.recv(size, socket.MSG_WAITALL)
            times.append((time.perf_counter() - started) * 1000)
            if len(got) != size:
                raise RuntimeError("echo answered short")
    return times


def bulk(port: int, total: int = BULK_BYTES) -> float:
    """MB/s (10^6 bytes/s) of ``total`` bytes on one connection to the sink server."""
    chunk = os.urandom(BULK_CHUNK)
    with _connect(port) as sock:
        started = time.perf_counter()
        sock.sendall(total.to_bytes(8, "big"))
        sent = 0
        while sent < total:
            n = min(len(chunk), total - sent)
            sock.sendall(chunk[:n] if n < len(chunk) else chunk)
            sent += n
        if sock.recv(1) != b"!":
            raise RuntimeError("sink did not acknowledge")
        elapsed = time.perf_counter() - started
    return total / elapsed / 1e6


def pgbench_tps(pg: PostgresCluster, port: int, seconds: int = PGBENCH_SECONDS) -> float:
    argv = [
        pg_binary("pgbench"),
        "-h",
        LOOPBACK,
        "-p",
        str(port),
        "-U",
        "postgres",
        "-S",
        "-c",
        "8",
        "-j",
        "2",
        "-T",
        str(seconds),
        "-n",
        "chaoslab",
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60)
    match = re.search(r"tps = ([0-9.]+) \((?:without|excluding)", out.stdout)
    if match is None:
        raise RuntimeError(f"no tps in pgbench output:\n{out.stdout}\n{out.stderr}")
    return float(match.group(1))


def pgbench_init(pg: PostgresCluster) -> None:
    argv = [pg_binary("pgbench"), "-h", LOOPBACK, "-p", str(pg.port), "-U", "postgres"]
    subprocess.run([*argv, "-i", "-s", "2", "-q", "chaoslab"], capture_output=True, check=True)


def create_proxy(client: httpx.Client, name: str, upstream_port: int) -> int:
    body = {"name": name, "listen": f"{LOOPBACK}:0", "upstream": f"{LOOPBACK}:{upstream_port}"}
    response = client.post("/proxies", json=body)
    response.raise_for_status()
    return int(response.json()["listen"].rsplit(":", 1)[1])


def measure(name: str, echo: int, sink: int, pg: PostgresCluster | None, pg_port: int) -> Figures:
    figures = Figures(name)
    times = round_trips(echo, ECHO_ROUNDS)
    figures.p50_ms = statistics.median(times)
    figures.p99_ms = statistics.quantiles(times, n=100)[98]
    figures.bulk_mbps = bulk(sink)
    if pg is not None:
        figures.tps = pgbench_tps(pg, pg_port)
    return figures


def toxic_accuracy(client: httpx.Client, echo_via: int, sink_via: int) -> list[str]:
    lines: list[str] = []
    base = statistics.median(round_trips(echo_via, 40))
    toxic = {"name": "lat", "type": "latency", "stream": "downstream"}
    toxic["attributes"] = {"latency": 100, "jitter": 0}  # type: ignore[assignment]  # JSON body
    client.post("/proxies/echo/toxics", json=toxic).raise_for_status()
    with_toxic = statistics.median(round_trips(echo_via, 20))
    client.delete("/proxies/echo/toxics/lat").raise_for_status()
    added = with_toxic - base
    verdict = "OK" if abs(added - 100) <= 5 else "OFF"
    lines.append(f"latency toxic 100 ms: added {added:7.2f} ms (target 100 ± 5)  {verdict}")
    rate_kbs = 4000
    total = 8_000_000
    bw = {"name": "bw", "type": "bandwidth", "stream": "upstream", "attributes": {"rate": rate_kbs}}
    client.post("/proxies/sink/toxics", json=bw).raise_for_status()
    measured_kbs = bulk(sink_via, total) * 1000
    client.delete("/proxies/sink/toxics/bw").raise_for_status()
    error = (measured_kbs - rate_kbs) / rate_kbs * 100
    verdict = "OK" if abs(error) <= 10 else "OFF"
    lines.append(
        f"bandwidth toxic {rate_kbs} KB/s: measured {measured_kbs:8.1f} KB/s "
        f"({error:+.1f} %, target ± 10 %)  {verdict}"
    )
    return lines


def run(with_pgbench: bool = True) -> None:
    started = time.monotonic()
    servers: list[tuple[str, ToxiproxyProcess]] = [
        ("embedded (process)", ToxiproxyProcess("embedded"))
    ]
    binary = real_binary()
    if binary is not None:
        servers.append(("real toxiproxy-server", ToxiproxyProcess("real", binary=binary)))
    else:
        print("note: toxiproxy-server is not on PATH; comparing direct vs embedded only")
    results: list[Figures] = []
    accuracy: list[str] = []
    with (
        helper_server("echo") as echo,
        helper_server("sink") as sink,
        _postgres(with_pgbench) as pg,
    ):
        if pg is not None:
            pgbench_init(pg)
        results.append(measure("direct", echo, sink, pg, pg.port if pg else 0))
        for label, server in servers:
            with server, httpx.Client(base_url=server.api_url) as client:
                echo_via = create_proxy(client, "echo", echo)
                sink_via = create_proxy(client, "sink", sink)
                pg_via = create_proxy(client, "postgres", pg.port) if pg else 0
                results.append(measure(label, echo_via, sink_via, pg, pg_via))
                accuracy += [
                    f"[{label}] {line}" for line in toxic_accuracy(client, echo_via, sink_via)
                ]
    report(results, accuracy, time.monotonic() - started)


@contextmanager
def _postgres(enabled: bool) -> Iterator[PostgresCluster | None]:
    if not enabled:
        yield None
        return
    with PostgresCluster() as pg:
        yield pg


def report(results: list[Figures], accuracy: list[str], elapsed: float) -> None:
    direct = results[0]
    header = f"{'path':<24}{'rtt p50 ms':>11}{'rtt p99 ms':>11}{'added p50':>11}"
    header += f"{'bulk MB/s':>11}{'pgbench TPS':>13}{'TPS ratio':>11}"
    print()
    print(header)
    print("-" * len(header))
    for fig in results:
        added = fig.p50_ms - direct.p50_ms
        ratio = (
            fig.tps / direct.tps if direct.tps == direct.tps and direct.tps > 0 else float("nan")
        )
        print(
            f"{fig.name:<24}{fig.p50_ms:>11.3f}{fig.p99_ms:>11.3f}{added:>11.3f}"
            f"{fig.bulk_mbps:>11.0f}{fig.tps:>13.0f}{ratio:>11.2f}"
        )
    print()
    print("goals (embedded vs Go Toxiproxy's 0.47x TPS, 613 MB/s, 0.10 ms):")
    for fig in results[1:]:
        added = fig.p50_ms - direct.p50_ms
        ratio = fig.tps / direct.tps if direct.tps > 0 else float("nan")
        checks = [
            ("TPS ratio", ratio, f">= {GOAL_TPS_RATIO}", ratio >= GOAL_TPS_RATIO),
            (
                "bulk MB/s",
                fig.bulk_mbps,
                f">= {GOAL_BULK_MBPS:.0f}",
                fig.bulk_mbps >= GOAL_BULK_MBPS,
            ),
            ("added p50 ms", added, f"<= {GOAL_ADDED_P50_MS}", added <= GOAL_ADDED_P50_MS),
        ]
        for what, value, goal, met in checks:
            state = "MET" if met else "NOT MET"
            print(f"  [{fig.name}] {what:<13}{value:>10.3f}  goal {goal:<8} {state}")
    print()
    print("toxic accuracy:")
    for line in accuracy:
        print(f"  {line}")
    print(f"\nbenchmark wall time: {elapsed:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serve-echo", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-pgbench", action="store_true", help="skip the PostgreSQL part")
    args = parser.parse_args(argv)
    if args.serve_echo:
        _serve(args.serve_echo, "echo")
    elif args.serve_sink:
        _serve(args.serve_sink, "sink")
    else:
        run(with_pgbench=not args.no_pgbench)
    return 0


if __name__ == "__main__":
    sys.exit(main())
