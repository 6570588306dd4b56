"""Prometheus 2.x (Debian package ``prometheus``) as a local-stack component.

The config is generated: every job scrapes ``/metrics`` on one loopback
target each second, rules are evaluated each second (the rule group in
``compose/prometheus/alerts.yml`` sets no ``interval:`` and relies on it),
rule files are referenced by absolute path so :meth:`PrometheusServer.reload`
picks up edits, and alerts go to one Alertmanager. ``promtool check config``
validates the file (and the rule files) before the server starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import httpx
import yaml

from stack.alerting.component import LoopbackServer, require_binary, run_check
from stack.exceptions import ComponentFailed

COMPONENT = "prometheus"
INSTALL_HINT = "Install it with: apt-get install prometheus — or run `make run`."
REPO_ROOT = Path(__file__).resolve().parents[2]
ALERT_RULES = REPO_ROOT / "compose" / "prometheus" / "alerts.yml"
CONFIG_FILENAME = "prometheus.yml"


@dataclass(frozen=True)
class PrometheusConfig:
    """What goes into the generated ``prometheus.yml``.

    ``scrape_targets`` maps a job name to its ``127.0.0.1:PORT``; ``alertmanager``
    is ``127.0.0.1:PORT`` or None for no alerting section.
    """

    scrape_targets: Mapping[str, str]
    rule_files: tuple[Path, ...] = ()
    alertmanager: str | None = None
    scrape_interval_s: int = 1
    scrape_timeout_s: int = 1
    evaluation_interval_s: int = 1
    metrics_path: str = "/metrics"
    external_labels: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({"lab": "chaoslab"})
    )

    def __post_init__(self) -> None:
        if self.scrape_timeout_s > self.scrape_interval_s:
            raise ValueError("scrape_timeout_s must not exceed scrape_interval_s")
        object.__setattr__(self, "scrape_targets", MappingProxyType(dict(self.scrape_targets)))
        resolved = tuple(Path(path).resolve() for path in self.rule_files)
        object.__setattr__(self, "rule_files", resolved)

    def to_yaml(self) -> str:
        """The config file text (YAML, keys in Prometheus's documented order)."""
        document: dict[str, object] = {
            "global": {
                "scrape_interval": f"{self.scrape_interval_s}s",
                "scrape_timeout": f"{self.scrape_timeout_s}s",
                "evaluation_interval": f"{self.evaluation_interval_s}s",
                "external_labels": dict(self.external_labels),
            },
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [
                {
                    "job_name": job,
                    "metrics_path": self.metrics_path,
                    "static_configs": [{"targets": [target]}],
                }
                for job, target in self.scrape_targets.items()
            ],
        }
        if self.alertmanager is not None:
            document["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [self.alertmanager]}]}]
            }
        return yaml.safe_dump(document, sort_keys=False)


class PrometheusServer(LoopbackServer):
    """``prometheus`` on a free loopback port with its TSDB under ``state_dir``.

    Use as a context manager or ``start()``/``stop()``; ``reload()`` re-reads
    the config and rule files (``--web.enable-lifecycle``).
    """

    component = COMPONENT

    def __init__(
        self,
        state_dir: Path,
        scrape_targets: Mapping[str, str],
        rule_files: Sequence[Path] = (ALERT_RULES,),
        alertmanager: str | None = None,
        port: int = 0,
        startup_timeout: float = 30.0,
    ) -> None:
        super().__init__(state_dir, port, startup_timeout)
        self.config = PrometheusConfig(
            scrape_targets=scrape_targets, rule_files=tuple(rule_files), alertmanager=alertmanager
        )

    @property
    def config_path(self) -> Path:
        return self.state_dir / CONFIG_FILENAME

    @property
    def tsdb_path(self) -> Path:
        return self.state_dir / "tsdb"

    def write_config(self) -> Path:
        """Write ``prometheus.yml`` and have ``promtool check config`` accept it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config.to_yaml())
        promtool = require_binary("promtool", INSTALL_HINT)
        run_check(COMPONENT, [promtool, "check", "config", str(self.config_path)])
        return self.config_path

    def prepare(self) -> list[str]:
        binary = require_binary("prometheus", INSTALL_HINT)
        self.write_config()
        return [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.tsdb_path}",
            "--storage.tsdb.retention.time=1d",
            # Re-send firing alerts every second: one dropped before Alertmanager
            # was discovered would otherwise wait a minute.
            "--rules.alert.resend-delay=1s",
            f"--web.listen-address={self.address}",
            f"--web.external-url={self.url}/",
            "--web.enable-lifecycle",
            "--log.level=info",
        ]

    def reload(self, timeout: float = 10.0) -> None:
        """Re-validate the config, then ``POST /-/reload``; a rejection is ComponentFailed."""
        self.write_config()
        try:
            response = httpx.post(self.url + "/-/reload", timeout=timeout)
        except httpx.HTTPError as exc:
            raise self._failure(f"reload request failed: {exc}") from exc
        if response.status_code != httpx.codes.OK:
            raise self._failure(f"reload answered {response.status_code}: {response.text.strip()}")

    def _failure(self, reason: str) -> ComponentFailed:
        if self.process is None:
            return ComponentFailed(COMPONENT, reason, [], "    (not started)")
        return self.process.failure(reason)


__all__ = ["ALERT_RULES", "PrometheusConfig", "PrometheusServer"]
