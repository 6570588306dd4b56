"""`chaoslab up --stack compose` and `down` against a stand-in `docker` (no engine here).

The stand-in is a small Python script written into ``tmp_path/bin`` and put first
on PATH: it appends its argv (and the variables compose.yml interpolates) to a
log, and answers ``compose version``, ``info``, ``compose ... up``, ``compose ...
ps --format json``, ``compose ... exec`` and ``compose ... down`` with canned
output. What reaches the engine is therefore checked command line by command
line; that the containers really come up is not (see the README).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from scenarios.cli import main
from stack.bugsink.provisioning import _MARKER, PROVISION_SCRIPT
from stack.compose_stack import COMPOSE_FILE, ROTATE_SCRIPT, parse_ps
from stack.local import COMPONENTS
from stack.state import read_state

# Host ports other than compose.yml's, so the test proves they are read from `ps`.
PUBLISHED = {
    "postgres": (5432, 15432),
    "toxiproxy": (8474, 18474),
    "classifier": (8001, 18001),
    "target": (8000, 18000),
    "webhook": (9099, 19099),
    "alertmanager": (9093, 19093),
    "prometheus": (9090, 19090),
    "grafana": (3000, 13000),
    "bugsink": (8000, 18002),
}
JAEGER = [(16686, 26686), (4318, 24318)]


def _array_entry(service: str, ports: list[tuple[int, int]]) -> dict[str, Any]:
    """One container as Docker Compose v2 before 2.21 prints it (a JSON array).

    Shape and values from real `docker compose ps --format json | jq` output quoted in
    https://github.com/containerd/nerdctl/pull/1567 (service "wordpress"); only the
    names, ports and health (our services have healthchecks) are ours.
    """
    publishers: list[dict[str, Any]] = []
    for target, published in ports:
        publishers.append(
            {
                "URL": "127.0.0.1",
                "TargetPort": target,
                "PublishedPort": published,
                "Protocol": "tcp",
            }
        )
    return {
        "ID": "001f54b33d9bd481bda12d98821a93e11f40b92e2e557186c2b66e20c9279196",
        "Name": f"chaoslab-{service}-1",
        "Command": "docker-entrypoint.sh apache2-foreground",
        "Project": "chaoslab",
        "Service": service,
        "State": "running",
        "Health": "healthy",
        "ExitCode": 0,
        "Publishers": publishers,
    }


def _line_entry(service: str, ports: list[tuple[int, int]]) -> dict[str, Any]:
    """One container as Docker Compose 2.21+ prints it (one JSON object a line).

    Fields and values from real `docker compose ps --format json` output (Compose
    2.26.1) quoted in https://github.com/docker/compose/issues/11784; only the names,
    ports and health are ours.
    """
    entry = _array_entry(service, ports)
    shown = ", ".join(f"127.0.0.1:{p}->{t}/tcp" for t, p in ports)
    return {
        "Command": '"docker-entrypoint.s…"',
        "CreatedAt": "2024-05-02 12:21:53 +0400 +04",
        "ExitCode": 0,
        "Health": "healthy",
        "ID": "d2763e024a10",
        "Image": "redis:latest",
        "Labels": f"com.docker.compose.service={service},com.docker.compose.project=chaoslab",
        "LocalVolumes": "1",
        "Mounts": "ae6fbf221bbbee…",
        "Name": entry["Name"],
        "Names": entry["Name"],
        "Networks": "chaoslab_default",
        "Ports": shown,
        "Project": "chaoslab",
        "Publishers": entry["Publishers"],
        "RunningFor": "3 seconds ago",
        "Service": service,
        "Size": "0B",
        "State": "running",
        "Status": "Up 3 seconds (healthy)",
    }


def _containers() -> list[tuple[str, list[tuple[int, int]]]]:
    services = [(name, [ports]) for name, ports in PUBLISHED.items()]
    services.append(("jaeger", JAEGER))
    services.append(("locust-master", [(8089, 18089)]))
    services.append(("locust-worker", []))
    return services


def ps_array() -> str:
    return json.dumps([_array_entry(s, p) for s, p in _containers()], indent=2) + "\n"


def ps_lines() -> str:
    return "".join(json.dumps(_line_entry(s, p)) + "\n" for s, p in _containers())


PROVISIONED = {
    "admin_email": "admin@chaoslab.invalid",
    "team_id": "4b5c3b0a-3b8e-4f7e-9a39-0c1f1d1e7a11",
    "team_name": "chaoslab",
    "project_id": 1,
    "project_slug": "target",
    "sentry_key": "0123456789abcdef0123456789abcdef",
    "token_id": 1,
}

STAND_IN = '''#!{python}
"""A stand-in docker: logs its argv, answers with canned output (see the test module)."""
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
here = Path(__file__).parent
mode = os.environ.get("FAKE_DOCKER_MODE", "lines")
with (here / "calls.jsonl").open("a") as log:
    env = {{k: v for k, v in os.environ.items() if k.startswith("CHAOSLAB_")}}
    log.write(json.dumps({{"argv": [Path(sys.argv[0]).name, *args], "env": env}}) + "\\n")
if args[:2] == ["compose", "version"]:
    if mode == "no-plugin":
        sys.stderr.write("docker: 'compose' is not a docker command.\\n")
        sys.exit(1)
    print("Docker Compose version v2.29.7")
elif args == ["info"]:
    if mode == "engine-down":
        sys.stderr.write("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                         "Is the docker daemon running?\\n")
        sys.exit(1)
    print("Server Version: 27.3.1")
elif args and args[0] == "compose" and "ps" in args:
    sys.stdout.write((here / ("ps-" + mode + ".json")).read_text())
elif args and args[0] == "compose" and "exec" in args:
    print("some Django warning on stdout")
    print({marker!r} + (here / "provisioned.json").read_text())
elif args and args[0] == "compose" and ("up" in args or "down" in args):
    sys.stderr.write(" Container chaoslab-target-1  Healthy\\n")
else:
    sys.stderr.write("stand-in docker: unexpected " + " ".join(args) + "\\n")
    sys.exit(2)
'''


@pytest.fixture
def docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in's directory, first on PATH; ``calls.jsonl`` records every call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(STAND_IN.format(python=sys.executable, marker=_MARKER))
    script.chmod(0o755)
    (bin_dir / "ps-lines.json").write_text(ps_lines())
    (bin_dir / "ps-array.json").write_text(ps_array())
    (bin_dir / "provisioned.json").write_text(json.dumps(PROVISIONED))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_MODE", "lines")
    return bin_dir


def calls(bin_dir: Path) -> list[dict[str, Any]]:
    path = bin_dir / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


COMPOSE = ["docker", "compose", "-p", "chaoslab", "-f", str(COMPOSE_FILE)]


def test_up_runs_these_commands_and_writes_stack_json(
    docker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "state"
    assert main(["--state-dir", str(state_dir), "up", "--stack", "compose"]) == 0, (
        capsys.readouterr().err
    )
    made = calls(docker)
    argvs = [call["argv"] for call in made]
    exec_call = argvs[4]
    assert argvs[:4] == [
        ["docker", "compose", "version"],
        ["docker", "info"],
        [*COMPOSE, "up", "-d", "--wait", "bugsink"],
        [*COMPOSE, "ps", "--format", "json"],
    ]
    assert exec_call[: len(COMPOSE) + 2] == [*COMPOSE, "exec", "-T"]
    assert exec_call[-6:] == [
        "bugsink",
        "bugsink-manage",
        "shell",
        "--no-imports",
        "-c",
        PROVISION_SCRIPT + ROTATE_SCRIPT,
    ]
    flags = dict(arg.split("=", 1) for arg in exec_call[len(COMPOSE) + 2 : -6] if arg != "-e")
    assert flags["CHAOSLAB_ADMIN_EMAIL"] == "admin@chaoslab.invalid"
    assert flags["CHAOSLAB_TEAM"] == "chaoslab"
    assert flags["CHAOSLAB_PROJECT"] == "target"
    assert argvs[5:] == [
        [*COMPOSE, "up", "-d", "--wait"],
        [*COMPOSE, "ps", "--format", "json"],
    ]
    # The target gets the project's DSN inside the compose network, and the chaos token.
    up_env = made[5]["env"]
    assert up_env["CHAOSLAB_SENTRY_DSN"] == (
        "http://0123456789abcdef0123456789abcdef@bugsink:8000/1"
    )

    state = read_state(state_dir)
    assert state is not None
    assert state.stack == "compose"
    assert state.complete
    assert state.owner_pid is None
    assert set(COMPONENTS) <= set(state.components)
    assert {"classifier", "grafana"} <= set(state.components)
    assert all(
        record.kind == "compose" and record.pid is None for record in state.components.values()
    )
    ep = state.endpoints
    assert ep.target_url == "http://127.0.0.1:18000"
    assert ep.postgres_dsn == "postgresql://postgres@127.0.0.1:15432/chaoslab"
    assert ep.toxiproxy_url == "http://127.0.0.1:18474"
    assert ep.prometheus_url == "http://127.0.0.1:19090"
    assert ep.alertmanager_url == "http://127.0.0.1:19093"
    assert ep.webhook_url == "http://127.0.0.1:19099"
    assert ep.bugsink_url == "http://127.0.0.1:18002"
    assert ep.traces_url == "http://127.0.0.1:26686"
    assert ep.otlp_endpoint == "http://127.0.0.1:24318/v1/traces"
    assert ep.dashboard_url == "http://127.0.0.1:13000/d/chaoslab"
    assert ep.grafana_url == "http://127.0.0.1:13000"
    assert ep.grafana_login == "admin / " + os.environ.get("GRAFANA_ADMIN_PASSWORD", "admin")
    assert ep.sentry_dsn == "http://0123456789abcdef0123456789abcdef@127.0.0.1:18002/1"
    assert ep.sentry_project_id == 1
    assert ep.sentry_api_token == flags["CHAOSLAB_API_TOKEN"]
    assert len(ep.sentry_api_token) == 40
    assert ep.chaos_token == up_env["CHAOSLAB_CHAOS_TOKEN"]
    assert ep.proxies == {"postgres": "toxiproxy:20000", "downstream": "toxiproxy:20001"}
    assert ep.target_dsn == "postgresql://postgres@toxiproxy:20000/chaoslab"
    assert ep.database_dsns == {"postgres": ep.postgres_dsn}
    assert state.profile is not None
    assert state.profile.rule_time_scale == "1"
    assert (state_dir / "stack.json").stat().st_mode & 0o777 == 0o600


def test_down_on_a_compose_state_runs_compose_down(docker: Path, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    assert main(["--state-dir", str(state_dir), "up", "--stack", "compose"]) == 0
    (docker / "calls.jsonl").unlink()
    assert main(["--state-dir", str(state_dir), "down"]) == 0
    argvs = [call["argv"] for call in calls(docker)]
    assert argvs[-1] == [*COMPOSE, "down", "-v"]
    assert not (state_dir / "stack.json").exists()
    assert main(["--state-dir", str(state_dir), "down"]) == 0  # idempotent: nothing recorded


def test_an_unreachable_engine_is_an_infrastructure_error_and_writes_nothing(
    docker: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_MODE", "engine-down")
    state_dir = tmp_path / "state"
    assert main(["--state-dir", str(state_dir), "up", "--stack", "compose"]) == 3
    err = capsys.readouterr().err
    assert "the Docker engine is not reachable" in err
    assert "Cannot connect to the Docker daemon" in err
    assert "Traceback" not in err
    assert [call["argv"] for call in calls(docker)] == [
        ["docker", "compose", "version"],
        ["docker", "info"],
    ]
    assert not (state_dir / "stack.json").exists()


def test_no_compose_at_all_names_what_is_missing(
    docker: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(docker))  # no docker-compose of this machine's either
    monkeypatch.setenv("FAKE_DOCKER_MODE", "no-plugin")
    state_dir = tmp_path / "state"
    assert main(["--state-dir", str(state_dir), "up", "--stack", "compose"]) == 3
    err = capsys.readouterr().err
    assert "neither `docker compose` (the v2 plugin) nor `docker-compose`" in err
    assert not (state_dir / "stack.json").exists()


def test_docker_compose_1_is_refused_with_the_reason(
    docker: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    v1 = docker / "docker-compose"
    v1.write_text(f"#!{sys.executable}\nprint('docker-compose version 1.29.2, build unknown')\n")
    v1.chmod(0o755)
    monkeypatch.setenv("PATH", str(docker))
    monkeypatch.setenv("FAKE_DOCKER_MODE", "no-plugin")
    assert main(["--state-dir", str(tmp_path / "state"), "up", "--stack", "compose"]) == 3
    assert "needs Docker Compose v2" in capsys.readouterr().err


def test_up_reads_the_array_shape_too(
    docker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_MODE", "array")
    state_dir = tmp_path / "state"
    assert main(["--state-dir", str(state_dir), "up", "--stack", "compose"]) == 0
    state = read_state(state_dir)
    assert state is not None
    assert state.endpoints.target_url == "http://127.0.0.1:18000"


@pytest.mark.parametrize("text", [ps_array(), ps_lines()], ids=["array", "lines"])
def test_both_ps_shapes_parse_alike(text: str) -> None:
    containers = {c.service: c for c in parse_ps(text)}
    assert set(containers) == {name for name, _ in _containers()}
    assert containers["target"].published(8000) == 18000
    assert containers["jaeger"].published(4318) == 24318
    assert containers["jaeger"].published(16686) == 26686
    assert containers["locust-worker"].published(8089) is None
    assert containers["bugsink"].health == "healthy"
    assert containers["bugsink"].state == "running"


def test_ipv4_publisher_wins_and_unpublished_ports_are_ignored() -> None:
    # The publishers of "wordpress" and "db" in the nerdctl PR's captured output (IPv6
    # port made different here, to see which one wins).
    text = json.dumps(
        [
            {
                "Service": "target",
                "State": "running",
                "Health": "",
                "Publishers": [
                    {"URL": "::", "TargetPort": 80, "PublishedPort": 8081, "Protocol": "tcp"},
                    {"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 8080, "Protocol": "tcp"},  # noqa: S104  # ps output, not a bind
                    {"URL": "", "TargetPort": 3306, "PublishedPort": 0, "Protocol": "tcp"},
                ],
            }
        ]
    )
    (target,) = parse_ps(text)
    assert target.published(80) == 8080
    assert target.published(3306) is None
    assert parse_ps("") == []
