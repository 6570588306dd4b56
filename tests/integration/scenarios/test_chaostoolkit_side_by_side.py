"""The real ``chaos`` command and the imported scenario, one after the other on the same stack.

The experiment is run by Chaos Toolkit (``chaostoolkit`` + ``chaostoolkit-toxiproxy``
from PyPI, in their own venv) against the stack's Toxiproxy, then imported
with ``chaoslab import chaostoolkit`` and run by the lab. While each runs, the
toxics are read through the Toxiproxy API: the same toxics (type, stream,
toxicity, attributes) must appear on the same proxies, in the same order, for
the same time.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.integration.chaostoolkit_venv import ensure_chaos
from tests.integration.scenarios.conftest import CLI, UpStack, finish

pytestmark = pytest.mark.integration

RECORDED = Path(__file__).parents[2] / "unit" / "recorded" / "chaostoolkit"
EXPERIMENT = RECORDED / "side-by-side.json"
PROXIES = ("postgres", "downstream")


@dataclass
class Seen:
    """When each toxic was first and last listed, by (proxy, name) and what it is."""

    spans: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    shapes: dict[tuple[str, str], str] = field(default_factory=dict)

    def by_shape(self) -> dict[str, tuple[str, float, float]]:
        return {self.shapes[key]: (key[1], *span) for key, span in self.spans.items()}


def watch(toxiproxy: str, proc: subprocess.Popen[str]) -> Seen:
    """Read every proxy's toxics every 100 ms until ``proc`` exits."""
    seen = Seen()
    start = time.monotonic()
    with httpx.Client(base_url=toxiproxy, timeout=5) as client:
        while proc.poll() is None:
            now = time.monotonic() - start
            for proxy in PROXIES:
                for toxic in client.get(f"/proxies/{proxy}/toxics").json():
                    key = (proxy, str(toxic["name"]))
                    what = [toxic[k] for k in ("type", "stream", "toxicity", "attributes")]
                    seen.shapes[key] = json.dumps([proxy, *what], sort_keys=True)
                    first, _ = seen.spans.get(key, (now, now))
                    seen.spans[key] = (first, now)
            time.sleep(0.1)
    return seen


def run_watched(argv: list[str], toxiproxy: str, env: dict[str, str]) -> tuple[Seen, str, int]:
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.append(finish(proc, timeout=300)))
    reader.start()
    try:
        seen = watch(toxiproxy, proc)
    finally:
        reader.join()
    return seen, "".join(output), proc.returncode


def test_the_chaos_command_accepts_every_experiment_the_importer_maps() -> None:
    chaos = ensure_chaos()
    nowhere = "http://127.0.0.1:9"  # validate calls nothing
    env = {**os.environ, "CHAOSLAB_TOXIPROXY_URL": nowhere, "CHAOSLAB_TARGET_URL": nowhere}
    env["CHAOSLAB_PROMETHEUS_URL"] = nowhere
    for name in (
        "slow-classifier.json",
        "database-link.yaml",
        "outages.json",
        "sliced-and-stopped.json",
        "side-by-side.json",
    ):
        done = subprocess.run(
            [str(chaos), "--no-log-file", "validate", str(RECORDED / name)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, f"{name}:\n{done.stdout}{done.stderr}"


def test_chaos_and_the_imported_scenario_put_the_same_toxics_on_the_same_proxies(
    up_stack: UpStack, tmp_path: Path
) -> None:
    chaos = ensure_chaos()
    ep = up_stack.state.endpoints
    env = {
        **os.environ,
        "CHAOSLAB_TOXIPROXY_URL": ep.toxiproxy_url,
        "CHAOSLAB_TARGET_URL": ep.target_url,
    }
    journal = tmp_path / "chaos-journal.json"
    argv = [str(chaos), "--no-log-file", "run", "--journal-path", str(journal), str(EXPERIMENT)]
    by_chaos, chaos_out, chaos_code = run_watched(argv, ep.toxiproxy_url, env)
    assert chaos_code == 0, chaos_out
    assert json.loads(journal.read_text())["status"] == "completed"

    scenario = tmp_path / "side-by-side.yaml"
    imported = up_stack.cli(
        "import", "chaostoolkit", str(EXPERIMENT), "--out", str(scenario),
        "--lead-in", "5s", "--tail", "8s", "--users", "5",
    )  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert up_stack.cli("validate", str(scenario)).returncode == 0
    run = [*CLI, "--state-dir", str(up_stack.state_dir), "run", str(scenario)]
    by_lab, lab_out, lab_code = run_watched(
        [*run, "--out", str(tmp_path / "run")], ep.toxiproxy_url, dict(os.environ)
    )
    assert lab_code == 0, lab_out

    chaos_toxics, lab_toxics = by_chaos.by_shape(), by_lab.by_shape()
    print(f"\nchaos: {json.dumps(chaos_toxics)}\nlab:   {json.dumps(lab_toxics)}")
    assert set(chaos_toxics) == set(lab_toxics)  # proxy, type, stream, toxicity, attributes
    assert len(chaos_toxics) == 2
    for shape, (name, first, last) in chaos_toxics.items():
        lab_name, lab_first, lab_last = lab_toxics[shape]
        assert lab_name == f"chaoslab-{name}"
        assert abs((last - first) - (lab_last - lab_first)) < 1.0  # 6 s each, polled
    order = sorted(chaos_toxics, key=lambda s: chaos_toxics[s][1])
    assert order == sorted(lab_toxics, key=lambda s: lab_toxics[s][1])
    gap_chaos = chaos_toxics[order[1]][1] - chaos_toxics[order[0]][1]
    gap_lab = lab_toxics[order[1]][1] - lab_toxics[order[0]][1]
    assert abs(gap_chaos - gap_lab) < 1.0  # the second toxic 3 s after the first in both
    for proxy in PROXIES:
        assert up_stack.toxics(proxy) == []  # both cleaned up after themselves
