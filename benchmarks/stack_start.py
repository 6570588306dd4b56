"""Time to all-healthy for the local stack, cold and warm, per component, and its peak RSS.

    uv run python -m benchmarks.stack_start [--warm-runs N] [--skip-cold]

*Cold* uses an empty Bugsink cache (its venv is built and the migrated
template made, as on a first-ever run); *warm* reuses that cache, as every
later run does. RSS is the sum over every process of the stack (each
component's whole session: PostgreSQL backends, gunicorn workers...),
sampled every 100 ms from the first component until a short burst of
requests after all-healthy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from stack.bugsink.sessions import session_members
from stack.local import COMPONENTS, LocalStack
from stack.state import ComponentState, read_state


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


@dataclass
class Run:
    label: str
    per_component: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0
    peak_rss: int = 0


def measure(label: str, state_dir: Path) -> Run:
    run = Run(label)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            state = read_state(state_dir) if (state_dir / "stack.json").exists() else None
            if state is not None:
                pids = {
                    member
                    for record in state.components.values()
                    if record.pid is not None
                    for member in session_members(record.pid)
                }
                run.peak_rss = max(run.peak_rss, sum(rss_bytes(pid) for pid in pids))
            time.sleep(0.1)

    def progress(name: str, _record: ComponentState, seconds: float) -> None:
        run.per_component[name] = seconds
        print(f"  [{label}] {name:<13} healthy after {seconds:5.2f} s", flush=True)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    stack = LocalStack(state_dir, progress=progress)
    try:
        stack.up()
        run.total_s = time.monotonic() - started
        with httpx.Client(base_url=stack.endpoints.target_url, timeout=10) as client:
            for i in range(50):
                client.post(
                    "/api/documents",
                    json={"title": f"t{i}", "body": "b", "owner_email": "bench@example.com"},
                )
        time.sleep(1.0)
    finally:
        stop.set()
        sampler.join()
        stack.down()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warm-runs", type=int, default=2, help="warm starts to measure")
    parser.add_argument("--skip-cold", action="store_true", help="only warm starts")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="chaoslab-bench-"))
    runs: list[Run] = []
    try:
        if not args.skip_cold:
            cold_cache = scratch / "cache"
            os.environ["CHAOSLAB_BUGSINK_CACHE_DIR"] = str(cold_cache)
            print("cold start (empty Bugsink cache: venv build + migrations)...", flush=True)
            runs.append(measure("cold", scratch / "cold"))
        for index in range(args.warm_runs):
            print(f"warm start {index + 1}...", flush=True)
            runs.append(measure(f"warm{index + 1}", scratch / f"warm{index}"))
    finally:
        os.environ.pop("CHAOSLAB_BUGSINK_CACHE_DIR", None)
        shutil.rmtree(scratch, ignore_errors=True)

    print()
    print(f"{'component':<14}" + "".join(f"{run.label:>10}" for run in runs))
    for name in COMPONENTS:
        cells = "".join(f"{run.per_component.get(name, float('nan')):>9.2f}s" for run in runs)
        print(f"{name:<14}{cells}")
    print(f"{'ALL HEALTHY':<14}" + "".join(f"{run.total_s:>9.2f}s" for run in runs))
    print(f"{'peak RSS':<14}" + "".join(f"{run.peak_rss / 2**20:>8.0f}MB" for run in runs))
    warm = [run.total_s for run in runs if run.label.startswith("warm")]
    if warm:
        best = min(warm)
        verdict = "meets" if best <= 5.0 else "misses"
        print(f"\nwarm start best {best:.2f} s: {verdict} the 5 s target on {os.cpu_count()} cores")
    print("(per-component times overlap: independent components start in parallel)")


if __name__ == "__main__":
    main()
