"""Alertmanager (Debian package ``prometheus-alertmanager``) as a local-stack component.

The generated ``alertmanager.yml`` routes every alert to one webhook receiver
(the lab's :class:`stack.alerting.webhook.AlertWebhook`), grouped by alert name
with one-second group timers so a notification leaves about a second after
Prometheus sends the alert. ``amtool check-config`` validates it first.

Clustering is off (``--cluster.listen-address=`` empty): otherwise the gossip
listener binds 0.0.0.0:9094.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from stack.alerting.component import LoopbackServer, require_binary, run_check

COMPONENT = "alertmanager"
BINARY = "prometheus-alertmanager"
INSTALL_HINT = "Install it with: apt-get install prometheus-alertmanager — or run `make run`."
CONFIG_FILENAME = "alertmanager.yml"
RECEIVER = "chaoslab-webhook"


@dataclass(frozen=True)
class AlertmanagerConfig:
    """What goes into the generated ``alertmanager.yml``."""

    webhook_url: str
    group_wait_s: int = 1
    group_interval_s: int = 1
    repeat_interval: str = "1h"
    send_resolved: bool = True
    receiver: str = RECEIVER

    def to_yaml(self) -> str:
        document = {
            "route": {
                "receiver": self.receiver,
                "group_by": ["alertname"],
                "group_wait": f"{self.group_wait_s}s",
                "group_interval": f"{self.group_interval_s}s",
                "repeat_interval": self.repeat_interval,
            },
            "receivers": [
                {
                    "name": self.receiver,
                    "webhook_configs": [
                        {"url": self.webhook_url, "send_resolved": self.send_resolved}
                    ],
                }
            ],
        }
        return yaml.safe_dump(document, sort_keys=False)


class AlertmanagerServer(LoopbackServer):
    """``prometheus-alertmanager`` on a free loopback port, gossip off."""

    component = COMPONENT

    def __init__(
        self, state_dir: Path, webhook_url: str, port: int = 0, startup_timeout: float = 30.0
    ) -> None:
        super().__init__(state_dir, port, startup_timeout)
        self.config = AlertmanagerConfig(webhook_url=webhook_url)

    @property
    def config_path(self) -> Path:
        return self.state_dir / CONFIG_FILENAME

    @property
    def storage_path(self) -> Path:
        return self.state_dir / "data"

    def write_config(self) -> Path:
        """Write ``alertmanager.yml`` and have ``amtool check-config`` accept it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config.to_yaml())
        amtool = require_binary("amtool", INSTALL_HINT)
        run_check(COMPONENT, [amtool, "check-config", str(self.config_path)])
        return self.config_path

    def prepare(self) -> list[str]:
        binary = require_binary(BINARY, INSTALL_HINT)
        self.write_config()
        return [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.storage_path}",
            f"--web.listen-address={self.address}",
            f"--web.external-url={self.url}/",
            "--cluster.listen-address=",
            "--log.level=info",
        ]


__all__ = ["AlertmanagerConfig", "AlertmanagerServer"]
