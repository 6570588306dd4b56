"""The table of components: the bring-up order it gives, and both stacks reading it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stack.components import (
    BY_NAME,
    GRAFANA,
    LAB,
    PROMETHEUS,
    PROXIES,
    TOXIPROXY,
    Component,
    components,
    ordered,
)
from stack.compose_config import COMPOSE_DIR, service_addresses
from stack.compose_stack import SERVICES
from stack.local import COMPONENTS
from stack.profile import TARGET_COMPONENT, Dependency, TargetProfile, default_profile
from stack.starts import STARTS

DEFAULT = default_profile()


def waves(table: tuple[Component, ...]) -> list[set[str]]:
    """The components in the order they can start: each wave needs only earlier ones."""
    done: set[str] = set()
    found: list[set[str]] = []
    waiting = list(table)
    while waiting:
        wave = {c.name for c in waiting if set(c.needs) <= done}
        found.append(wave)
        done |= wave
        waiting = [c for c in waiting if c.name not in done]
    return found


def without_lab_postgres() -> TargetProfile:
    upstream = Dependency.model_validate({"kind": "http", "upstream": "127.0.0.1:9"})
    return DEFAULT.model_copy(update={"dependencies": {"api": upstream}})


def test_the_default_profile_starts_as_the_local_stack_documents() -> None:
    # Everything that needs only an address at once; then the proxies; the target; Prometheus.
    assert waves(ordered(components(DEFAULT))) == [
        {"postgres", "toxiproxy", "traces", "bugsink", "webhook", "alertmanager", "classifier"},
        {PROXIES},
        {TARGET_COMPONENT},
        {"prometheus"},
    ]


def test_ordered_puts_every_component_after_what_it_needs() -> None:
    table = ordered(components(DEFAULT, compose=True))
    seen: set[str] = set()
    for component in table:
        assert set(component.needs) <= seen, component.name
        seen.add(component.name)


def test_postgres_is_left_out_when_no_dependency_uses_the_lab_cluster() -> None:
    table = {c.name: c for c in components(without_lab_postgres())}
    assert "postgres" not in table
    assert table[PROXIES].needs == (TOXIPROXY.name,)


def test_ordered_rejects_an_unknown_need_and_a_cycle() -> None:
    with pytest.raises(ValueError, match="not in the table"):
        ordered((Component("a", needs=("b",)),))
    with pytest.raises(ValueError, match="need each other"):
        ordered((Component("a", needs=("b",)), Component("b", needs=("a",))))


def test_the_local_stack_starts_every_component_of_the_table() -> None:
    dependencies = {
        DEFAULT.dependency_component(name)
        for name, dep in DEFAULT.dependencies.items()
        if dep.command is not None
    }
    names = {c.name for c in components(DEFAULT)}
    assert names - dependencies == set(STARTS)
    assert (*(c.name for c in LAB), TARGET_COMPONENT) == COMPONENTS
    assert set(BY_NAME) == set(COMPONENTS) - {TARGET_COMPONENT}


def test_the_target_row_comes_from_the_profile() -> None:
    target = {c.name: c for c in components(DEFAULT)}[TARGET_COMPONENT]
    assert target.health_path == DEFAULT.health.live_path
    assert target.scrape_job == DEFAULT.job_name
    assert [c.name for c in components(DEFAULT) if c.scrape_job is not None] == [TARGET_COMPONENT]


def test_the_compose_stack_records_every_process_the_table_names() -> None:
    expected = {c.name for c in components(DEFAULT, compose=True) if c.recorded}
    assert set(SERVICES) == expected
    assert GRAFANA.name in SERVICES
    assert "classifier" in SERVICES
    assert PROXIES not in SERVICES


def _depends_on(document: dict[str, object], service: str) -> set[str]:
    services = document["services"]
    assert isinstance(services, dict)
    return set(services[service].get("depends_on") or {})


def test_compose_waits_for_what_each_component_needs() -> None:
    document = yaml.safe_load((COMPOSE_DIR / "compose.yml").read_text(encoding="utf-8"))
    table = components(DEFAULT, compose=True)
    addresses = service_addresses(table)

    def service(name: str) -> str:
        return addresses[name].split(":", 1)[0]

    for component in table:
        if component.service is None:
            continue
        wanted = {service(n) for n in component.needs} - {component.service.service}
        assert wanted <= _depends_on(document, component.service.service), component.name


def test_prometheus_scrapes_and_grafana_shows_what_the_table_says() -> None:
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]
    }
    assert jobs == {DEFAULT.job_name: ["target:8000"]}
    datasources = Path(COMPOSE_DIR / "grafana" / "provisioning" / "datasources" / "datasources.yml")
    provisioned = yaml.safe_load(datasources.read_text())["datasources"]
    table = [c for c in components(DEFAULT, compose=True) if c.datasource is not None]
    assert [(d["uid"], d["url"]) for d in provisioned] == [
        (c.datasource.uid, f"http://{c.service.service}:{c.service.port}")
        for c in table
        if c.datasource is not None and c.service is not None
    ]
    assert [d["uid"] for d in provisioned if d.get("isDefault")] == [
        PROMETHEUS.datasource.uid if PROMETHEUS.datasource else None
    ]
