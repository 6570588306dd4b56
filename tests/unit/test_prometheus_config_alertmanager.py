"""The generated ``alertmanager.yml``: one webhook receiver for everything, and
``amtool check-config`` accepts it.

``amtool`` comes with Debian's ``prometheus-alertmanager`` package; without it
these tests fail (they never skip) and say what to install.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from stack.alerting import AlertmanagerConfig, AlertmanagerServer
from stack.exceptions import BinaryNotFound, ComponentFailed

WEBHOOK = "http://127.0.0.1:9999/alerts"


def require_amtool() -> None:
    if shutil.which("amtool") is None:
        pytest.fail("amtool is not installed: apt-get install prometheus-alertmanager (Debian)")


def test_every_alert_goes_to_the_one_webhook_receiver() -> None:
    document = yaml.safe_load(AlertmanagerConfig(webhook_url=WEBHOOK).to_yaml())
    route = document["route"]
    assert "routes" not in route
    assert route["group_by"] == ["alertname"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "1s",
        "1s",
        "1h",
    )
    [receiver] = document["receivers"]
    assert receiver["name"] == route["receiver"]
    assert receiver["webhook_configs"] == [{"url": WEBHOOK, "send_resolved": True}]


def test_amtool_accepts_the_generated_config(tmp_path: Path) -> None:
    require_amtool()
    path = AlertmanagerServer(tmp_path, WEBHOOK).write_config()
    assert yaml.safe_load(path.read_text())["receivers"][0]["webhook_configs"][0]["url"] == WEBHOOK


def test_amtool_rejection_is_component_failed_with_its_output(tmp_path: Path) -> None:
    require_amtool()
    server = AlertmanagerServer(tmp_path, "not a url")
    with pytest.raises(ComponentFailed) as info:
        server.write_config()
    assert info.value.component == "alertmanager"
    assert "amtool" in info.value.reason
    assert "URL" in info.value.log_tail


def test_missing_alertmanager_binary_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(BinaryNotFound, match="apt-get install prometheus-alertmanager") as info:
        AlertmanagerServer(tmp_path, WEBHOOK).start()
    assert info.value.binary == "prometheus-alertmanager"


def test_gossip_is_switched_off_in_the_command_line(tmp_path: Path) -> None:
    require_amtool()
    if shutil.which("prometheus-alertmanager") is None:
        pytest.fail("prometheus-alertmanager is not installed: apt-get install it (Debian)")
    server = AlertmanagerServer(tmp_path, WEBHOOK)
    argv = server.prepare()
    assert "--cluster.listen-address=" in argv
    assert f"--web.listen-address=127.0.0.1:{server.port}" in argv
