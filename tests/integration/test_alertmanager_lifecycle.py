"""Alertmanager and the alert webhook as real processes: loopback only, wired
together, clear failures, and nothing left behind after stop."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from stack.alerting import AlertmanagerServer, AlertWebhook, Notification
from stack.exceptions import ComponentFailed
from stack.ports import is_listening
from stack.process import pid_alive

pytestmark = pytest.mark.integration


def listening_addresses(pid: int) -> list[str]:
    """Local addresses of the TCP sockets ``pid`` listens on (from ``ss -ltnpH``)."""
    output = subprocess.run(
        ["ss", "-ltnpH"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return [line.split()[3] for line in output.splitlines() if f"pid={pid}," in line]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else already listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[AlertWebhook]:
    with AlertWebhook(tmp_path / "webhook") as server:
        yield server


@pytest.fixture
def alertmanager(tmp_path: Path, webhook: AlertWebhook) -> Iterator[AlertmanagerServer]:
    with AlertmanagerServer(tmp_path / "alertmanager", webhook.receiver_url) as server:
        yield server


def test_alertmanager_listens_on_loopback_only_and_gossip_is_off(
    alertmanager: AlertmanagerServer,
) -> None:
    addresses = listening_addresses(alertmanager.pid)
    assert alertmanager.address in addresses
    assert all(address.startswith("127.0.0.1:") for address in addresses), addresses
    assert not any(address.endswith(":9094") for address in addresses), addresses


def test_webhook_listens_on_loopback_only(webhook: AlertWebhook) -> None:
    assert listening_addresses(webhook.pid) == [webhook.address]


def test_status_attributes(alertmanager: AlertmanagerServer, webhook: AlertWebhook) -> None:
    for component in (alertmanager, webhook):
        assert component.healthy()
        assert component.pid > 0
        assert component.start_time is not None
        assert component.url == f"http://127.0.0.1:{component.port}"
    assert webhook.receiver_url == webhook.url + "/alerts"


def test_an_alert_sent_to_alertmanager_reaches_the_webhook(
    alertmanager: AlertmanagerServer, webhook: AlertWebhook
) -> None:
    sent_at = datetime.now(UTC)
    alert = {
        "labels": {"alertname": "LabProbe", "severity": "info"},
        "annotations": {"summary": "probe"},
        "startsAt": sent_at.isoformat(),
        "endsAt": (sent_at + timedelta(minutes=5)).isoformat(),
    }
    response = httpx.post(alertmanager.url + "/api/v2/alerts", json=[alert], timeout=5)
    assert response.status_code == 200, response.text

    received: list[Notification] = []
    deadline = time.monotonic() + 20
    while not received and time.monotonic() < deadline:
        received = [n for n in webhook.notifications() if n.alerts_named("LabProbe", "firing")]
        time.sleep(0.25)
    assert received, "Alertmanager never notified the webhook of LabProbe"
    assert received[0].received_at >= sent_at
    assert received[0].payload.receiver == "chaoslab-webhook"
    assert received[0].payload.group_labels == {"alertname": "LabProbe"}


def test_alertmanager_on_a_busy_port_fails_naming_it_with_its_log(
    tmp_path: Path, busy_port: int
) -> None:
    server = AlertmanagerServer(tmp_path, "http://127.0.0.1:9/alerts", port=busy_port)
    with pytest.raises(ComponentFailed) as info:
        server.start()
    assert info.value.component == "alertmanager"
    assert "address already in use" in info.value.log_tail
    assert not server.running()


def test_webhook_on_a_busy_port_fails_naming_it_with_its_log(
    tmp_path: Path, busy_port: int
) -> None:
    server = AlertWebhook(tmp_path, port=busy_port)
    with pytest.raises(ComponentFailed) as info:
        server.start()
    assert info.value.component == "alert-webhook"
    assert "Address already in use" in info.value.log_tail


def test_bad_alertmanager_config_fails_before_anything_starts(tmp_path: Path) -> None:
    server = AlertmanagerServer(tmp_path, "not a url")
    with pytest.raises(ComponentFailed, match="amtool rejected") as info:
        server.start()
    assert info.value.component == "alertmanager"
    assert "unsupported scheme" in info.value.log_tail
    assert server.process is None


def test_after_stop_the_processes_are_gone_and_the_ports_free(tmp_path: Path) -> None:
    with (
        AlertWebhook(tmp_path / "webhook") as webhook,
        AlertmanagerServer(tmp_path / "alertmanager", webhook.receiver_url) as alertmanager,
    ):
        started = [(alertmanager.pid, alertmanager.port), (webhook.pid, webhook.port)]
        assert all(pid_alive(pid) and is_listening(port) for pid, port in started)
    for pid, port in started:
        assert not pid_alive(pid)
        assert not is_listening(port)
    assert not alertmanager.healthy()
    assert not webhook.healthy()
    alertmanager.stop()  # idempotent
    webhook.stop()
