"""``python -m bookshop --host 127.0.0.1 --port 8123``: the bookshop on waitress.

Why waitress and not gunicorn: waitress serves from a thread pool inside this
one process, so the process we start is the process that serves. gunicorn
forks its workers after import, and sentry-sdk's transport thread,
OpenTelemetry's BatchSpanProcessor thread and psycopg_pool's workers do not
survive a fork (each would need a ``post_fork`` hook), while more than one
worker would also split prometheus_client's counters across processes. One
process with N threads keeps every metric, span and Sentry event in one place.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

import sentry_sdk
from waitress.server import create_server

from bookshop.app import create_app
from bookshop.config import Settings
from bookshop.db import Database
from bookshop.exceptions import ConfigError, DatabaseUnavailable
from bookshop.logs import configure_logging
from bookshop.pricing_client import PricingClient
from bookshop.services import Services
from bookshop.telemetry import (
    configure_sentry,
    configure_tracing,
    instrument_app,
    instrument_libraries,
)

log = logging.getLogger("bookshop")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bookshop", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8123, help="port to bind (default 8123)")
    parser.add_argument("--threads", type=int, default=16, help="request threads (default 16)")
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=30.0,
        help="seconds to keep retrying schema creation while PostgreSQL is unreachable",
    )
    return parser.parse_args(argv)


def _stop(signum: int, _frame: FrameType | None) -> None:
    # waitress's loop turns SystemExit into a clean stop; the finally below flushes.
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"bookshop: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_file)
    configure_sentry(settings)
    provider = configure_tracing(settings)
    instrument_libraries()

    backends = Services(
        db=Database(settings.database_url, settings.pool_size, settings.db_timeout_s),
        pricing=PricingClient(
            settings.pricing_url, settings.pricing_timeout_s, max_connections=args.threads
        ),
    )
    try:
        backends.db.open()
        books = backends.db.ensure_schema(deadline_s=args.startup_timeout)
        log.info("schema.ready", extra={"books": books})
        app = create_app(backends)
        instrument_app(app)
        server = create_server(
            app, host=args.host, port=args.port, threads=args.threads, ident="bookshop"
        )
        signal.signal(signal.SIGTERM, _stop)
        log.info(
            "bookshop.started",
            extra={
                "host": args.host,
                "port": args.port,
                "threads": args.threads,
                "pricing_url": settings.pricing_url,
            },
        )
        server.run()
        log.info("bookshop.stopping")
        return 0
    except DatabaseUnavailable as exc:
        log.error("bookshop.startup_failed", extra={"error": str(exc)})
        return 1
    finally:
        backends.close()
        provider.shutdown()
        sentry_sdk.flush(timeout=2.0)


if __name__ == "__main__":
    sys.exit(main())
