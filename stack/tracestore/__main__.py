"""``python -m stack.tracestore --port N --db PATH``: serve the trace store with uvicorn."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from stack.ports import LOOPBACK
from stack.tracestore.app import create_app
from stack.tracestore.storage import Retention


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = Retention()
    parser = argparse.ArgumentParser(
        prog="python -m stack.tracestore",
        description="OTLP/HTTP trace receiver (POST /v1/traces) with a Jaeger query API (/api).",
    )
    parser.add_argument("--host", default=LOOPBACK, help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument("--db", type=Path, required=True, help="SQLite file (created if missing)")
    parser.add_argument(
        "--max-spans",
        type=int,
        default=defaults.max_spans,
        help="keep at most this many spans, dropping the oldest (default: %(default)s)",
    )
    parser.add_argument(
        "--max-age",
        type=float,
        default=defaults.max_age_s,
        help="also drop spans received more than this many seconds ago (default: keep)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    retention = Retention(max_spans=args.max_spans, max_age_s=args.max_age)
    uvicorn.run(
        create_app(args.db, retention),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        workers=1,
    )


if __name__ == "__main__":
    main()
