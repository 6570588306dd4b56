"""Run the target service or the classifier under uvicorn.

    python -m target_app serve --host 127.0.0.1 --port 8000
    python -m target_app classifier --host 127.0.0.1 --port 8001

Logging is configured by the app itself (``log_config=None``), so uvicorn's
own records go through the same JSON pipeline.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn
from fastapi import FastAPI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m target_app", description="Run the target service or the classifier."
    )
    parser.add_argument("service", choices=["serve", "classifier"], help="which app to run")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    args = parser.parse_args(argv)
    app: FastAPI
    if args.service == "serve":
        from target_app.main import create_app

        app = create_app()
    else:
        from target_app.classifier import create_classifier_app

        app = create_classifier_app()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        timeout_graceful_shutdown=5,
        timeout_keep_alive=30,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
