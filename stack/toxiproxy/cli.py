"""``chaoslab-toxiproxy``: a drop-in for ``toxiproxy-server`` (same flags, ``-x`` or ``--x``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from stack.toxiproxy.api import VERSION
from stack.toxiproxy.metrics import Metrics
from stack.toxiproxy.server import ToxiproxyServer, new_event_loop

log = logging.getLogger("stack.toxiproxy")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="chaoslab-toxiproxy",
        description="Toxiproxy 2.x compatible TCP fault proxy (embedded chaoslab server).",
    )
    parser.add_argument("-host", "--host", default="127.0.0.1", help="API listen host")
    parser.add_argument("-port", "--port", type=int, default=8474, help="API listen port")
    parser.add_argument("-config", "--config", type=Path, help="JSON file of proxies to create")
    parser.add_argument("-seed", "--seed", type=int, help="seed for toxicity and jitter rolls")
    parser.add_argument("-version", "--version", action="store_true", help="print the version")
    parser.add_argument(
        "-proxy-metrics",
        "--proxy-metrics",
        action="store_true",
        help="serve toxiproxy_proxy_* byte counters on /metrics",
    )
    parser.add_argument(
        "-runtime-metrics",
        "--runtime-metrics",
        action="store_true",
        help="serve process and Python runtime metrics on /metrics",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    metrics = Metrics(args.proxy_metrics, args.runtime_metrics)
    server = ToxiproxyServer(args.host, args.port, args.seed, metrics)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    if args.config is not None:
        await server.load_config(args.config)
    await server.start()
    await stopping.wait()
    log.info("Shutdown started")
    await server.stop()
    log.info("Shutdown finished")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.version:
        print(f"toxiproxy-server version {VERSION}")
        return 0
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    log.info("Starting Toxiproxy version=%s seed=%s", VERSION, args.seed)
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(args))
    except OSError as exc:
        log.error("Server finished with error: %s", exc)
        return 1
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
