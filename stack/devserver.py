"""Start PostgreSQL, the classifier and the target service, and wait for Ctrl-C.

    python -m stack.devserver [--seconds N]

A convenience for poking at the target service by hand; everything runs on
127.0.0.1 and is stopped and deleted on exit.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

from stack import apps
from stack.exceptions import StackError
from stack.postgres import PostgresCluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.devserver", description=__doc__)
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="stop after this long (default: never)",
    )
    args = parser.parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="chaoslab-dev-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with PostgresCluster(log_dir=log_dir) as pg:
            print(f"postgres    {pg.dsn()}", flush=True)
            with apps.classifier(log_dir) as classifier:
                print(f"classifier  {classifier.url}", flush=True)
                env = {
                    "TARGET_DSN": pg.dsn(),
                    "TARGET_DOWNSTREAM_URL": classifier.url,
                    "TARGET_LOG_FILE": str(log_dir / "target.jsonl"),
                }
                with apps.target(log_dir, env) as target:
                    print(f"target      {target.url}  (docs: {target.url}/docs)", flush=True)
                    print(f"logs        {log_dir}", flush=True)
                    print("Ctrl-C to stop.", flush=True)
                    deadline = None if args.seconds is None else time.monotonic() + args.seconds
                    while deadline is None or time.monotonic() < deadline:
                        time.sleep(0.5)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
