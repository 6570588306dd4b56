"""compose/compose.yml, validated statically (no Docker engine on the build machines).

* Debian's ``docker-compose config -q`` accepts the file;
* it validates against the Compose Specification JSON Schema that package ships;
* :func:`compose_problems`: every mounted host path exists, every image is
  pinned to a tag (never ``latest``), every published port binds 127.0.0.1,
  every service has a healthcheck — and each of these checks is shown to fail
  on a mutated copy;
* the generated backend configs equal what :mod:`stack.compose_config`
  renders from the local stack's builders, and the file agrees with the
  default target profile and the local stack (rule files, environment,
  Locust files, Bugsink release).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml

from scenarios.load import DEFAULT_LOCUSTFILE, USERS_FILE
from stack.bugsink import BUGSINK_VERSION
from stack.compose_config import (
    COMPOSE_DIR,
    REGENERATE,
    REPO_ROOT,
    GeneratedFile,
    generated_files,
    rule_mounts,
    stale_files,
)
from stack.profile import default_profile

COMPOSE_FILE = COMPOSE_DIR / "compose.yml"
# Where Debian 12's docker-compose (1.29) ships the Compose Specification schema.
COMPOSE_SPEC_SCHEMA = Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json")
INSTALL_HINT = "`make deps` installs it (Debian package docker-compose)"

Document = dict[str, object]


def load(path: Path = COMPOSE_FILE) -> Document:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def services(document: Document) -> dict[str, dict[str, object]]:
    found = document.get("services")
    assert isinstance(found, dict)
    return found


def _host_source(volume: object) -> str | None:
    """The host path of a bind mount (short or long syntax), None for a named volume."""
    if isinstance(volume, dict):
        source = volume.get("source")
        return str(source) if volume.get("type") == "bind" and source is not None else None
    source = str(volume).split(":", 1)[0]
    return source if source.startswith((".", "/", "~")) else None


def _published_ports(service: dict[str, object]) -> list[str]:
    """Each published port as ``host_ip:published:target`` (long syntax normalised)."""
    ports = service.get("ports") or []
    assert isinstance(ports, list)
    found = []
    for port in ports:
        if isinstance(port, dict):
            found.append(f"{port.get('host_ip', '')}:{port.get('published')}:{port.get('target')}")
        else:
            found.append(str(port))
    return found


def image_problem(image: object) -> str | None:
    """Why ``image`` is not pinned to an exact tag, or None."""
    if not isinstance(image, str) or not image:
        return "has no image"
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image!r} is pinned to latest"
    return None


def compose_problems(document: Document, compose_dir: Path = COMPOSE_DIR) -> list[str]:
    """Every breach of the house rules for the compose file, one line each."""
    problems = []
    for name, service in services(document).items():
        problem = image_problem(service.get("image"))
        if problem is not None:
            problems.append(f"{name}: {problem}")
        for port in _published_ports(service):
            if not port.startswith("127.0.0.1:"):
                problems.append(f"{name}: port {port!r} is not bound to 127.0.0.1")
        healthcheck = service.get("healthcheck")
        if not isinstance(healthcheck, dict) or not healthcheck.get("test"):
            problems.append(f"{name}: no healthcheck")
        elif healthcheck.get("disable"):
            problems.append(f"{name}: healthcheck disabled")
        volumes = service.get("volumes") or []
        assert isinstance(volumes, list)
        for volume in volumes:
            source = _host_source(volume)
            if source is not None and not (compose_dir / source).exists():
                problems.append(f"{name}: mounted host path {source} does not exist")
    return problems


def _service(document: Document, name: str) -> dict[str, object]:
    return services(document)[name]


def _env(document: Document, name: str) -> dict[str, object]:
    env = _service(document, name).get("environment")
    assert isinstance(env, dict)
    return env


# ---------------------------------------------------------------- the file as given


def test_docker_compose_config_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(f"docker-compose is not installed: {INSTALL_HINT}")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def schema_errors(document: Document) -> list[str]:
    """Where ``document`` breaks the Compose Specification schema, one line each."""
    if not COMPOSE_SPEC_SCHEMA.is_file():
        pytest.fail(f"{COMPOSE_SPEC_SCHEMA} is missing: {INSTALL_HINT}")
    schema = json.loads(COMPOSE_SPEC_SCHEMA.read_text(encoding="utf-8"))
    # Its "$schema" (draft 2019-09 with a trailing "#") is not one jsonschema recognises.
    validator_class = jsonschema.Draft201909Validator
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(document), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, error.path))}: {error.message}" for error in errors]


def test_the_file_validates_against_the_compose_specification_schema() -> None:
    errors = schema_errors(load())
    assert not errors, "\n".join(errors)


def test_the_schema_rejects_a_broken_copy() -> None:
    broken = copy.deepcopy(load())
    _service(broken, "target")["healthcheck"] = {"test": ["CMD", "true"], "retries": "many"}
    _service(broken, "grafana")["restart_please"] = True
    errors = schema_errors(broken)
    assert any(error.startswith("services/target/healthcheck/retries") for error in errors), errors
    assert any("restart_please" in error for error in errors), errors


def test_the_file_keeps_the_house_rules() -> None:
    assert compose_problems(load()) == []


def test_grafana_mounts_the_provisioning_and_dashboards_directories() -> None:
    volumes = _service(load(), "grafana").get("volumes")
    assert isinstance(volumes, list)
    mounts = {str(v).split(":")[0]: str(v).split(":")[1] for v in volumes}
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./grafana/dashboards"] == "/var/lib/grafana/dashboards"


# ---------------------------------------------------------------- every check can fail


def _mutated(mutate: Callable[[Document], None]) -> Document:
    document = copy.deepcopy(load())
    mutate(document)
    return document


def _set(service: str, key: str, value: object) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        _service(document, service)[key] = value

    return mutate


def _drop(service: str, key: str) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        del _service(document, service)[key]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "reported"),
    [
        (
            _set("prometheus", "ports", ["0.0.0.0:9090:9090"]),
            "prometheus: port '0.0.0.0:9090:9090'",
        ),
        (_set("grafana", "ports", ["3000:3000"]), "grafana: port '3000:3000' is not bound"),
        (
            _set("jaeger", "ports", [{"target": 16686, "published": 16686}]),
            "jaeger: port ':16686:16686' is not bound",
        ),
        (_set("postgres", "image", "postgres"), "postgres: image 'postgres' has no tag"),
        (_set("grafana", "image", "grafana/grafana:latest"), "pinned to latest"),
        (_set("toxiproxy", "image", "localhost:5000/toxiproxy"), "has no tag"),
        (_drop("target", "image"), "target: has no image"),
        (_drop("bugsink", "healthcheck"), "bugsink: no healthcheck"),
        (_set("jaeger", "healthcheck", {"disable": True, "test": ["NONE"]}), "disabled"),
        (
            _set("alertmanager", "volumes", ["./alertmanager/missing.yml:/etc/am.yml:ro"]),
            "alertmanager: mounted host path ./alertmanager/missing.yml does not exist",
        ),
    ],
)
def test_each_check_reports_a_mutated_copy(
    mutate: Callable[[Document], None], reported: str
) -> None:
    problems = compose_problems(_mutated(mutate))
    assert any(reported in problem for problem in problems), problems


def test_docker_compose_config_rejects_a_broken_copy(tmp_path: Path) -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(f"docker-compose is not installed: {INSTALL_HINT}")
    broken = _mutated(_set("target", "depends_on", {"toxiproxy": {"condition": "whenever"}}))
    path = tmp_path / "compose.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = subprocess.run(
        [binary, "-f", str(path), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0


# ---------------------------------------------------------------- no drift from the local stack


def test_generated_configs_equal_the_generator_output() -> None:
    stale = stale_files(generated_files())
    assert not stale, f"stale generated files {stale}: regenerate them with `{REGENERATE}`"


def test_stale_files_names_a_file_that_differs(tmp_path: Path) -> None:
    [first, *_] = generated_files()
    copy_path = tmp_path / "prometheus.yml"
    copy_path.write_text(first.text + "# edited by hand\n", encoding="utf-8")
    assert stale_files([GeneratedFile(copy_path, first.text)]) == [copy_path.as_posix()]
    missing = tmp_path / "missing.yml"
    assert stale_files([GeneratedFile(missing, first.text)]) == [missing.as_posix()]


def test_prometheus_loads_the_profile_rule_files_at_time_scale_one() -> None:
    profile = default_profile()
    mounts = rule_mounts(profile)
    assert mounts, "the default profile names its alert rule files"
    volumes = _service(load(), "prometheus").get("volumes")
    assert isinstance(volumes, list)
    mounted = {
        (COMPOSE_DIR / str(v).split(":")[0]).resolve(): str(v).split(":")[1] for v in volumes
    }
    for source, target in mounts.items():
        assert mounted.get(source.resolve()) == target, f"{source} is not mounted at {target}"
    config = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == list(mounts.values())
    # The compose stack loads the rules as written (no scaled copies).
    assert all(path.endswith(".yml") and "/rules/" in path for path in config["rule_files"])


def test_the_target_gets_every_variable_of_its_profile() -> None:
    profile = default_profile()
    env = _env(load(), "target")
    assert set(profile.env) <= set(env), sorted(set(profile.env) - set(env))
    assert env["TARGET_DSN"] == "postgresql://postgres@toxiproxy:20000/chaoslab"
    assert env["TARGET_DOWNSTREAM_URL"] == "http://toxiproxy:20001"
    assert env["TARGET_OTLP_ENDPOINT"] == "http://jaeger:4318"
    proxies = json.loads((COMPOSE_DIR / "toxiproxy" / "toxiproxy.json").read_text())
    listen = {proxy["name"]: proxy["listen"].rsplit(":", 1)[1] for proxy in proxies}
    assert listen == {"postgres": "20000", "downstream": "20001"}
    classifier = profile.dependencies["downstream"]
    assert set(classifier.env) <= set(_env(load(), "classifier"))


def test_the_target_and_classifier_run_the_profile_commands_on_all_interfaces() -> None:
    document = load()
    every = "0.0.0.0"  # noqa: S104 - inside the compose network; published on 127.0.0.1 only
    assert _service(document, "target")["command"] == [
        *("python", "-m", "target_app", "serve", "--host", every, "--port", "8000")
    ]
    assert _service(document, "classifier")["command"] == [
        *("python", "-m", "target_app", "classifier", "--host", every, "--port", "8001")
    ]


def test_locust_runs_the_files_and_users_the_local_stack_runs() -> None:
    profile = default_profile()
    files = ",".join(
        path.relative_to(REPO_ROOT).as_posix() for path in (DEFAULT_LOCUSTFILE, USERS_FILE)
    )
    assert profile.load is not None
    for name in ("locust-master", "locust-worker"):
        command = _service(load(), name)["command"]
        assert isinstance(command, list)
        assert command[command.index("-f") + 1] == files
        assert command[-len(profile.load.user_classes) :] == profile.load.user_classes
    worker = _service(load(), "locust-worker")
    assert "container_name" not in worker, "workers must scale"
    assert "ports" not in worker, "workers must scale"


def test_bugsink_runs_the_local_stack_release() -> None:
    assert _service(load(), "bugsink")["image"] == f"bugsink/bugsink:{BUGSINK_VERSION}"


def test_order_matters_where_it_should() -> None:
    document = load()
    expected = {
        "target": {"toxiproxy", "jaeger", "bugsink"},
        "toxiproxy": {"postgres", "classifier"},
        "prometheus": {"alertmanager", "target"},
        "alertmanager": {"webhook"},
        "locust-worker": {"locust-master"},
    }
    for name, needs in expected.items():
        depends = _service(document, name).get("depends_on")
        assert isinstance(depends, dict)
        assert needs <= set(depends), (name, needs - set(depends))
        for need in needs:
            assert depends[need] == {"condition": "service_healthy"}, (name, need)
